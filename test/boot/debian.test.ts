// Boots the full-distribution twin (images/dist/debian) headless in Node: root prompt, sqlite3, and
// every package dpkg knows fully installed. Slow (a minute or more): Debian's kernel, initrd and systemd.

import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bootImage, type NodeMachine } from '../../worker/node/host.ts';

const DIR = fileURLToPath(new URL('../../images/dist/debian/', import.meta.url));
/** Measured about a minute on an idle 2-core machine; several times that when other builds share it. */
const BOOT_TIMEOUT_MS = 900_000;

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
    await machine.waitFor(/\n2\r?\n/, 30_000);
    machine.type('.quit');
    await machine.waitFor(machine.manifest.readyMarker, 30_000);
  }, 180_000);

  test('dpkg lists every package as installed, none half-configured', async () => {
    // dpkg -l prints 5 header lines; every package line after them must start with "ii". The quotes in
    // B''EGIN keep the markers out of the echoed command line; short lines keep readline from wrapping.
    machine.type("echo B''EGIN;dpkg -l|tail -n+6|grep -v '^ii ';dpkg --audit;echo E''ND");
    const out = await machine.waitFor(/\nEND\r?\n/, 120_000);
    const between = out.slice(out.indexOf('\nBEGIN') + '\nBEGIN'.length, out.lastIndexOf('\nEND'));
    expect(out).toContain('\nBEGIN');
    expect(between.trim()).toBe('');
    machine.type("dpkg -l|grep -c '^ii '");
    const count = await machine.waitFor(/\n(\d+)\r?\n/, 60_000);
    expect(Number(/\n(\d+)\r?\n/.exec(count)?.[1])).toBe(machine.manifest.packages.length);
  }, 240_000);

  test("the manifest's smoke script passes", async () => {
    const result = await machine.runScript(machine.manifest.smoke.map((s) => ({ ...s, timeout: s.timeout ?? 60 })));
    expect(result).toMatchObject({ ok: true });
  }, 240_000);
});
