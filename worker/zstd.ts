// zstd for the machine: stored artifacts and saved states (v86 reads zstd states natively), through the
// one wrapper and init guard every layer shares (images/zstd.ts).

import { zstdCompress as compressAt } from '../images/zstd.ts';

export { initZstd, isZstd, ZSTD_MAGIC, zstdDecompress } from '../images/zstd.ts';

/** zstd level for saved states. Measured on a 128 MiB guest: level 1 is ~10% larger, level 3 ~3× slower. */
export const STATE_ZSTD_LEVEL = 3;

export function zstdCompress(bytes: Uint8Array, level = STATE_ZSTD_LEVEL): Uint8Array {
  return compressAt(bytes, level);
}
