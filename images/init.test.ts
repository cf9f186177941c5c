// The generated /init and console wrapper, run in the host's POSIX sh with a PATH that holds only a
// stand-in `busybox` that logs its arguments: a command that is not a shell builtin or a busybox applet
// fails the run ("not found"), so these tests also prove the scripts need nothing but busybox.

import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IP_FLAG, SHARE_MOUNT } from './guest-contract.ts';
import { consoleScript, initScript, inittab, mountTables, PROBE_FLAG, PROBE_PROMPT } from './init.ts';
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
beforeEach(async () => {
  await writeFile(join(dir, 'calls'), '');
  await writeFile(join(dir, 'hostname'), '');
  await writeFile(join(dir, 'mounts'), 'proc /proc proc rw 0 0\n');
  await writeFile(join(dir, 'tcp'), TCP_HEADER);
  await writeFile(join(dir, 'ptmx'), '');
  await rm(join(dir, 'exited'), { force: true });
});
const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
/** A /proc/net/tcp line: local port `port`, state `st` (0A = listening, 01 = established). */
const tcpLine = (port: number, st: string) => `   0: 00000000:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 1 1 00000000 100 0 0 10 0\n`;

/** Runs a generated script (minus its shebang) with /proc/cmdline, /etc/whittle/env and /root pointed at stand-ins. */
function run(script: string, cmdline: string): string {
  const cmdlineFile = join(dir, 'cmdline');
  execFileSync('/bin/sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', cmdline, cmdlineFile]);
  const local = script
    .replaceAll('/proc/cmdline', cmdlineFile)
    .replaceAll('/proc/sys/kernel/hostname', join(dir, 'hostname'))
    .replaceAll('/proc/mounts', join(dir, 'mounts'))
    .replaceAll('/proc/net/tcp', join(dir, 'tcp'))
    .replaceAll('/dev/ptmx', join(dir, 'ptmx'))
    .replaceAll('/run/whittle.exited', join(dir, 'exited'))
    .replaceAll('/etc/whittle/env', join(dir, 'env'))
    .replaceAll('cd /root', `cd ${dir}`)
    .replaceAll('/bin/busybox sh', 'busybox sh')
    .replaceAll('exec /bin/busybox init', 'exit 0');
  return execFileSync('/bin/sh', ['-c', local], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: dir } });
}
const calls = async () => (await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n').filter(Boolean);

/** Runs a generated script like `run` until it exits, `done(output)` holds, or `ms` pass (then it is killed: code null). */
async function runUntil(script: string, ms: number, done: (out: string) => boolean = () => false): Promise<{ code: number | null; out: string }> {
  const local = script
    .replaceAll('/proc/net/tcp', join(dir, 'tcp'))
    .replaceAll('/dev/ptmx', join(dir, 'ptmx'))
    .replaceAll('/run/whittle.exited', join(dir, 'exited'))
    .replaceAll('/proc/cmdline', join(dir, 'cmdline'))
    .replaceAll('/etc/whittle/env', join(dir, 'env'))
    .replaceAll('cd /root', `cd ${dir}`);
  await writeFile(join(dir, 'cmdline'), 'console=ttyS0\n');
  const child = execFile('/bin/sh', ['-c', local], { env: { PATH: dir }, timeout: ms });
  let out = '';
  child.stdout?.on('data', (d: string) => {
    out += d;
    if (done(out)) child.kill();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c, signal) => resolve(signal ? null : c)));
  return { code, out };
}

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

describe('waiting for a service (init.waitFor)', () => {
  const waiting = recipe({ init: { console: 'app', waitFor: [6379] } });

  it('starts the console program once the port listens, with no program started to find out', async () => {
    await writeFile(join(dir, 'tcp'), TCP_HEADER + tcpLine(80, '0A') + tcpLine(6379, '0A'));
    expect(run(consoleScript(waiting), 'console=ttyS0')).toBe('APP-RAN\n');
    expect(await calls()).toEqual(['stty cols 80 rows 25']);
  });

  it('keeps waiting while the port is only connected, or another port listens', async () => {
    await writeFile(join(dir, 'tcp'), TCP_HEADER + tcpLine(6379, '01') + tcpLine(6380, '0A'));
    const { code, out } = await runUntil(consoleScript(waiting), 700);
    expect(code).toBeNull(); // still waiting when the timeout killed it
    expect(out).not.toContain('APP-RAN');
  });

  it('keeps waiting for a service that went into the background (it exited with status 0)', async () => {
    await writeFile(join(dir, 'exited'), '0 memcached\n');
    const { code, out } = await runUntil(consoleScript(waiting), 700);
    expect(code).toBeNull();
    expect(out).not.toContain('APP-RAN');
  });

  it('stops waiting, says which service failed and starts the console when a service exits with a failure', async () => {
    await writeFile(join(dir, 'exited'), '0 helper\n1 redis-server\n');
    expect(run(consoleScript(recipe({ init: { console: 'app', waitFor: [6379, 80] } })), 'console=ttyS0')).toBe(
      'whittle: redis-server exited with status 1 before port 6379 listened; the console starts without it\nAPP-RAN\n',
    );
  });

  it('pauses 10, 20, 40, 80, then 100 ms between looks, and says once when the wait passes 30 s', async () => {
    // No pseudo-terminal to pause on: the pauses go to `busybox usleep`, which the stand-in logs (and returns at once).
    const local = consoleScript(waiting).replaceAll('/dev/ptmx', join(dir, 'no', 'ptmx'));
    const { out } = await runUntil(local, 8000, (o) => o.includes('still waiting'));
    expect(out).toBe('whittle: still waiting for port 6379 to listen (30 s so far)\n');
    const sleeps = (await calls()).filter((c) => c.startsWith('usleep'));
    expect(sleeps.slice(0, 6)).toEqual(['usleep 010000', 'usleep 020000', 'usleep 040000', 'usleep 080000', 'usleep 100000', 'usleep 100000']);
    expect(sleeps.length).toBeGreaterThanOrEqual(299);
  });

  it('adds nothing for a recipe that waits for nothing', () => {
    expect(consoleScript(recipe())).not.toContain('/proc/net/tcp');
  });
});

