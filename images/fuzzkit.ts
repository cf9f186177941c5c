// Property-test (fast-check) settings and generators shared by the *.fuzz.test.ts files: a fixed seed
// and a small budget in `npm test`, more on demand (`FUZZ_RUNS=20000 npm run test:fuzz`, `FUZZ_SEED`).
// No Node or DOM imports: the page's fuzz tests use it too.
import fc from 'fast-check';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

/** fast-check parameters: fixed seed (reproducible failures), 200 runs unless FUZZ_RUNS says more. */
export const FUZZ = {
  seed: Number(env.FUZZ_SEED ?? 20261201),
  numRuns: Number(env.FUZZ_RUNS ?? 200),
};

/** The vitest timeout of a fuzz test: generous for the default budget, scaled for longer runs. */
export const FUZZ_TEST_TIMEOUT_MS = Math.max(60_000, FUZZ.numRuns * 200);

/** Each call of a parser must return or throw within this long (real inputs take a few ms). */
export const CALL_LIMIT_MS = 1000;

/**
 * Runs `call` and checks the contract of a parser: it returns a value (which `check`, if given, may
 * inspect) or throws an error `expected` accepts, within CALL_LIMIT_MS. Anything else fails the
 * property with what was thrown, so fast-check shrinks it to a minimal input.
 */
export async function returnsOrThrowsTyped<T>(call: () => T | Promise<T>, expected: (e: unknown) => boolean, check?: (value: T) => void): Promise<void> {
  const start = performance.now();
  const outcome = await Promise.resolve()
    .then(call)
    .then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  const ms = performance.now() - start;
  if (ms > CALL_LIMIT_MS) throw new Error(`took ${Math.round(ms)} ms (limit ${CALL_LIMIT_MS} ms)`);
  if ('error' in outcome) {
    const e = outcome.error;
    if (!expected(e)) throw new Error(`threw an unexpected ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`, { cause: e });
    return;
  }
  check?.(outcome.value);
}

/** Bytes that matter to text headers (ar, tar, cpio): digits, hex, signs, spaces, slashes, NUL, newline. */
const HEADER_BYTES = [...'0123456789abcdefABCDEF-+ x/.#`\n'].map((c) => c.charCodeAt(0)).concat([0, 0xff, 0x80]);

type ByteEdit =
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; xor: number }
  | { op: 'set'; at: number; bytes: number[] }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; length: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), bytes: fc.array(fc.oneof(fc.constantFrom(...HEADER_BYTES), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 64 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 600 }) }),
);

function applyByteEdit(b: Uint8Array, e: ByteEdit): Uint8Array {
  if (b.length === 0) return e.op === 'insert' ? Uint8Array.from(e.bytes) : b;
  const at = e.at % (b.length + 1);
  switch (e.op) {
    case 'truncate':
      return b.slice(0, at);
    case 'flip': {
      const out = b.slice();
      out[at % b.length] ^= e.xor;
      return out;
    }
    case 'set': {
      const out = b.slice();
      e.bytes.forEach((x, i) => {
        if (at + i < out.length) out[at + i] = x;
      });
      return out;
    }
    case 'insert':
      return Uint8Array.from([...b.subarray(0, at), ...e.bytes, ...b.subarray(at)]);
    case 'delete':
      return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + e.length)]);
  }
}

/** Valid inputs with one to four edits (truncations, flipped bytes, overwritten header digits, …). */
export function mutatedBytes(valid: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.constantFrom(...valid), fc.array(byteEdit, { minLength: 1, maxLength: 4 })).map(([b, edits]) => edits.reduce(applyByteEdit, b));
}

/** Valid inputs mutated, and random bytes (a few of them valid-looking by chance). */
export function fuzzBytes(valid: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ arbitrary: mutatedBytes(valid), weight: 4 }, { arbitrary: fc.uint8Array({ maxLength: 2048 }), weight: 1 });
}

/** Values a validator must think about: wrong types, edges of numbers, hostile strings. */
export const edgeValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    undefined, null, true, 0, -1, 1.5, 2 ** 53, -(2 ** 53), Number.NaN, Infinity, -Infinity, 1e308,
    '', ' ', '..', '../x', '/etc/passwd', 'a\\b', 'https://evil.example/x', '%2e%2e/x', 'x'.repeat(5000), 'A'.repeat(64), '0'.repeat(64),
    [], {}, [[]], { __proto__: null }, 'constructor', '__proto__',
  ),
  fc.anything({ maxDepth: 2 }),
);

type JsonEdit = { pick: number; value: unknown; remove: boolean };

/** Every path (list of keys) into a JSON value, the root included. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(value)) value.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (value && typeof value === 'object') for (const [k, x] of Object.entries(value)) out.push(...paths(x, [...at, k]));
  return out;
}

function applyJsonEdit(root: unknown, e: JsonEdit): unknown {
  const all = paths(root);
  const path = all[e.pick % all.length];
  if (path.length === 0) return e.value;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let parent = copy;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (e.remove) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else parent[last] = e.value;
  return copy;
}

/** Valid JSON-like values with one to three fields replaced by edge values, or removed. */
export function mutatedJson(valid: readonly unknown[]): fc.Arbitrary<unknown> {
  const edit = fc.record({ pick: fc.nat(), value: edgeValue, remove: fc.boolean() });
  return fc.tuple(fc.constantFrom(...valid), fc.array(edit, { minLength: 1, maxLength: 3 })).map(([v, edits]) => edits.reduce(applyJsonEdit, v));
}
