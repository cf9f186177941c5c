// The generated /init and console wrapper, run in the host's POSIX sh with a PATH that holds only a
// stand-in `busybox` that logs its arguments: a command that is not a shell builtin or a busybox applet
// fails the run ("not found"), so these tests also prove the scripts need nothing but busybox.

import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IP_FLAG, SHARE_MOUNT } from './guest-contract.ts';
import { consoleScript, initScript, inittab, PROBE_FLAG, PROBE_PROMPT } from './init.ts';
import { parseRecipe } from './recipe.ts';

const recipe = (extra: Record<string, unknown> = {}) =>
  parseRecipe(
    { title: 'T', description: 'D', app: 'app', packages: ['busybox-static'], init: { console: 'app' }, readyMarker: '> ', ...extra },
    'probe',
  );

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whittle-init-'));
  await writeFile(join(dir, 'env'), '');
  await writeFile(join(dir, 'app'), '#!/bin/sh\necho APP-RAN\n', { mode: 0o755 });
  // The stand-in: `busybox sh` is the probe shell; every other applet call is logged.
  await writeFile(
    join(dir, 'busybox'),
    `#!/bin/sh\nif [ "$1" = sh ]; then echo "PROBE-SHELL PS1=$PS1"; exit 0; fi\necho "$*" >> ${join(dir, 'calls')}\n`,
    { mode: 0o755 },
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));
beforeEach(() => writeFile(join(dir, 'calls'), ''));

/** Runs a generated script (minus its shebang) with /proc/cmdline, /etc/whittle/env and /root pointed at stand-ins. */
function run(script: string, cmdline: string): string {
  const cmdlineFile = join(dir, 'cmdline');
  execFileSync('/bin/sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', cmdline, cmdlineFile]);
  const local = script
    .replaceAll('/proc/cmdline', cmdlineFile)
    .replaceAll('/etc/whittle/env', join(dir, 'env'))
    .replaceAll('cd /root', `cd ${dir}`)
    .replaceAll('/bin/busybox sh', 'busybox sh')
    .replaceAll('exec /bin/busybox init', 'exit 0');
  return execFileSync('/bin/sh', ['-c', local], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: dir } });
}
const calls = async () => (await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n').filter(Boolean);

describe('console wrapper', () => {
  it('is what busybox init runs on ttyS0, without shell syntax (init would hand that to /bin/sh)', () => {
    expect(inittab(recipe())).toContain('ttyS0::respawn:/etc/whittle/console\n');
    expect(consoleScript(recipe()).startsWith('#!/bin/busybox sh\n')).toBe(true);
  });

  it('runs only the app without the flag (as shipped), after giving the line a size', async () => {
    expect(run(consoleScript(recipe()), 'console=ttyS0 quiet')).toBe('APP-RAN\n');
    expect(await calls()).toEqual(['stty cols 80 rows 25']);
    // A word that merely contains the flag is not the flag.
    expect(run(consoleScript(recipe()), `console=ttyS0 x${PROBE_FLAG}`)).toBe('APP-RAN\n');
  });

  it('hands the console to a probe shell when the app exits, with the flag', () => {
    expect(run(consoleScript(recipe()), `console=ttyS0 ${PROBE_FLAG}`)).toBe(`APP-RAN\nPROBE-SHELL PS1=${PROBE_PROMPT}\n`);
    expect(run(consoleScript(recipe()), `${PROBE_FLAG} console=ttyS0`)).toContain('PROBE-SHELL');
  });
});

describe('/init', () => {
  it('mounts, starts services and hands over to busybox init, calling nothing but busybox', async () => {
    const s = initScript(recipe({ init: { console: 'x', services: ['srv --flag'] } }));
    expect(s.startsWith('#!/bin/busybox sh\n')).toBe(true);
    expect(s).toContain('srv --flag &');
    expect(s.trimEnd().endsWith('exec /bin/busybox init')).toBe(true);
    run(s.replace('srv --flag &', ''), 'console=ttyS0');
    const c = await calls();
    expect(c).toContain('mount -t devtmpfs dev /dev');
    expect(c).toContain('hostname probe');
    expect(c.some((l) => l.startsWith('ip '))).toBe(false);
  });

  it('mounts the host share for a recipe with share', async () => {
    run(initScript(recipe({ share: true })), 'console=ttyS0');
    expect(await calls()).toContain(`mount -t 9p -o trans=virtio,version=9p2000.L,msize=131072 host9p ${SHARE_MOUNT}`);
    expect(recipe({ share: true }).kernel.fragments).toEqual(['net', '9p']);
  });

  it('brings up loopback and configures eth0 from the command line for a recipe with network', async () => {
    const net = recipe({ network: true, kernel: { fragments: ['base', 'net'] } });
    expect(net.kernel.fragments).toEqual(['base', 'net', 'ne2k']);
    run(initScript(net), 'console=ttyS0');
    expect(await calls()).toContain('ip link set lo up');
    expect((await calls()).filter((l) => l.includes('eth0'))).toEqual([]);

    await writeFile(join(dir, 'calls'), '');
    run(initScript(net), `console=ttyS0 ${IP_FLAG}=10.86.0.12/24,10.86.0.1`);
    expect((await calls()).filter((l) => l.includes('eth0') || l.includes('route'))).toEqual([
      'ip link set eth0 up',
      'ip addr add 10.86.0.12/24 dev eth0',
      'ip route add default via 10.86.0.1',
    ]);

    await writeFile(join(dir, 'calls'), '');
    run(initScript(net), `console=ttyS0 ${IP_FLAG}=dhcp`);
    expect((await calls()).filter((l) => l.includes('eth0'))).toEqual(['ip link set eth0 up', 'udhcpc -i eth0 -q -n -t 4 -T 1 -s /etc/whittle/udhcpc']);
  });
});
