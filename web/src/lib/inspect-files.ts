// The Inspect view's extra files, served beside an image's manifest: its file list (`inspect.files`,
// with what trimming dropped) and its kernel's .config (`kernel.config`). Not stored with the image:
// read from the server when it is reachable.

import * as v from 'valibot';
import { describeIssues, type Manifest } from '../../../images/manifest.ts';
import { FileListSchema, type FileList } from '../../../images/trace/files.ts';
import { ExpectedError, fetchOrFail } from './user-error.ts';

export type { FileList };

const cache = new Map<string, Promise<unknown>>();

function fetchOnce<T>(url: string, parse: (res: Response) => Promise<T>): Promise<T> {
  let p = cache.get(url) as Promise<T> | undefined;
  if (!p) {
    p = fetchOrFail(url).then((res) => {
      if (!res.ok) throw new ExpectedError(`${url} answered ${res.status} ${res.statusText}.`, 'The server no longer has this image\'s files: reload the library.');
      return parse(res);
    });
    p.catch(() => cache.delete(url));
    cache.set(url, p);
  }
  return p;
}

/** The image's file list, or undefined if it has none. */
export async function fetchFileList(m: Manifest, manifestUrl: string): Promise<FileList | undefined> {
  if (!m.inspect?.files) return undefined;
  const url = new URL(m.inspect.files, manifestUrl).href;
  const data = await fetchOnce(url, (r) => r.json() as Promise<unknown>);
  // From the image's server, which may be another site's: checked like the manifest.
  const parsed = v.safeParse(FileListSchema, data);
  if (!parsed.success) throw new ExpectedError(`${url} is not a file list: ${describeIssues(parsed.issues)}.`, 'Rebuild the image, or reload the library.');
  return parsed.output;
}

/** The kernel's .config text, or undefined if the manifest names none. */
export async function fetchKernelConfig(m: Manifest, manifestUrl: string): Promise<string | undefined> {
  const path = m.kernel?.config;
  if (!path) return undefined;
  // Older manifests carried the config text itself.
  if (path.includes('\n')) return path;
  return fetchOnce(new URL(path, manifestUrl).href, (r) => r.text());
}

/** What the Inspect view reads beside a manifest, or why it could not. */
export interface InspectExtras {
  files?: FileList;
  config?: string;
  /** Why the extras could not be read (offline, or an image not served here). */
  unavailable?: string;
}

/** An image's file list and kernel config; what could not be read is said in `unavailable`. */
export async function fetchInspectExtras(image: { name: string; manifest: Manifest; manifestUrl?: string } | undefined): Promise<InspectExtras> {
  if (!image) return {};
  if (!image.manifestUrl) return { unavailable: `${image.name} is not served by this app, so its file list and kernel config are not available.` };
  const [files, config] = await Promise.allSettled([fetchFileList(image.manifest, image.manifestUrl), fetchKernelConfig(image.manifest, image.manifestUrl)]);
  const out: InspectExtras = {};
  if (files.status === 'fulfilled' && files.value) out.files = files.value;
  if (config.status === 'fulfilled' && config.value) out.config = config.value;
  const failed = [files, config].find((r) => r.status === 'rejected');
  if (failed) {
    // Say what went wrong when it is an expected error (a bad file list); the network's own errors read as "offline?".
    const why = failed.reason instanceof ExpectedError ? ` ${failed.reason.message}` : ' (offline?)';
    console.warn('Inspect: could not read an image\'s extras', failed.reason);
    out.unavailable = `Some details could not be read from the server:${why}`;
  }
  return out;
}
