// Reads an image's files from a directory, as the builder writes them (images/dist/<name>/).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactReader } from '../artifacts.ts';

export function pathReader(dir: string): ArtifactReader {
  return {
    where: dir,
    missingHint: `Rebuild the image (npm run images) so that ${dir} holds every file its manifest lists.`,
    async read(f) {
      try {
        return new Uint8Array(await readFile(join(dir, f.file)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
  };
}
