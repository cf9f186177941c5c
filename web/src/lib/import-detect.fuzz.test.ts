// Fuzzing import detection: on any header bytes and size it names a kind or throws an ImportError with
// a hint, quickly; a kind it names matches the file's role.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ, FUZZ_TEST_TIMEOUT_MS, fuzzBytes, returnsOrThrowsTyped } from '../../../images/fuzzkit.ts';
import { checkCombination, detectImportType, HEADER_BYTES, ImportError, type ImportKind } from './import-detect.ts';

const isImportError = (e: unknown) => e instanceof ImportError && typeof e.hint === 'string' && e.hint.length > 0;

/** Headers of each recognised kind (and near misses), for the mutations to start from. */
function header(parts: [at: number, bytes: number[] | string][], length = 2048): Uint8Array {
  const b = new Uint8Array(length);
  for (const [at, bytes] of parts) b.set(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes, at);
  return b;
}
const valid = [
  header([[0x8001, 'CD001']], HEADER_BYTES),
  header([[0x202, 'HdrS']]),
  header([[0, '070701']]),
  header([[0, [0x1f, 0x8b]]]),
  header([[510, [0x55, 0xaa]], [512, 'EFI PART']]),
  header([[1080, [0x53, 0xef]]]),
  header([[0, [0x7f, 0x45, 0x4c, 0x46]]]),
];
const roles: Record<ImportKind, string> = { iso: 'cdrom', disk: 'disk', kernel: 'kernel', initrd: 'initrd' };

describe('fuzzing import detection', () => {
  it(
    'detectImportType names a kind or throws an ImportError with a hint',
    async () => {
      const size = fc.oneof(fc.nat({ max: 1 << 20 }), fc.constantFrom(0, 511, 512, 1e12, 2 ** 53), fc.nat().map((n) => n * 512));
      await fc.assert(
        fc.asyncProperty(fuzzBytes(valid), size, async (bytes, n) => {
          await returnsOrThrowsTyped(() => detectImportType(bytes, n, 'f.img'), isImportError, (d) => expect(d.role).toBe(roles[d.kind]));
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'checkCombination accepts a bootable set or says what is missing',
    async () => {
      const kinds = fc.array(fc.constantFrom<ImportKind>('iso', 'disk', 'kernel', 'initrd'), { maxLength: 5 });
      await fc.assert(fc.asyncProperty(kinds, async (k) => returnsOrThrowsTyped(() => checkCombination(k), isImportError)), FUZZ);
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
