// Boots an image headless to its app's prompt (or restores it there) and collects what `npm run
// compare` and `npm run bench` report: phase times, guest instructions and the image's sizes.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HintedError } from '../../images/hinted-error.ts';
import { downloadSize, rawSize } from '../../images/manifest.ts';
import type { Manifest, ScriptStep } from '../../images/manifest.ts';
import { loadManifest, NodeMachine } from '../node/host.ts';
import type { SavedState } from '../node/host.ts';
import { WaitTimedOut } from '../errors.ts';
import { phaseDurations } from '../phases.ts';
import type { Phase } from '../phases.ts';
import type { PhaseMark } from '../protocol.ts';

export const DIST_DIR = fileURLToPath(new URL('../../images/dist/', import.meta.url));

// The boot phases the tables show and their durations: one computation with the page (worker/phases.ts).
export { currentPhase, phaseDurations, PHASES } from '../phases.ts';
export type { Phase } from '../phases.ts';

/** `timed-out`: a time limit ran out (a longer `--timeout` may help); `failed`: anything else. */
export type CliErrorCode = 'failed' | 'timed-out';

/** An error a person can act on: what went wrong and what to do. */
export class CliError extends HintedError<CliErrorCode> {
  /** Technical detail (the last serial output) for the log, not the headline. */
  readonly detail: string | undefined;
  constructor(message: string, hint?: string, options?: ErrorOptions & { detail?: string; code?: CliErrorCode }) {
    super(options?.code ?? 'failed', message, { ...(hint === undefined ? {} : { hint }), ...(options?.cause === undefined ? {} : { cause: options.cause }) });
    this.name = 'CliError';
    this.detail = options?.detail;
  }
}

/** An image to boot, and the app a distro image starts by hand at its prompt. */
export interface Target {
  image: string;
  dir: string;
  manifest: Manifest;
  /** The app typed at a distro's prompt (`BootOptions.app`); undefined for appliances. */
  app?: string;
  /** How tables name it: `shell`, `debian+sqlite`. */
  label: string;
}

/** What an image is, from its manifest: the sizes and counts the tables compare. */
export interface ImageFacts {
  kind: Manifest['kind'];
  /** The app at its prompt: the appliance's own, or the one a distro starts; undefined for a bare shell prompt. */
  app?: string;
  /** Bytes to download (compressed artifacts). */
  downloadBytes: number;
  /** Raw artifact bytes (what the guest sees: kernel, initrd, disk, firmware). */
  storedBytes: number;
  packages: number;
  files: number;
  stockKernel?: boolean;
}

export interface BootRun {
  /** Milliseconds from the machine starting to execute to the app's prompt. */
  readyMs: number;
  /** Milliseconds loading and verifying artifacts before the machine started. */
  loadMs: number;
  /** Milliseconds the caller waited, from asking for the boot (thread start included) to the prompt. */
  wallMs: number;
  /** Duration of each phase, ms. */
  phases: Record<Phase, number>;
  /** Guest instructions retired in each phase. */
  phaseInstructions: Record<Phase, number>;
  /** Guest instructions retired up to the prompt. */
  instructions: number;
  marks: PhaseMark[];
}

export interface RestoreRun {
  /** Milliseconds from asking for the restore (warm thread) until the probe line's answer arrived. */
  ms: number;
  /** Milliseconds v86 took to load the state (the `restored` mark). */
  restoredMs: number;
  /** Milliseconds loading artifacts (firmware, disk) before that. */
  loadMs: number;
}

export function imageDir(name: string, dist = DIST_DIR): string {
  return resolve(dist, name);
}

/** Reads an image's manifest, with a hint to build it when it is missing. */
export async function loadTarget(name: string, opts: { app?: string; dist?: string } = {}): Promise<Target> {
  const dir = imageDir(name, opts.dist);
  if (!existsSync(join(dir, 'manifest.json'))) {
    throw new CliError(`No image "${name}": ${join(dir, 'manifest.json')} does not exist.`, `Build it: npm run images -- build ${name}`);
  }
  let manifest: Manifest;
  try {
    manifest = await loadManifest(dir);
  } catch (e) {
    throw new CliError(`Image "${name}" cannot be read: ${(e as Error).message}`, `Rebuild it: npm run images -- build ${name}`, { cause: e });
  }
  return withApp({ image: name, dir, manifest, label: name }, opts.app);
}

