// The machine protocol end to end in Node, on the `shell` appliance: each machine runs in its own
// worker thread exactly as in the browser's Web Worker (worker/endpoint.ts + worker/machine.ts).

import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../images/manifest.ts';
import { NodeMachine, bootImage, loadManifest, restoreImage } from '../../worker/node/host.ts';
import type { EventName, MachineError, MachineStatus } from '../../worker/protocol.ts';
import { PROTOCOL_VERSION } from '../../worker/protocol.ts';
import { initZstd, isZstd, zstdCompress, zstdDecompress } from '../../worker/zstd.ts';

const SHELL = resolve(process.env.WHITTLE_SHELL_IMAGE ?? 'images/dist/shell');
const READY_MS = 120_000;

let manifest: Manifest;
const machines: NodeMachine[] = [];

/** Records every event a machine emits, in order. */
function recorder(m: NodeMachine) {
  const events: { event: EventName; data: unknown; t: number }[] = [];
  const names: EventName[] = ['serial-out', 'phase', 'stats', 'state', 'state-saved', 'script-done', 'progress', 'done', 'error', 'screen-mode', 'screen-text'];
  for (const name of names) m.on(name, (data) => events.push({ event: name, data, t: performance.now() }));
  return events;
}

const line = (text: string) => new RegExp(`\\r?\\n${text}\\r?\\n`);

beforeAll(async () => {
  try {
    manifest = await loadManifest(SHELL);
  } catch (e) {
    throw new Error(`No shell image at ${SHELL}: build it first (npm run images -- build shell), or set WHITTLE_SHELL_IMAGE.`, { cause: e });
  }
});

afterAll(async () => {
  await Promise.all(machines.map((m) => m.stop()));
});

