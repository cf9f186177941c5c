// The kernel build cache: one entry per hash of the build's inputs (sorted JSON), checked on read, and
// a log line naming how a miss differs from the nearest cached build (mkosi's have_cache()).

import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson, sha256Hex } from '../hash.ts';
import { processAlive } from '../host-process.ts';
import { publishDir } from '../publish.ts';

/** Everything a build's output depends on; its hash is the cache key. */
export interface KernelInputs {
  recipe: number;
  arch: string;
  base: 'tinyconfig';
  sourceVersion: string;
  /** Contents of each fragment, in order (names don't matter to the kernel). */
  fragments: string[];
  extraConfig: string[];
  buildEpoch: number;
  /** First line of `gcc --version` and `ld --version`: another compiler gives another binary. */
  toolchain: string[];
}

export function kernelCacheKey(inputs: KernelInputs): string {
  return sha256Hex(canonicalJson(inputs));
}

/** Names the inputs that differ between two builds, for "why isn't the cache used" messages. */
export function inputDifferences(had: KernelInputs, want: KernelInputs): string[] {
  const diffs: string[] = [];
  const scalar = (k: keyof KernelInputs) => {
    if (canonicalJson(had[k]) !== canonicalJson(want[k])) diffs.push(`${k} ${canonicalJson(had[k])} → ${canonicalJson(want[k])}`);
  };
  scalar('recipe');
  scalar('arch');
  scalar('sourceVersion');
  scalar('buildEpoch');
  scalar('toolchain');
  if (had.fragments.length !== want.fragments.length) diffs.push(`${had.fragments.length} fragments → ${want.fragments.length}`);
  else had.fragments.forEach((text, i) => text !== want.fragments[i] && diffs.push(`fragment ${i + 1} changed`));
  if (canonicalJson(had.extraConfig) !== canonicalJson(want.extraConfig)) diffs.push('extra config lines changed');
  return diffs;
}

/** The layout of one source version's cache. */
export function cachePaths(cacheDir: string, sourceVersion: string, key: string) {
  const root = path.join(cacheDir, 'linux', sourceVersion);
  return {
    root,
    src: path.join(root, 'src'),
    build: path.join(root, 'build', key),
    kernel: path.join(root, 'kernels', key),
  };
}

/** What the cache keeps beside a finished bzImage and its .config. */
export interface CachedBuildRecord {
  key: string;
  inputs: KernelInputs;
  fragmentNames: string[];
  bzImageSha256: string;
  configHash: string;
  kernelRelease: string;
}

/** A cached (or just built) kernel. */
export interface CachedKernel {
  bzImage: Uint8Array;
  config: string;
  configHash: string;
  cacheKey: string;
  kernelRelease: string;
}

/** Reads a cached build, or returns undefined (saying why, when the entry exists but is unusable). */
export async function readCachedBuild(dir: string, key: string, log: (line: string) => void): Promise<CachedKernel | undefined> {
  let record: CachedBuildRecord;
  try {
    record = JSON.parse(await readFile(path.join(dir, 'build.json'), 'utf8')) as CachedBuildRecord;
  } catch {
    return undefined;
  }
  try {
    const bzImage = new Uint8Array(await readFile(path.join(dir, 'bzImage')));
    const config = await readFile(path.join(dir, 'config'), 'utf8');
    if (record.key !== key || sha256Hex(bzImage) !== record.bzImageSha256 || sha256Hex(config) !== record.configHash) {
      log(`kernel: cached build ${key.slice(0, 12)} is damaged (hash mismatch); rebuilding`);
      return undefined;
    }
    return { bzImage, config, configHash: record.configHash, cacheKey: key, kernelRelease: record.kernelRelease };
  } catch (e) {
    log(`kernel: cached build ${key.slice(0, 12)} is incomplete (${(e as Error).message}); rebuilding`);
    return undefined;
  }
}

/** Stores bzImage, config, System.map (to name the addresses of `initcall_debug` and boot profiles) and build.json. */
export async function storeBuild(dir: string, record: CachedBuildRecord, build: CachedKernel, systemMap: string): Promise<void> {
  await publishDir(dir, async (tmp) => {
    await writeFile(path.join(tmp, 'bzImage'), build.bzImage);
    await writeFile(path.join(tmp, 'config'), build.config);
    await writeFile(path.join(tmp, 'System.map'), systemMap);
    await writeFile(path.join(tmp, 'build.json'), JSON.stringify(record, null, 2) + '\n');
  });
}

/** Compares the wanted inputs with the nearest cached build, for the log. */
export async function whyNotCached(cacheDir: string, want: KernelInputs): Promise<string> {
  const records: CachedBuildRecord[] = [];
  const linuxDir = path.join(cacheDir, 'linux');
  for (const version of await readdir(linuxDir).catch(() => [] as string[])) {
    const kernels = path.join(linuxDir, version, 'kernels');
    for (const key of await readdir(kernels).catch(() => [] as string[])) {
      try {
        records.push(JSON.parse(await readFile(path.join(kernels, key, 'build.json'), 'utf8')) as CachedBuildRecord);
      } catch {
        // an incomplete entry (or a folder being published): ignore
      }
    }
  }
  if (records.length === 0) return `no kernel cached yet under ${linuxDir}`;
  const nearest = records
    .map((r) => ({ r, diffs: inputDifferences(r.inputs, want) }))
    .sort((a, b) => a.diffs.length - b.diffs.length)[0];
  return `nearest cached build ${nearest.r.key.slice(0, 12)} (${nearest.r.fragmentNames.join(' + ')}) differs in: ${nearest.diffs.join('; ')}`;
}

/**
 * Runs fn holding a lock directory (mkdir is atomic), so two builders never write the same cache entry.
 * A lock whose owner process is gone is taken over.
 */
export async function withLock<T>(lockDir: string, signal: AbortSignal | undefined, log: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(lockDir), { recursive: true });
  let waiting = false;
  for (;;) {
    signal?.throwIfAborted();
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => 'NaN'));
      if (!Number.isNaN(owner) && !processAlive(owner)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Number.isNaN(owner) && (await ageMs(lockDir)) > 60_000) {
        await rm(lockDir, { recursive: true, force: true }); // a lock never finished being written
        continue;
      }
      if (!waiting) log(`kernel: waiting for ${lockDir} (held by process ${owner})`);
      waiting = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function ageMs(p: string): Promise<number> {
  return Date.now() - (await stat(p)).mtimeMs;
}
