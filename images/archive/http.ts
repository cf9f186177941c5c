// Small HTTP helpers over Node's built-in fetch, turning failures into errors that say what to do.
import { HttpError, fail } from './errors.ts';

const MIRROR_HINT = 'Check the network and the mirror (DEBIAN_MIRROR, or the host\'s apt sources).';

/** Joins a mirror base URL and an archive path (`dists/...`, `pool/...`). */
export function mirrorUrl(mirror: string, path: string): string {
  return `${mirror.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** GETs a whole (small) file into memory; 404 and network errors become `ArchiveError`s. */
export async function httpGet(url: string, signal?: AbortSignal): Promise<Uint8Array> {
  const response = await request(url, { signal });
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    if (signal?.aborted) throw cause;
    fail(`Download of ${url} broke off: ${errorText(cause)}`, { hint: MIRROR_HINT, cause });
  }
}

/** Sends a request and checks its status (200, or 206 when `range` was asked for). */
export async function request(url: string, init: { signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { signal: init.signal, headers: init.headers, redirect: 'follow' });
  } catch (cause) {
    if (init.signal?.aborted) throw cause;
    fail(`Cannot reach ${url}: ${errorText(cause)}`, { hint: MIRROR_HINT, cause });
  }
  if (response.status === 200 || response.status === 206) return response;
  await response.body?.cancel();
  if (response.status === 404) {
    throw new HttpError(404, `Not found on the mirror: ${url} (HTTP 404)`, {
      hint: 'The mirror may not carry this suite or file (old package versions leave the pool after a point release); try another mirror or re-resolve without the lock.',
    });
  }
  throw new HttpError(response.status, `HTTP ${response.status} ${response.statusText} for ${url}`, { hint: MIRROR_HINT });
}

/** The message of an error and its causes (undici hides the useful part in `cause`). */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  while (e instanceof Error && parts.length < 4) {
    parts.push(e.message);
    e = e.cause;
  }
  if (parts.length === 0) parts.push(String(error));
  return parts.join(': ');
}
