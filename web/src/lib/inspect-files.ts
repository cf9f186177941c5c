// The Inspect view's extra files, served beside an image's manifest: its file list (`inspect.files`,
// with what trimming dropped) and its kernel's .config (`kernel.config`). Not stored with the image:
// read from the server when it is reachable.

import type { Manifest } from '../../../images/manifest.ts';

export interface FileEntry {
  path: string;
  size: number;
  type: string;
  /** The package the file came from (or the builder's own files). */
  owner: string;
}

export interface DroppedFile {
  path: string;
  size: number;
  owner: string;
  reason: string;
}

export interface FileList {
  files: FileEntry[];
  dropped: DroppedFile[];
}

const cache = new Map<string, Promise<unknown>>();

function fetchOnce<T>(url: string, parse: (res: Response) => Promise<T>): Promise<T> {
  let p = cache.get(url) as Promise<T> | undefined;
  if (!p) {
    p = fetch(url).then((res) => {
      if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
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
  const data = await fetchOnce(new URL(m.inspect.files, manifestUrl).href, (r) => r.json() as Promise<Partial<FileList>>);
  return { files: Array.isArray(data.files) ? data.files : [], dropped: Array.isArray(data.dropped) ? data.dropped : [] };
}

/** The kernel's .config text, or undefined if the manifest names none. */
export async function fetchKernelConfig(m: Manifest, manifestUrl: string): Promise<string | undefined> {
  const path = m.kernel?.config;
  if (!path) return undefined;
  // Older manifests carried the config text itself.
  if (path.includes('\n')) return path;
  return fetchOnce(new URL(path, manifestUrl).href, (r) => r.text());
}
