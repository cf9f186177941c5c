// Fuzzing the newc reader: on any bytes it returns entries made of the input's bytes, or throws its
// own "cpio: …" Error, quickly (a negative or non-hex size must never walk backwards or loop).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCpio, writeCpio, type CpioEntry } from './cpio.ts';
import { FUZZ, FUZZ_TEST_TIMEOUT_MS, fuzzBytes, returnsOrThrowsTyped } from './fuzzkit.ts';

const ownError = (e: unknown) => e instanceof Error && e.constructor === Error && e.message.startsWith('cpio:');

const entries: CpioEntry[] = [
  { path: 'bin', type: 'dir', mode: 0o755 },
  { path: 'bin/sh', type: 'file', mode: 0o755, data: new TextEncoder().encode('#!/bin/busybox sh\n') },
  { path: 'init', type: 'symlink', mode: 0o777, linkTarget: 'bin/sh' },
  { path: 'dev/console', type: 'char', mode: 0o600, rdev: { major: 5, minor: 1 } },
];
const valid = [writeCpio(entries, 1_700_000_000), writeCpio([], 0)];

/** A header field as a hostile writer might fill it: hex, signs, spaces, too short. */
const field = fc.oneof(
  fc.nat().map((n) => n.toString(16).padStart(8, '0').slice(-8)),
  fc.constantFrom('-0000001', '-000006e', '00000000', 'ffffffff', 'zzzzzzzz', '0x000010', '      10', '+0000010', '7fffffff'),
);

/** Archives of one to three entries whose 13 header fields are each chosen as above. */
const structured = fc
  .array(fc.record({ fields: fc.array(field, { minLength: 13, maxLength: 13 }), name: fc.string({ maxLength: 12 }), body: fc.string({ maxLength: 24 }) }), { minLength: 1, maxLength: 3 })
  .map((list) => new TextEncoder().encode(list.map((e) => `070701${e.fields.join('')}${e.name}\0${e.body}`).join('') + new TextDecoder().decode(valid[1])));

describe('fuzzing readCpio', () => {
  it(
    'returns entries inside the archive, or its own error',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fuzzBytes(valid), structured), async (bytes) => {
          await returnsOrThrowsTyped(() => readCpio(bytes), ownError, (out) => {
            let total = 0;
            for (const e of out) total += (e.data?.length ?? 0) + e.path.length;
            expect(total).toBeLessThanOrEqual(bytes.length);
            for (const e of out) for (const n of [e.mode, e.uid ?? 0, e.gid ?? 0]) expect(Number.isInteger(n), JSON.stringify(e)).toBe(true);
          });
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
