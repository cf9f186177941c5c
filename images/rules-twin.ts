// What tracing buys, as a figure kept beside the recipe: `npm run bench:trim` builds a traced recipe's
// rules twin (the same recipe with `"trim": "rules"`) and records both sides in rules-twin.json, so
// `npm run images -- list` can show the rules figure without building the twin again. A measurement,
// not a build input: the file is not part of an image's inputs, and it says which lock it was taken on.

import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as v from 'valibot';
import { formatBytes, formatInteger, formatShare } from './format.ts';
import { fail } from './log.ts';
import { writeFileAtomic } from './publish.ts';
import { describeIssues, downloadSize, type Manifest } from './manifest.ts';

const RULES_TWIN_SCHEMA = 1;

const SideSchema = v.object({
  rootfsSize: v.pipe(v.number(), v.integer(), v.minValue(0)),
  fileCount: v.pipe(v.number(), v.integer(), v.minValue(0)),
  download: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
type Side = v.InferOutput<typeof SideSchema>;

const RulesTwinSchema = v.object({
  schema: v.literal(RULES_TWIN_SCHEMA),
  recipe: v.string(),
  /** When `npm run bench:trim` measured it (ISO 8601). */
  measured: v.pipe(v.string(), v.isoTimestamp()),
  /** The traced image's lock (its `lockHash`) at the time: a later lock makes the figure an old one. */
  lockHash: v.string(),
  rules: SideSchema,
  trace: SideSchema,
});
export type RulesTwin = v.InferOutput<typeof RulesTwinSchema>;

export function rulesTwinPath(recipeDir: string): string {
  return join(recipeDir, 'rules-twin.json');
}

function side(m: Manifest): Side {
  return { rootfsSize: m.rootfsSize, fileCount: m.fileCount, download: downloadSize(m) };
}

export function rulesTwinFrom(traced: Manifest, rules: Manifest, measured: Date): RulesTwin {
  return { schema: RULES_TWIN_SCHEMA, recipe: traced.name, measured: measured.toISOString(), lockHash: traced.lockHash ?? '', rules: side(rules), trace: side(traced) };
}

export async function writeRulesTwin(recipeDir: string, record: RulesTwin): Promise<string> {
  const path = rulesTwinPath(recipeDir);
  await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

/** The recorded figure, undefined when none was measured; a file that is not one is an error naming it. */
export function readRulesTwin(recipeDir: string): RulesTwin | undefined {
  const path = rulesTwinPath(recipeDir);
  if (!existsSync(path)) return undefined;
  const hint = `Measure it again: npm run bench:trim -- ${basename(recipeDir)}`;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    fail(`${path} is not valid JSON`, { cause, hint });
  }
  const parsed = v.safeParse(RulesTwinSchema, raw);
  if (!parsed.success) fail(`${path} is not a rules-twin record: ${describeIssues(parsed.issues)}`, { hint });
  return parsed.output;
}

/**
 * The list's cell for a traced image: the rules twin's root filesystem and file count, and what the
 * trace keeps of it, e.g. "11.0 MB / 375 (trace 63 %)"; marked when measured on another lock.
 */
export function formatRulesTwin(record: RulesTwin | undefined, current: Pick<Manifest, 'lockHash'>): string {
  if (!record) return '';
  const { rules, trace } = record;
  const stale = current.lockHash !== undefined && record.lockHash !== current.lockHash ? ', older lock' : '';
  return `${formatBytes(rules.rootfsSize)} / ${formatInteger(rules.fileCount)} (trace ${formatShare(trace.rootfsSize / rules.rootfsSize)}${stale})`;
}
