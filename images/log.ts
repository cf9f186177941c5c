// Build output for people: stage headings, progress lines, and failures that say what to do.

import { HintedError, type HintedErrorOptions } from './hinted-error.ts';

/** Which part of the builder failed; subclasses (ArchiveError, KernelBuildError) set theirs. */
export type BuildErrorCode = 'build' | 'archive' | 'http' | 'kernel' | 'host-process';

export class BuildError extends HintedError<BuildErrorCode> {
  constructor(message: string, options: HintedErrorOptions & { code?: BuildErrorCode } = {}) {
    super(options.code ?? 'build', message, options);
  }
}

/** Throws a BuildError: what went wrong and, in `hint`, what to do about it (mkosi's `die`). */
export function fail(message: string, options: HintedErrorOptions = {}): never {
  throw new BuildError(message, options);
}

export interface Log {
  stage(name: string, detail?: string): void;
  info(line: string): void;
  /** A line that replaces the previous progress line on a terminal. */
  progress(line: string): void;
}

export function consoleLog(prefix: string, stream: NodeJS.WriteStream = process.stderr): Log {
  const tty = stream.isTTY === true;
  let live = false;
  let lastPlain = 0;
  const clear = () => {
    if (live) stream.write('\r\x1b[K');
    live = false;
  };
  return {
    stage(name, detail) {
      clear();
      stream.write(`${prefix} ${tty ? '\x1b[1m' : ''}${name}${tty ? '\x1b[0m' : ''}${detail ? `  ${detail}` : ''}\n`);
    },
    info(line) {
      clear();
      stream.write(`${prefix}   ${line}\n`);
    },
    progress(line) {
      if (!tty) {
        // Logs (CI) get a progress line every 15 s, enough to see the build is alive.
        if (Date.now() - lastPlain < 15_000) return;
        lastPlain = Date.now();
        stream.write(`${prefix}   ${line}\n`);
        return;
      }
      clear();
      stream.write(`${prefix}   ${line.slice(0, (stream.columns ?? 100) - prefix.length - 4)}`);
      live = true;
    },
  };
}
