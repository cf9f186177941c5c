// The benchmark's report: results (bench/results.json) → summaries, comparisons with the twin, the
// issue's targets, the text and markdown tables and the phase chart. No boots here (bench/run.ts
// measures; this file only turns its numbers into words), so it is unit-tested with a fixture.

import { PHASES } from '../worker/phases.ts';
import type { Phase } from '../worker/phases.ts';
import type { BootRun, ImageFacts, RestoreRun } from '../worker/cli/measure.ts';
import { ratio, summarize } from '../worker/stats.ts';
import type { Summary } from '../worker/stats.ts';
import { renderMarkdown } from '../worker/cli/table.ts';
import type { Table } from '../worker/cli/table.ts';
import { formatBytes, formatMemory, formatMs, formatRatio, formatSummary } from '../images/format.ts';
import { atLeast, atMost } from '../worker/cli/targets.ts';
import type { TargetCheck } from '../worker/cli/targets.ts';
import { phasesSvg } from './chart.ts';
import type { ChartRow } from './chart.ts';

export const TWIN = 'debian';

/**
 * Rungs between the shell appliance and the twin: the same userland booted the way a PC boots
 * (SeaBIOS, the bzImage decompressing itself), then on Debian's own kernel. Steps, not appliances:
 * no twin comparison of their own.
 */
export const RUNGS: Record<string, { role: BenchEntry['role']; note: string }> = {
  'shell-firmware': { role: 'firmware rung', note: 'SeaBIOS + bzImage' },
  'shell-stock': { role: 'stock-kernel rung', note: "Debian's stock kernel" },
};

/** Issue 11's targets (speed), with issue 6's download size. */
export const TARGET = {
  shellColdMs: 1000,
  shellPageColdMs: 1300,
  shellRestoreMs: 150,
  speedup: 60,
  shellDownloadBytes: 2.5e6,
  appColdMs: { sqlite: 1500, lua: 1500, redis: 3000 } as Record<string, number>,
};

/** Cold boots, summarized: to the prompt, the caller's wait, loading, instructions, and each phase (ms and instructions). */
export interface ColdSummary {
  runs: BootRun[];
  readyMs: Summary;
  wallMs: Summary;
  loadMs: Summary;
  instructions: Summary;
  phases: Record<Phase, Summary>;
  /** Absent in results written before the page column existed. */
  phaseInstructions?: Record<Phase, Summary>;
}

export interface BenchEntry {
  image: string;
  label: string;
  role: 'appliance' | 'firmware rung' | 'stock-kernel rung' | 'twin';
  facts: ImageFacts;
  /** In Node: the machine in a worker thread (worker/node/host.ts). */
  cold: ColdSummary;
  /** In headless Chromium: the lab page's own Web Worker (test/e2e/page-bench.ts). */
  page?: ColdSummary & { error?: { message: string; hint?: string } };
  restore?: { runs: RestoreRun[]; ms: Summary; restoredMs: Summary; stateBytes: number; stateRawBytes: number; probe: string };
  error?: { message: string; hint?: string };
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryBytes: number;
  node: string;
  v86: string;
  platform: string;
  /** The browser of the page column (`Chromium 156…`), when it ran. */
  browser?: string;
  /** When the bench started. */
  date: string;
  /**
   * 1-minute load average when the bench started and ended. The start tells whether other work ran
   * (the bench itself keeps ~1.5 cores busy: v86 plus V8's compiler threads, so the end always reads high).
   */
  loadAverage: { start: number; end: number };
}

export interface TwinComparison {
  app: string;
  appliance: string;
  twin: string;
  /** Twin's median time to the app's prompt over the appliance's. */
  speedup: number;
  restoreSpeedup: number;
  downloadRatio: number;
  storedRatio: number;
}

/** What test/e2e/page-bench.ts prints: cold boots in the page, per image. */
export interface PageBenchResult {
  browser: string;
  entries: { image: string; runs: BootRun[]; error?: { message: string; hint?: string } }[];
}

