// The terminal ↔ serial glue: keystrokes go to the guest; the terminal's own query answers do not
// while a script types (they raced a share replay's typed line: issue 12).

import type { Terminal } from '@xterm/xterm';
import { describe, expect, it } from 'vitest';
import { SerialAddon, type SerialPort } from './serial-addon.ts';

function wired(scriptTyping: boolean): { sent: string[]; type(data: string): void } {
  const sent: string[] = [];
  let onData: (d: string) => void = () => undefined;
  const term = {
    write: () => undefined,
    onData: (cb: (d: string) => void) => ((onData = cb), { dispose: () => undefined }),
    onBinary: () => ({ dispose: () => undefined }),
  } as unknown as Terminal;
  const port: SerialPort = { onSerial: () => () => undefined, sendSerial: (b) => sent.push(new TextDecoder().decode(b)), scriptTyping };
  new SerialAddon(port).activate(term);
  return { sent, type: (d) => onData(d) };
}

describe('SerialAddon', () => {
  it('drops cursor position reports while a script types, and keeps the keys around them', () => {
    const w = wired(true);
    w.type('\x1b[6;10R');
    w.type('ls\x1b[24;80R\r');
    expect(w.sent).toEqual(['ls\r']);
  });

  it('answers the guest normally when no script runs (an interactive busybox asks for its width)', () => {
    const w = wired(false);
    w.type('\x1b[6;10R');
    w.type('ls\r');
    expect(w.sent).toEqual(['\x1b[6;10R', 'ls\r']);
  });
});
