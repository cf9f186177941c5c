// Reproducible across machines: each recipe's expected.json records the sha256 of every artifact with
// what it holds for (builder inputs, compiler; like Debian's .buildinfo), and `verify` rebuilds into a
// temporary folder and compares: a different toolchain is a notice, any other difference a failure.

import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { build, type BuildOptions } from './build.ts';
import { toolchainIdentity } from './kernel/kernel.ts';
import { fail } from './log.ts';
import { describeIssues, type Manifest } from './manifest.ts';
import { writeFileAtomic } from './publish.ts';
import { loadRecipe, type RecipeSource } from './recipes.ts';

const EXPECTED_SCHEMA = 1;

const ExpectedSchema = v.object({
  schema: v.literal(EXPECTED_SCHEMA),
  recipe: v.string(),
  /** The manifest's `inputs`: recipe, lock and builder code (images/inputs.ts). */
  inputs: v.string(),
  lockHash: v.string(),
  /** What compiled the kernel (`gcc --version`, `ld --version`); empty for Debian's stock kernel. */
  toolchain: v.array(v.string()),
  artifacts: v.array(v.object({ role: v.string(), file: v.string(), sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)), size: v.number() })),
});
export type Expected = v.InferOutput<typeof ExpectedSchema>;

/** What a build produced, in the terms expected.json records. */
export interface BuildRecord {
  manifest: Pick<Manifest, 'name' | 'inputs' | 'lockHash' | 'artifacts'>;
  toolchain: string[];
}

export function expectedPath(source: Pick<RecipeSource, 'dir'>): string {
  return join(source.dir, 'expected.json');
}

export function expectedFrom({ manifest, toolchain }: BuildRecord): Expected {
  return {
    schema: EXPECTED_SCHEMA,
    recipe: manifest.name,
    inputs: manifest.inputs ?? '',
    lockHash: manifest.lockHash ?? '',
    toolchain,
    artifacts: manifest.artifacts.map((a) => ({ role: a.role, file: a.file ?? a.role, sha256: a.sha256, size: a.size })),
  };
}

export function formatExpected(expected: Expected): string {
  return `${JSON.stringify(expected, null, 2)}\n`;
}

export async function readExpected(path: string): Promise<Expected> {
  const hint = `Record it from a build on this machine: npm run images -- record ${path.split('/').at(-2)}`;
  if (!existsSync(path)) fail(`${path} does not exist: nothing to verify against`, { hint });
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    fail(`${path} is not valid JSON`, { cause, hint });
  }
  const parsed = v.safeParse(ExpectedSchema, raw);
  if (!parsed.success) fail(`${path} is not an expected.json: ${describeIssues(parsed.issues)}`, { hint });
  return parsed.output;
}

/** Artifacts whose bytes come out of the host's compiler: only a tailored kernel. */
const TOOLCHAIN_ROLES = new Set(['kernel', 'vmlinux']);

export type Verdict =
  | { kind: 'identical'; message: string }
  | { kind: 'different-toolchain'; message: string }
  | { kind: 'different'; artifact: string; message: string };

/**
 * Compares a build with what expected.json records. Artifacts are compared in manifest order; a
 * difference in an artifact the compiler makes, where the toolchain differs too, is not a failure.
 */
export function compareBuild(expected: Expected, built: BuildRecord): Verdict {
  const name = expected.recipe;
  const got = expectedFrom(built);
  const otherInputs = expected.inputs !== got.inputs ? ' (expected.json was recorded from other builder inputs: a recipe, lock or builder change)' : '';
  const toolchainDiffers = expected.toolchain.join('\n') !== got.toolchain.join('\n');
  const roles = [...new Set([...expected.artifacts.map((a) => a.role), ...got.artifacts.map((a) => a.role)])];
  const toolchainOnly: string[] = [];
  for (const role of roles) {
    const want = expected.artifacts.find((a) => a.role === role);
    const have = got.artifacts.find((a) => a.role === role);
    if (want && have && want.sha256 === have.sha256) continue;
    const what = `${role} (${(have ?? want)!.file})`;
    if (toolchainDiffers && want && have && TOOLCHAIN_ROLES.has(role)) {
      toolchainOnly.push(what);
      continue;
    }
    const detail = !want ? 'is not in expected.json' : !have ? 'was not built' : `has sha256 ${have.sha256}, ${have.size} bytes; expected ${want.sha256}, ${want.size} bytes`;
    return { kind: 'different', artifact: role, message: `${name}: ${what} differs: it ${detail}${otherInputs}` };
  }
  if (toolchainOnly.length) {
    return {
      kind: 'different-toolchain',
      message:
        `${name}: different toolchain: ${toolchainOnly.join(', ')} not compared (recorded with ${expected.toolchain.join(', ')}; ` +
        `built with ${got.toolchain.join(', ')}); the other ${got.artifacts.length - toolchainOnly.length} artifacts are identical`,
    };
  }
  return { kind: 'identical', message: `${name}: all ${got.artifacts.length} artifacts identical to expected.json${otherInputs}` };
}

/** The toolchain a recipe's artifacts depend on: the kernel compiler, unless the kernel is Debian's. */
async function toolchainFor(source: RecipeSource): Promise<string[]> {
  return source.recipe.kernel.kind === 'tailored' ? toolchainIdentity() : [];
}

/** Writes the recipe's expected.json from a finished build of it. */
export async function recordExpected(name: string, manifest: Manifest, recipesDir?: string): Promise<string> {
  const source = await loadRecipe(name, recipesDir);
  const path = expectedPath(source);
  await writeFileAtomic(path, formatExpected(expectedFrom({ manifest, toolchain: await toolchainFor(source) })));
  return path;
}

/** Rebuilds recipe `name` into a temporary folder (images/dist untouched) and compares it with its expected.json. */
export async function verifyImage(name: string, opts: Omit<BuildOptions, 'distDir' | 'updateLock'>): Promise<Verdict> {
  const source = await loadRecipe(name, opts.recipesDir);
  const expected = await readExpected(expectedPath(source));
  const distDir = await mkdtemp(join(tmpdir(), `whittle-verify-${name}-`));
  try {
    const manifest = await build(name, { ...opts, distDir });
    return compareBuild(expected, { manifest, toolchain: await toolchainFor(source) });
  } finally {
    await rm(distDir, { recursive: true, force: true });
  }
}
