// Fuzzing the manifest, recipe and lock validators: valid documents with fields replaced by hostile
// values (and random values) are accepted as checked data or refused with the module's error, quickly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArchiveError } from './archive/errors.ts';
import { parseLock } from './archive/lock.ts';
import { edgeValue, FUZZ, FUZZ_TEST_TIMEOUT_MS, mutatedJson, returnsOrThrowsTyped } from './fuzzkit.ts';
import * as v from 'valibot';
import { artifactFileName, type Manifest, ManifestError, MAX_ARTIFACT_BYTES, passesByEcho, RelativePathSchema, validateManifest } from './manifest.ts';
import { parseRecipe, RecipeError } from './recipe.ts';
import { RECIPES_DIR, recipeNames } from './recipes.ts';

const sha = (c: string) => c.repeat(64);
const manifests: Manifest[] = [
  {
    schema: 1,
    name: 'shell',
    title: 'Shell',
    description: 'd',
    kind: 'appliance',
    artifacts: [
      { role: 'bios', file: 'bios.bin.zst', sha256: sha('a'), size: 131072, compressedSize: 70254, compression: 'zstd' },
      { role: 'kernel', file: 'bzImage.zst', sha256: sha('b'), size: 1053184, compressedSize: 939147, compression: 'zstd' },
      { role: 'initrd', file: 'initramfs.cpio', sha256: sha('c'), size: 100, compressedSize: 100, compression: 'none' },
    ],
    cmdline: 'console=ttyS0',
    memoryMB: 128,
    readyMarker: '# ',
    smoke: [{ send: 'echo $((6*7))', expect: '42' }],
    packages: [{ name: 'busybox-static', version: '1:1.35.0-4+b3', size: 10, share: 1, files: 1 }],
    fileCount: 1,
    rootfsSize: 10,
    kernel: { source: 's', version: '6.1', configHash: sha('d'), config: 'kernel.config', stock: false },
    inspect: { files: 'files.json', builderFiles: 1 },
    lockHash: sha('e'),
  },
  {
    schema: 1,
    name: 'debian',
    title: 'Debian',
    description: 'd',
    kind: 'distro',
    artifacts: [
      { role: 'kernel', file: 'vmlinuz', sha256: sha('1'), size: 10, compressedSize: 10, compression: 'none' },
      { role: 'disk', sha256: sha('2'), size: 2 << 20, compressedSize: 4096, compression: 'zstd', chunkSize: 1 << 20, chunks: [sha('3'), sha('3')] },
    ],
    memoryMB: 256,
    readyMarker: 'root@debian:~# ',
    smoke: [],
    apps: [{ name: 'sqlite', command: 'sqlite3', readyMarker: 'sqlite> ', smoke: [{ send: 'select 1+1;', expect: '2' }] }],
    packages: [],
    fileCount: 13244,
    rootfsSize: 600 << 20,
  },
];

const recipes = recipeNames().map((n) => JSON.parse(readFileSync(join(RECIPES_DIR, n, 'recipe.json'), 'utf8')) as Record<string, unknown>);
const lockText = readFileSync(join(RECIPES_DIR, 'sqlite', 'lock.json'), 'utf8');
const lock = JSON.parse(lockText).rootfs as unknown;

/** What an accepted manifest promises its readers, whatever the input was. */
function trustworthy(m: Manifest): void {
  for (const a of m.artifacts) {
    if (a.file !== undefined) expect(a.file.split('/')).not.toContain('..');
    expect(Number.isSafeInteger(a.size) && a.size >= 0 && a.size <= MAX_ARTIFACT_BYTES).toBe(true);
    if (a.chunks) expect(a.chunks.length).toBe(Math.ceil(a.size / a.chunkSize!));
  }
  expect(new Set(m.artifacts.map((a) => a.role)).size).toBe(m.artifacts.length);
}

describe('fuzzing the schemas', () => {
  it(
    'validateManifest returns a trustworthy manifest or a ManifestError',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(mutatedJson(manifests), edgeValue), async (m) => {
          await returnsOrThrowsTyped(() => validateManifest(m), (e) => e instanceof ManifestError, trustworthy);
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it('a path the manifest accepts resolves inside the image folder, as a URL and as a file path', () => {
    const base = 'https://example.org/images/shell/';
    const path = fc.array(fc.constantFrom(...'./%2eE:\\?#a \t'), { minLength: 1, maxLength: 12 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(fc.oneof(path, fc.string({ maxLength: 20 })), (p) => {
        if (!v.is(RelativePathSchema, p)) return;
        const url = new URL(p, base);
        expect(url.origin + url.pathname, p).toMatch(/^https:\/\/example\.org\/images\/shell\/./);
        expect(join('/dist/shell', p).startsWith('/dist/shell/'), p).toBe(true);
      }),
      FUZZ,
    );
  });

  it('artifactFileName makes any file name one the manifest accepts', () => {
    const name = fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('..', '.', '', 'disk#1 (copy).img', 'C:\\x.iso', '%2e%2e', 'a/b'));
    fc.assert(
      fc.property(name, (n) => {
        expect(v.is(RelativePathSchema, artifactFileName(n)), JSON.stringify(artifactFileName(n))).toBe(true);
      }),
      FUZZ,
    );
    expect(artifactFileName('C:\\disk #1 (50%).img')).toBe('C__disk _1 (50_).img');
  });

  it(
    'parseRecipe returns a complete recipe or a RecipeError',
    async () => {
      const base = parseRecipe(recipes[0], 'base');
      await fc.assert(
        fc.asyncProperty(fc.oneof(mutatedJson(recipes), edgeValue), fc.boolean(), async (raw, derived) => {
          await returnsOrThrowsTyped(
            () => parseRecipe(raw, 'fuzzed', derived ? base : undefined),
            (e) => e instanceof RecipeError,
            (r) => {
              expect(r.packages.length).toBeGreaterThan(0);
              expect(typeof r.init.console).toBe('string');
              for (const step of r.smoke) expect(passesByEcho(step)).toBe(false);
            },
          );
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'parseLock returns a lock or an ArchiveError with a hint',
    async () => {
      const text = fc.oneof(
        mutatedJson([lock]).map((x) => JSON.stringify(x) ?? ''),
        fc.tuple(fc.nat(), fc.string({ maxLength: 3 })).map(([at, s]) => lockText.slice(0, at % lockText.length) + s + lockText.slice((at % lockText.length) + 1)),
        fc.string({ maxLength: 100 }),
      );
      await fc.assert(
        fc.asyncProperty(text, async (t) => {
          await returnsOrThrowsTyped(
            () => parseLock(t, 'fuzz.lock.json'),
            (e) => e instanceof ArchiveError && (e.hint ?? '').includes('fuzz.lock.json'),
            (l) => expect(new Set(l.packages.map((p) => p.name)).size).toBe(l.packages.length),
          );
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
