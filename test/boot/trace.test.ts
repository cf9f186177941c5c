// Traced appliances: a build from the lock keeps exactly what trace.json says without booting the
// wide tree, and the verify boot catches a file the app needs that the trace result withholds,
// naming the step and the path.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { debianMirror, defaultCacheDir } from '../../images/archive/index.ts';
import { build, formatRecipeLock, parseRecipeLock } from '../../images/build.ts';
import { parseTraceResult, formatTraceResult, traceResultHash } from '../../images/trace/result.ts';
import { bootGuest } from '../../worker/node/guest.ts';

const silent = { stage() {}, info() {}, progress() {} };
const RECIPES = resolve('images/recipes');

describe('traced appliances', () => {
  it('ruby: a build whose trace.json withholds json.rb fails verify naming smoke 2 and the path', { timeout: 1_800_000 }, async () => {
    if (!existsSync(join(RECIPES, 'ruby', 'trace.json'))) throw new Error('images/recipes/ruby/trace.json is missing: build ruby with npm run images -- build ruby');
    const work = await mkdtemp(join(tmpdir(), 'whittle-withheld-'));
    try {
      const recipes = join(work, 'recipes');
      await cp(join(RECIPES, 'ruby'), join(recipes, 'ruby'), { recursive: true });
      const tracePath = join(recipes, 'ruby', 'trace.json');
      const trace = parseTraceResult(await readFile(tracePath, 'utf8'), tracePath);
      const withheld = Object.keys(trace.touched).find((p) => p.endsWith('ruby/3.1.0/json.rb'));
      expect(withheld, 'the trace saw require "json" load json.rb').toBeDefined();
      expect(trace.touched[withheld!]).toBe('smoke 2');
      delete trace.touched[withheld!];
      await writeFile(tracePath, formatTraceResult(trace));
      // The lock records the edited result's hash, as if it had been committed that way.
      const lockPath = join(recipes, 'ruby', 'lock.json');
      const lock = parseRecipeLock(await readFile(lockPath, 'utf8'), lockPath);
      lock.trace = { file: 'trace.json', sha256: traceResultHash(trace) };
      await writeFile(lockPath, formatRecipeLock(lock));
      const built = build('ruby', { cacheDir: defaultCacheDir(), distDir: join(work, 'dist'), recipesDir: recipes, mirror: () => debianMirror(), log: silent, guest: bootGuest });
      await expect(built).rejects.toThrow(/fails smoke 2 .*touched during smoke 2 what the appliance lacks: .*\/usr\/lib\/ruby\/3\.1\.0\/json\.rb/);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('shell: a build with too little memory fails verify saying so, with the memory to ask for, and does not trace again', { timeout: 600_000 }, async () => {
    const work = await mkdtemp(join(tmpdir(), 'whittle-small-'));
    try {
      const recipes = join(work, 'recipes');
      await cp(join(RECIPES, 'shell'), join(recipes, 'shell'), { recursive: true });
      const recipePath = join(recipes, 'shell', 'recipe.json');
      await writeFile(recipePath, JSON.stringify({ ...JSON.parse(await readFile(recipePath, 'utf8')), memoryMB: 16 }));
      const said: string[] = [];
      const log = { ...silent, info: (m: string) => said.push(m) };
      const built = build('shell', { cacheDir: defaultCacheDir(), distDir: join(work, 'dist'), recipesDir: recipes, mirror: () => debianMirror(), log, guest: bootGuest });
      const error = await built.then(
        () => undefined,
        (e: unknown) => e as Error & { hint?: string },
      );
      expect(error?.message).toMatch(/^shell: the trimmed appliance fails boot in 16 MiB: The kernel's segments \(0x1000000–0x[0-9a-f]+\) do not fit in 16 MiB of memory\./);
      expect(error?.hint).toMatch(/^Give it more memory: "memoryMB": 32 in its recipe\.json/);
      expect(said.some((m) => m.includes('tracing the wide tree again'))).toBe(false);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
