// Boots the full-distribution twin (images/dist/debian) headless in Node: root prompt, sqlite3, and
// every package dpkg knows fully installed. Slow (a minute or more): Debian's kernel, initrd and systemd.

import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bootImage, type NodeMachine } from '../../worker/node/host.ts';

const DIR = fileURLToPath(new URL('../../images/dist/debian/', import.meta.url));
/** About a minute on an idle 2-core machine; seen 13-14 minutes while other builds and emulators shared it. */
const BOOT_TIMEOUT_MS = 1_500_000;

describe('debian twin', () => {
  let machine: NodeMachine;
  let bootMs = 0;

  beforeAll(async () => {
    const started = performance.now();
    // systemd with `quiet` may print nothing for a long while: only the overall timeout applies.
    machine = await bootImage(DIR, { stallTimeoutMs: BOOT_TIMEOUT_MS });
    try {
      await machine.ready(BOOT_TIMEOUT_MS);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nLast serial output:\n${machine.output.slice(-3000)}`, { cause: e });
    }
    bootMs = performance.now() - started;
  }, BOOT_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    await machine?.stop();
  });

  test('reaches the root prompt on the serial console', () => {
    expect(machine.manifest.kind).toBe('distro');
    expect(machine.output).toContain(machine.manifest.readyMarker);
    const phases = machine.phases.map((p) => `${p.phase} ${(p.at / 1000).toFixed(1)} s ${(p.instructions / 1e6).toFixed(0)}M instr`);
    console.log(`debian: root prompt after ${(bootMs / 1000).toFixed(1)} s (${phases.join(', ')})`);
  });

  test('runs sqlite3: select 1+1; prints 2', async () => {
    machine.type('sqlite3');
    await machine.waitFor('sqlite> ', 60_000);
    machine.type('select 1+1;');
    // Output lines may start after bash's "\e[?2004l\r" rather than a newline.
    await machine.waitFor(/[\r\n]2\r?\n/, 60_000);
    machine.type('.quit');
    await machine.waitFor(machine.manifest.readyMarker, 30_000);
  }, 180_000);

  test('dpkg lists every package as installed, none half-configured', async () => {
    // dpkg -l prints 5 header lines; every package line after them must start with "ii". The quotes in
    // B''EGIN keep the markers out of the echoed command line; short lines keep readline from wrapping.
    machine.type("echo B''EGIN;dpkg -l|tail -n+6|grep -v '^ii ';dpkg --audit;echo E''ND");
    const out = await machine.waitFor(/[\r\n]END\r?\n/, 180_000);
    const begin = /[\r\n]BEGIN\r?\n/.exec(out);
    expect(begin).not.toBeNull();
    const between = out.slice(begin!.index + begin![0].length, out.search(/[\r\n]END\r?\n/));
    expect(between.trim()).toBe('');
    machine.type("dpkg -l|grep -c '^ii '");
    const count = await machine.waitFor(/[\r\n](\d+)\r?\n/, 120_000);
    expect(Number(/[\r\n](\d+)\r?\n/.exec(count)?.[1])).toBe(machine.manifest.packages.length);
  }, 240_000);

  test("the manifest's smoke script passes", async () => {
    const result = await machine.runScript(machine.manifest.smoke.map((s) => ({ ...s, timeout: s.timeout ?? 60 })));
    expect(result).toMatchObject({ ok: true });
  }, 240_000);
});