/** Sets the app a distro starts (checked against its `apps`); appliances always run their own app. */
export function withApp(t: Target, app: string | undefined): Target {
  if (t.manifest.kind !== 'distro' || !app) return { ...t, app: undefined, label: t.image };
  const names = (t.manifest.apps ?? []).map((a) => a.name);
  if (!names.includes(app)) {
    throw new CliError(`Image "${t.image}" cannot start the app "${app}".`, `It can start: ${names.join(', ') || 'none'}.`);
  }
  return { ...t, app, label: `${t.image}+${app}` };
}

/**
 * The app distros should start when none was asked for: the first appliance's app, so `compare sqlite
 * debian` times debian to its `sqlite>` prompt. Undefined when there is no appliance to match.
 */
export function defaultApp(targets: readonly Target[]): string | undefined {
  return targets.find((t) => t.manifest.kind === 'appliance' && t.manifest.app)?.manifest.app;
}

/** Gives repeated labels a number (`shell`, `shell #2`) so rows stay apart. */
export function uniqueLabels(targets: readonly Target[]): Target[] {
  const seen = new Map<string, number>();
  return targets.map((t) => {
    const n = (seen.get(t.label) ?? 0) + 1;
    seen.set(t.label, n);
    return n === 1 ? t : { ...t, label: `${t.label} #${n}` };
  });
}

export function imageFacts(t: Target): ImageFacts {
  const m = t.manifest;
  return {
    kind: m.kind,
    ...((t.app ?? m.app) ? { app: t.app ?? m.app } : {}),
    downloadBytes: downloadSize(m),
    storedBytes: rawSize(m),
    packages: m.packages.length,
    files: m.fileCount,
    ...(m.kernel ? { stockKernel: m.kernel.stock } : {}),
  };
}

export interface BootToPromptOptions {
  /** Give up after this long (ms), counted from asking for the boot. */
  timeoutMs: number;
  onPhase?: (mark: PhaseMark) => void;
  /** Keep the machine running at its prompt (the caller stops it); default: stop it. */
  keep?: boolean;
}

/** Default time limits: appliances boot in seconds, a distro in a minute or more (several on a busy host). */
export function defaultTimeoutMs(t: Target): number {
  return t.manifest.kind === 'distro' ? 1_800_000 : 300_000;
}

/** Cold-boots `t` to its app's prompt and measures it; rejects with a CliError on failure or timeout. */
export async function bootToPrompt(t: Target, opts: BootToPromptOptions): Promise<{ run: BootRun; machine?: NodeMachine }> {
  // systemd with `quiet` may print nothing for a long while: only the overall limit applies.
  const machine = new NodeMachine(t.dir, t.manifest, { stallTimeoutMs: opts.timeoutMs, ...(t.app ? { app: t.app } : {}) });
  if (opts.onPhase) machine.on('phase', opts.onPhase);
  const started = performance.now();
  let ok = false;
  try {
    await withTimeout(machine.boot(), opts.timeoutMs, `${t.label}: loading took longer than ${opts.timeoutMs / 1000} s`);
    await machine.ready(Math.max(1, opts.timeoutMs - (performance.now() - started)));
    const wallMs = performance.now() - started;
    const marks = [...machine.phases];
    const load = marks.find((m) => m.phase === 'load');
    ok = true;
    return { run: { ...phaseDurations(marks), loadMs: load?.at ?? NaN, wallMs, marks }, ...(opts.keep ? { machine } : {}) };
  } catch (e) {
    throw bootFailure(t, machine.output, e);
  } finally {
    if (!ok || !opts.keep) await machine.stop();
  }
}

