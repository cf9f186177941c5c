// The machine view's machine: one at a time (each is a whole emulated PC), kept while the user looks
// at other views, so coming back finds it where it was and Inspect can read its boot log.

import { untrack } from 'svelte';
import { registerActivity } from './activity.ts';
import { MachineSession } from './machine-session.svelte.ts';

class Machines {
  current = $state<MachineSession | null>(null);
  /** Serial text of the last boot of each image, for Inspect's boot log. */
  logs = $state<Record<string, string>>({});

  /** The session for an image, replacing (and stopping) another image's machine. */
  sessionFor(image: string): MachineSession {
    if (this.current?.label === image) return this.current;
    this.current?.dispose();
    this.current = new MachineSession(image);
    return this.current;
  }

  /** Keeps an image's boot log (called as machines reach their prompt). */
  keepLog(image: string, text: string): void {
    // Called from effects: reading `logs` here must not make them depend on it.
    this.logs = { ...untrack(() => this.logs), [image]: text };
  }
}

export const machines = new Machines();
registerActivity('machine', () => void machines.current?.stop());
