import { describe, expect, it } from 'vitest';
import { MachineBridge, MachineRequestError } from './bridge.ts';
import type { WorkerLike } from './bridge.ts';
import { MachineEndpoint } from './endpoint.ts';
import { MachineFailure } from './errors.ts';
import type { MachineError, MachineStatus } from './protocol.ts';

/** A worker stand-in: the real endpoint on the far side of a MessageChannel (no emulator needed). */
class ChannelWorker implements WorkerLike {
  readonly #near: MessagePort;
  readonly #events = new EventTarget();
  terminated = false;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.#near = port1;
    port1.onmessage = (e) => this.#events.dispatchEvent(new MessageEvent('message', { data: e.data }));
    const endpoint = new MachineEndpoint({
      post: (msg, transfer) => port2.postMessage(msg, transfer as Transferable[]),
      v86Module: () => Promise.reject(new Error('no emulator in this test')),
      reader: () => {
        throw new MachineFailure('bad-message', 'no images in this test');
      },
    });
    port2.onmessage = (e) => endpoint.receive(e.data);
  }

  addEventListener(type: string, fn: (e: MessageEvent & ErrorEvent) => void): void {
    this.#events.addEventListener(type, fn as unknown as EventListener);
  }

  postMessage(message: unknown, transfer: Transferable[]): void {
    this.#near.postMessage(message, transfer);
  }

  terminate(): void {
    this.terminated = true;
    this.#near.close();
  }

  /** What a Worker does when its script throws an uncaught error. */
  fail(message: string): void {
    this.#events.dispatchEvent(Object.assign(new Event('error', { cancelable: true }), { message }));
  }
}

function setup() {
  const workers: ChannelWorker[] = [];
  const bridge = new MachineBridge(() => {
    const w = new ChannelWorker();
    workers.push(w);
    return w;
  });
  return { bridge, workers };
}

describe('MachineBridge', () => {
  it('starts the worker, answers requests, and reports errors that answer them', async () => {
    const { bridge } = setup();
    await bridge.ready;
    const answer = await bridge.request({ type: 'screen-text' });
    expect(answer).toMatchObject({ lines: expect.any(Array) });
    const err = await bridge.request({ type: 'pause' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MachineRequestError);
    expect((err as MachineRequestError).error.code).toBe('not-running');
    bridge.terminate();
  });

  it('turns a crashed worker into a typed error, fails pending requests, and restarts', async () => {
    const { bridge, workers } = setup();
    await bridge.ready;
    const errors: MachineError[] = [];
    const states: MachineStatus[] = [];
    const offError = bridge.on('error', (e) => errors.push(e));
    bridge.on('state', (s) => states.push(s.status));
    const pending = bridge.request({ type: 'screen-text' });
    workers[0].fail('Uncaught RangeError: out of memory');
    await expect(pending).rejects.toMatchObject({ error: { code: 'worker-crashed' } });
    expect(errors).toEqual([expect.objectContaining({ code: 'worker-crashed', message: expect.stringContaining('out of memory') })]);
    expect(states).toEqual(['stopped']);
    expect(bridge.alive).toBe(false);
    expect(workers[0].terminated).toBe(true);

    bridge.restart();
    await bridge.ready;
    await expect(bridge.request({ type: 'screen-text' })).resolves.toBeDefined();
    offError();
    bridge.terminate();
    expect(workers[1].terminated).toBe(true);
  });

  it('terminates the worker when a request is aborted', async () => {
    const { bridge, workers } = setup();
    await bridge.ready;
    const abort = new AbortController();
    const req = bridge.request({ type: 'screen-text' }, { signal: abort.signal });
    abort.abort();
    await expect(req).rejects.toMatchObject({ name: 'AbortError' });
    expect(workers[0].terminated).toBe(true);
    expect(() => bridge.send({ type: 'serial-in', bytes: new Uint8Array(1) })).toThrow(MachineRequestError);
  });
});
