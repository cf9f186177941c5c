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
      for (const step of machine.manifest.smoke) {
        machine.type(step.send);
        // Skip the guest's echo of the typed line, then wait for the answer.
        const out = await machine.waitFor(new RegExp(`${escape(step.send)}[^\\n]*\\n[\\s\\S]*${escape(step.expect)}`), (step.timeout ?? 20) * 1000);
        expect(out).toContain(step.expect);
      }
    });
  }
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
