// A second build from the lock gives byte-identical artifacts (same sha256s, same manifest) for traced
// recipes (`shell`, `ruby`, `lighttpd`: from their trace.json, without booting the wide tree again; the
// wide install comes from its cache). The kernel comes from the build cache here (keyed by its
// inputs); images/kernel's own check builds it twice in fresh directories.
import { readFile, rm } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { debianMirror, defaultCacheDir } from '../../images/archive/index.ts';
import { build } from '../../images/build.ts';
import type { Manifest } from '../../images/manifest.ts';
import { bootGuest } from '../../worker/node/guest.ts';

const stages: string[] = [];
const silent = { stage: (name: string, detail = '') => stages.push(`${name} ${detail}`), info() {}, progress() {} };

describe('reproducible builds', () => {
  for (const name of ['shell', 'ruby', 'lighttpd']) {
    it(`rebuilds ${name} from its lock to the same artifacts`, { timeout: 1_800_000 }, async () => {
      const built = JSON.parse(await readFile(resolve(`images/dist/${name}/manifest.json`), 'utf8')) as Manifest;
      const dist = await mkdtemp(join(tmpdir(), 'whittle-repro-'));
      stages.length = 0;
      try {
        const again = await build(name, { cacheDir: defaultCacheDir(), distDir: dist, mirror: () => debianMirror(), log: silent, guest: bootGuest });
        expect(again.artifacts.map((a) => [a.role, a.sha256, a.compressedSize])).toEqual(built.artifacts.map((a) => [a.role, a.sha256, a.compressedSize]));
        expect(again).toEqual(built);
        for (const a of again.artifacts) {
          expect(await readFile(join(dist, name, a.file!))).toEqual(await readFile(resolve(`images/dist/${name}`, a.file!)));
        }
        expect(await readFile(join(dist, name, 'files.json'), 'utf8')).toEqual(await readFile(resolve(`images/dist/${name}/files.json`), 'utf8'));
        if (built.trim !== 'trace') return;
        // From trace.json: the wide tree was not booted again; the trimmed appliance was verified.
        expect(stages.filter((s) => s.startsWith('trace '))).toEqual([expect.stringContaining('from')]);
        expect(stages.some((s) => s.startsWith('verify '))).toBe(true);
      } finally {
        await rm(dist, { recursive: true, force: true });
      }
    });
  }
});
