// The compare table: summaries of boot runs per image, with ratios against the first image, rendered
// as aligned text for a terminal or as a markdown table. Pure functions (no machines here).

import type { BootRun, ImageFacts, Phase } from './measure.ts';
import { PHASES } from './measure.ts';
import { ratio, summarize, type Summary } from '../stats.ts';

/** One image's row of results: its facts, its boots, or why it failed. */
export interface ImageResult {
  label: string;
  facts: ImageFacts;
  runs: BootRun[];
  /** Why the image produced no measurement. */
  error?: string;
}

export interface BootSummary {
  label: string;
  facts: ImageFacts;
  readyMs: Summary;
  loadMs: Summary;
  wallMs: Summary;
  phases: Record<Phase, Summary>;
  instructions: Summary;
  error?: string;
}

export function summarizeImage(r: ImageResult): BootSummary {
  const of = (pick: (b: BootRun) => number) => summarize(r.runs.map(pick));
  const phases = Object.fromEntries(PHASES.map((p) => [p, of((b) => b.phases[p])])) as Record<Phase, Summary>;
  return {
    label: r.label,
    facts: r.facts,
    readyMs: of((b) => b.readyMs),
    loadMs: of((b) => b.loadMs),
    wallMs: of((b) => b.wallMs),
    phases,
    instructions: of((b) => b.instructions),
    ...(r.error ? { error: r.error } : {}),
  };
}

// ---- number formats ----

/** 830 → "830 ms", 12345 → "12.3 s", 125000 → "2 min 5 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Decimal units (1 MB = 10⁶ bytes), as the benchmark targets are written: 1983415 → "1.98 MB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1000 && i < BYTE_UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = i === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${n < 0 ? '-' : ''}${v.toFixed(digits)} ${BYTE_UNITS[i]}`;
}

/** 58_000_000 → "58.0 M" (guest instructions). */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}

/** 62.4 → "62×", 1.04 → "1.0×", 0.997 → "1.0×", 0.016 → "0.016×" (two significant digits below 1). */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return '—';
  if (r >= 10) return `${Math.round(r)}×`;
  if (r >= 1) return `${r.toFixed(1)}×`;
  return `${r.toPrecision(2)}×`;
}

/** A summary as "median" or, over several runs, "median (min–max)". */
export function formatSummary(s: Summary, fmt: (n: number) => string): string {
  if (s.n <= 1 || s.min === s.max) return fmt(s.median);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

// ---- the table ----

export type Align = 'left' | 'right';

export interface Table {
  header: string[];
  rows: string[][];
  align: Align[];
}

interface Metric {
  name: string;
  value: (s: BootSummary) => Summary | number;
  fmt: (n: number) => string;
  /** Measured by booting (a failed boot has none), rather than read from the manifest. */
  measured?: boolean;
}

const METRICS: Metric[] = [
  { name: 'to app prompt', value: (s) => s.readyMs, fmt: formatMs, measured: true },
  ...PHASES.map((p): Metric => ({ name: `  ${p}`, value: (s) => s.phases[p], fmt: formatMs, measured: true })),
  { name: 'loading (before start)', value: (s) => s.loadMs, fmt: formatMs, measured: true },
  { name: 'guest instructions', value: (s) => s.instructions, fmt: formatCount, measured: true },
  { name: 'download', value: (s) => s.facts.downloadBytes, fmt: formatBytes },
  { name: 'stored (raw artifacts)', value: (s) => s.facts.storedBytes, fmt: formatBytes },
  { name: 'packages', value: (s) => s.facts.packages, fmt: String },
  { name: 'files', value: (s) => s.facts.files, fmt: String },
];

/** The ratio of each image's median to the first image's, per metric (NaN where either is missing). */
export function ratios(summaries: readonly BootSummary[]): { metric: string; values: number[] }[] {
  const [base, ...others] = summaries;
  if (!base) return [];
  const median = (v: Summary | number) => (typeof v === 'number' ? v : v.median);
  return METRICS.map((m) => ({ metric: m.name.trim(), values: others.map((o) => ratio(median(m.value(o)), median(m.value(base)))) }));
}

/**
 * Metrics down, images across, then one ratio column per image after the first ("debian+sqlite ÷
 * shell": how many times the first image's value it is). A failed image shows "failed" in its column.
 */
export function compareTable(summaries: readonly BootSummary[]): Table {
  const base = summaries[0];
  const others = summaries.slice(1);
  const header = ['', ...summaries.map((s) => s.label), ...others.map((o) => `${o.label} ÷ ${base.label}`)];
  const ratioRows = ratios(summaries);
  const rows = METRICS.map((m, i) => {
    const cells = summaries.map((s) => {
      if (s.error && m.measured) return 'failed';
      const v = m.value(s);
      return typeof v === 'number' ? m.fmt(v) : formatSummary(v, m.fmt);
    });
    return [m.name, ...cells, ...ratioRows[i].values.map(formatRatio)];
  });
  const runs = Math.max(...summaries.map((s) => s.readyMs.n));
  if (runs > 1) rows.push(['runs', ...summaries.map((s) => String(s.readyMs.n)), ...others.map(() => '')]);
  return { header, rows, align: header.map((_, i) => (i === 0 ? 'left' : 'right')) };
}

/** A table as aligned text with a rule under the header. */
export function renderText(t: Table): string {
  const all = [t.header, ...t.rows];
  const widths = t.header.map((_, c) => Math.max(...all.map((r) => [...(r[c] ?? '')].length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (t.align[c] === 'left' ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(t.header), widths.map((w) => '─'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

/** A table as GitHub markdown (pipes in cells escaped). */
export function renderMarkdown(t: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const line = (r: string[]) => `| ${r.map(esc).join(' | ')} |`;
  const rule = `|${t.align.map((a) => (a === 'left' ? ' :--- ' : ' ---: ')).join('|')}|`;
  return [line(t.header), rule, ...t.rows.map(line)].join('\n');
}
