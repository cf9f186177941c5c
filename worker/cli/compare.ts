// `npm run compare -- <image> <image> [...]`: boots images from images/dist side by side, headless, with
// the browser's machine code, and prints how long each takes to its app's prompt, phase by phase, and
// how big it is, with ratios against the first image.

import { parseArgs } from 'node:util';
import { CliError, compareImages, defaultApp, loadTarget, uniqueLabels, withApp } from './measure.ts';
import { printError, runMain } from './run-main.ts';
import type { Target } from './measure.ts';
import { BootProgress } from './progress.ts';
import { compareTable, renderMarkdown, renderText, summarizeImage } from './table.ts';
import { formatMs } from '../../images/format.ts';

const USAGE = `Usage: npm run compare -- <image> <image> [...] [options]

Boots the images (from images/dist) at once and compares time to the app's prompt and size.
The first image is the base of the ratio columns: list the appliance first.

Options:
  --app <name>      the app a distro image starts at its prompt (default: the first appliance's app)
  --runs <n>        boot each image n times and show medians (default 1)
  --timeout <s>     give up on a boot after s seconds (default 300; 1800 for a distro)
  --markdown        print the table as markdown
  --json            print the results as JSON instead of a table
  -h, --help        this text

Example: npm run compare -- sqlite debian        (debian is timed to its sqlite> prompt)`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      app: { type: 'string' },
      runs: { type: 'string', default: '1' },
      timeout: { type: 'string' },
      markdown: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length < 2) throw new CliError('Name at least two images to compare.', USAGE);
  const runs = positiveInt(values.runs, '--runs');
  const timeoutMs = values.timeout === undefined ? undefined : positiveInt(values.timeout, '--timeout') * 1000;

  const targets = await loadTargets(positionals, values.app);
  const progress = new BootProgress();
  for (const t of targets) progress.start(t.label);
  const results = await compareImages(targets, {
    runs,
    ...(timeoutMs ? { timeoutMs } : {}),
    onStart: (t, run) => run > 0 && progress.start(t.label, `run ${run + 1} of ${runs}`),
    onPhase: (t, mark) => progress.mark(t.label, mark),
    onDone: (t, r) => progress.finish(t.label, r instanceof CliError ? 'failed' : 'ready', r instanceof CliError ? undefined : `prompt at ${formatMs(r.readyMs)}`),
  });
  progress.stop();

  const summaries = results.map((r) => summarizeImage({ label: r.target.label, facts: r.facts, runs: r.runs, ...(r.error ? { error: r.error.message } : {}) }));
  if (values.json) {
    console.log(JSON.stringify(results.map((r, i) => ({ image: r.target.image, label: r.target.label, app: r.facts.app, facts: r.facts, summary: summaries[i], runs: r.runs, error: r.error?.message })), null, 2));
  } else {
    const table = compareTable(summaries);
    console.log(`\n${values.markdown ? renderMarkdown(table) : renderText(table)}\n`);
    console.log(
      [
        `Times are from the machine starting to the app's prompt${runs > 1 ? `; medians of ${runs} runs (min–max)` : ''}. "app" is the time a distro takes to start the app by hand.`,
        'Download: compressed artifacts; stored: raw artifact bytes (kernel, initrd, disk, firmware). 1 MB = 10⁶ bytes.',
        `Booted side by side on one host: each machine slows the others.`,
      ].join('\n'),
    );
  }
  const failed = results.filter((r) => r.error);
  for (const r of failed) printError(r.error!);
  return failed.length ? 1 : 0;
}

async function loadTargets(names: string[], app: string | undefined): Promise<Target[]> {
  const loaded = await Promise.allSettled(names.map((n) => loadTarget(n)));
  const errors = loaded.filter((l): l is PromiseRejectedResult => l.status === 'rejected').map((l) => l.reason as Error);
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new CliError(errors.map((e) => e.message).join('\n'), errors.map((e) => (e as CliError).hint).filter(Boolean).join('\n'));
  const targets = loaded.map((l) => (l as PromiseFulfilledResult<Target>).value);
  const chosen = app ?? defaultApp(targets);
  return uniqueLabels(targets.map((t) => withApp(t, chosen)));
}

function positiveInt(s: string, flag: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`${flag} needs a whole number of at least 1, not "${s}".`);
  return n;
}

runMain(main, USAGE);
