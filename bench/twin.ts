// `npx tsx bench/twin.ts`: is any of the twin's boot time Whittle's? Boots images/dist/debian to its root
// prompt with the same machine settings and the disk served two ways — `chunked` (the lab's path:
// LazyDisk over 1 MiB chunks read from the image dir, zstd-decoded and sha256-verified as read, 64 MiB
// chunk cache) and `memory` (the same raw disk decoded and verified before boot and handed to v86 as
// one in-memory buffer) — and prints phase times, disk reads and where the IDE waited on our path. While
// it boots it samples the guest CPU's halt flag (v86's cpu.in_hlt) per phase: a guest that sleeps on
// timers would be the case for a virtual clock. With --analyze, once at the prompt it runs
// `systemd-analyze`, `blame` and `critical-chain` and prints their output. Measures; asserts nothing.
//
// The machine runs in this process (worker/machine.ts, the code the page's Web Worker and the Node
// thread run) so the bench can count disk reads and read the CPU's halt flag.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadavg, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createArtifactLoader, LazyDisk } from '../worker/artifacts.ts';
import type { ArtifactLoader, ArtifactReader, V86DiskBuffer } from '../worker/artifacts.ts';
import { BootPhases } from '../worker/boot-phases.ts';
import { Machine } from '../worker/machine.ts';
import { loadManifest } from '../worker/node/host.ts';
import { pathReader } from '../worker/node/path-reader.ts';
import { currentPhase, phaseDurations, PHASES } from '../worker/phases.ts';
import type { PhaseMark } from '../worker/protocol.ts';
import { CanvasScreen } from '../worker/screen.ts';
import { SerialText } from '../worker/serial-text.ts';
import type { V86Cpu } from '../worker/v86-glue.ts';
import { bufferOf } from '../worker/v86-glue.ts';
import { formatBytes, formatCount, formatMs } from '../images/format.ts';
import { runMain } from '../worker/cli/run-main.ts';

const DIR = fileURLToPath(new URL('../images/dist/debian/', import.meta.url));
const USAGE = `Usage: npx tsx bench/twin.ts [--disk chunked,memory] [--analyze] [--timeout s]

  --disk <a,b>    disk read paths to boot with, in order (default chunked,memory)
  --analyze       after the first boot: systemd-analyze, blame and critical-chain at the prompt
  --timeout <s>   give up on a boot after s seconds (default 1800)`;

type DiskMode = 'chunked' | 'memory';

interface DiskCounters {
  /** Stored files read from the image dir (chunks: each one zstd-decoded and sha256-verified). */
  fileReads: number;
  fileBytes: number;
  /** Distinct stored files among them (fewer than fileReads: chunks read again after the cache dropped them). */
  distinct: Set<string>;
  /** IDE reads asked of the disk, and how many were not answered at once from the chunk cache. */
  gets: number;
  waits: number;
  /** Wall time between an IDE read that missed the cache and its answer (summed; reads may overlap). */
  waitMs: number;
  /** Milliseconds spent before boot decoding and verifying the whole disk (memory mode). */
  preloadMs: number;
}

interface HaltSamples {
  samples: number;
  halted: number;
}

/** Captures the CPU the machine's phase watcher is given (the one hook the machine offers on its CPU). */
let watchedCpu: V86Cpu | undefined;
const watchCpu = BootPhases.prototype.watchCpu;
BootPhases.prototype.watchCpu = function (this: BootPhases, cpu: V86Cpu) {
  watchedCpu = cpu;
  return watchCpu.call(this, cpu);
};

const v86Module = readFile(createRequire(import.meta.url).resolve('v86/build/v86.wasm')).then((b) => WebAssembly.compile(b));

function countingReader(base: ArtifactReader, c: DiskCounters): ArtifactReader {
  return {
    where: base.where,
    missingHint: base.missingHint,
    async read(f, signal) {
      const bytes = await base.read(f, signal);
      c.fileReads++;
      c.distinct.add(f.sha256);
      c.fileBytes += bytes?.length ?? 0;
      return bytes;
    },
  };
}

function instrumented(disk: V86DiskBuffer, c: DiskCounters): V86DiskBuffer {
  const get = disk.get.bind(disk);
  disk.get = (start, len, fn) => {
    c.gets++;
    const t = performance.now();
    let sync = true;
    get(start, len, (data) => {
      if (!sync) {
        c.waits++;
        c.waitMs += performance.now() - t;
      }
      fn(data);
    });
    sync = false;
  };
  return disk;
}

function loaderFor(mode: DiskMode, c: DiskCounters): ArtifactLoader {
  const base = createArtifactLoader(countingReader(pathReader(DIR), c));
  return {
    load: (a, signal) => base.load(a, signal),
    async openDisk(a, signal) {
      if (mode === 'memory') {
        const t = performance.now();
        const raw = await base.load(a, signal);
        c.preloadMs = performance.now() - t;
        return { buffer: bufferOf(raw) };
      }
      const disk = await base.openDisk(a, signal);
      if (!(disk instanceof LazyDisk)) throw new Error(`the ${a.role} was not opened as a LazyDisk: this bench measures the chunked path`);
      return instrumented(disk, c);
    },
    set onDiskError(fn) {
      base.onDiskError = fn;
    },
    get onDiskError() {
      return base.onDiskError;
    },
  };
}