/** Why a boot failed, for a person; a time limit that ran out (told by class or code) says so. */
export function bootFailure(t: Target, output: string, e: unknown): CliError {
  const tail = output.slice(-1500);
  const timedOut = e instanceof WaitTimedOut || (e instanceof CliError && e.code === 'timed-out');
  const hint = timedOut
    ? `Give it longer (--timeout seconds), or boot it alone to watch: the machine may be slow on a busy host.`
    : ((e instanceof HintedError ? e.hint : undefined) ?? `Check the image: npm run images -- build ${t.image}`);
  return new CliError(`${t.label}: the boot ${timedOut ? 'timed out' : 'failed'}: ${e instanceof Error ? e.message : String(e)}`, hint, {
    cause: e,
    code: timedOut ? 'timed-out' : 'failed',
    ...(tail ? { detail: `last serial output:\n${tail}` } : {}),
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new CliError(message, undefined, { code: 'timed-out' })), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The line typed after a restore to prove the guest answers: a shell `echo` at a shell prompt, the
 * app's first smoke step at an app's prompt (an `echo` would not mean anything to sqlite).
 */
export function probeStep(t: Target): ScriptStep {
  const app = t.app ?? t.manifest.app;
  if (!app || app === 'shell') return { send: 'echo whittle$((6*7))', expect: 'whittle42' };
  const smoke = t.app ? t.manifest.apps?.find((a) => a.name === t.app)?.smoke : t.manifest.smoke;
  const step = smoke?.[0];
  if (!step) throw new CliError(`Image "${t.image}" has no smoke step for ${app} to probe a restored machine with.`, `Rebuild it: npm run images -- build ${t.image}`);
  return step;
}

/**
 * Restores `state` `runs` times on one warm machine thread and times each until the probe line is
 * answered. The thread is started before timing: starting a Node worker (and its TypeScript loader) is
 * the harness's cost, not the machine's; the browser keeps its worker too.
 */
export async function measureRestores(t: Target, state: SavedState, runs: number, opts: { timeoutMs: number; onRun?: (i: number) => void }): Promise<RestoreRun[]> {
  const machine = new NodeMachine(t.dir, t.manifest, { stallTimeoutMs: opts.timeoutMs, ...(t.app ? { app: t.app } : {}) });
  const probe = { ...probeStep(t), timeout: Math.ceil(opts.timeoutMs / 1000) };
  const out: RestoreRun[] = [];
  try {
    await machine.connect();
    for (let i = 0; i < runs; i++) {
      opts.onRun?.(i);
      const started = performance.now();
      await withTimeout(machine.restore(state), opts.timeoutMs, `${t.label}: restoring took longer than ${opts.timeoutMs / 1000} s`);
      const result = await machine.runScript([probe]);
      const ms = performance.now() - started;
      if (!result.ok) throw new Error(`the restored machine did not answer ${JSON.stringify(probe.send)}: ${result.message ?? ''}`);
      const mark = (name: PhaseMark['phase']) => machine.phases.find((m) => m.phase === name)?.at ?? NaN;
      out.push({ ms, restoredMs: mark('restored'), loadMs: mark('load') });
    }
    return out;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${t.label}: restoring the saved state failed: ${(e as Error).message}`, 'Boot the image again; if it repeats, rebuild it.', { cause: e, detail: `last serial output:\n${machine.output.slice(-1500)}` });
  } finally {
    await machine.stop();
  }
}

export interface CompareOptions {
  runs: number;
  /** Per-image limit (ms); default `defaultTimeoutMs`. */
  timeoutMs?: number;
  onStart?: (t: Target, run: number) => void;
  onPhase?: (t: Target, mark: PhaseMark) => void;
  onDone?: (t: Target, result: BootRun | CliError) => void;
}

/**
 * Boots all targets at once, `runs` times, each in its own machine; an image that fails is left out of
 * later runs. Never rejects for a failed boot: the result carries the error.
 */
export async function compareImages(targets: readonly Target[], opts: CompareOptions): Promise<{ target: Target; facts: ImageFacts; runs: BootRun[]; error?: CliError }[]> {
  const results = targets.map((target) => ({ target, facts: imageFacts(target), runs: [] as BootRun[], error: undefined as CliError | undefined }));
  for (let run = 0; run < opts.runs; run++) {
    await Promise.all(
      results
        .filter((r) => !r.error)
        .map(async (r) => {
          const t = r.target;
          opts.onStart?.(t, run);
          try {
            const { run: boot } = await bootToPrompt(t, { timeoutMs: opts.timeoutMs ?? defaultTimeoutMs(t), onPhase: (m) => opts.onPhase?.(t, m) });
            r.runs.push(boot);
            opts.onDone?.(t, boot);
          } catch (e) {
            r.error = e instanceof CliError ? e : new CliError(`${t.label}: ${(e as Error).message}`, undefined, { cause: e });
            opts.onDone?.(t, r.error);
          }
        }),
    );
  }
  return results.map((r) => (r.error ? r : { target: r.target, facts: r.facts, runs: r.runs }));
}
