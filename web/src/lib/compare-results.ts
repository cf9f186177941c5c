// The compare table's numbers: per image, medians over runs of the time to the app's prompt and the
// guest instructions, with sizes and counts from the manifest, and the ratios between images.

import { downloadSize, type Manifest, rawSize } from '../../../images/manifest.ts';
import { PHASES, type Phase } from '../../../worker/phases.ts';
import { ratio, type Summary, summarize } from '../../../worker/stats.ts';

export interface RunResult {
  /** Milliseconds to the app's prompt (the `ready` mark). */
  ms: number;
  instructions: number;
  /** Milliseconds per phase. */
  phases: Partial<Record<Phase, number>>;
}

export interface ResultRow {
  name: string;
  /** Runs finished (failed runs are left out). */
  runs: number;
  time: Summary;
  instructions: Summary;
  phases: { phase: Phase; ms: number }[];
  download: number;
  unpacked: number;
  packages: number;
  files: number;
}

export type Metric = 'time' | 'instructions' | 'download' | 'unpacked' | 'packages' | 'files';

export function resultRow(manifest: Manifest, runs: readonly RunResult[]): ResultRow {
  return {
    name: manifest.name,
    runs: runs.length,
    time: summarize(runs.map((r) => r.ms)),
    instructions: summarize(runs.map((r) => r.instructions)),
    // Median of each phase: the bars may not add up to the median total exactly, which is honest.
    phases: PHASES.flatMap((phase) => {
      const values = runs.map((r) => r.phases[phase]).filter((v): v is number => v !== undefined);
      return values.length ? [{ phase, ms: summarize(values).median }] : [];
    }),
    download: downloadSize(manifest),
    unpacked: rawSize(manifest),
    packages: manifest.packages.length,
    files: manifest.fileCount,
  };
}

export function metricValue(row: ResultRow, metric: Metric): number {
  switch (metric) {
    case 'time':
      return row.time.median;
    case 'instructions':
      return row.instructions.median;
    default:
      return row[metric];
  }
}

/**
 * The ratio for one metric: each other row over the base row (the first, normally the appliance).
 * With two rows this is the single number the table shows as "debian ÷ shell".
 */
export function ratios(rows: readonly ResultRow[], metric: Metric): number[] {
  if (rows.length === 0) return [];
  const base = metricValue(rows[0], metric);
  return rows.slice(1).map((r) => ratio(metricValue(r, metric), base));
}
