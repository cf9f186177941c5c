// The images this app serves: /images/index.json (written by the Vite plugin) and each manifest.

import { type Manifest, validateManifest } from '../../../images/manifest.ts';
import { ExpectedError, fetchOrFail } from './user-error.ts';

export interface ServedImage {
  manifest: Manifest;
  /** URL of the manifest; artifact paths are relative to it. */
  manifestUrl: string;
}

export interface CatalogResult {
  images: ServedImage[];
  /** Manifests that could not be read, by name, with the reason. */
  problems: { name: string; message: string }[];
}

interface ImageIndex {
  schema: 1;
  images: { name: string; manifest: string }[];
}

/** The images directory, relative to the page (works under any base path). */
export function imagesBase(): URL {
  return new URL('images/', new URL(import.meta.env.BASE_URL, location.href));
}

async function getJson(url: URL | string, signal?: AbortSignal): Promise<unknown> {
  const res = await fetchOrFail(url, { signal, cache: 'no-cache' });
  if (!res.ok) throw new ExpectedError(`${url} answered ${res.status} ${res.statusText}.`);
  return res.json();
}

/** Reads one manifest from a URL and checks it. */
export async function fetchManifest(url: string, signal?: AbortSignal): Promise<ServedImage> {
  return { manifest: validateManifest(await getJson(url, signal)), manifestUrl: url };
}

/** Reads the served catalog; a broken manifest is reported, not fatal. Throws if the index is unreachable. */
export async function fetchCatalog(signal?: AbortSignal): Promise<CatalogResult> {
  const base = imagesBase();
  const index = (await getJson(new URL('index.json', base), signal)) as ImageIndex;
  if (index?.schema !== 1 || !Array.isArray(index.images)) throw new ExpectedError('The image index has an unknown format.', 'Reload the page.');
  const settled = await Promise.allSettled(index.images.map((e) => fetchManifest(new URL(e.manifest, base).href, signal)));
  const result: CatalogResult = { images: [], problems: [] };
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') result.images.push(s.value);
    else result.problems.push({ name: index.images[i].name, message: s.reason instanceof Error ? s.reason.message : String(s.reason) });
  });
  return result;
}