describe('/init', () => {
  it('mounts, starts services and hands over to busybox init, calling nothing but busybox', async () => {
    const s = initScript(recipe({ init: { console: 'x', services: ['srv --flag'] } }));
    expect(s.startsWith('#!/bin/busybox sh\n')).toBe(true);
    expect(s).toContain('srv --flag &');
    expect(s.trimEnd().endsWith('exec /bin/busybox init')).toBe(true);
    run(s.replace('srv --flag &', ''), 'console=ttyS0');
    // Three busybox starts before init (each costs the guest ~1.3 M instructions with Debian's dynamic busybox).
    expect(await calls()).toEqual(['mount -a -T /etc/whittle/fstab.boot', 'mkdir -p /dev/pts /dev/shm', 'mount -a -T /etc/whittle/fstab.dev']);
    expect(await readFile(join(dir, 'hostname'), 'utf8')).toBe('probe\n');
  });

  it("notes how each service ended when the console waits for ports, so the wait can tell a failure", async () => {
    await writeFile(join(dir, 'srv'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    const s = initScript(recipe({ init: { console: 'x', services: [`${dir}/srv --port 6379`], waitFor: [6379] } }));
    run(s, 'console=ttyS0');
    let exited = '';
    for (let i = 0; i < 50 && !exited; i++) {
      await new Promise((r) => setTimeout(r, 20));
      exited = await readFile(join(dir, 'exited'), 'utf8').catch(() => '');
    }
    expect(exited).toBe('3 srv\n');
  });

  it('brings up loopback for a kernel with `net` that runs services or waits for ports, unless the recipe says no', async () => {
    const lo = (extra: Record<string, unknown>) => initScript(recipe(extra)).includes('ip link set lo up');
    expect(lo({ init: { console: 'x', services: ['memcached'] }, kernel: { fragments: ['base', 'net'] } })).toBe(true);
    expect(lo({ init: { console: 'x', waitFor: [11211] }, kernel: { fragments: ['base', 'net'] } })).toBe(true);
    expect(lo({ init: { console: 'x', services: ['memcached'], loopback: false }, kernel: { fragments: ['base', 'net'] } })).toBe(false);
    expect(lo({ init: { console: 'x' }, kernel: { fragments: ['base', 'net'] } })).toBe(false);
    expect(lo({ init: { console: 'x', services: ['srv'] }, kernel: { fragments: ['base'] } })).toBe(false);
    expect(lo({ init: { console: 'x' }, share: true })).toBe(false);
  });

  it('mounts from two tables: devtmpfs first, then what lives in /dev (and the share)', () => {
    const plain = mountTables(recipe());
    expect(plain.boot.split('\n').filter(Boolean).map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual(['proc /proc proc', 'sys /sys sysfs', 'dev /dev devtmpfs']);
    expect(plain.dev).toBe('devpts /dev/pts devpts defaults 0 0\ntmpfs /dev/shm tmpfs mode=1777 0 0\n');
    expect(mountTables(recipe({ share: true })).dev).toContain(`host9p ${SHARE_MOUNT} 9p trans=virtio,version=9p2000.L,msize=131072 0 0\n`);
  });

  it('says when the host share is not mounted, and not when it is', async () => {
    const s = initScript(recipe({ share: true }));
    expect(run(s, 'console=ttyS0')).toContain(`whittle: the host share was not mounted on ${SHARE_MOUNT}`);
    await writeFile(join(dir, 'mounts'), `proc /proc proc rw 0 0\nhost9p ${SHARE_MOUNT} 9p rw,trans=virtio 0 0\n`);
    expect(run(s, 'console=ttyS0')).not.toContain('whittle:');
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