async function bootOnce(mode: DiskMode, timeoutMs: number, analyze: boolean) {
  const manifest = await loadManifest(DIR);
  const c: DiskCounters = { fileReads: 0, fileBytes: 0, distinct: new Set(), gets: 0, waits: 0, waitMs: 0, preloadMs: 0 };
  const marks: PhaseMark[] = [];
  const text = new SerialText(8 << 20);
  let stats: { diskReadBytes: number } | undefined;
  let failure: string | undefined;
  watchedCpu = undefined;
  const machine = new Machine(
    {
      emit: (event, data) => {
        if (event === 'phase') marks.push(data as PhaseMark);
        else if (event === 'serial-out') text.push(data as Uint8Array);
        else if (event === 'stats') stats = data as { diskReadBytes: number };
        else if (event === 'error') failure = (data as { message: string }).message;
      },
      v86Module: () => v86Module,
    },
    loaderFor(mode, c),
    { manifest, source: { from: 'path', dir: DIR }, stallTimeoutMs: timeoutMs },
    new CanvasScreen(() => undefined),
  );
  const halts: Record<string, HaltSamples> = {};
  const started = performance.now();
  await machine.start();
  const sampler = setInterval(() => {
    if (!watchedCpu) return;
    const p = currentPhase(marks);
    const h = (halts[p] ??= { samples: 0, halted: 0 });
    h.samples++;
    if (watchedCpu.in_hlt[0] !== 0) h.halted++;
  }, 5);
  let analysis: string | undefined;
  try {
    await text.waitFor(manifest.readyMarker, { from: 0, timeoutMs });
    if (failure) throw new Error(failure);
    const wallMs = performance.now() - started;
    clearInterval(sampler);
    if (analyze) analysis = await runAnalyze(machine, text);
    return { mode, wallMs, marks: [...marks], durations: phaseDurations(marks), counters: c, halts, diskReadBytes: stats?.diskReadBytes ?? NaN, analysis };
  } finally {
    clearInterval(sampler);
    await machine.stop();
  }
}

/** Types a command at the root prompt (as a person at the autologin console does) and returns what it printed. */
async function runAnalyze(machine: Machine, text: SerialText): Promise<string> {
  const out: string[] = [];
  // Quotes inside the markers keep them out of the echoed command line.
  const commands = ['systemctl is-system-running --wait', 'systemd-analyze', 'systemd-analyze blame --no-pager | head -n 25', 'systemd-analyze critical-chain --no-pager'];
  for (const [i, cmd] of commands.entries()) {
    const from = text.end;
    machine.sendSerial(new TextEncoder().encode(`stty cols 200; echo B''EGIN${i}; ${cmd}; echo E''ND${i}\r`));
    const end = await text.waitFor(new RegExp(`[\\r\\n]END${i}\\r?\\n`), { from, timeoutMs: 600_000 });
    const chunk = text.between(from, end);
    const begin = new RegExp(`[\\r\\n]BEGIN${i}\\r?\\n`).exec(chunk);
    const body = chunk.slice(begin ? begin.index + begin[0].length : 0).replace(new RegExp(`[\\r\\n]*END${i}\\r?\\n$`), '');
    out.push(`$ ${cmd}\n${body.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '').trimEnd()}`);
  }
  return out.join('\n\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { disk: { type: 'string', default: 'chunked,memory' }, analyze: { type: 'boolean', default: false }, timeout: { type: 'string', default: '1800' }, help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const modes = values.disk.split(',').map((s) => s.trim());
  for (const m of modes) if (m !== 'chunked' && m !== 'memory') throw new Error(`--disk takes chunked and/or memory, not "${m}"\n${USAGE}`);
  const timeoutMs = Number(values.timeout) * 1000;
  console.log(`debian twin, disk read path A/B · ${new Date().toISOString().slice(0, 16)} UTC · ${cpus()[0]?.model.trim()}, ${cpus().length} cores · load average ${loadavg()[0].toFixed(1)} at start`);
  for (const [i, mode] of (modes as DiskMode[]).entries()) {
    const load = loadavg()[0];
    const r = await bootOnce(mode, timeoutMs, values.analyze && i === 0);
    const d = r.durations;
    console.log(`\n[${mode}] prompt after ${formatMs(d.readyMs)} (wall ${formatMs(r.wallMs)}, load ${formatMs(r.marks.find((m) => m.phase === 'load')?.at ?? NaN)}), load average ${load.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
    console.log(`  phases: ${PHASES.map((p) => `${p} ${formatMs(d.phases[p])} / ${formatCount(d.phaseInstructions[p])} instr`).join(' · ')}; ${formatCount(d.instructions)} instructions`);
    console.log(`  disk: guest read ${formatBytes(r.diskReadBytes)}; ${r.counters.fileReads} stored files read (${r.counters.distinct.size} distinct, ${formatBytes(r.counters.fileBytes)})` +
      (mode === 'chunked' ? `; ${r.counters.gets} IDE reads, ${r.counters.waits} waited on a chunk for ${formatMs(r.counters.waitMs)} in all` : `; whole disk decoded and verified before boot in ${formatMs(r.counters.preloadMs)}`));
    console.log(`  guest halted (cpu.in_hlt, 5 ms samples): ${Object.entries(r.halts).map(([p, h]) => `${p} ${h.halted}/${h.samples} (${((100 * h.halted) / Math.max(1, h.samples)).toFixed(1)} %)`).join(' · ')}`);
    if (r.analysis) console.log(`\n${r.analysis}\n`);
  }
  return 0;
}

runMain(main);
