import { describe, expect, it, vi } from 'vitest';
import { type Emulator, yieldInThread } from './v86-glue.ts';

/** The scheduling part of a v86 instance, as src/main.js has it in a Web Worker (or in Node: no worker). */
function fakeCore(inWorker: boolean) {
  const calls: number[] = [];
  const core = {
    worker: inWorker ? ({} as Worker) : null,
    tick_counter: 0,
    unregistered: 0,
    yield: vi.fn(),
    yield_callback: (tick: number) => calls.push(tick),
    unregister_yield() {
      this.unregistered++;
    },
  };
  return { core, calls, emulator: { v86: core } as unknown as Emulator };
}

describe('yieldInThread', () => {
  it("replaces v86's second-worker round trip with a task in the machine's own worker", async () => {
    const { core, calls, emulator } = fakeCore(true);
    const original = core.yield;
    yieldInThread(emulator);
    expect(core.unregistered).toBe(1); // v86's scheduling worker is terminated
    expect(core.yield).not.toBe(original);
    core.yield(0, 7);
    expect(calls).toEqual([]); // a new task, not a synchronous call (that would recurse into the loop)
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual([7]);
    core.unregister_yield();
  });

  it('waits with a timer when the guest is halted until one, and a newer slice cancels it', async () => {
    const { core, calls, emulator } = fakeCore(true);
    yieldInThread(emulator);
    core.yield(30, 1);
    core.yield(0, 2);
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toEqual([2]);
    core.yield(5, 3);
    await new Promise((r) => setTimeout(r, 40));
    expect(calls).toEqual([2, 3]);
    core.unregister_yield();
  });

  it("leaves Node's setImmediate scheduling alone", () => {
    const { core, emulator } = fakeCore(false);
    const original = core.yield;
    yieldInThread(emulator);
    expect(core.yield).toBe(original);
    expect(core.unregistered).toBe(0);
  });
});
