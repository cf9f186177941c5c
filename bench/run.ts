// `npm run bench`: every appliance, and the debian twin running the same app, booted cold N times and
// restored from a saved state N times, one machine at a time; writes bench/results.json, results.md
// and phases.svg, and reports the issue's targets (met, or missed by how much; never asserted).

import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { recipeNames } from '../images/recipes.ts';
import { bootToPrompt, CliError, currentPhase, defaultTimeoutMs, imageDir, imageFacts, loadTarget, measureRestores, PHASES, probeStep } from '../worker/cli/measure.ts';
import type { BootRun, ImageFacts, Phase, RestoreRun, Target } from '../worker/cli/measure.ts';
import { ratio, summarize } from '../worker/stats.ts';
import type { Summary } from '../worker/stats.ts';
import { renderMarkdown, renderText } from '../worker/cli/table.ts';
import { formatBytes, formatMemory, formatMs, formatRatio, formatSummary } from '../images/format.ts';
import type { Table } from '../worker/cli/table.ts';
import type { PhaseMark } from '../worker/protocol.ts';
import { atLeast, atMost, formatCheck } from '../worker/cli/targets.ts';
import type { TargetCheck } from '../worker/cli/targets.ts';
import { phasesSvg } from './chart.ts';

const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));
const TWIN = 'debian';
/**
 * Rungs between the shell appliance and the twin: the same userland booted the way a PC boots
 * (SeaBIOS, the bzImage decompressing itself), then on Debian's own kernel. Steps, not appliances:
 * no twin comparison of their own.
 */
const RUNGS: Record<string, { role: BenchEntry['role']; note: string }> = {
  'shell-firmware': { role: 'firmware rung', note: 'SeaBIOS + bzImage' },
  'shell-stock': { role: 'stock-kernel rung', note: "Debian's stock kernel" },
};
const RUNG_ORDER = Object.keys(RUNGS);

/** Issue 11's targets (speed), with issue 6's download size. */
const TARGET = { shellColdMs: 1000, shellRestoreMs: 150, speedup: 60, shellDownloadBytes: 2.5e6, appColdMs: { sqlite: 1500, lua: 1500, redis: 3000 } as Record<string, number> };

const USAGE = `Usage: npm run bench -- [options]

Boots every appliance in images/dist and the ${TWIN} twin running each appliance's app, one machine
at a time, cold and restored from a saved state; writes bench/results.json, results.md, phases.svg.

Options:
  --runs <n>         cold boots and restores per appliance (default 5)
  --twin-runs <n>    cold boots and restores of the twin per app (default 2; 0 skips the twin)
  --images <a,b>     only these appliances (default: every recipe built in images/dist)
  --timeout <s>      give up on one boot after s seconds (default 300; 1800 for the twin)
  --out <dir>        where to write the results (default bench/)
  --render <json>    boot nothing: rewrite results.md and phases.svg from an earlier results.json
  -h, --help         this text`;

interface BenchEntry {
  image: string;
  label: string;
  role: 'appliance' | 'firmware rung' | 'stock-kernel rung' | 'twin';
  facts: ImageFacts;
  cold: { runs: BootRun[]; readyMs: Summary; wallMs: Summary; loadMs: Summary; instructions: Summary; phases: Record<Phase, Summary> };
  restore?: { runs: RestoreRun[]; ms: Summary; restoredMs: Summary; stateBytes: number; stateRawBytes: number; probe: string };
  error?: { message: string; hint?: string };
}

