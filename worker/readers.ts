// Artifact readers that work wherever fetch and Blob exist: an image served over HTTP, and a user's
// own files. (IndexedDB: image-store.ts; a directory on disk: node/path-reader.ts.)

import type { ArtifactReader } from './artifacts.ts';

/** Files relative to `baseUrl` (the manifest's URL or its folder; relative URLs resolve against the page). */
export function urlReader(baseUrl: string): ArtifactReader {
  const base = new URL(baseUrl, globalThis.location?.href);
  return {
    where: base.href,
    missingHint: 'Check the network connection and that the server still serves this image.',
    async read(f, signal) {
      const res = await fetch(new URL(f.file, base), { signal });
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/** The user's files (an import), keyed by the sha256 of their raw bytes, stored uncompressed. */
export function fileReader(files: Record<string, Blob>): ArtifactReader {
  return {
    where: 'the files you chose',
    missingHint: 'Choose the files again.',
    async read(f) {
      const blob = files[f.sha256];
      return blob ? new Uint8Array(await blob.arrayBuffer()) : null;
    },
    async readRange(f, start, length) {
      const blob = files[f.sha256];
      return blob ? new Uint8Array(await blob.slice(start, start + length).arrayBuffer()) : null;
    },
  };
}