describe('machine: shell appliance', () => {
  it('boots, answers, saves its state, stops, restores at the prompt and answers again', async () => {
    const m = new NodeMachine(SHELL, manifest);
    machines.push(m);
    const arrived = new Map<string, number>();
    m.on('phase', (p) => arrived.set(p.phase, performance.now()));
    await m.boot();
    const ready = await m.ready(READY_MS);
    const bootLoad = m.phases[0];

    // Boot phases arrive in order, each later than the one before, with the guest's instruction count.
    const phases = m.phases.map((p) => p.phase);
    expect(phases).toEqual(['load', 'firmware', 'kernel', 'userspace', 'ready']);
    // firmware < kernel < userspace: none collapsed (a `quiet` kernel's marks come from the CPU).
    const [firmware, kernel, userspace, appReady] = m.phases.slice(1);
    expect(firmware.instructions).toBeGreaterThan(0);
    expect(kernel.instructions).toBeGreaterThan(firmware.instructions);
    expect(userspace.instructions).toBeGreaterThan(kernel.instructions);
    expect(kernel.at).toBeGreaterThanOrEqual(firmware.at);
    expect(userspace.at).toBeGreaterThanOrEqual(kernel.at);
    expect(appReady).toMatchObject({ at: userspace.at, instructions: userspace.instructions });
    // Streamed as they happen, not all at the prompt: the kernel's end arrived while userspace ran.
    expect(arrived.get('userspace')! - arrived.get('kernel')!).toBeGreaterThan((userspace.at - kernel.at) / 2);
    expect(ready.instructions).toBeGreaterThan(1_000_000);
    expect(m.output).toContain(manifest.readyMarker);

    m.type('echo hi');
    await m.waitFor(line('hi'));

    const state = await m.saveState();
    expect(isZstd(state.bytes)).toBe(true);
    expect(state.size).toBe(state.bytes.length);
    expect(state.size).toBeLessThan(state.rawSize);

    // Stop frees the machine; its worker stays, as a page keeps its worker between boots.
    await m.request({ type: 'stop' });
    expect(m.status).toBe<MachineStatus>('stopped');

    const t = performance.now();
    await m.restore(state);
    const running = performance.now() - t;
    m.type('echo back at the prompt');
    await m.waitFor(line('back at the prompt'));
    const answered = performance.now() - t;
    // Restored, not booted: no boot phases this time.
    expect(m.phases.map((p) => p.phase)).toEqual(['load', 'restored']);
    const [load, restored] = m.phases;

    const progress: string[] = [];
    const script = await m.runScript(
      [
        { send: 'echo $((6*7))', expect: '42' },
        { send: 'uname -s', expect: 'Linux' },
      ],
      (p) => progress.push(`${p.step} ${p.state}`),
    );
    expect(script.ok).toBe(true);
    // Each step reported as it went (the share page's ticks), all before the answer.
    expect(progress).toEqual(['0 typing', '0 ok', '1 typing', '1 ok']);
    expect(script.transcript).toContain('42');
    await m.stop();

    // And in a new worker (thread), from the same bytes.
    const t2 = performance.now();
    const fresh = await restoreImage(SHELL, state);
    machines.push(fresh);
    fresh.type('echo in a new worker');
    await fresh.waitFor(line('in a new worker'));
    const freshMs = performance.now() - t2;
    await fresh.stop();

    console.log(
      `[bench] shell cold boot to prompt: ${ready.at} ms, ${(ready.instructions / 1e6).toFixed(1)} M instructions (artifacts loaded in ${bootLoad.at} ms before that); ` +
        `restore in a running worker: machine running after ${running.toFixed(0)} ms, prompt answered after ${answered.toFixed(0)} ms ` +
        `(load ${load.at} ms, v86 restore_state ${restored.at} ms); in a new worker thread: answered after ${freshMs.toFixed(0)} ms; ` +
        `state ${(state.rawSize / 2 ** 20).toFixed(1)} MiB raw, ${(state.size / 2 ** 20).toFixed(2)} MiB zstd, saved in ${state.ms} ms`,
    );
  });

  it('restores a state into the machine that runs the image, and the guest is back where it was saved', async () => {
    const m = await bootImage(SHELL);
    machines.push(m);
    await m.ready(READY_MS);
    expect((await m.runScript([{ send: 'W=saved; echo w-$W', expect: 'w-saved' }])).ok).toBe(true);
    const state = await m.saveState();
    for (const round of [1, 2]) {
      expect((await m.runScript([{ send: `W=changed${round}; echo w-$W`, expect: `w-changed${round}` }])).ok).toBe(true);
      await m.restore(state); // the machine runs: the endpoint loads the state into its emulator
      expect(m.status).toBe<MachineStatus>('running');
      expect(m.phases.map((p) => p.phase)).toEqual(['load', 'restored']);
      const r = await m.runScript([{ send: 'echo now-$W', expect: 'now-saved' }]);
      expect(r.ok, r.message).toBe(true);
    }
    // A paused machine takes it too, and runs again.
    await m.pause();
    await m.restore(state);
    expect(m.status).toBe<MachineStatus>('running');
    expect((await m.runScript([{ send: 'echo again-$W', expect: 'again-saved' }])).ok).toBe(true);
  });

  it('pauses (the guest stops running), resumes, and resets into a fresh, timed boot', async () => {
    const m = await bootImage(SHELL);
    machines.push(m);
    await m.ready(READY_MS);
    await m.pause();
    expect(m.status).toBe<MachineStatus>('paused');
    const stats: { instructions: number; running: boolean }[] = [];
    const off = m.on('stats', (st) => stats.push(st));
    await expect.poll(() => stats.length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    expect(stats.every((st) => !st.running)).toBe(true);
    expect(stats.at(-1)!.instructions).toBe(stats[0].instructions);
    off();
    m.type('echo while paused');
    await m.resume();
    await m.waitFor(line('while paused'));

    await m.reset();
    const again = await m.ready(READY_MS);
    expect(m.phases.map((p) => p.phase)).toEqual(['firmware', 'kernel', 'userspace', 'ready']);
    expect(again.instructions).toBeGreaterThan(1_000_000);
    m.type('echo after reset');
    await m.waitFor(line('after reset'));
    await m.stop();
  });

  describe('scripts type each line only when the guest is ready for it', () => {
    let m: NodeMachine;
    beforeAll(async () => {
      m = await bootImage(SHELL);
      machines.push(m);
      await m.ready(READY_MS);
    });
    afterAll(() => m?.stop());

    it('skips the echo of a line longer than the terminal (the line editor wraps it)', async () => {
      // 70 x's and the command push the echo past the console's 80 columns: busybox wraps it, and the
      // expected text is in the echo, too. Only the command's own output (after its sleep) counts.
      const t = performance.now();
      const r = await m.runScript([{ send: `sleep 2; echo ${'x'.repeat(70)} first-done`, expect: 'first-done' }]);
      expect(r, r.message).toMatchObject({ ok: true });
      expect(r.transcript).toMatch(/\nx{70} first-done\r?\n/);
      expect(performance.now() - t).toBeGreaterThan(2000);
    });

    it('waits for the prompt after a step longer than 5 s before typing the next line', async () => {
      const r = await m.runScript([
        { send: 'echo started; sleep 7', expect: 'started', timeout: 20 },
        { send: 'echo next-$((6*7))', expect: 'next-42' },
      ]);
      expect(r, r.message).toMatchObject({ ok: true });
      // The next line went in at the prompt, not while sleep ran (the tty would echo it at once).
      const started = r.transcript.indexOf('started\r\n');
      const prompt = r.transcript.indexOf(manifest.readyMarker, started);
      expect(started).toBeGreaterThan(0);
      expect(prompt).toBeGreaterThan(started);
      expect(r.transcript.indexOf('echo next', started)).toBeGreaterThan(prompt);
    });

    it('ends the script when the prompt does not return, naming the step', async () => {
      const r = await m.runScript([
        { send: 'sleep 30', expect: '', timeout: 3 },
        { send: 'echo never', expect: 'never' },
      ]);
      expect(r).toMatchObject({ ok: false, failedStep: 0 });
      expect(r.message).toMatch(/prompt .*did not return .*after step 1/);
      expect(r.transcript).not.toContain('echo never');
    });
  });

  /** Damages one file of a copy of the image (and maybe its manifest); each case must be refused before the machine runs. */
  const damaged: { name: string; code: string; message: RegExp; damage: (dir: string) => Promise<Manifest | void> }[] = [
    {
      name: 'a kernel that does not match its sha256',
      code: 'hash-mismatch',
      message: /vmlinux.*does not match/,
      async damage(dir) {
        // Change one byte of the raw kernel and store it as the image stores it: only its sha256 differs.
        const kernel = manifest.artifacts.find((a) => a.role === 'vmlinux')!;
        const path = join(dir, kernel.file!);
        const stored = new Uint8Array(await readFile(path));
        await initZstd();
        const raw = kernel.compression === 'zstd' ? zstdDecompress(stored, kernel.size) : stored;
        raw[raw.length >> 1] ^= 0xff;
        await writeFile(path, kernel.compression === 'zstd' ? zstdCompress(raw) : raw);
      },
    },
    {
      name: 'a missing initrd',
      code: 'missing-artifact',
      message: /initrd.*missing/,
      damage: (dir) => rm(join(dir, manifest.artifacts.find((a) => a.role === 'initrd')!.file!)),
    },
    {
      name: 'a kernel the machine cannot enter (its sha256 correct, its bytes not an ELF)',
      code: 'bad-image',
      message: /cannot be entered directly: the kernel is not an ELF/,
      async damage(dir) {
        const bytes = new TextEncoder().encode('not a kernel, but the manifest vouches for these bytes');
        await writeFile(join(dir, 'vmlinux'), bytes);
        const vmlinux = { role: 'vmlinux' as const, file: 'vmlinux', sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, compressedSize: bytes.length, compression: 'none' as const };
        return { ...manifest, artifacts: manifest.artifacts.map((a) => (a.role === 'vmlinux' ? vmlinux : a)) };
      },
    },
  ];

  it.each(damaged)('refuses $name before booting', async ({ code, message, damage }) => {
    const dir = await mkdtemp(join(tmpdir(), 'whittle-damaged-'));
    try {
      await cp(SHELL, dir, { recursive: true });
      const m = new NodeMachine(dir, (await damage(dir)) ?? manifest);
      machines.push(m);
      const events = recorder(m);
      await expect(m.boot()).rejects.toMatchObject({ code });
      await expect.poll(() => m.status).toBe('stopped');
      const err = events.find((e) => e.event === 'error')!.data as MachineError;
      expect(err.message).toMatch(message);
      expect(err.hint).toBeTruthy();
      const statuses = events.filter((e) => e.event === 'state').map((e) => (e.data as { status: MachineStatus }).status);
      expect(statuses).not.toContain('running');
      expect(events.some((e) => e.event === 'phase' || e.event === 'serial-out')).toBe(false);
      await m.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers malformed messages with typed errors and keeps working', async () => {
    const m = new NodeMachine(SHELL, manifest);
    machines.push(m);
    await m.connect();
    const errors: MachineError[] = [];
    m.on('error', (e) => errors.push(e));
    const cases: [unknown, RegExp, number | undefined][] = [
      ['reboot', /not an object/, undefined],
      [{ v: PROTOCOL_VERSION, type: 'format-disk', id: 1 }, /unknown command type/, 1],
      [{ v: 99, type: 'stop', id: 2 }, /protocol version 99/, 2],
      [{ v: PROTOCOL_VERSION, type: 'boot', id: 3, options: { manifest: { name: 'x' }, source: { from: 'path', dir: SHELL } } }, /manifest/, 3],
      [{ v: PROTOCOL_VERSION, type: 'serial-in', bytes: 'echo hi' }, /Uint8Array/, undefined],
    ];
    for (const [msg] of cases) m.sendRaw(msg);
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBe(cases.length);
    cases.forEach(([, pattern, id], i) => {
      expect(errors[i].code).toBe('bad-message');
      expect(errors[i].message).toMatch(pattern);
      expect(errors[i].id).toBe(id);
    });
    // Still alive: a well-formed command is answered; one that needs a machine says there is none.
    await expect(m.screenText()).resolves.toBeInstanceOf(Array);
    await expect(m.request({ type: 'pause' })).rejects.toMatchObject({ code: 'not-running' });
    await m.stop();
  });

  it('stops mid-boot: reports stopped, emits nothing more and releases the machine', async () => {
    const m = new NodeMachine(SHELL, manifest);
    machines.push(m);
    const events = recorder(m);
    await m.boot();
    // Mid-boot: the guest runs (boot resolves once it does) and has not reached its prompt.
    await new Promise((r) => setTimeout(r, 200));
    expect(m.status).toBe<MachineStatus>('running');
    expect(m.phases.some((p) => p.phase === 'ready')).toBe(false);
    await m.request({ type: 'stop' });
    expect(m.status).toBe<MachineStatus>('stopped');
    const last = events.length;
    // A live emulator would emit stats every second and keep printing its boot.
    await new Promise((r) => setTimeout(r, 2500));
    expect(events.slice(last)).toEqual([]);
    expect(events.at(-1)).toMatchObject({ event: 'done' });
    expect(events.at(-2)).toMatchObject({ event: 'state', data: { status: 'stopped' } });
    await m.stop();
    await expect(m.exited).resolves.toBeTypeOf('number');
  });

  it('stops while still loading: the boot is abandoned and nothing runs', async () => {
    const m = new NodeMachine(SHELL, manifest);
    machines.push(m);
    await m.connect();
    const events = recorder(m);
    const boot = expect(m.boot()).rejects.toMatchObject({ code: 'not-running' });
    await m.request({ type: 'stop' });
    await boot;
    await new Promise((r) => setTimeout(r, 1500));
    const statuses = events.filter((e) => e.event === 'state').map((e) => (e.data as { status: MachineStatus }).status);
    expect(statuses).not.toContain('running');
    expect(events.some((e) => e.event === 'stats' || e.event === 'serial-out')).toBe(false);
    await m.stop();
  });
});
