// The recipe loader's rules: smoke steps that cannot pass on the guest's echo, unknown fields refused,
// and every recipe in images/recipes (and the twin's apps) holding to them.
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TWIN_APPS } from './distro/debian.ts';
import { BuildError } from './log.ts';
import { passesByEcho } from './manifest.ts';
import { parseRecipe, RecipeError } from './recipe.ts';
import { loadRecipe, recipeNames } from './recipes.ts';

const minimal = { title: 'T', description: 'D', app: 'sh', packages: ['busybox-static'], init: { console: 'sh' }, readyMarker: '# ' };

async function recipesDir(recipes: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'whittle-recipes-'));
  for (const [name, text] of Object.entries(recipes)) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'recipe.json'), text);
  }
  return dir;
}

describe('recipe loader', () => {
  it('refuses a smoke step whose expected text occurs in its own send (it passes on the echo alone)', async () => {
    const echo = { ...minimal, smoke: [{ send: 'echo $((6*7))', expect: '42' }, { send: "select 'whittled';", expect: 'whittled' }] };
    expect(() => parseRecipe(echo, 'x')).toThrow(RecipeError);
    expect(() => parseRecipe(echo, 'x')).toThrow(/smoke\.1: expect "whittled" occurs in its own send/);
    expect(() => parseRecipe({ ...minimal, smoke: [{ send: 'ls', expect: '' }] }, 'x')).toThrow(/smoke\.0: expect is empty/);
    const dir = await recipesDir({ echo: JSON.stringify(echo) });
    await expect(loadRecipe('echo', dir)).rejects.toThrow(/occurs in its own send/);
    await expect(loadRecipe('echo', dir)).rejects.toMatchObject({ hint: expect.stringContaining('recipe.json') });
  });

  it('also checks steps inherited through extends', async () => {
    const base = parseRecipe(minimal, 'base');
    expect(() => parseRecipe({ smoke: [{ send: 'uname -a', expect: 'uname' }] }, 'derived', base)).toThrow(/smoke\.0/);
  });

  it('names the path of a bad field and refuses unknown fields', () => {
    expect(() => parseRecipe({ ...minimal, drp: ['usr/**'] }, 'x')).toThrow(/recipe x: drp: is not a known field/);
    expect(() => parseRecipe({ ...minimal, init: { console: 'sh', servces: [] } }, 'x')).toThrow(/init\.servces: is not a known field/);
    expect(() => parseRecipe({ ...minimal, init: {} }, 'x')).toThrow(/init\.console: is required/);
    expect(() => parseRecipe({ ...minimal, keep: ['a', 3] }, 'x')).toThrow(/keep\.1: must be a string/);
    expect(() => parseRecipe({ ...minimal, smoke: [{ send: 'ls', expect: 'bin', timeout: -1 }] }, 'x')).toThrow(/smoke\.0\.timeout/);
    expect(() => parseRecipe({ ...minimal, init: { console: 'sh', waitFor: [70000] } }, 'x')).toThrow(/init\.waitFor\.0: must be a port number/);
    expect(() => parseRecipe({ ...minimal, init: { console: 'sh', waitFor: '6379' } }, 'x')).toThrow(/init\.waitFor: must list TCP ports/);
    expect(parseRecipe({ ...minimal, init: { console: 'sh', waitFor: [6379] } }, 'x').init.waitFor).toEqual([6379]);
  });

  it('says a recipe file holding JSON null or a list is not an object (not a TypeError)', async () => {
    const dir = await recipesDir({ nul: 'null', list: '[]' });
    for (const name of ['nul', 'list']) {
      const e = await loadRecipe(name, dir).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BuildError);
      expect((e as Error).message).toMatch(/not a JSON object/);
    }
  });
});

describe('the recipes in this tree', () => {
  it('all load, and no smoke step (recipes and the twin apps) passes on the echo alone', async () => {
    const names = recipeNames();
    expect(names).toContain('sqlite');
    for (const name of names) await loadRecipe(name);
    for (const app of TWIN_APPS) for (const step of app.smoke) expect(passesByEcho(step), `${app.name}: ${step.send}`).toBe(false);
  });
});
