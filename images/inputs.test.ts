import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applianceInputs, builderModules, staleReason, twinInputs } from './inputs.ts';

const RECIPE = {
  title: 'Demo',
  description: 'A shell.',
  app: 'shell',
  packages: ['busybox-static'],
  init: { console: 'sh' },
  readyMarker: 'demo:~# ',
  smoke: [{ send: 'echo $((6*7))', expect: '42' }],
  memoryMB: 128,
  kernel: { fragments: ['base'] },
};

describe('image inputs', () => {
  let dir: string;
  const write = (name: string, value: unknown) => writeFile(join(dir, 'demo', name), typeof value === 'string' ? value : JSON.stringify(value));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whittle-inputs-'));
    await mkdir(join(dir, 'demo'));
    await write('recipe.json', RECIPE);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is stable for the same recipe, whatever its formatting', async () => {
    const a = await applianceInputs('demo', dir);
    await write('recipe.json', JSON.stringify(RECIPE, null, 4));
    expect(await applianceInputs('demo', dir)).toBe(a);
  });

  it('changes with the recipe and with its lock', async () => {
    const a = await applianceInputs('demo', dir);
    await write('recipe.json', { ...RECIPE, memoryMB: 160 });
    const b = await applianceInputs('demo', dir);
    expect(b).not.toBe(a);
    await write('lock.json', '{"rootfs":{},"boot":{}}');
    expect(await applianceInputs('demo', dir)).not.toBe(b);
  });

  it('follows a base recipe the image extends', async () => {
    await mkdir(join(dir, 'child'));
    await writeFile(join(dir, 'child', 'recipe.json'), JSON.stringify({ extends: 'demo', readyMarker: 'child:~# ' }));
    const a = await applianceInputs('child', dir);
    await write('recipe.json', { ...RECIPE, packages: ['busybox-static', 'sqlite3'] });
    expect(await applianceInputs('child', dir)).not.toBe(a);
  });

  it('gives the twin a hash of its pins', () => {
    expect(twinInputs({ busybox: '1' })).toBe(twinInputs({ busybox: '1' }));
    expect(twinInputs({ busybox: '1' })).not.toBe(twinInputs({ busybox: '2' }));
  });

  it('says why an image is stale', () => {
    expect(staleReason(undefined, 'x')).toBe('not built');
    expect(staleReason({}, 'x')).toMatch(/older builder/);
    expect(staleReason({ inputs: 'y' }, 'x')).toMatch(/changed/);
    expect(staleReason({ inputs: 'x' }, 'x')).toBeUndefined();
  });

  it('counts the modules the build imports, not the CLI around it', async () => {
    const mods = builderModules();
    for (const m of ['build.ts', 'kernel/kernel.ts', 'trace/keep.ts', 'archive/resolve.ts', 'distro/debian.ts']) expect(mods).toContain(m);
    for (const m of ['cli.ts', 'doctor.ts', 'verify.ts']) expect(mods).not.toContain(m);
    expect(mods.some((m) => m.endsWith('.test.ts'))).toBe(false);
  });

  it('follows relative imports of every form, and only those', async () => {
    await writeFile(join(dir, 'entry.ts'), "import { a } from './a.ts';\nimport type { B } from \"./sub/b.ts\";\nexport { c } from './c.ts';\nimport './side.ts';\nconst d = await import('./d.ts');\nimport x from 'node:fs';\n");
    await mkdir(join(dir, 'sub'));
    for (const f of ['a.ts', 'c.ts', 'side.ts', 'd.ts']) await writeFile(join(dir, f), '');
    await writeFile(join(dir, 'sub', 'b.ts'), "import { e } from '../e.ts';\nimport { out } from '../../outside.ts';\n");
    await writeFile(join(dir, 'e.ts'), "import { a } from './a.ts';\n");
    expect(builderModules('entry.ts', dir)).toEqual(['a.ts', 'c.ts', 'd.ts', 'e.ts', 'entry.ts', 'side.ts', 'sub/b.ts']);
  });
});
