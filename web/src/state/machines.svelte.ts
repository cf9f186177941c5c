// The machine view's machines, kept while the user looks at other views, so coming back finds them where
// they were and Inspect can read their boot log. One at a time (each is a whole emulated PC), except on
// the lab network: a machine there keeps running when another image is opened, so a client in one machine
// can talk to a server in another (the tab's network, drawn by NetworkPanel).

import { untrack } from 'svelte';
import { registerActivity } from './activity.ts';
import { MachineSession } from './machine-session.svelte.ts';

/** Machines of one tab on the lab network at once: each takes a core of its own. */
export const MAX_LAB_MACHINES = 4;

const live = (s: MachineSession) => s.status === 'loading' || s.status === 'running' || s.status === 'paused';
/** Booted on the lab network and not stopped. */
export const onLab = (s: MachineSession): boolean => s.request?.network?.mode === 'lab' && live(s);

class Machines {
  current = $state<MachineSession | null>(null);
  /** Machines left running on the lab network when another image was opened (the current one is not here). */
  kept = $state<MachineSession[]>([]);
  /** Serial text of the last boot of each image, for Inspect's boot log. */
  logs = $state<Record<string, string>>({});

  /** The session for an image: the current one, one kept on the lab, or a new one (stopping the current unless it is on the lab). */
  sessionFor(image: string): MachineSession {
    if (this.current?.label === image) return this.current;
    const prev = this.current;
    let kept = this.kept.filter((s) => s.label !== image && onLab(s));
    if (prev && onLab(prev)) {
      kept = [...kept, prev];
      // The oldest machines leave first when the lab would hold too many.
      while (kept.length >= MAX_LAB_MACHINES) kept.shift()!.dispose();
    } else prev?.dispose();
    const next = this.kept.find((s) => s.label === image && onLab(s)) ?? new MachineSession(image);
    this.kept = kept;
    this.current = next;
    return next;
  }

  /** Every machine of this tab on the lab network, the current one first. */
  get lab(): MachineSession[] {
    return [this.current, ...this.kept].filter((s): s is MachineSession => s !== null && onLab(s));
  }

  /** Lab addresses in use in this tab, but `except`'s. */
  labAddresses(except?: MachineSession): Set<string> {
    return new Set(this.lab.flatMap((s) => (s !== except && s.request?.network?.mode === 'lab' ? [s.request.network.address] : [])));
  }

  /** Stops every machine of the view (another activity takes the cores). */
  stopAll(): void {
    void this.current?.stop();
    for (const s of this.kept) void s.stop();
    this.kept = [];
  }

  /** Keeps an image's boot log (called as machines reach their prompt). */
  keepLog(image: string, text: string): void {
    // Called from effects: reading `logs` here must not make them depend on it.
    this.logs = { ...untrack(() => this.logs), [image]: text };
  }
}

export const machines = new Machines();
registerActivity('machine', () => machines.stopAll());