interface MachineInfo {
  cpu: string;
  cores: number;
  memoryBytes: number;
  node: string;
  v86: string;
  platform: string;
  /** When the bench started. */
  date: string;
  /**
   * 1-minute load average when the bench started and ended. The start tells whether other work ran
   * (the bench itself keeps ~1.5 cores busy: v86 plus V8's compiler threads, so the end always reads high).
   */
  loadAverage: { start: number; end: number };
}

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      'twin-runs': { type: 'string', default: '2' },
      images: { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      render: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.render) return render(values.render, values.out ?? dirname(values.render));
  const runs = count(values.runs, '--runs', 1);
  const twinRuns = count(values['twin-runs'], '--twin-runs', 0);
  const timeoutMs = values.timeout === undefined ? undefined : count(values.timeout, '--timeout', 1) * 1000;
  const outDir = values.out ?? BENCH_DIR;
  const loadStart = loadavg()[0];
  const startedAt = new Date();

  // Appliances: the shell first (the targets name it), its rungs next, then the apps.
  const names = values.images ? values.images.split(',').map((s) => s.trim()).filter(Boolean) : recipeNames();
  const order = (n: string) => (n === 'shell' ? 0 : n in RUNGS ? 1 + RUNG_ORDER.indexOf(n) : 1 + RUNG_ORDER.length);
  names.sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const missing = names.filter((n) => !existsSync(join(imageDir(n), 'manifest.json')));
  for (const n of missing) log(`skipping ${n}: not built (npm run images -- build ${n})`);
  const appliances = await Promise.all(names.filter((n) => !missing.includes(n)).map((n) => loadTarget(n)));
  if (appliances.length === 0) throw new CliError('No appliance image is built.', 'Build them: npm run images');

  const entries: BenchEntry[] = [];
  for (const t of appliances) entries.push(await bench(t, RUNGS[t.image]?.role ?? 'appliance', runs, timeoutMs));

  // The twin runs each app an appliance runs (a rung's shell is the shell appliance's app).
  const apps = [...new Set(appliances.filter((t) => !(t.image in RUNGS)).map((t) => t.manifest.app).filter((a): a is string => !!a))];
  if (twinRuns > 0 && apps.length) {
    if (!existsSync(join(imageDir(TWIN), 'manifest.json'))) log(`skipping the twin: ${TWIN} is not built (npm run images -- build ${TWIN})`);
    else {
      const twin = await loadTarget(TWIN);
      for (const app of apps) {
        if (!twin.manifest.apps?.some((a) => a.name === app)) {
          log(`skipping ${TWIN}+${app}: the twin has no such app`);
          continue;
        }
        entries.push(await bench(await loadTarget(TWIN, { app }), 'twin', twinRuns, timeoutMs));
      }
    }
  }

  const machine = machineInfo(loadStart, startedAt);
  const comparisons = compareWithTwin(entries);
  const targets = checkTargets(entries, comparisons);
  const results = { machine, settings: { runs, twinRuns }, entries, comparisons, targets, missing };

  await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeReports(outDir, results);

  console.log(`\n${renderText(resultsTable(entries, comparisons))}\n`);
  console.log('Targets (reported, not asserted):');
  for (const c of targets) console.log(`  ${formatCheck(c)}`);
  console.log(`\n${describeMachine(machine)}`);
  if (busy(machine)) console.log(`The host was busy (load ${machine.loadAverage.start.toFixed(1)} → ${machine.loadAverage.end.toFixed(1)} on ${machine.cores} cores): times are inflated; do not publish these.`);
  console.log(`Wrote ${['results.json', 'results.md', 'phases.svg'].map((f) => join(outDir, f)).join(', ')}`);
  return entries.some((e) => e.error) ? 1 : 0;
}

