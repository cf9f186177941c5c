// Fetch stage: .debs into a content-addressed cache (`<cacheDir>/debs/<sha256>.deb`), each verified by
// size and SHA256 before use; parallel, resumable (HTTP Range on a `.part` file), renamed into place.
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../hash.ts';
import { ArchiveError, HttpError, fail } from './errors.ts';
import { errorText, mirrorUrl, request } from './http.ts';
import { progressReporter, type FetchProgress } from './progress.ts';

/** What fetchDebs needs of a package: a `ResolvedPackage` or a `LockedPackage` will do. */
export interface DebRef {
  name: string;
  version: string;
  /** Pool path relative to the mirror's base URL. */
  filename: string;
  size: number;
  sha256: string;
}

export interface FetchDebsOptions {
  mirror: string;
  /** Cache root; files go to `<cacheDir>/debs/`. */
  cacheDir: string;
  /** Default: a bar on a TTY stderr, plain lines otherwise. Pass `() => {}` for silence. */
  onProgress?: (p: FetchProgress) => void;
  /** Parallel downloads (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface FetchedDeb<T extends DebRef = DebRef> {
  entry: T;
  /** The verified file in the cache. */
  path: string;
  /** False when it was already in the cache. */
  downloaded: boolean;
}

/** Attempts per file when the connection breaks (each resumes where the last stopped). */
const ATTEMPTS = 3;

/**
 * Makes every entry's .deb available in the cache, verified, and returns their paths in input order.
 * A file already in the cache is verified too; if it does not match (a flipped byte, a truncated
 * copy) that is an error naming the package and the file, with the hint to delete it — it is not
 * silently fetched again, so tampering with the cache is noticed. A fresh download that does not
 * match is deleted and reported (the mirror served something else).
 */
export async function fetchDebs<T extends DebRef>(entries: readonly T[], options: FetchDebsOptions): Promise<FetchedDeb<T>[]> {
  const dir = join(options.cacheDir, 'debs');
  await mkdir(dir, { recursive: true });
  for (const e of entries) checkRef(e);

  const reporter = options.onProgress ? undefined : progressReporter();
  const report = options.onProgress ?? reporter!.onProgress;
  try {
    const results: FetchedDeb<T>[] = new Array(entries.length);
    const toDownload = new Map<string, { ref: T; indices: number[] }>();
    let cachedFiles = 0;
    for (const [i, ref] of entries.entries()) {
      const path = cachePath(dir, ref);
      const pending = toDownload.get(ref.sha256);
      if (pending) {
        pending.indices.push(i);
        continue;
      }
      if (await verifyCached(ref, path)) {
        results[i] = { entry: ref, path, downloaded: false };
        cachedFiles++;
      } else {
        toDownload.set(ref.sha256, { ref, indices: [i] });
      }
    }
    // Entries sharing a sha256 with one found in the cache.
    for (const [i, ref] of entries.entries()) {
      if (!results[i] && !toDownload.has(ref.sha256)) results[i] = { entry: ref, path: cachePath(dir, ref), downloaded: false };
    }

    const jobs = [...toDownload.values()];
    const state: FetchProgress = {
      event: 'start',
      filesDone: 0,
      filesTotal: jobs.length,
      bytesDone: 0,
      bytesTotal: jobs.reduce((s, j) => s + j.ref.size, 0),
      cachedFiles,
    };
    report({ ...state });
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++];
        const path = cachePath(dir, job.ref);
        await download(job.ref, path, options, state, report);
        for (const i of job.indices) results[i] = { entry: entries[i], path, downloaded: true };
      }
    };
    const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, jobs.length)) }, worker);
    const settled = await Promise.allSettled(workers);
    const failure = settled.find((s) => s.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    report({ ...state, event: 'finish', package: undefined });
    return results;
  } finally {
    reporter?.stop();
  }
}

/** `<dir>/<sha256>.deb` */
export function cachePath(dir: string, ref: DebRef): string {
  return join(dir, `${ref.sha256}.deb`);
}

function checkRef(ref: DebRef): void {
  const what = `${ref.name} ${ref.version}`;
  if (!/^[0-9a-f]{64}$/.test(ref.sha256)) fail(`${what}: SHA256 ${JSON.stringify(ref.sha256)} is not 64 lowercase hex digits`);
  if (!Number.isSafeInteger(ref.size) || ref.size < 0) fail(`${what}: bad size ${ref.size}`);
  if (ref.filename.startsWith('/') || ref.filename.split('/').includes('..')) fail(`${what}: unsafe pool path ${JSON.stringify(ref.filename)}`);
}

