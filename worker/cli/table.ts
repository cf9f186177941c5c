// The compare table: summaries of boot runs per image, with ratios against the first image, rendered
// as aligned text for a terminal or as a markdown table. Pure functions (no machines here).

import type { BootRun, ImageFacts, Phase } from './measure.ts';
import { PHASES } from './measure.ts';
import { ratio, summarize, type Summary } from '../stats.ts';
import { formatBytes, formatCount, formatInteger, formatMs, formatRatio, formatSummary } from '../../images/format.ts';

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
  { name: 'packages', value: (s) => s.facts.packages, fmt: formatInteger },
  { name: 'files', value: (s) => s.facts.files, fmt: formatInteger },
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
