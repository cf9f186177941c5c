// Every built appliance boots headless (the browser's machine code, in worker threads), reaches its
// ready marker and passes its recipe's smoke script. One case per recipe, each with its own timeout.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recipeNames } from '../../images/recipes.ts';
import { bootImage, type NodeMachine } from '../../worker/node/host.ts';

const DIST = resolve('images/dist');
let machine: NodeMachine | undefined;

afterEach(async () => {
  await machine?.stop();
  machine = undefined;
});

describe('appliances boot and pass their smoke scripts', () => {
  for (const name of recipeNames()) {
    it(name, { timeout: 900_000 }, async () => {
      const dir = join(DIST, name);
      if (!existsSync(join(dir, 'manifest.json'))) throw new Error(`images/dist/${name} is missing: build it with npm run images -- build ${name}`);
      machine = await bootImage(dir);
      const ready = await machine.ready(600_000);
      expect(ready.instructions).toBeGreaterThan(0);
      const phases = machine.phases.map((p) => p.phase);
      expect(phases.indexOf('ready')).toBeGreaterThan(phases.indexOf('kernel'));
      // The machine's own script runner, as share links and the lab use it.
      const result = await machine.runScript(machine.manifest.smoke.map((st) => ({ ...st, timeout: st.timeout ?? 20 })));
      expect(result, result.message).toMatchObject({ ok: true });
      for (const step of machine.manifest.smoke) expect(result.transcript).toContain(step.expect);
    });
  }
});

describe('scripts wait for the prompt between lines', () => {
  // A step whose answer (here: nothing) comes before the app is done: redis-cli still runs the
  // EVAL when the next line arrives. Typed at once, that line would be echoed by the terminal in
  // cooked mode and linenoise would never see its Enter; the runner waits for the prompt instead.
  it('redis: a line typed after a slow command is still executed', { timeout: 300_000 }, async () => {
    const dir = join(DIST, 'redis');
    if (!existsSync(join(dir, 'manifest.json'))) throw new Error('images/dist/redis is missing: build it with npm run images -- build redis');
    machine = await bootImage(dir);
    await machine.ready(240_000);
    const result = await machine.runScript([
      // The prompt may take a while after this answer: the runner waits for it up to the step's timeout.
      { send: 'EVAL "for i = 1, 3000000 do end return 7" 0', expect: '', timeout: 60 },
      { send: 'ECHO after-the-slow-one', expect: '"after-the-slow-one"', timeout: 60 },
    ]);
    expect(result, result.message).toMatchObject({ ok: true });
    expect(result.transcript).toContain('(integer) 7');
  });
});
