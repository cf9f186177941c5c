// `npm run compare`'s machinery on a real pair of boots: shell beside shell, both measured from the
// browser's machine code in worker threads, summarized and tabled with ratios near 1.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareImages, imageDir, loadTarget, uniqueLabels, CliError } from '../../worker/cli/measure.ts';
import type { PhaseMark } from '../../worker/protocol.ts';
import { compareTable, ratios, renderText, summarizeImage } from '../../worker/cli/table.ts';

type Results = Awaited<ReturnType<typeof compareImages>>;

describe('compare shell with shell', () => {
  let results: Results;
  const seen: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(imageDir('shell'), 'manifest.json'))) throw new Error('images/dist/shell is missing: build it with npm run images -- build shell');
    const shell = await loadTarget('shell');
    const targets = uniqueLabels([shell, shell]);
    results = await compareImages(targets, { runs: 1, timeoutMs: 240_000, onPhase: (t, m: PhaseMark) => seen.push(`${t.label} ${m.phase}`) });
  }, 300_000);

  it('boots both to the prompt, phases in order', () => {
    expect(results.map((r) => r.target.label)).toEqual(['shell', 'shell #2']);
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.runs).toHaveLength(1);
      const [run] = r.runs;
      const order = run.marks.map((m) => m.phase);
      expect(order).toEqual(['load', 'firmware', 'kernel', 'userspace', 'ready']);
      const ats = run.marks.filter((m) => m.phase !== 'load').map((m) => m.at);
      expect([...ats].sort((a, b) => a - b)).toEqual(ats);
      expect(run.readyMs).toBeGreaterThan(0);
      expect(run.phases.firmware + run.phases.kernel + run.phases.userspace + run.phases.app).toBeCloseTo(run.readyMs, 0);
      expect(run.phases.app).toBe(0);
      expect(run.instructions).toBeGreaterThan(1e6);
      expect(run.wallMs).toBeGreaterThanOrEqual(run.readyMs);
    }
    expect(seen).toContain('shell #2 ready');
  });

  it('tables both rows with ratios near 1', () => {
    const summaries = results.map((r) => summarizeImage({ label: r.target.label, facts: r.facts, runs: r.runs }));
    const r = Object.fromEntries(ratios(summaries).map((x) => [x.metric, x.values[0]]));
    // The same image: sizes are equal; guest instructions are near equal (timer interrupts differ).
    expect(r.download).toBe(1);
    expect(r.files).toBe(1);
    expect(r['guest instructions']).toBeGreaterThan(0.8);
    expect(r['guest instructions']).toBeLessThan(1.25);
    // Wall times of two machines sharing a busy host: the same order of magnitude.
    expect(r['to app prompt']).toBeGreaterThan(0.33);
    expect(r['to app prompt']).toBeLessThan(3);
    const table = compareTable(summaries);
    expect(table.header.slice(1)).toEqual(['shell', 'shell #2', 'shell #2 ÷ shell']);
    const text = renderText(table);
    console.log(text);
    expect(text).toMatch(/^download +(\d\.\d\d MB) +\1 +1\.0×$/m);
  });

  it('refuses a missing image with the command that builds it', async () => {
    await expect(loadTarget('no-such-image')).rejects.toThrow(CliError);
    await expect(loadTarget('no-such-image')).rejects.toMatchObject({ hint: 'Build it: npm run images -- build no-such-image' });
  });
});
