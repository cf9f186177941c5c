import { describe, expect, it } from 'vitest';
import type { BootRun, ImageFacts } from './measure.ts';
import { compareTable, ratios, renderMarkdown, renderText, summarizeImage } from './table.ts';

const facts = (downloadBytes: number, packages: number): ImageFacts => ({ kind: 'appliance', app: 'shell', downloadBytes, storedBytes: downloadBytes * 2, packages, files: packages * 10 });

function run(readyMs: number): BootRun {
  const q = readyMs / 4;
  return {
    readyMs,
    loadMs: 100,
    wallMs: readyMs + 300,
    phases: { firmware: q, kernel: q, userspace: q, app: q },
    phaseInstructions: { firmware: 1e6, kernel: 1e6, userspace: 1e6, app: 1e6 },
    instructions: 4e6,
    marks: [],
  };
}

describe('compare table', () => {
  const shell = summarizeImage({ label: 'shell', facts: facts(2e6, 1), runs: [run(1000), run(1200), run(800)] });
  const debian = summarizeImage({ label: 'debian+shell', facts: { ...facts(200e6, 130), kind: 'distro' }, runs: [run(60_000), run(62_000), run(58_000)] });

  it('summarizes runs into medians', () => {
    expect(shell.readyMs).toEqual({ median: 1000, min: 800, max: 1200, n: 3 });
    expect(shell.phases.kernel.median).toBe(250);
  });

  it('takes ratios against the first image', () => {
    const r = Object.fromEntries(ratios([shell, debian]).map((x) => [x.metric, x.values[0]]));
    expect(r['to app prompt']).toBe(60);
    expect(r.download).toBe(100);
    expect(r.packages).toBe(130);
  });

  it('has metrics down, images across and a ratio column per other image', () => {
    const t = compareTable([shell, debian]);
    expect(t.header).toEqual(['', 'shell', 'debian+shell', 'debian+shell ÷ shell']);
    const names = t.rows.map((r) => r[0].trim());
    expect(names.slice(0, 5)).toEqual(['to app prompt', 'firmware', 'kernel', 'userspace', 'app']);
    expect(names).toEqual(expect.arrayContaining(['guest instructions', 'download', 'stored (raw artifacts)', 'packages', 'files', 'runs']));
    const prompt = t.rows[0];
    expect(prompt).toEqual(['to app prompt', '1.00 s (800 ms–1.20 s)', '1 min (58.0 s–1 min 2 s)', '60×']);
  });

  it('marks a failed image and keeps its manifest facts', () => {
    const failed = summarizeImage({ label: 'debian', facts: facts(200e6, 130), runs: [], error: 'timed out' });
    const t = compareTable([shell, failed]);
    const row = (name: string) => t.rows.find((r) => r[0].trim() === name)!;
    expect(row('to app prompt').slice(2)).toEqual(['failed', '—']);
    expect(row('packages').slice(1)).toEqual(['1', '130', '130×']);
  });

  it('renders aligned text and markdown', () => {
    const t = compareTable([shell, debian]);
    const lines = renderText(t).split('\n');
    expect(lines).toHaveLength(t.rows.length + 2);
    expect(lines[1]).toMatch(/^─+ {2}─+/);
    // Right-aligned columns end at the same place on every line.
    const end = lines[0].length;
    expect(lines.filter((l) => l.length === end).length).toBeGreaterThan(t.rows.length / 2);
    const md = renderMarkdown(t).split('\n');
    expect(md[0]).toBe('|  | shell | debian+shell | debian+shell ÷ shell |');
    expect(md[1]).toBe('| :--- | ---: | ---: | ---: |');
    expect(md).toHaveLength(t.rows.length + 2);
  });
});