/** True if the cached file is there and intact; false if absent; throws if present but wrong. */
async function verifyCached(ref: DebRef, path: string): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const hint = `The cached file was altered or damaged. Delete it (rm '${path}') and run again to download it anew.`;
  if (size !== ref.size) fail(`Cached .deb of ${ref.name} ${ref.version} at ${path} has ${size} bytes, expected ${ref.size}`, { hint });
  const actual = await sha256File(path);
  if (actual !== ref.sha256) fail(`Cached .deb of ${ref.name} ${ref.version} at ${path} has SHA256 ${actual}, expected ${ref.sha256}`, { hint });
  return true;
}

async function download(
  ref: DebRef,
  path: string,
  options: FetchDebsOptions,
  state: FetchProgress,
  report: (p: FetchProgress) => void,
): Promise<void> {
  const url = mirrorUrl(options.mirror, ref.filename);
  const part = `${path}.part`;
  const label = `${ref.name} ${ref.version}`;
  report({ ...state, event: 'file-start', package: label });
  let counted = 0; // bytes of this file already added to state.bytesDone
  for (let attempt = 1; ; attempt++) {
    let offset = await sizeOf(part);
    if (offset > ref.size) {
      await rm(part, { force: true });
      offset = 0;
    }
    try {
      if (offset < ref.size) await receive(url, part, offset, ref.size, options.signal, (n) => {
        const delta = Math.max(0, n - counted);
        counted = Math.max(counted, n);
        state.bytesDone += delta;
        report({ ...state, event: 'data', package: label });
      });
      break;
    } catch (e) {
      if (options.signal?.aborted || e instanceof HttpError || attempt >= ATTEMPTS) {
        if (e instanceof ArchiveError || options.signal?.aborted) throw e;
        fail(`Download of ${label} from ${url} failed: ${errorText(e)}`, {
          hint: 'Run again: the partial file is kept and the download resumes.',
          cause: e,
        });
      }
    }
  }
  const size = await sizeOf(part);
  const actual = await sha256File(part);
  if (size !== ref.size || actual !== ref.sha256) {
    await rm(part, { force: true });
    fail(`Downloaded .deb of ${label} from ${url} does not match the archive: ${size} bytes, SHA256 ${actual}; expected ${ref.size} bytes, ${ref.sha256}`, {
      hint: 'Run again; if it keeps failing, the mirror serves a tampered or broken file: try another mirror (DEBIAN_MIRROR).',
    });
  }
  await rename(part, path);
  state.bytesDone += Math.max(0, ref.size - counted);
  state.filesDone++;
  report({ ...state, event: 'file-done', package: label });
}

/**
 * Appends `url`'s bytes from `offset` to `part`. A server that ignores Range (200) restarts the file;
 * `onBytes` gets the file's length so far.
 */
async function receive(url: string, part: string, offset: number, expected: number, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<void> {
  let response: Response;
  try {
    response = await request(url, { signal, headers: offset > 0 ? { Range: `bytes=${offset}-` } : undefined });
  } catch (e) {
    // 416: the part is not a prefix the server can continue (e.g. the file changed); start over.
    if (e instanceof HttpError && e.status === 416 && offset > 0) {
      await rm(part, { force: true });
      return receive(url, part, 0, expected, signal, onBytes);
    }
    throw e;
  }
  let start = 0;
  if (response.status === 206) {
    const range = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== offset) {
      await response.body?.cancel();
      throw new Error(`server answered range ${response.headers.get('content-range')} to bytes=${offset}-`);
    }
    start = offset;
  }
  const fh = await open(part, start > 0 ? 'a' : 'w');
  let length = start;
  try {
    if (!response.body) throw new Error('empty response body');
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      length += chunk.length;
      if (length > expected) throw new Error(`server sent more than the expected ${expected} bytes`);
      await fh.write(chunk);
      onBytes(length);
    }
  } finally {
    await fh.close();
  }
  if (length !== expected) throw new Error(`connection closed after ${length} of ${expected} bytes`);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}
