// Fuzzing deb822 and version parsing: on any text they return a value or throw their own Error
// ("deb822 line …", "Version …"), quickly; and version comparison is a consistent order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ, FUZZ_TEST_TIMEOUT_MS, returnsOrThrowsTyped } from '../fuzzkit.ts';
import { parseParagraphs } from './control.ts';
import { compareVersions, parseVersion, satisfiesRelation } from './version.ts';

const plainError = (prefix: RegExp) => (e: unknown) => e instanceof Error && e.constructor === Error && prefix.test(e.message);

const paragraphs = [
  'Package: busybox\nVersion: 1:1.35.0-4+b3\nDepends: libc6 (>= 2.34)\nDescription: tiny\n utilities\n .\n more\n\nPackage: b\n',
  '# comment\nTypes: deb\r\nURIs: http://deb.debian.org/debian\n\n\n',
];
const versions = ['1:1.35.0-4+b3', '2.36-9+deb12u10', '1.0~rc1-1', '0.9', '1.0', '1.0-0', '1:0', '10.2.1-6', '3.0.11-1~deb12u2', '1.2.3a', '1.2+dfsg-1.1'];

/** Text made of the characters that matter to the format (and a few that must be refused). */
const textOf = (alphabet: string, maxLength: number) => fc.array(fc.constantFrom(...alphabet), { maxLength }).map((cs) => cs.join(''));

/** Valid text with characters replaced, inserted or cut off. */
const mutatedText = (valid: readonly string[], alphabet: string) =>
  fc.tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...alphabet), fc.constantFrom('set', 'insert', 'cut')), { minLength: 1, maxLength: 4 })).map(([t, edits]) =>
    edits.reduce((s, [at, c, op]) => {
      const i = at % (s.length + 1);
      return op === 'cut' ? s.slice(0, i) : op === 'insert' ? s.slice(0, i) + c + s.slice(i) : s.slice(0, i) + c + s.slice(i + 1);
    }, t),
  );

const versionText = fc.oneof(fc.constantFrom(...versions), mutatedText(versions, '0123456789.:-+~abZ ! '), textOf('0123456789.:-+~az', 12), fc.string({ maxLength: 12 }));
/** Only versions dpkg accepts, for the ordering properties. */
const goodVersion = versionText.filter((s) => {
  try {
    parseVersion(s);
    return true;
  } catch {
    return false;
  }
});

describe('fuzzing deb822 paragraphs', () => {
  it(
    'parseParagraphs returns fields or says which line is wrong',
    async () => {
      const text = fc.oneof(mutatedText(paragraphs, 'ab: \t\n\r#.'), textOf('ab: \t\n\r#.', 80), fc.string({ maxLength: 200 }));
      await fc.assert(
        fc.asyncProperty(text, fc.boolean(), async (t, comments) => {
          await returnsOrThrowsTyped(() => parseParagraphs(t, { comments }), plainError(/^deb822 line \d+: /), (ps) => {
            for (const p of ps) for (const [k, v] of Object.entries(p)) expect(typeof k === 'string' && typeof v === 'string').toBe(true);
          });
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});

describe('fuzzing Debian versions', () => {
  it(
    'parseVersion returns its parts or refuses the version by name',
    async () => {
      await fc.assert(
        fc.asyncProperty(versionText, async (s) => {
          await returnsOrThrowsTyped(() => parseVersion(s), plainError(/^Version /), (v) => {
            expect(v.epoch).toBeGreaterThanOrEqual(0);
            expect(v.upstream.length).toBeGreaterThan(0);
          });
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'compareVersions is an order: reflexive, antisymmetric, transitive; relations agree with it',
    () => {
      fc.assert(
        fc.property(goodVersion, goodVersion, goodVersion, (a, b, c) => {
          expect(compareVersions(a, a)).toBe(0);
          expect(Math.sign(compareVersions(a, b)) + Math.sign(compareVersions(b, a))).toBe(0);
          if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) expect(compareVersions(a, c)).toBeLessThanOrEqual(0);
          expect(satisfiesRelation(a, '>=', b)).toBe(compareVersions(a, b) >= 0);
          expect(satisfiesRelation(a, '<<', b)).toBe(compareVersions(a, b) < 0);
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
