// Downloads an image's stored files with byte progress, verifies each against its sha256, and writes
// it to the browser's image store. Cancellable with an AbortSignal.

import type { Manifest } from '../../../images/manifest.ts';
import { type StoredFile, verifyStoredFile } from '../../../worker/artifacts.ts';
import { imageStore, requestPersistence, usage } from '../../../worker/image-store.ts';
import { ExpectedError, fetchOrFail } from './user-error.ts';

export interface StoreProgress {
  filesDone: number;
  files: number;
  bytesDone: number;
  /** Approximate: the image's download size, less what was already stored. */
  bytes: number;
  /** What is happening now, for the label. */
  stage: 'download' | 'verify' | 'write';
}

/** Files fetched at once (a distro disk has hundreds of chunks). */
const PARALLEL = 4;

async function download(url: string, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<Uint8Array> {
  const res = await fetchOrFail(url, { signal }, 'Check that the app is still being served (npm start) and try again.');
  if (!res.ok) {
    throw new ExpectedError(
      `Could not download ${url}: the server answered ${res.status} ${res.statusText}.`,
      res.status === 404 ? 'The image may have been rebuilt since the page loaded: reload the library.' : 'Try again in a moment.',
    );
  }
  const length = Number(res.headers.get('Content-Length') ?? 0);
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const out = length > 0 ? new Uint8Array(length) : undefined;
  const parts: Uint8Array[] = [];
  let at = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (out && at + value.length <= out.length) out.set(value, at);
    else parts.push(value);
    at += value.length;
    onBytes(value.length);
  }
  if (out && parts.length === 0 && at === out.length) return out;
  // No or wrong Content-Length: join what arrived.
  const joined = new Uint8Array(at);
  let pos = 0;
  if (out) {
    joined.set(out.subarray(0, Math.min(at, out.length)), 0);
    pos = Math.min(at, out.length);
  }
  for (const p of parts) {
    joined.set(p, pos);
    pos += p.length;
  }
  return joined;
}

/**
 * Stores an image in this browser: fetches the files it lacks (relative to `manifestUrl`), verifies
 * each, writes them, and then the manifest, in the transaction that checks they are all there (so a
 * stored manifest always means a complete image). A failed or killed store leaves no manifest, and
 * its files are collected as orphans.
 */
export async function storeImage(manifest: Manifest, manifestUrl: string, onProgress: (p: StoreProgress) => void, signal?: AbortSignal): Promise<void> {
  // Ask once per store; browsers grant it to sites the user engages with, or prompt.
  if (!(await usage()).persisted) await requestPersistence().catch(() => false);
  await imageStore.writing(async () => {
    // A second round only when files went missing meanwhile: another tab deleted an image sharing them.
    for (let round = 1; ; round++) {
      const todo = await imageStore.missingFiles(manifest);
      await storeFiles(todo, manifestUrl, estimateBytes(manifest, todo), onProgress, signal);
      const missing = await imageStore.completeImage(manifest);
      if (missing.length === 0) return;
      if (round === 2) {
        throw new ExpectedError(`${manifest.name} was not stored: ${missing.length} of its files were deleted from the store while it was being stored.`, 'Store it again.');
      }
    }
  });
}

/**
 * Bytes the given files take to download. Whole artifacts say it exactly; a chunked disk only says its
 * total, so each unique chunk gets its share of that by raw size (identical chunks are fetched once).
 */
export function estimateBytes(manifest: Manifest, files: readonly StoredFile[]): number {
  const per = new Map<string, number>();
  for (const a of manifest.artifacts) {
    if (!a.chunks || !a.chunkSize) {
      per.set(a.sha256, a.compressedSize);
      continue;
    }
    const unique = new Map<string, number>();
    a.chunks.forEach((sha, i) => unique.set(sha, Math.min(a.chunkSize!, a.size - i * a.chunkSize!)));
    const raw = [...unique.values()].reduce((n, x) => n + x, 0);
    for (const [sha, size] of unique) per.set(sha, raw ? (a.compressedSize * size) / raw : 0);
  }
  return Math.round(files.reduce((n, f) => n + (per.get(f.sha256) ?? f.size), 0));
}

/** Fetches, verifies and stores the given files (relative to `manifestUrl`), a few at a time. */
export async function storeFiles(
  todo: readonly StoredFile[],
  manifestUrl: string,
  bytesEstimate: number,
  onProgress: (p: StoreProgress) => void,
  signal?: AbortSignal,
): Promise<void> {
  const p: StoreProgress = { filesDone: 0, files: todo.length, bytesDone: 0, bytes: bytesEstimate, stage: 'download' };
  onProgress({ ...p });
  // The first failure stops the other downloads too.
  const stop = new AbortController();
  const any = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  let next = 0;
  const one = async (f: StoredFile): Promise<void> => {
    const url = new URL(f.file, manifestUrl).href;
    const bytes = await download(url, any, (n) => {
      p.bytesDone += n;
      p.bytes = Math.max(p.bytes, p.bytesDone);
      onProgress({ ...p });
    });
    any.throwIfAborted();
    onProgress({ ...p, stage: 'verify' });
    try {
      await verifyStoredFile(f, bytes, f.file, url);
    } catch (e) {
      throw new ExpectedError(
        `${f.file} from ${new URL(url).host} does not match the image's manifest (its sha256 differs), so it was refused and not stored.`,
        "Try again; if it keeps failing, the server's copy is damaged or from another build: rebuild the image (npm run images) and reload.",
        { cause: e },
      );
    }
    any.throwIfAborted();
    onProgress({ ...p, stage: 'write' });
    await imageStore.putArtifact(f.sha256, bytes);
    p.filesDone++;
    onProgress({ ...p });
  };
  const worker = async (): Promise<void> => {
    try {
      while (next < todo.length && !any.aborted) await one(todo[next++]);
    } catch (e) {
      stop.abort(e);
      throw e;
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(PARALLEL, todo.length) }, worker));
  signal?.throwIfAborted();
  // Report the first failure (stop's reason), not the aborts it caused in the other downloads.
  if (results.some((r) => r.status === 'rejected')) throw stop.signal.reason;
}