export interface Results {
  machine: MachineInfo;
  settings: { runs: number; twinRuns: number; pageRuns?: number };
  entries: BenchEntry[];
  comparisons: TwinComparison[];
  targets: TargetCheck[];
  missing?: string[];
}

export function coldSummary(runs: BootRun[]): ColdSummary {
  const of = (pick: (b: BootRun) => number) => summarize(runs.map(pick));
  return {
    runs,
    readyMs: of((b) => b.readyMs),
    wallMs: of((b) => b.wallMs),
    loadMs: of((b) => b.loadMs),
    instructions: of((b) => b.instructions),
    phases: Object.fromEntries(PHASES.map((p) => [p, of((b) => b.phases[p])])) as Record<Phase, Summary>,
    phaseInstructions: Object.fromEntries(PHASES.map((p) => [p, of((b) => b.phaseInstructions[p])])) as Record<Phase, Summary>,
  };
}

export function compareWithTwin(entries: BenchEntry[]): TwinComparison[] {
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

export function checkTargets(entries: BenchEntry[], comparisons: TwinComparison[]): TargetCheck[] {
  const shell = entries.find((e) => e.image === 'shell');
  const checks = [
    atMost('shell cold boot to its prompt (Node)', shell?.cold.readyMs.median ?? NaN, TARGET.shellColdMs, formatMs),
    atMost('shell cold boot to its prompt (page)', shell?.page?.readyMs.median ?? NaN, TARGET.shellPageColdMs, formatMs),
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

const pageFailed = (e: BenchEntry) => !e.page || e.page.readyMs.n === 0;

export function resultsTable(entries: BenchEntry[], comparisons: TwinComparison[]): Table {
  const header = ['image', 'kind', 'to prompt (cold)', ...PHASES, 'in the page', 'restore', 'download', 'stored', 'packages', 'files', `${TWIN} ÷ this`];
  const rows = entries.map((e) => {
    const c = comparisons.find((x) => x.appliance === e.label);
    const failed = e.cold.readyMs.n === 0;
    return [
      e.label,
      e.role,
      failed ? 'failed' : formatSummary(e.cold.readyMs, formatMs),
      // An appliance's init starts the app itself: its app phase is part of userspace.
      ...PHASES.map((p) => (failed || (p === 'app' && e.role !== 'twin') ? '' : formatMs(e.cold.phases[p].median))),
      !e.page ? '—' : pageFailed(e) ? 'failed' : formatSummary(e.page.readyMs, formatMs),
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

/** Millions of instructions, as the phase table prints them (`18.0 M`). */
export function formatInstructions(n: number): string {
  return Number.isFinite(n) ? `${(n / 1e6).toFixed(1)} M` : '—';
}

/** Node beside the page, phase by phase: median wall time and guest instructions of each. */
export function phaseTable(entries: BenchEntry[]): Table {
  const header = ['image', 'where', 'to prompt', ...PHASES.map((p) => `${p} (time · instructions)`), 'instructions'];
  const rows: string[][] = [];
  for (const e of entries) {
    const sides: [string, ColdSummary | undefined][] = [
      ['Node', e.cold.readyMs.n ? e.cold : undefined],
      ['page', e.page && !pageFailed(e) ? e.page : undefined],
    ];
    for (const [where, s] of sides) {
      if (!s) continue;
      rows.push([
        e.label,
        where,
        formatMs(s.readyMs.median),
        ...PHASES.map((p) => (p === 'app' && e.role !== 'twin' ? '' : `${formatMs(s.phases[p].median)} · ${formatInstructions(s.phaseInstructions?.[p].median ?? NaN)}`)),
        formatInstructions(s.instructions.median),
      ]);
    }
  }
  return { header, rows, align: header.map((_, i) => (i < 2 ? 'left' : 'right')) };
}

export function targetTable(targets: TargetCheck[]): Table {
  return {
    header: ['target', 'goal', 'measured', 'met', 'by'],
    rows: targets.map((c) => [c.name, c.goal, c.measured, c.met === undefined ? '?' : c.met ? 'yes' : 'no', c.by]),
    align: ['left', 'right', 'right', 'left', 'left'],
  };
}

export function describeMachine(m: MachineInfo): string {
  return (
    `Measured ${m.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu} (${m.cores} cores, ${formatMemory(m.memoryBytes)} RAM), ${m.platform}, Node ${m.node}, v86 ${m.v86}` +
    `${m.browser ? `, ${m.browser} (headless) for the page column` : ''}; load average ${m.loadAverage.start.toFixed(1)} at start, ${m.loadAverage.end.toFixed(1)} at end.`
  );
}

/** Other work was running when the bench began (its own load is not counted: see MachineInfo). */
export function busy(m: MachineInfo): boolean {
  return m.loadAverage.start > m.cores / 2;
}

export function busyNote(m: MachineInfo): string {
  return `Busy host: the load average was ${m.loadAverage.start.toFixed(1)} on ${m.cores} cores when the bench began (other work was running): every time here is inflated; compare ratios from this run only.`;
}

export function markdown(r: Results): string {
  const { runs, twinRuns, pageRuns } = r.settings;
  const withPage = r.entries.some((e) => e.page);
  return [
    '# Benchmark results',
    '',
    describeMachine(r.machine),
    ...(busy(r.machine) ? ['', `**${busyNote(r.machine)}**`] : []),
    '',
    `Medians with (min–max) of ${runs} runs per appliance and ${twinRuns} per twin app${withPage ? `, ${pageRuns ?? runs} per image in the page` : ''}; cold boots are timed from the machine starting to the app's prompt, phase by phase (` +
      `"app" is the time the twin takes to start the app by hand). ` +
      (withPage ? `"In the page": the same cold boot in headless Chromium, the lab page opened at the image's machine view, timed by the machine worker's own phase marks. ` : '') +
      `Restore: from asking a warm machine thread to restore a state saved at the prompt until a typed line (an \`echo\` at a shell, the app's first smoke line otherwise) is answered. ` +
      `"${TWIN} ÷ this" is how many times longer the twin takes to the same app's prompt. Download: compressed artifacts; stored: raw artifact bytes; 1 MB = 10⁶ bytes.`,
    '',
    renderMarkdown(resultsTable(r.entries, r.comparisons)),
    '',
    '## Phases: Node and the page',
    '',
    'Median wall time and guest instructions of each phase (M = 10⁶ instructions). The instructions are the guest’s work and barely move between hosts; the times are the emulator’s speed on this one.',
    '',
    renderMarkdown(phaseTable(r.entries)),
    '',
    '## Targets',
    '',
    renderMarkdown(targetTable(r.targets)),
    '',
    '![Boot phases per image](phases.svg)',
    '',
  ].join('\n');
}

export function chartRows(entries: BenchEntry[]): ChartRow[] {
  const rows: ChartRow[] = [];
  for (const e of entries) {
    const note = e.role === 'twin' ? `twin, ${e.facts.app} by hand` : (RUNGS[e.image]?.note ?? `appliance, ${e.facts.app ?? 'shell'}`);
    const row = (s: ColdSummary, label: string, n: string): ChartRow => ({
      label,
      note: n,
      phases: Object.fromEntries(PHASES.map((p) => [p, s.phases[p].median])) as Record<Phase, number>,
      total: s.readyMs.median,
    });
    rows.push(row(e.cold, e.label, `${note} · Node`));
    if (e.page && !pageFailed(e)) rows.push(row(e.page, `${e.label} (page)`, `${note} · Chromium`));
  }
  return rows;
}

export function chart(r: Results): string {
  const { runs, twinRuns } = r.settings;
  const m = r.machine;
  return phasesSvg(chartRows(r.entries), {
    title: 'Cold boot to the app’s prompt, phase by phase',
    subtitle: `Median of ${runs} runs (twin: ${twinRuns}) · ${m.cpu}, ${m.cores} cores · node ${m.node} · v86 ${m.v86}${m.browser ? ` · ${m.browser}` : ''} · ${m.date.slice(0, 10)}${busy(m) ? ` · busy host (load ${m.loadAverage.start.toFixed(1)})` : ''}`,
  });
}
