import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { MachineBridge } from '../bridge.ts';
import { PROTOCOL_VERSION } from '../protocol.ts';
import { nodeWorker } from './node-worker.ts';

/** A thread that says hello (in `version`) and runs `onCommand` (JavaScript, `m` the message) per command. */
function thread(onCommand: string, version = PROTOCOL_VERSION): Worker {
  return new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.postMessage({ v: ${PROTOCOL_VERSION}, event: 'hello', data: { version: ${version} } });
     parentPort.on('message', (m) => { ${onCommand} });`,
    { eval: true },
  );
}

const bridges: MachineBridge[] = [];
afterEach(() => bridges.splice(0).forEach((b) => b.terminate()));

function bridgeOver(t: Worker): MachineBridge {
  const b = new MachineBridge(() => nodeWorker(t));
  bridges.push(b);
  return b;
}

describe('MachineBridge over a Node worker thread', () => {
  it('answers requests with their typed answer', async () => {
    const b = bridgeOver(thread(`parentPort.postMessage({ v: ${PROTOCOL_VERSION}, event: 'screen-text', data: { id: m.id, lines: ['hi'] } }); parentPort.postMessage({ v: ${PROTOCOL_VERSION}, event: 'done', data: { id: m.id } });`));
    await b.ready;
    const answer = await b.request({ type: 'screen-text' });
    expect(answer.lines).toEqual(['hi']);
  });

  it('turns a thread that exits mid-command into worker-crashed and rejects what was pending', async () => {
    const b = bridgeOver(thread('process.exit(3)'));
    await b.ready;
    const states: string[] = [];
    b.on('state', (s) => states.push(s.status));
    await expect(b.request({ type: 'pause' })).rejects.toMatchObject({ code: 'worker-crashed', message: expect.stringContaining('exited (code 3)') });
    expect(states).toEqual(['stopped']);
    expect(b.alive).toBe(false);
  });

  it('rejects `ready` when the thread throws before its hello, or speaks another protocol', async () => {
    const crashing = bridgeOver(new Worker(`throw new Error('no emulator here')`, { eval: true }));
    await expect(crashing.ready).rejects.toMatchObject({ code: 'worker-crashed', message: expect.stringContaining('no emulator here') });
    const other = bridgeOver(thread('', PROTOCOL_VERSION + 1));
    await expect(other.ready).rejects.toMatchObject({ code: 'worker-crashed', message: expect.stringContaining(`speaks protocol ${PROTOCOL_VERSION + 1}`) });
  });
});
