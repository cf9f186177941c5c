// The benchmark's chart: one stacked horizontal bar per image (firmware, kernel, userspace, app) on one
// time axis, as a hand-written SVG. The axis is logarithmic so a one-second appliance and a one-minute
// distro are both readable; each segment spans from where the previous phase ended to where it ended.

import type { Phase } from '../worker/cli/measure.ts';
import { PHASES } from '../worker/cli/measure.ts';
import { formatMs } from '../images/format.ts';

export interface ChartRow {
  label: string;
  /** Smaller text under the label, e.g. `distro, sqlite`. */
  note?: string;
  /** Median duration of each phase, ms. */
  phases: Record<Phase, number>;
  /** Median time to the prompt, ms (printed at the bar's end). */
  total: number;
}

const COLORS: Record<Phase, string> = { firmware: '#8e9aaf', kernel: '#4c78a8', userspace: '#f58518', app: '#54a24b' };
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Ticks at 1, 2 and 5 of each decade between `lo` and `hi` (ms); at 1 and 5 only over more than four decades (labels would collide). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const steps = Math.log10(hi / lo) > 4 ? [1, 5] : [1, 2, 5];
  for (let d = 10 ** Math.floor(Math.log10(lo)); d <= hi; d *= 10) for (const k of steps) if (d * k >= lo && d * k <= hi) out.push(d * k);
  return out;
}

export function phasesSvg(rows: readonly ChartRow[], opts: { title: string; subtitle?: string }): string {
  const width = 960;
  const left = 190;
  const right = 250;
  const top = opts.subtitle ? 92 : 74;
  const rowH = 38;
  const barH = 22;
  const axisH = 40;
  const height = top + rows.length * rowH + axisH;
  const plotW = width - left - right;

  const ends = rows.flatMap((r) => cumulative(r).map((c) => c.end)).filter((v) => v > 0);
  const starts = rows.map((r) => r.phases.firmware).filter((v) => Number.isFinite(v) && v > 0);
  // From a bit under the shortest first phase to the next round value above the longest boot.
  const lo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...starts, ...ends) * 0.8)));
  const hi = niceAbove(Math.max(...ends, lo * 10));
  const x = (ms: number) => left + (plotW * (Math.log10(Math.max(ms, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family='${FONT}'>`);
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  parts.push(`<text x="20" y="30" font-size="18" font-weight="600" fill="#1b1f24">${esc(opts.title)}</text>`);
  if (opts.subtitle) parts.push(`<text x="20" y="50" font-size="12" fill="#57606a">${esc(opts.subtitle)}</text>`);

  // Legend, right after the title block.
  let lx = 20;
  const ly = top - 22;
  for (const p of PHASES) {
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" rx="2" fill="${COLORS[p]}"/>`);
    parts.push(`<text x="${lx + 17}" y="${ly}" font-size="12" fill="#1b1f24">${p}</text>`);
    lx += 30 + p.length * 7;
  }
  parts.push(`<text x="${lx + 10}" y="${ly}" font-size="12" fill="#57606a">time to the app's prompt, log scale</text>`);

  // Grid and axis.
  const plotBottom = top + rows.length * rowH;
  for (const t of logTicks(lo, hi)) {
    const tx = x(t).toFixed(1);
    const major = Math.log10(t) % 1 === 0;
    parts.push(`<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${plotBottom}" stroke="${major ? '#d0d7de' : '#eaeef2'}" stroke-width="1"/>`);
    parts.push(`<text x="${tx}" y="${plotBottom + 18}" font-size="11" fill="#57606a" text-anchor="middle">${esc(tickLabel(t))}</text>`);
  }
  parts.push(`<line x1="${left}" y1="${plotBottom}" x2="${left + plotW}" y2="${plotBottom}" stroke="#8c959f"/>`);

  rows.forEach((r, i) => {
    const y = top + i * rowH + (rowH - barH) / 2;
    const cy = y + barH / 2;
    parts.push(`<text x="${left - 10}" y="${r.note ? cy - 2 : cy + 4}" font-size="13" font-weight="600" fill="#1b1f24" text-anchor="end">${esc(r.label)}</text>`);
    if (r.note) parts.push(`<text x="${left - 10}" y="${cy + 11}" font-size="10.5" fill="#57606a" text-anchor="end">${esc(r.note)}</text>`);
    if (!Number.isFinite(r.total)) {
      parts.push(`<text x="${left + 6}" y="${cy + 4}" font-size="12" fill="#cf222e">no measurement</text>`);
      return;
    }
    // Segments too narrow for their value get it after the bar's total instead.
    const unlabeled: string[] = [];
    for (const seg of cumulative(r)) {
      const x0 = seg.start === 0 ? left : x(seg.start);
      const w = x(seg.end) - x0;
      if (!(w > 0.3)) continue;
      const title = `${r.label}: ${seg.phase} ${formatMs(seg.ms)}`;
      parts.push(`<rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[seg.phase]}"><title>${esc(title)}</title></rect>`);
      const label = formatMs(seg.ms);
      if (w > label.length * 6.2 + 8) parts.push(`<text x="${(x0 + w / 2).toFixed(1)}" y="${cy + 4}" font-size="10.5" fill="#ffffff" text-anchor="middle">${esc(label)}</text>`);
      else unlabeled.push(`${seg.phase} ${label}`);
    }
    const totalX = x(r.total) + 6;
    const total = formatMs(r.total);
    parts.push(`<text x="${totalX.toFixed(1)}" y="${cy + 4}" font-size="12" font-weight="600" fill="#1b1f24">${esc(total)}`);
    if (unlabeled.length) parts.push(`<tspan font-size="10.5" font-weight="400" fill="#57606a"> (${esc(unlabeled.join(', '))})</tspan>`);
    parts.push('</text>');
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function cumulative(r: ChartRow): { phase: Phase; start: number; end: number; ms: number }[] {
  let at = 0;
  const out: { phase: Phase; start: number; end: number; ms: number }[] = [];
  for (const p of PHASES) {
    const ms = r.phases[p];
    if (!Number.isFinite(ms)) continue;
    out.push({ phase: p, start: at, end: at + ms, ms });
    at += ms;
  }
  return out;
}

function niceAbove(ms: number): number {
  const d = 10 ** Math.floor(Math.log10(ms));
  for (const k of [1, 2, 5, 10]) if (d * k >= ms * 1.15) return d * k;
  return d * 20;
}

function tickLabel(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`;
}