/** Cold boots `t` `runs` times (the first one's state saved at the prompt), then restores that state `runs` times. */
async function bench(t: Target, role: BenchEntry['role'], runs: number, timeoutMs: number | undefined): Promise<BenchEntry> {
  const limit = timeoutMs ?? defaultTimeoutMs(t);
  const boots: BootRun[] = [];
  let restore: BenchEntry['restore'];
  try {
    let state;
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const marks: PhaseMark[] = [];
      const ticker = setInterval(() => log(`  ${t.label}: cold boot ${i + 1}/${runs}: ${currentPhase(marks)} after ${formatMs(performance.now() - started)}`), 30_000);
      try {
        const { run, machine } = await bootToPrompt(t, { timeoutMs: limit, keep: i === 0, onPhase: (m) => marks.push(m) });
        boots.push(run);
        log(`${t.label}: cold boot ${i + 1}/${runs}: prompt at ${formatMs(run.readyMs)} (${PHASES.map((p) => `${p} ${formatMs(run.phases[p])}`).join(', ')})`);
        if (machine) {
          try {
            state = await machine.saveState();
          } finally {
            await machine.stop();
          }
        }
      } finally {
        clearInterval(ticker);
      }
    }
    if (state) {
      const restores = await measureRestores(t, state, runs, { timeoutMs: limit });
      for (const [i, r] of restores.entries()) log(`${t.label}: restore ${i + 1}/${runs}: answered after ${formatMs(r.ms)} (v86 restore ${formatMs(r.restoredMs)})`);
      restore = {
        runs: restores,
        ms: summarize(restores.map((r) => r.ms)),
        restoredMs: summarize(restores.map((r) => r.restoredMs)),
        stateBytes: state.size,
        stateRawBytes: state.rawSize,
        probe: probeStep(t).send,
      };
    }
  } catch (e) {
    const err = e as CliError;
    log(`${t.label}: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}`);
    return { image: t.image, label: t.label, role, facts: imageFacts(t), cold: coldSummary(boots), ...(restore ? { restore } : {}), error: { message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
  }
  return { image: t.image, label: t.label, role, facts: imageFacts(t), cold: coldSummary(boots), ...(restore ? { restore } : {}) };
}

function coldSummary(runs: BootRun[]): BenchEntry['cold'] {
  const of = (pick: (b: BootRun) => number) => summarize(runs.map(pick));
  return {
    runs,
    readyMs: of((b) => b.readyMs),
    wallMs: of((b) => b.wallMs),
    loadMs: of((b) => b.loadMs),
    instructions: of((b) => b.instructions),
    phases: Object.fromEntries(PHASES.map((p) => [p, of((b) => b.phases[p])])) as Record<Phase, Summary>,
  };
}

interface TwinComparison {
  app: string;
  appliance: string;
  twin: string;
  /** Twin's median time to the app's prompt over the appliance's. */
  speedup: number;
  restoreSpeedup: number;
  downloadRatio: number;
  storedRatio: number;
}

function compareWithTwin(entries: BenchEntry[]): TwinComparison[] {
  const out: TwinComparison[] = [];
  for (const a of entries.filter((e) => e.role !== 'twin')) {
    const twin = entries.find((e) => e.role === 'twin' && e.facts.app === a.facts.app);
    if (!twin || !a.facts.app) continue;
    out.push({
      app: a.facts.app,
      appliance: a.label,
      twin: twin.label,
      speedup: ratio(twin.cold.readyMs.median, a.cold.readyMs.median),
      restoreSpeedup: ratio(twin.restore?.ms.median ?? NaN, a.restore?.ms.median ?? NaN),
      downloadRatio: ratio(twin.facts.downloadBytes, a.facts.downloadBytes),
      storedRatio: ratio(twin.facts.storedBytes, a.facts.storedBytes),
    });
  }
  return out;
}

function checkTargets(entries: BenchEntry[], comparisons: TwinComparison[]): TargetCheck[] {
  const shell = entries.find((e) => e.image === 'shell');
  const checks = [
    atMost('shell cold boot to its prompt', shell?.cold.readyMs.median ?? NaN, TARGET.shellColdMs, formatMs),
    atMost('shell restore until an echo answers', shell?.restore?.ms.median ?? NaN, TARGET.shellRestoreMs, formatMs),
    atMost('shell download', shell?.facts.downloadBytes ?? NaN, TARGET.shellDownloadBytes, formatBytes),
  ];
  for (const [image, ms] of Object.entries(TARGET.appColdMs)) {
    const e = entries.find((x) => x.image === image);
    if (e) checks.push(atMost(`${image} cold boot to its prompt`, e.cold.readyMs.median, ms, formatMs));
  }
  // Each app appliance against the twin starting the same app (the stock rung is a step, not an appliance).
  for (const e of entries.filter((x) => x.role === 'appliance')) {
    const c = comparisons.find((x) => x.appliance === e.label);
    checks.push(atLeast(`${e.label} faster to its prompt than ${c?.twin ?? `${TWIN}+${e.facts.app}`}`, c?.speedup ?? NaN, TARGET.speedup, formatRatio));
  }
  return checks;
}

function resultsTable(entries: BenchEntry[], comparisons: TwinComparison[]): Table {
  const header = ['image', 'kind', 'to prompt (cold)', ...PHASES, 'restore', 'download', 'stored', 'packages', 'files', `${TWIN} ÷ this`];
  const rows = entries.map((e) => {
    const c = comparisons.find((x) => x.appliance === e.label);
    const failed = e.cold.readyMs.n === 0;
    return [
      e.label,
      e.role,
      failed ? 'failed' : formatSummary(e.cold.readyMs, formatMs),
      // An appliance's init starts the app itself: its app phase is part of userspace.
      ...PHASES.map((p) => (failed || (p === 'app' && e.role !== 'twin') ? '' : formatMs(e.cold.phases[p].median))),
      e.restore ? formatSummary(e.restore.ms, formatMs) : '—',
      formatBytes(e.facts.downloadBytes),
      formatBytes(e.facts.storedBytes),
      String(e.facts.packages),
      String(e.facts.files),
      c ? formatRatio(c.speedup) : '',
    ];
  });
  return { header, rows, align: header.map((_, i) => (i < 2 ? 'left' : 'right')) };
}

function markdown(entries: BenchEntry[], comparisons: TwinComparison[], targets: TargetCheck[], machine: MachineInfo, runs: number, twinRuns: number): string {
  const targetTable: Table = {
    header: ['target', 'goal', 'measured', 'met', 'by'],
    rows: targets.map((c) => [c.name, c.goal, c.measured, c.met === undefined ? '?' : c.met ? 'yes' : 'no', c.by]),
    align: ['left', 'right', 'right', 'left', 'left'],
  };
  return [
    '# Benchmark results',
    '',
    `${describeMachine(machine)}`,
    ...(busy(machine) ? ['', `**The host was busy when the bench began (load average ${machine.loadAverage.start.toFixed(1)} on ${machine.cores} cores): these times are inflated.**`] : []),
    '',
    `Medians with (min–max) of ${runs} runs per appliance and ${twinRuns} per twin app; cold boots are timed from the machine starting to the app's prompt, phase by phase (` +
      `"app" is the time the twin takes to start the app by hand). Restore: from asking a warm machine thread to restore a state saved at the prompt until a typed line (an \`echo\` at a shell, the app's first smoke line otherwise) is answered. ` +
      `"${TWIN} ÷ this" is how many times longer the twin takes to the same app's prompt. Download: compressed artifacts; stored: raw artifact bytes; 1 MB = 10⁶ bytes.`,
    '',
    renderMarkdown(resultsTable(entries, comparisons)),
    '',
    '## Targets',
    '',
    renderMarkdown(targetTable),
    '',
    '![Boot phases per image](phases.svg)',
    '',
  ].join('\n');
}

function chart(entries: BenchEntry[], machine: MachineInfo, runs: number, twinRuns: number): string {
  const rows = entries.map((e) => ({
    label: e.label,
    note: e.role === 'twin' ? `twin, ${e.facts.app} started by hand` : (RUNGS[e.image]?.note ?? `appliance, ${e.facts.app ?? 'shell'}`),
    phases: Object.fromEntries(PHASES.map((p) => [p, e.cold.phases[p].median])) as Record<Phase, number>,
    total: e.cold.readyMs.median,
  }));
  return phasesSvg(rows, {
    title: 'Cold boot to the app’s prompt, phase by phase',
    subtitle: `Median of ${runs} runs (twin: ${twinRuns}) · ${machine.cpu}, ${machine.cores} cores · node ${machine.node} · v86 ${machine.v86} · ${machine.date.slice(0, 10)}`,
  });
}

function machineInfo(loadStart: number, startedAt: Date): MachineInfo {
  const v86 = JSON.parse(readFileSync(fileURLToPath(new URL('../node_modules/v86/package.json', import.meta.url)), 'utf8')) as { version: string };
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    node: process.version,
    v86: v86.version,
    platform: `${process.platform} ${process.arch}`,
    date: startedAt.toISOString(),
    loadAverage: { start: loadStart, end: loadavg()[0] },
  };
}

