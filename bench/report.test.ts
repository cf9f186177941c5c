import { describe, expect, it } from 'vitest';
import type { BootRun, ImageFacts } from '../worker/cli/measure.ts';
import { busy, chart, chartRows, checkTargets, coldSummary, compareWithTwin, markdown, phaseTable, resultsTable } from './report.ts';
import type { BenchEntry, MachineInfo, Results } from './report.ts';

/** A cold boot with these phase times (ms) and instructions (millions). */
function run(ms: [number, number, number, number], minstr: [number, number, number, number]): BootRun {
  const [firmware, kernel, userspace, app] = ms;
  const [fi, ki, ui, ai] = minstr.map((m) => m * 1e6);
  return {
    readyMs: firmware + kernel + userspace + app,
    loadMs: 100,
    wallMs: firmware + kernel + userspace + app + 400,
    phases: { firmware, kernel, userspace, app },
    phaseInstructions: { firmware: fi, kernel: ki, userspace: ui, app: ai },
    instructions: fi + ki + ui + ai,
    marks: [],
  };
}

const facts = (app: string | undefined, downloadBytes: number, kind: ImageFacts['kind'] = 'appliance'): ImageFacts => ({ kind, ...(app ? { app } : {}), downloadBytes, storedBytes: downloadBytes * 2, packages: 1, files: 200 });

function entry(image: string, role: BenchEntry['role'], f: ImageFacts, node: BootRun[], page?: BootRun[], label = image): BenchEntry {
  return { image, label, role, facts: f, cold: coldSummary(node), ...(page ? { page: coldSummary(page) } : {}) };
}

const shell = entry('shell', 'appliance', facts('shell', 2e6), [run([40, 600, 300, 0], [0.1, 18, 5, 0]), run([50, 700, 350, 0], [0.1, 18.2, 5, 0]), run([45, 610, 300, 0], [0.1, 18.1, 5, 0])], [run([42, 1685, 373, 0], [0.1, 18, 4.9, 0])]);
const stock = entry('shell-stock', 'stock-kernel rung', facts('shell', 6e6), [run([7000, 14000, 800, 0], [100, 300, 5, 0])]);
const sqlite = entry('sqlite', 'appliance', facts('sqlite', 3e6), [run([40, 700, 800, 0], [0.1, 19, 20, 0])], []);
const twin = entry('debian', 'twin', facts('sqlite', 300e6, 'distro'), [run([4000, 9000, 60000, 1000], [90, 300, 2000, 40])], undefined, 'debian+sqlite');

function results(load: number): Results {
  const machine: MachineInfo = { cpu: 'AMD EPYC', cores: 2, memoryBytes: 25.3e9, node: 'v20.20.2', v86: '0.5.462', platform: 'linux x64', browser: 'Chromium 156.0.8078.114', date: '2026-12-01T17:00:00.000Z', loadAverage: { start: load, end: 2.5 } };
  const entries = [shell, stock, sqlite, twin];
  const comparisons = compareWithTwin(entries);
  return { machine, settings: { runs: 3, twinRuns: 1, pageRuns: 1 }, entries, comparisons, targets: checkTargets(entries, comparisons) };
}

describe('bench report', () => {
  it('puts the page beside Node: median to the prompt, "—" when not run, "failed" when no page boot finished', () => {
    const r = results(0.4);
    const t = resultsTable(r.entries, r.comparisons);
    const col = t.header.indexOf('in the page');
    expect(col).toBeGreaterThan(t.header.indexOf('app'));
    const row = (label: string) => t.rows.find((x) => x[0] === label)!;
    expect(row('shell')[2]).toBe('955 ms (940 ms–1.10 s)');
    expect(row('shell')[col]).toBe('2.10 s');
    expect(row('shell-stock')[col]).toBe('—');
    expect(row('sqlite')[col]).toBe('failed');
    expect(row('sqlite').at(-1)).toBe('48×');
  });

  it('lists each phase in time and instructions, for Node and for the page', () => {
    const t = phaseTable(results(0.4).entries);
    expect(t.rows.map((r) => `${r[0]} ${r[1]}`)).toEqual(['shell Node', 'shell page', 'shell-stock Node', 'sqlite Node', 'debian+sqlite Node']);
    const kernel = t.header.indexOf('kernel (time · instructions)');
    expect(t.rows[0][kernel]).toBe('610 ms · 18.1 M');
    expect(t.rows[1][kernel]).toBe('1.69 s · 18.0 M');
    // An appliance starts its app in userspace: no app cell; the twin's app phase is its own.
    const app = t.header.indexOf('app (time · instructions)');
    expect(t.rows[0][app]).toBe('');
    expect(t.rows[4][app]).toBe('1.00 s · 40.0 M');
    expect(t.rows[1].at(-1)).toBe('23.0 M');
  });

  it('checks the page target on the page median, and says by how much it is missed', () => {
    const page = results(0.4).targets.find((c) => c.name === 'shell cold boot to its prompt (page)')!;
    expect(page).toMatchObject({ goal: '≤ 1.30 s', measured: '2.10 s', met: false });
    expect(page.by).toMatch(/^missed by 800 ms/);
    const node = results(0.4).targets.find((c) => c.name === 'shell cold boot to its prompt (Node)')!;
    expect(node).toMatchObject({ measured: '955 ms', met: true });
  });

  it('says "busy host" when other work ran as the bench began, and only then', () => {
    expect(busy(results(1.5).machine)).toBe(true);
    expect(markdown(results(1.5))).toContain('Busy host: the load average was 1.5 on 2 cores');
    expect(chart(results(1.5))).toContain('busy host (load 1.5)');
    expect(busy(results(0.9).machine)).toBe(false);
    expect(markdown(results(0.9))).not.toMatch(/busy host/i);
  });

  it('writes markdown with both tables and the chart with a page bar under its Node bar', () => {
    const md = markdown(results(0.4));
    expect(md).toContain('Chromium 156.0.8078.114 (headless) for the page column');
    expect(md).toContain('## Phases: Node and the page');
    expect(md).toContain('| shell | page | 2.10 s | 42 ms · 0.1 M | 1.69 s · 18.0 M | 373 ms · 4.9 M |  | 23.0 M |');
    expect(chartRows(results(0.4).entries).map((r) => r.label)).toEqual(['shell', 'shell (page)', 'shell-stock', 'sqlite', 'debian+sqlite']);
  });

  it('renders results written before the page column (no page, no phase instructions)', () => {
    const old = results(0.4);
    const { phaseInstructions: _dropped, ...cold } = shell.cold;
    old.entries = [{ ...shell, cold, page: undefined }];
    old.settings = { runs: 3, twinRuns: 1 };
    const t = phaseTable(old.entries);
    expect(t.rows).toHaveLength(1);
    expect(t.rows[0][3]).toBe('45 ms · —');
    expect(markdown(old)).not.toContain('per image in the page');
  });
});
