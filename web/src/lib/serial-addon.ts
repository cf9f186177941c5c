// An xterm.js addon that joins a terminal to a machine's serial console in both directions, like
// xterm's own addon-attach: activate() subscribes, dispose() lets go of everything it took.

import type { IDisposable, ITerminalAddon, Terminal } from '@xterm/xterm';

/** A serial console as the terminal sees it (implemented by a machine session). */
export interface SerialPort {
  /** Calls `listener` with each chunk of guest output, starting with what was printed before. */
  onSerial(listener: (bytes: Uint8Array) => void): () => void;
  /** Sends the user's keystrokes (UTF-8) to the guest. */
  sendSerial(bytes: Uint8Array): void;
  /**
   * A script is typing into the guest: the terminal then does not answer the guest's queries (a
   * cursor-position report, ESC[6n → ESC[row;colR, would land in the middle of the typed line).
   */
  readonly scriptTyping?: boolean;
}

/** What a terminal sends back on its own: cursor position reports (CSI row ; col R) and device attributes (CSI ? … c). */
const TERMINAL_REPORTS = /\x1b\[\d+;\d+R|\x1b\[\?[\d;]*c/g;

export class SerialAddon implements ITerminalAddon {
  #disposables: IDisposable[] = [];
  readonly #port: SerialPort;
  readonly #encoder = new TextEncoder();

  constructor(port: SerialPort) {
    this.#port = port;
  }

  activate(term: Terminal): void {
    const off = this.#port.onSerial((bytes) => term.write(bytes));
    this.#disposables.push(
      { dispose: off },
      term.onData((data) => {
        const sent = this.#port.scriptTyping ? data.replace(TERMINAL_REPORTS, '') : data;
        if (sent) this.#port.sendSerial(this.#encoder.encode(sent));
      }),
      // onBinary carries raw bytes (mouse reports in X10 mode): one char code per byte.
      term.onBinary((data) => this.#port.sendSerial(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff))),
    );
  }

  dispose(): void {
    for (const d of this.#disposables) d.dispose();
    this.#disposables = [];
  }
}
