// The browser column of `npm run bench` (bench/run.ts starts it as a child process): cold boots of each
// image in headless Chromium through the lab page itself (the build `vite preview` serves, opened at
// `#/machine/<image>` as a person would), measured by the machine's own phase marks, the same events
// the Node host receives. The page is not changed: an init script only listens to the messages the
// page's machine workers post. Prints one JSON object (PageBenchResult) on stdout; progress on stderr.
//
//   npx tsx test/e2e/page-bench.ts --images shell,sqlite --runs 3 [--timeout 300]

import { parseArgs } from 'node:util';
import type { PageBenchResult } from '../../bench/report.ts';
import type { BootRun } from '../../worker/cli/measure.ts';
import { phaseDurations } from '../../worker/phases.ts';
import type { PhaseMark } from '../../worker/protocol.ts';
import { openLab, requireImage, stopServer } from './harness.ts';
import { runMain } from '../../worker/cli/run-main.ts';

type PageBenchEntry = PageBenchResult['entries'][number];

declare global {
  interface Window {
    /** Phase marks each machine worker of this page posted, one list per worker, in creation order. */
    __whittleBenchPhases?: PhaseMark[][];
  }
}

/** Wraps the page's Worker constructor to record the `phase` events machine workers post (nothing else changes). */
function recordPhases(): void {
  const Native = window.Worker;
  const lists: PhaseMark[][] = [];
  window.__whittleBenchPhases = lists;
  window.Worker = class extends Native {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      const marks: PhaseMark[] = [];
      lists.push(marks);
      this.addEventListener('message', (e: MessageEvent) => {
        const m = e.data as { event?: string; data?: PhaseMark } | null;
        if (m && m.event === 'phase' && m.data) marks.push(m.data);
      });
    }
  };
}

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { images: { type: 'string' }, runs: { type: 'string', default: '3' }, timeout: { type: 'string', default: '300' } } });
  const images = (values.images ?? 'shell').split(',').filter(Boolean);
  const runs = Math.max(1, Number(values.runs) || 1);
  const timeoutMs = Math.max(1, Number(values.timeout) || 300) * 1000;
  const lab = await openLab();
  const result: PageBenchResult = { browser: `Chromium ${lab.context.browser()?.version() ?? '(version unknown)'}`, entries: [] };
  await lab.context.addInitScript(recordPhases);
  try {
    for (const image of images) {
      const entry: PageBenchEntry = { image, runs: [] };
      result.entries.push(entry);
      try {
        await requireImage(image);
        for (let i = 0; i < runs; i++) {
          // A new page per boot: a fresh worker, as when a person opens the machine's address.
          const page = await lab.context.newPage();
          try {
            const started = performance.now();
            await page.goto(`${lab.url}#/machine/${encodeURIComponent(image)}`);
            let marks: PhaseMark[] = [];
            while (!marks.some((m) => m.phase === 'ready')) {
              if (performance.now() - started > timeoutMs) throw new Error(`${image}: no ready mark in the page after ${timeoutMs / 1000} s (phases seen: ${marks.map((m) => m.phase).join(', ') || 'none'})`);
              await page.waitForTimeout(50);
              marks = await page.evaluate(() => window.__whittleBenchPhases?.at(-1) ?? []);
              const failed = await page.locator('[data-status="failed"]').count();
              if (failed) throw new Error(`${image}: the page reports the machine failed: ${(await page.locator('main').innerText()).slice(0, 400)}`);
            }
            const wallMs = performance.now() - started;
            const run: BootRun = { ...phaseDurations(marks), loadMs: marks.find((m) => m.phase === 'load')?.at ?? NaN, wallMs, marks };
            entry.runs.push(run);
            log(`${image} (page): cold boot ${i + 1}/${runs}: prompt at ${Math.round(run.readyMs)} ms (${Object.entries(run.phases).map(([p, ms]) => `${p} ${Math.round(ms)} ms`).join(', ')})`);
          } finally {
            await page.close();
          }
        }
      } catch (e) {
        log(`${image} (page): ${(e as Error).message}`);
        entry.error = { message: (e as Error).message, hint: 'Run the browser tests for this image (npm run test:e2e) to see the page, or skip the column: --no-browser.' };
      }
    }
  } finally {
    await lab.close();
    await stopServer();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

runMain(main);
