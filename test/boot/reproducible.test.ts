// A second build of `shell` from its lock gives byte-identical artifacts (same sha256s, same manifest).
// The kernel comes from the build cache here (keyed by its inputs); images/kernel's own check builds
// it twice in fresh directories.
import { readFile, rm } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { debianMirror, defaultCacheDir } from '../../images/archive/index.ts';
import { build } from '../../images/build.ts';
import type { Manifest } from '../../images/manifest.ts';

const silent = { stage() {}, info() {}, progress() {} };

describe('reproducible builds', () => {
  it('rebuilds shell from its lock to the same artifacts', { timeout: 1_800_000 }, async () => {
    const built = JSON.parse(await readFile(resolve('images/dist/shell/manifest.json'), 'utf8')) as Manifest;
    const dist = await mkdtemp(join(tmpdir(), 'whittle-repro-'));
    try {
      const again = await build('shell', { cacheDir: defaultCacheDir(), distDir: dist, mirror: () => debianMirror(), log: silent });
      expect(again.artifacts.map((a) => [a.role, a.sha256, a.compressedSize])).toEqual(built.artifacts.map((a) => [a.role, a.sha256, a.compressedSize]));
      expect(again).toEqual(built);
      for (const a of again.artifacts) {
        expect(await readFile(join(dist, 'shell', a.file!))).toEqual(await readFile(resolve('images/dist/shell', a.file!)));
      }
    } finally {
      await rm(dist, { recursive: true, force: true });
    }
  });
});
