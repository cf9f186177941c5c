// trace.json beside a recipe's lock: what the wide run touched (path → first step), so a build from
// the lock keeps the same paths without booting anything. The lock records its sha256.

import * as v from 'valibot';
import { canonicalJson, sha256Hex } from '../hash.ts';
import { describeIssues, MAX_FILES } from '../manifest.ts';
import { fail } from '../log.ts';

export const TRACE_FILE = 'trace.json';

export const TraceResultSchema = v.strictObject({
  schema: v.literal(1),
  /** The rootfs lock hash the trace ran on: another lock means another wide tree, so trace again. */
  lockHash: v.string(),
  /** path (relative to /) → the first step that touched it (`boot`, `smoke N`, `exercise N`). */
  touched: v.pipe(v.record(v.string(), v.string()), v.check((r) => Object.keys(r).length <= MAX_FILES, 'too many paths')),
});
export type TraceResult = v.InferOutput<typeof TraceResultSchema>;

/** Sorted keys, one path a line: stable diffs in git. */
export function formatTraceResult(r: TraceResult): string {
  const keys = Object.keys(r.touched).sort();
  const lines = keys.map((k) => `    ${JSON.stringify(k)}: ${JSON.stringify(r.touched[k])}`);
  return `{\n  "schema": 1,\n  "lockHash": ${JSON.stringify(r.lockHash)},\n  "touched": {\n${lines.join(',\n')}\n  }\n}\n`;
}

export function traceResultHash(r: TraceResult): string {
  return sha256Hex(canonicalJson(r));
}

export function parseTraceResult(text: string, source: string): TraceResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    fail(`${source} is not valid JSON`, { cause, hint: 'Restore it from git, or trace again: npm run images -- build <name> --retrace' });
  }
  const r = v.safeParse(TraceResultSchema, raw);
  if (!r.success) fail(`${source}: ${describeIssues(r.issues)}`, { hint: 'Restore it from git, or trace again with --retrace.' });
  return r.output;
}

/** What a retrace changed: paths added and removed (a changed first step is not a change of what is kept). */
export function diffTraces(before: TraceResult | undefined, after: TraceResult): { added: string[]; removed: string[] } {
  const old = new Set(Object.keys(before?.touched ?? {}));
  const now = new Set(Object.keys(after.touched));
  return { added: [...now].filter((p) => !old.has(p)).sort(), removed: [...old].filter((p) => !now.has(p)).sort() };
}
