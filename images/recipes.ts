// Finds recipes by convention: images/recipes/<name>/recipe.json, with its lock beside it (lock.json).

import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from './log.ts';
import { parseRecipe, RECIPE_NAME, RecipeError, type Recipe } from './recipe.ts';

export const RECIPES_DIR = fileURLToPath(new URL('./recipes/', import.meta.url));

export interface RecipeSource {
  recipe: Recipe;
  dir: string;
  lockPath: string;
}

export function recipeNames(dir = RECIPES_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'recipe.json')))
    .map((d) => d.name)
    .sort();
}

export async function loadRecipe(name: string, dir = RECIPES_DIR, seen: string[] = []): Promise<RecipeSource> {
  const recipeDir = join(dir, name);
  const path = join(recipeDir, 'recipe.json');
  if (!RECIPE_NAME.test(name) || !existsSync(path)) {
    fail(`No recipe named ${JSON.stringify(name)}`, { hint: `Recipes: ${recipeNames(dir).join(', ')}, debian. A recipe is ${join(dir, '<name>', 'recipe.json')} (see images/README.md).` });
  }
  if (seen.includes(name)) fail(`Recipe ${name} extends itself (${[...seen, name].join(' → ')})`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    fail(`${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  try {
    const extendsName = typeof raw === 'object' && raw !== null ? (raw as { extends?: unknown }).extends : undefined;
    const base = typeof extendsName === 'string' ? (await loadRecipe(extendsName, dir, [...seen, name])).recipe : undefined;
    return { recipe: parseRecipe(raw, name, base), dir: recipeDir, lockPath: join(recipeDir, 'lock.json') };
  } catch (e) {
    if (e instanceof RecipeError) fail(e.message, { hint: `Fix ${path} (the recipe format is in images/README.md).` });
    throw e;
  }
}
