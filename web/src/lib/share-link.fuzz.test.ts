// Fuzzing share-link decoding: any fragment text — random, a valid link cut or garbled, or well-formed
// compressed data with hostile contents — decodes to a checked share or a ShareLinkError with a hint.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { edgeValue, FUZZ, FUZZ_TEST_TIMEOUT_MS, mutatedJson, returnsOrThrowsTyped } from '../../../images/fuzzkit.ts';
import { isSha256 } from '../../../images/manifest.ts';
import { toBase64Url } from './base64url.ts';
import { decodeShare, encodeShare, type Share, ShareLinkError } from './share-link.ts';

const isShareLinkError = (e: unknown) => e instanceof ShareLinkError && e.hint.length > 0;

const valid: Share = {
  images: [
    { name: 'shell', digest: 'a'.repeat(64) },
    { name: 'mine', digest: 'b'.repeat(64), url: 'https://example.org/img/manifest.json' },
  ],
  script: [
    { send: 'echo $((6*7))', expect: '42' },
    { send: 'uname -r', expect: '6.1', timeout: 5 },
  ],
  memoryMB: 128,
};
const wire = { v: 1, i: [['shell', 'a'.repeat(64)], ['mine', 'b'.repeat(64), 'https://example.org/m.json']], s: [['echo $((6*7))', '42'], ['uname -r', '6.1', 5]], m: 128 };

async function deflate(text: string): Promise<string> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return toBase64Url(new Uint8Array(await new Response(stream).arrayBuffer()));
}

/** Checks what a decoded share promises the page. */
function checked(s: Share): void {
  expect(s.images.length).toBeGreaterThan(0);
  for (const im of s.images) {
    expect(isSha256(im.digest)).toBe(true);
    if (im.url !== undefined) expect(new URL(im.url).protocol).toMatch(/^https?:$/);
  }
  for (const st of s.script) expect(typeof st.send === 'string' && typeof st.expect === 'string').toBe(true);
}

describe('fuzzing share links', () => {
  it(
    'decodes any fragment text to a checked share or a ShareLinkError',
    async () => {
      const link = await encodeShare(valid);
      const alphabet = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_*= '];
      const garbled = fc
        .array(fc.tuple(fc.nat(), fc.constantFrom(...alphabet), fc.constantFrom('set', 'insert', 'cut')), { minLength: 1, maxLength: 4 })
        .map((edits) =>
          edits.reduce((s, [at, c, op]) => {
            const i = at % (s.length + 1);
            return op === 'cut' ? s.slice(0, i) : op === 'insert' ? s.slice(0, i) + c + s.slice(i) : s.slice(0, i) + c + s.slice(i + 1);
          }, link),
        );
      const text = fc.oneof(garbled, fc.string({ maxLength: 300 }), fc.stringMatching(/^[A-Za-z0-9_-]{0,400}$/));
      await fc.assert(fc.asyncProperty(text, async (t) => returnsOrThrowsTyped(() => decodeShare(t), isShareLinkError, checked)), FUZZ);
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'refuses hostile contents in well-formed data with a ShareLinkError',
    async () => {
      const contents = fc.oneof(mutatedJson([wire]), edgeValue);
      await fc.assert(
        fc.asyncProperty(contents, async (value) => {
          const data = await deflate(JSON.stringify(value) ?? 'undefined');
          await returnsOrThrowsTyped(() => decodeShare(data), isShareLinkError, checked);
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'round-trips every share it accepts',
    async () => {
      const name = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/);
      const digest = fc.stringMatching(/^[0-9a-f]{64}$/);
      const share: fc.Arbitrary<Share> = fc.record(
        {
          images: fc.array(fc.record({ name, digest }), { minLength: 1, maxLength: 4 }),
          script: fc.array(fc.record({ send: fc.string({ maxLength: 40 }), expect: fc.string({ maxLength: 40 }) }), { maxLength: 5 }),
          memoryMB: fc.integer({ min: 16, max: 2048 }),
        },
        { requiredKeys: ['images', 'script'] },
      );
      await fc.assert(
        fc.asyncProperty(share, async (s) => {
          expect(await decodeShare(await encodeShare(s))).toEqual(s);
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
