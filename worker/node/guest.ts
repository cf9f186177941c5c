// The builder's GuestBooter (images/trace/guest.ts) on the headless machine: the trace and verify
// stages boot through the very code path the boot tests and the lab use.

import type { GuestBooter, GuestSession } from '../../images/trace/guest.ts';
import { SerialText } from '../serial-text.ts';
import { bootImage } from './host.ts';

/** Control-shell output kept (the walk of a wide tree is a few MB). */
const KEEP_CONTROL = 64 << 20;

export const bootGuest: GuestBooter = async (dir, opts) => {
  const machine = await bootImage(dir, {
    virtioConsole: opts.control ?? false,
    ...(opts.cmdline ? { cmdlineAppend: opts.cmdline } : {}),
    ...(opts.echo ? { echo: opts.echo } : {}),
  });
  const control = new SerialText(KEEP_CONTROL);
  machine.on('virtio-out', (bytes) => control.push(bytes));
  const session: GuestSession = {
    async ready(timeoutMs) {
      await machine.ready(timeoutMs);
    },
    runScript: (steps) => machine.runScript(steps),
    async control(line, until, timeoutMs) {
      const from = control.end;
      machine.send({ type: 'serial-in', port: 'virtio', bytes: new TextEncoder().encode(`${line}\n`) });
      return control.between(from, await control.waitFor(until, { from, timeoutMs }));
    },
    get output() {
      return machine.output;
    },
    stop: () => machine.stop(),
  };
  return session;
};
