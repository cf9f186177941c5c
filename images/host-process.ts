// The one way the builder runs a host program (make, tar, mmdebstrap, mke2fs, ...): in its own process
// group, so an abort or a timeout ends everything it started (make's compilers, mmdebstrap's apt and
// dpkg), with its output streamed as lines for progress and kept for the error message.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { formatMs } from './format.ts';
import { aptInstallLine, findHostTool, HOST_FILES, HOST_TOOLS, type HostTool, type HostToolUse } from './host-tools.ts';
import type { HintedErrorOptions } from './hinted-error.ts';
import { BuildError, fail } from './log.ts';

export interface HostProcessOptions {
  /** The child's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Aborting ends the child's whole process group; the call then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Ends the process group after this long and fails with a timeout error. */
  timeoutMs?: number;
  /** How long a SIGTERMed group gets before SIGKILL (default {@link GRACE_MS}). */
  graceMs?: number;
  /** Each line of output as it arrives (`\r` counts as a line end: progress bars redraw with it). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface HostProcessResult {
  /** Exit code, or null when the child was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last {@link TAIL_LINES} non-empty lines of stdout and stderr as they interleaved. */
  tail: string[];
}

/** dpkg finishing a maintainer script after SIGTERM needs a moment; a hung compiler gets no more. */
export const GRACE_MS = 5000;
/** Enough of make's or mmdebstrap's output to show what failed, short enough to read. */
export const TAIL_LINES = 60;

/** A host program that failed, could not start, or ran out of time; `result` is absent when it never ran. */
export class HostProcessError extends BuildError {
  declare readonly code: 'host-process';
  readonly result?: HostProcessResult;
  constructor(
    readonly tool: HostTool,
    message: string,
    options: HintedErrorOptions & { result?: HostProcessResult } = {},
  ) {
    super(message, { ...options, code: 'host-process' });
    this.result = options.result;
  }
}

/**
 * Fails, before any work, when a program or file that `use` needs (host-tools.ts) is missing, with the
 * `apt-get install` line for all of them: `purpose` says what needs them ("building the kernel").
 */
export function requireHostTools(use: HostToolUse, purpose: string): void {
  const tools = Object.entries(HOST_TOOLS).filter(([tool, t]) => t.for === use && !findHostTool(tool));
  const files = Object.values(HOST_FILES).filter((f) => f.for === use && !existsSync(f.path));
  if (tools.length === 0 && files.length === 0) return;
  fail(`${purpose} needs ${[...tools.map(([tool]) => tool), ...files.map((f) => f.path)].join(', ')}, not found`, {
    hint: `${aptInstallLine([...tools.map(([, t]) => t.package), ...files.map((f) => f.package)])} (npm run doctor checks every host tool)`,
  });
}

/** Process groups still running: ended when this process exits (an uncaught error, process.exit). */
const runningGroups = new Set<number>();
let exitHook = false;
function track(pgid: number): void {
  if (!exitHook) {
    exitHook = true;
    // 'exit' handlers must be synchronous: SIGTERM is sent, nobody waits.
    process.on('exit', () => {
      for (const g of runningGroups) killGroup(g, 'SIGTERM');
    });
  }
  runningGroups.add(pgid);
}

/** Runs `tool` and resolves with how it ended, whatever its exit status. */
export function spawnHostTool(tool: HostTool, args: readonly string[], options: HostProcessOptions = {}): Promise<HostProcessResult> {
  const { signal, timeoutMs, graceMs = GRACE_MS, onLine } = options;
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    // detached: the child leads a new process group, so one kill(-pid) reaches all it started.
    const child = spawn(tool, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) track(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const tail: string[] = [];
    let stopped: { reason: unknown } | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const stop = (reason: unknown) => {
      if (stopped || child.pid === undefined) return;
      stopped = { reason };
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), graceMs);
    };
    const onAbort = () => stop(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => stop(new HostProcessError(tool, `${tool} did not finish within ${formatMs(timeoutMs)}`, { hint: 'It may wait for input or the network; run it by hand with the same arguments to see.' })),
            timeoutMs,
          );
    const cleanup = () => {
      if (child.pid !== undefined) runningGroups.delete(child.pid);
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      clearTimeout(killTimer);
    };

    const feed = (stream: NodeJS.ReadableStream, chunks: Buffer[], name: 'stdout' | 'stderr') => {
      let rest = '';
      stream.on('data', (b: Buffer) => {
        chunks.push(b);
        const lines = (rest + b.toString('utf8')).split(/\r?\n|\r/);
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.trim()) continue;
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          onLine?.(line, name);
        }
      });
      stream.on('end', () => {
        if (!rest.trim()) return;
        tail.push(rest);
        if (tail.length > TAIL_LINES) tail.shift();
        onLine?.(rest, name);
      });
    };
    feed(child.stdout, out, 'stdout');
    feed(child.stderr, err, 'stderr');

    child.on('error', (cause: NodeJS.ErrnoException) => {
      cleanup();
      const pkg = HOST_TOOLS[tool].package;
      reject(
        cause.code === 'ENOENT'
          ? new HostProcessError(tool, `${tool} is not installed (Debian package ${pkg})`, { hint: `${aptInstallLine([pkg])} (npm run doctor checks every host tool)`, cause })
          : new HostProcessError(tool, `could not run ${tool}: ${cause.message}`, { cause }),
      );
    });
    child.on('close', (code, sig) => {
      const result: HostProcessResult = { code, signal: sig, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), tail };
      if (!stopped) {
        cleanup();
        // The child is done; anything it left running in its group (a daemon, a stray `&`) goes with it.
        if (child.pid !== undefined && groupAlive(child.pid)) killGroup(child.pid, 'SIGKILL');
        return resolve(result);
      }
      // Stopped: settle only once the whole group is gone (SIGKILL after the grace period at the latest;
      // a process stuck in the kernel, state D, is not waited for beyond a few more seconds).
      const pgid = child.pid!;
      const giveUp = Date.now() + graceMs + 5000;
      const settle = () => {
        if (groupAlive(pgid) && Date.now() < giveUp) return void setTimeout(settle, 20);
        cleanup();
        reject(stopped!.reason);
      };
      settle();
    });
  });
}

/** Runs `tool` and resolves with its result when it exits 0; otherwise fails with its last output and `hint`. */
export async function runHostTool(tool: HostTool, args: readonly string[], options: HostProcessOptions & { hint?: string } = {}): Promise<HostProcessResult> {
  const result = await spawnHostTool(tool, args, options);
  if (result.code === 0) return result;
  throw new HostProcessError(tool, `${tool} ${args.join(' ')} failed (${exitText(result)}); last output:\n${result.tail.join('\n')}`, { hint: options.hint, result });
}

export function exitText(result: Pick<HostProcessResult, 'code' | 'signal'>): string {
  return result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
}

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // the group is already gone
  }
}

/**
 * True while a process of group `pgid` still runs. Zombies do not count: where nothing reaps orphans
 * (a container whose PID 1 is not an init), killed grandchildren stay zombies and kill(-pgid, 0) keeps
 * succeeding. /proc/<pid>/stat names state and process group after the command's closing parenthesis.
 */
export function groupAlive(pgid: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/** True while process `pid` exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