function describeMachine(m: MachineInfo): string {
  return `Measured ${m.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu} (${m.cores} cores, ${formatMemory(m.memoryBytes)} RAM), ${m.platform}, Node ${m.node}, v86 ${m.v86}; load average ${m.loadAverage.start.toFixed(1)} at start, ${m.loadAverage.end.toFixed(1)} at end.`;
}

/** Other work was running when the bench began (its own load is not counted: see MachineInfo). */
function busy(m: MachineInfo): boolean {
  return m.loadAverage.start > m.cores / 2;
}

interface Results {
  machine: MachineInfo;
  settings: { runs: number; twinRuns: number };
  entries: BenchEntry[];
  comparisons: TwinComparison[];
  targets: TargetCheck[];
}

async function writeReports(outDir: string, r: Results): Promise<void> {
  const { runs, twinRuns } = r.settings;
  await writeFile(join(outDir, 'results.md'), markdown(r.entries, r.comparisons, r.targets, r.machine, runs, twinRuns));
  await writeFile(join(outDir, 'phases.svg'), chart(r.entries, r.machine, runs, twinRuns));
}

/** `--render`: the reports of an earlier run, rewritten by this version of the report code. */
async function render(file: string, outDir: string): Promise<number> {
  let results: Results;
  try {
    results = JSON.parse(readFileSync(file, 'utf8')) as Results;
  } catch (e) {
    throw new CliError(`Cannot read ${file}: ${(e as Error).message}`, 'Name a results.json written by npm run bench.');
  }
  if (!Array.isArray(results.entries) || !results.machine || !results.settings) throw new CliError(`${file} is not a results.json written by npm run bench.`, 'Run the benchmark: npm run bench');
  await writeReports(outDir, results);
  console.log(`Wrote ${['results.md', 'phases.svg'].map((f) => join(outDir, f)).join(', ')} from ${file}`);
  return 0;
}

function count(s: string, flag: string, min: number): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min) throw new CliError(`${flag} needs a whole number of at least ${min}, not "${s}".`, USAGE);
  return n;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    const err = e as Error & { hint?: string; detail?: string; code?: unknown };
    const usage = String(err.code ?? '').startsWith('ERR_PARSE_ARGS');
    console.error(`error: ${err.message}`);
    if (usage) console.error(USAGE);
    else if (err.hint) console.error(`hint: ${err.hint}`);
    if (err.detail) console.error(err.detail);
    if (!usage && !(e instanceof CliError)) console.error(err.stack);
    process.exit(usage || e instanceof CliError ? 2 : 1);
  },
);
