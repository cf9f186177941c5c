// Each emulated PC takes a whole core: one activity (the machine view, a race, a shared demo) runs
// machines at a time. Starting one stops the others' machines.

const stoppers = new Map<string, () => void>();

/** Registers how to stop an activity's machines. */
export function registerActivity(name: string, stop: () => void): void {
  stoppers.set(name, stop);
}

/** Stops every other activity's machines before `name` starts its own. */
export function takeOver(name: string): void {
  for (const [other, stop] of stoppers) if (other !== name) stop();
}
