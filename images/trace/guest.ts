// What the builder needs of a running guest to trace and verify an appliance. images/ is the bottom
// layer and cannot import the machine code (worker/): the caller hands in a GuestBooter, and
// worker/node/guest.ts implements it with the same headless machine the boot tests and the lab use.

import type { ScriptStep } from '../manifest.ts';

export interface GuestScriptResult {
  ok: boolean;
  transcript: string;
  /** 0-based index of the step that failed. */
  failedStep?: number;
  message?: string;
}

export interface GuestSession {
  /** Resolves at the image's ready marker. */
  ready(timeoutMs: number): Promise<void>;
  /** Runs steps on the serial console through the machine's own script runner. */
  runScript(steps: ScriptStep[]): Promise<GuestScriptResult>;
  /**
   * Types a line into the control shell on the virtio console (only with `control: true`) and
   * resolves with its output up to and including `until`.
   */
  control(line: string, until: string, timeoutMs: number): Promise<string>;
  /** The serial console's text so far (for error messages). */
  readonly output: string;
  stop(): Promise<void>;
}

export interface GuestBootOptions {
  /** Add the virtio console the trace's control shell runs on. */
  control?: boolean;
  /** Words appended to the image's kernel command line (e.g. `whittle.probe`, images/init.ts). */
  cmdline?: string;
  /** Copy the guest's serial output here (e.g. process.stderr under WHITTLE_DEBUG). */
  echo?: { write(chunk: Uint8Array): unknown };
}

/** Boots the image built in `dir` (manifest.json and artifacts); resolves once the machine runs. */
export type GuestBooter = (dir: string, opts: GuestBootOptions) => Promise<GuestSession>;
