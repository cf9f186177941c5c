// A race: two or more images booted at once, each in its own worker, N times; per run the time to each
// image's app prompt and its phases, summarised as medians.

import type { Manifest } from '../../../images/manifest.ts';
import { type ResultRow, resultRow, type RunResult } from '../lib/compare-results.ts';
import { phaseSegments } from '../../../worker/phases.ts';
import { isAbort, toUserError, type UserError } from '../lib/user-error.ts';
import type { ImageEntry, Library } from './library.svelte.ts';
import { registerActivity, takeOver } from './activity.ts';
import { MachineSession } from './machine-session.svelte.ts';
import { machines } from './machines.svelte.ts';

/** A full distro boots in about a minute and a half in v86 on an idle host; give busy hosts room. */
const READY_TIMEOUT_MS = 600_000;

export class Lane {
  readonly session: MachineSession;
  runs = $state<RunResult[]>([]);
  error = $state<UserError | null>(null);

  constructor(
    readonly entry: ImageEntry,
    /** The distro app this lane starts by hand (BootOptions.app), if any. */
    readonly app: string | undefined,
  ) {
    this.session = new MachineSession(entry.name);
  }

  get manifest(): Manifest {
    return this.entry.manifest;
  }

  get row(): ResultRow {
    return resultRow(this.manifest, this.runs);
  }
}

/** The app an appliance runs, and which distros can start it by hand. */
export function appFor(lanes: readonly ImageEntry[]): string | undefined {
  return lanes.find((e) => e.manifest.kind === 'appliance' && e.manifest.app)?.manifest.app;
}

/** The default pair: the first appliance whose app the distro twin can run, and the twin. */
export function defaultPair(entries: readonly ImageEntry[]): string[] {
  const twin = entries.find((e) => e.manifest.kind === 'distro');
  const appliances = entries.filter((e) => e.manifest.kind === 'appliance');
  if (!twin) return appliances.slice(0, 2).map((e) => e.name);
  const apps = new Set((twin.manifest.apps ?? []).map((a) => a.name));
  const match = appliances.find((e) => e.name === 'shell') ?? appliances.find((e) => e.manifest.app && apps.has(e.manifest.app)) ?? appliances[0];
  return match ? [match.name, twin.name] : [twin.name];
}

export class Compare {
  lanes = $state<Lane[]>([]);
  runsWanted = $state(1);
  /** 1-based number of the run in progress (0 when idle). */
  run = $state(0);
  running = $state(false);
  error = $state<UserError | null>(null);
  #abort: AbortController | undefined;

  /** Sets up lanes for these images (stopping any previous race). */
  prepare(library: Library, names: readonly string[]): void {
    this.stop();
    this.error = null;
    const entries = names.map((n) => library.find(n)).filter((e): e is ImageEntry => e !== undefined);
    const missing = names.filter((n) => !library.find(n));
    if (missing.length) this.error = { message: `Not in the library: ${missing.join(', ')}.`, hint: 'Build or import these images, or pick others.' };
    const app = appFor(entries);
    this.lanes = entries.map((e) => {
      const canRun = e.manifest.kind === 'distro' && app && e.manifest.apps?.some((a) => a.name === app);
      return new Lane(e, canRun ? app : undefined);
    });
  }

  /** Boots every lane at once, `runs` times; stops early on cancel. */
  async start(runs: number): Promise<void> {
    if (this.running || this.lanes.length === 0) return;
    takeOver('compare');
    this.runsWanted = runs;
    this.running = true;
    this.error = null;
    for (const l of this.lanes) {
      l.runs = [];
      l.error = null;
    }
    const abort = new AbortController();
    this.#abort = abort;
    try {
      for (let i = 1; i <= runs && !abort.signal.aborted; i++) {
        this.run = i;
        await Promise.all(this.lanes.map((l) => this.#race(l, abort.signal)));
      }
    } finally {
      this.running = false;
      this.run = 0;
      this.#abort = undefined;
    }
  }

  async #race(lane: Lane, signal: AbortSignal): Promise<void> {
    const how = lane.entry.bootSource;
    if (!how) {
      lane.error = { message: `${lane.entry.name} cannot be booted here.`, hint: 'Store or import it again.' };
      return;
    }
    try {
      await lane.session.boot({ ...how, ...(lane.app ? { app: lane.app } : {}) });
      const ready = await lane.session.whenReady(READY_TIMEOUT_MS, signal);
      const phases: RunResult['phases'] = {};
      for (const s of phaseSegments(lane.session.phases, { withApp: Boolean(lane.app) })) phases[s.phase] = s.end - s.start;
      lane.runs = [...lane.runs, { ms: ready.at, instructions: ready.instructions, phases }];
      machines.keepLog(lane.entry.name, lane.session.text);
    } catch (e) {
      if (isAbort(e)) return;
      lane.error = lane.session.error ?? toUserError(e, `Booting ${lane.entry.name}`);
    }
  }

  /** Cancels the race; machines that reached their prompt keep running. */
  cancel(): void {
    this.#abort?.abort();
  }

  /** Cancels and stops every machine. */
  stop(): void {
    this.cancel();
    for (const l of this.lanes) l.session.dispose();
  }
}

export const compare = new Compare();
registerActivity('compare', () => compare.stop());
