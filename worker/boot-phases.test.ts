// Boot phase detection from console bytes: what counts as ready.

import { describe, expect, it } from 'vitest';
import { BootPhases } from './boot-phases.ts';
import type { PhaseMark } from './protocol.ts';

function watch(readyMarker: string): { phases: BootPhases; marks: PhaseMark[]; feed(text: string): void } {
  const marks: PhaseMark[] = [];
  let at = 0;
  const phases = new BootPhases(readyMarker, undefined, {
    now: () => ({ at: ++at, instructions: at * 1000 }),
    mark: (m) => marks.push(m),
    guestMessage: () => undefined,
    startApp: () => undefined,
  });
  return { phases, marks, feed: (text) => [...new TextEncoder().encode(text)].forEach((b) => phases.serialByte(b)) };
}

const BOOT = '[    0.000000] Linux version 6.1.0\r\n[    0.500000] Run /init as init process\r\n~ # ';

describe('BootPhases', () => {
  it('marks ready at the ready marker', () => {
    const w = watch('~ # ');
    w.feed(BOOT);
    expect(w.marks.map((m) => m.phase)).toEqual(['firmware', 'kernel', 'userspace', 'ready']);
  });

  it('never marks an image without a ready marker ready (its first output is not a prompt)', () => {
    const w = watch('');
    w.feed('[');
    expect(w.phases.has('ready')).toBe(false);
    w.feed(BOOT.slice(1));
    expect(w.marks.map((m) => m.phase)).toEqual(['firmware', 'kernel']);
    expect(w.phases.has('ready')).toBe(false);
  });
});
