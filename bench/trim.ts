// `npm run bench:trim [-- recipe...]`: what tracing buys over rules, measured. For each traced recipe
// (default: all that do not follow another's trace), builds its rules twin — the same recipe with
// `"trim": "rules"`, resolved against the same archive into a scratch folder, no hand-written drop or
// keep lists unless the recipe has them — and prints the root filesystem, file count and download of
// both beside each other, from the built manifests (images/dist for the traced one: build it first).
// A rules twin that breaks its app still builds (rules do not verify); that is part of the figure.
// Each recipe's figures are recorded in images/recipes/<name>/rules-twin.json, which
// `npm run images -- list` shows. Measures; asserts nothing.

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianMirror, defaultCacheDir } from '../images/archive/index.ts';
import { build } from '../images/build.ts';
import { formatBytes, formatCount, formatShare } from '../images/format.ts';
import { consoleLog } from '../images/log.ts';
import { downloadSize, ManifestSchema, type Manifest } from '../images/manifest.ts';
import { loadRecipe, RECIPES_DIR, recipeNames } from '../images/recipes.ts';
import { rulesTwinFrom, writeRulesTwin } from '../images/rules-twin.ts';
import { renderMarkdown, renderText, type Table } from '../worker/cli/table.ts';
import * as v from 'valibot';
import { runMain } from '../worker/cli/run-main.ts';

const DIST = fileURLToPath(new URL('../images/dist/', import.meta.url));

async function builtManifest(name: string): Promise<Manifest> {
  const path = join(DIST, name, 'manifest.json');
  try {
    return v.parse(ManifestSchema, JSON.parse(await readFile(path, 'utf8')));
  } catch (e) {
    throw new Error(`${path}: ${e instanceof Error ? e.message : String(e)} (build it first: npm run images -- build ${name})`, { cause: e });
  }
}

/**
 * Builds `name` with `"trim": "rules"` in a scratch copy of the recipes (its own lock, resolved now).
 * No guest: a rules build boots nothing but the sockets probe, and a rules twin whose app is broken
 * would wait minutes there for a ready marker that never comes; sizes and file counts need no boot.
 */
async function rulesTwin(name: string, scratch: string): Promise<Manifest> {
  const recipes = join(scratch, 'recipes');
  await cp(RECIPES_DIR, recipes, { recursive: true });
  const file = join(recipes, name, 'recipe.json');
  const recipe = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  await writeFile(file, JSON.stringify({ ...recipe, trim: 'rules' }, null, 2));
  for (const f of ['lock.json', 'trace.json', 'expected.json']) await rm(join(recipes, name, f), { force: true });
  return build(name, { cacheDir: defaultCacheDir(), distDir: join(scratch, 'dist'), mirror: () => debianMirror(), log: consoleLog(`[${name} rules]`), recipesDir: recipes, updateLock: true });
}

async function main(argv: string[]): Promise<number> {
  const asked = argv.filter((a) => !a.startsWith('-'));
  const names: string[] = [];
  for (const n of asked.length ? asked : recipeNames()) {
    const { recipe } = await loadRecipe(n);
    if (recipe.trim !== 'trace') continue;
    // A rung that changes only how the same packages boot follows its base's trace: same root filesystem.
    if (recipe.extends && (await loadRecipe(recipe.extends)).recipe.packages.join(' ') === recipe.packages.join(' ')) continue;
    names.push(n);
  }
  const rows: string[][] = [];
  for (const name of names) {
    const traced = await builtManifest(name);
    const scratch = await mkdtemp(join(tmpdir(), 'whittle-trim-bench-'));
    try {
      const rules = await rulesTwin(name, scratch);
      const { dir } = await loadRecipe(name);
      console.error(`[${name}] recorded ${await writeRulesTwin(dir, rulesTwinFrom(traced, rules, new Date()))}`);
      rows.push([
        name,
        formatBytes(rules.rootfsSize),
        formatBytes(traced.rootfsSize),
        formatShare(traced.rootfsSize / rules.rootfsSize),
        formatCount(rules.fileCount),
        formatCount(traced.fileCount),
        formatBytes(downloadSize(rules)),
        formatBytes(downloadSize(traced)),
      ]);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const header = ['image', 'rules: root fs', 'trace: root fs', 'trace ÷ rules', 'rules: files', 'trace: files', 'rules: download', 'trace: download'];
  const table: Table = { header, rows, align: header.map((_, i) => (i === 0 ? 'left' : 'right')) };
  console.log(`\n${renderText(table)}\n\n${renderMarkdown(table)}`);
  return 0;
}

runMain(main);
