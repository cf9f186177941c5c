// One sha256 that pins an image: the hash of its artifacts' roles and hashes. Share links carry it, so
// a link opens only the exact bytes it was made with (each artifact is itself verified by its sha256).

import type { Manifest } from '../../../images/manifest.ts';
import { sha256Hex } from '../../../worker/artifacts.ts';

// The page hashes with the worker's one WebCrypto helper (the builder's is images/hash.ts, Node's crypto).
export { sha256Hex };

/** The text hashed to name an image: one `role sha256` line per artifact, sorted. */
export function imageDigestText(manifest: Pick<Manifest, 'artifacts'>): string {
  const lines = manifest.artifacts.map((a) => `${a.role} ${a.sha256}`).sort();
  return `whittle-image-v1\n${lines.join('\n')}\n`;
}

export function imageDigest(manifest: Pick<Manifest, 'artifacts'>): Promise<string> {
  return sha256Hex(imageDigestText(manifest));
}
