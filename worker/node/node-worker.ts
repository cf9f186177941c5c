// A Node worker thread as the `WorkerLike` endpoint MachineBridge drives, the way Comlink's
// node-adapter turns `worker_threads` into a Web Worker's shape: messages arrive as `{ data }`, and a
// thread that throws or exits unasked is reported as the crash a Web Worker's `error` event would be
// (the bridge then rejects everything pending; Comlink itself hangs there, its issue #601).

import type { TransferListItem, Worker } from 'node:worker_threads';
import type { WorkerLike } from '../bridge.ts';

export interface NodeWorker extends WorkerLike {
  /** Resolves with the thread's exit code once it has ended. */
  readonly exited: Promise<number>;
}

export function nodeWorker(thread: Worker): NodeWorker {
  let terminating = false;
  const exited = new Promise<number>((resolve) => thread.once('exit', resolve));
  return {
    exited,
    postMessage: (message, transfer) => thread.postMessage(message, transfer as unknown as TransferListItem[]),
    addEventListener(type: 'message' | 'messageerror' | 'error', fn: (e: never) => void): void {
      const deliver = fn as (e: unknown) => void;
      if (type === 'message') thread.on('message', (data: unknown) => deliver({ data }));
      else if (type === 'messageerror') thread.on('messageerror', (error: Error) => deliver({ data: undefined, error }));
      else {
        thread.on('error', (error: Error) => deliver({ message: `the thread threw ${error.stack ?? error.message}`, error }));
        thread.once('exit', (code: number) => terminating || deliver({ message: `the thread exited (code ${code})` }));
      }
    },
    terminate(): void {
      terminating = true;
      void thread.terminate();
    },
  };
}
