// `npm run bench`: every appliance, and the debian twin running the same app, booted cold N times and
// restored from a saved state N times, one machine at a time; writes bench/results.json, results.md
// and phases.svg, and reports the issue's targets (met, or missed by how much; never asserted).

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { recipeNames } from '../images/recipes.ts';
import { bootToPrompt, CliError, currentPhase, defaultTimeoutMs, imageDir, imageFacts, loadTarget, measureRestores, PHASES, probeStep } from '../worker/cli/measure.ts';
import type { BootRun, Target } from '../worker/cli/measure.ts';
import { summarize } from '../worker/stats.ts';
import { renderText } from '../worker/cli/table.ts';
import { formatMs } from '../images/format.ts';
import type { PhaseMark } from '../worker/protocol.ts';
import { formatCheck } from '../worker/cli/targets.ts';
import { busy, busyNote, chart, checkTargets, coldSummary, compareWithTwin, describeMachine, markdown, resultsTable, RUNGS, TWIN } from './report.ts';
import type { BenchEntry, MachineInfo, PageBenchResult, Results } from './report.ts';
import { runMain } from '../worker/cli/run-main.ts';

const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));
const RUNG_ORDER = Object.keys(RUNGS);

const USAGE = `Usage: npm run bench -- [options]

Boots every appliance in images/dist and the ${TWIN} twin running each appliance's app, one machine
at a time, cold and restored from a saved state; writes bench/results.json, results.md, phases.svg.

Options:
  --runs <n>         cold boots and restores per appliance (default 5)
  --twin-runs <n>    cold boots and restores of the twin per app (default 2; 0 skips the twin)
  --images <a,b>     only these appliances (default: every recipe built in images/dist)
  --timeout <s>      give up on one boot after s seconds (default 300; 1800 for the twin)
  --browser          also boot each appliance cold in headless Chromium through the lab page (default)
  --no-browser       Node only
  --page-runs <n>    cold boots per appliance in the page (default: --runs)
  --out <dir>        where to write the results (default bench/)
  --render <json>    boot nothing: rewrite results.md and phases.svg from an earlier results.json
  -h, --help         this text`;

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      'twin-runs': { type: 'string', default: '2' },
      images: { type: 'string' },
      timeout: { type: 'string' },
      browser: { type: 'boolean', default: true },
      'no-browser': { type: 'boolean', default: false },
      'page-runs': { type: 'string' },
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
  const pageRuns = values.browser && !values['no-browser'] ? count(values['page-runs'] ?? values.runs, '--page-runs', 1) : 0;
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

  // The page column: the same appliances, after the Node boots (one machine at a time on the host).
  let browser: string | undefined;
  if (pageRuns > 0) browser = await benchPage(entries.filter((e) => e.role !== 'twin'), pageRuns, timeoutMs);

  const machine = { ...machineInfo(loadStart, startedAt), ...(browser ? { browser } : {}) };
  const comparisons = compareWithTwin(entries);
  const targets = checkTargets(entries, comparisons);
  const results: Results = { machine, settings: { runs, twinRuns, pageRuns }, entries, comparisons, targets, missing };

  await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeReports(outDir, results);

  console.log(`\n${renderText(resultsTable(entries, comparisons))}\n`);
  console.log('Targets (reported, not asserted):');
  for (const c of targets) console.log(`  ${formatCheck(c)}`);
  console.log(`\n${describeMachine(machine)}`);
  if (busy(machine)) console.log(busyNote(machine));
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

/**
 * Boots each entry's image cold in headless Chromium through the lab page (test/e2e/page-bench.ts, a
 * child process: it builds the page if stale and serves it with vite preview) and adds the runs to the
 * entries as their page column. Returns the browser's name, or undefined when the column failed.
 */
async function benchPage(entries: BenchEntry[], runs: number, timeoutMs: number | undefined): Promise<string | undefined> {
  if (entries.length === 0) return undefined;
  const script = fileURLToPath(new URL('../test/e2e/page-bench.ts', import.meta.url));
  const tsx = fileURLToPath(new URL('../node_modules/tsx/dist/cli.mjs', import.meta.url));
  const args = [tsx, script, '--images', entries.map((e) => e.image).join(','), '--runs', String(runs), '--timeout', String(Math.round((timeoutMs ?? 300_000) / 1000))];
  log(`page: ${runs} cold boot(s) of ${entries.map((e) => e.image).join(', ')} in headless Chromium`);
  const out = await new Promise<string | Error>((resolve) => {
    const child = execFile(process.execPath, args, { maxBuffer: 64 << 20 }, (err, stdout) => resolve(err ? err : stdout));
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
  });
  let parsed: PageBenchResult;
  try {
    if (out instanceof Error) throw out;
    parsed = JSON.parse(out.trim().split('\n').at(-1) ?? '') as PageBenchResult;
  } catch (e) {
    const message = `The page column failed: ${(e as Error).message.split('\n')[0]}`;
    log(`${message}\n  hint: check the browser (npm run doctor) and the page build (npm run build), or bench without it: --no-browser`);
    for (const entry of entries) entry.page = { ...coldSummary([]), error: { message, hint: 'Run the bench again with --no-browser, or fix the browser setup (npm run doctor).' } };
    return undefined;
  }
  for (const p of parsed.entries) {
    const entry = entries.find((e) => e.image === p.image);
    if (entry) entry.page = { ...coldSummary(p.runs), ...(p.error ? { error: p.error } : {}) };
  }
  return parsed.browser;
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

async function writeReports(outDir: string, r: Results): Promise<void> {
  await writeFile(join(outDir, 'results.md'), markdown(r));
  await writeFile(join(outDir, 'phases.svg'), chart(r));
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

runMain(main, USAGE);
