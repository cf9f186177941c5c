import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../../images/manifest.ts';
import { storedFiles } from '../../../worker/artifacts.ts';
import { estimateBytes } from './fetch-files.ts';

const sha = (c: string) => c.repeat(64);

describe('estimateBytes', () => {
  const manifest = {
    artifacts: [
      { role: 'kernel', file: 'k.zst', sha256: sha('1'), size: 1000, compressedSize: 400, compression: 'zstd' },
      // Four 256-byte chunks, two of them identical (zeros): 768 unique raw bytes, 300 bytes to download.
      { role: 'disk', sha256: sha('2'), size: 1024, compressedSize: 300, compression: 'zstd', chunkSize: 256, chunks: [sha('a'), sha('0'), sha('b'), sha('0')] },
    ],
  } as unknown as Manifest;

  it('counts whole artifacts exactly and shares a chunked one among its unique chunks', () => {
    const files = storedFiles(manifest);
    expect(files).toHaveLength(4);
    expect(estimateBytes(manifest, files)).toBe(700);
    expect(estimateBytes(manifest, files.filter((f) => f.sha256 === sha('a')))).toBe(100);
  });
});
