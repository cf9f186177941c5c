// Live stats (once a second) and the two ways a machine is seen to be stuck: a CPU that retires
// nothing while not idling, and a boot that prints nothing for too long before its prompt.
// Environment-neutral.

import type { BootOptions, MachineError, MachineStats } from './protocol.ts';
import type { Manifest } from '../images/manifest.ts';
import type { V86Cpu } from './v86-glue.ts';

export const STATS_MS = 1000;
/** A CPU that retires nothing for this long while not idling (or idling with interrupts off) is hung. */
const HUNG_CPU_MS = 15_000;
/**
 * How long a boot may print nothing before `guest-unresponsive`: an appliance reaches its prompt in
 * seconds; a full distribution booted `quiet` prints nothing while systemd starts (in Chromium on 2
 * cores Debian went 2½ minutes between its last kernel line and the login banner).
 */
const DEFAULT_STALL_MS = { appliance: 120_000, other: 600_000 };

/** How long this boot may print nothing before its prompt: the caller's limit, else the default for its kind. */
export function stallLimitMs(options: Pick<BootOptions, 'stallTimeoutMs'> & { manifest: Pick<Manifest, 'kind'> }): number {
  return options.stallTimeoutMs ?? (options.manifest.kind === 'appliance' ? DEFAULT_STALL_MS.appliance : DEFAULT_STALL_MS.other);
}

/** What one stats tick reads from the machine. */
export interface Sample {
  now: number;
  instructions: number;
  uptimeMs: number;
  running: boolean;
  /** Whether the boot has reached its prompt. */
  ready: boolean;
  /** When the guest last printed something (performance.now()). */
  lastOutputAt: number;
  cpu: V86Cpu | undefined;
}

export class Liveness {
  #lastStats = { t: 0, instr: 0 };
  #lastProgress = { t: 0, instr: 0 };
  #hungReported = false;
  #stallReported = false;
  /** Bytes the guest read from disks and 9p file systems, and wrote to the serial console. */
  diskRead = 0;
  fsRead = 0;
  serialBytes = 0;

  constructor(
    private readonly stallMs: number,
    private readonly memoryBytes: number,
  ) {}

  /** The machine (re)started executing at `t0`. */
  started(t0: number): void {
    this.#lastStats = { t: t0, instr: 0 };
    this.#lastProgress = { t: t0, instr: 0 };
    this.#stallReported = this.#hungReported = false;
  }

  /** One tick: the stats to send, and errors for each way the guest is newly seen stuck. */
  tick(s: Sample): { stats: MachineStats; stuck: MachineError[] } {
    const dt = (s.now - this.#lastStats.t) / 1000;
    const ips = s.running && dt > 0 ? Math.round((s.instructions - this.#lastStats.instr) / dt) : 0;
    this.#lastStats = { t: s.now, instr: s.instructions };
    const stats: MachineStats = {
      uptimeMs: Math.round(s.uptimeMs),
      instructionsPerSecond: ips,
      instructions: s.instructions,
      memoryBytes: this.memoryBytes,
      diskReadBytes: this.diskRead,
      fsReadBytes: this.fsRead,
      serialBytes: this.serialBytes,
      running: s.running,
    };
    if (!s.running) {
      this.#lastProgress = { t: s.now, instr: s.instructions };
      return { stats, stuck: [] };
    }
    return { stats, stuck: [this.#hung(s), this.#stalled(s)].filter((e) => e !== undefined) };
  }

  #hung(s: Sample): MachineError | undefined {
    if (s.instructions !== this.#lastProgress.instr) {
      this.#lastProgress = { t: s.now, instr: s.instructions };
      this.#hungReported = false;
      return undefined;
    }
    if (this.#hungReported || s.now - this.#lastProgress.t <= HUNG_CPU_MS) return undefined;
    const interruptsOff = s.cpu ? (s.cpu.flags[0] & 0x200) === 0 : false;
    const halted = s.cpu ? s.cpu.in_hlt[0] !== 0 : false;
    // An idle guest halts with interrupts on and wakes on its timer; halted with them off, it never will.
    if (halted && !interruptsOff) return undefined;
    this.#hungReported = true;
    return {
      code: 'guest-unresponsive',
      message: halted ? 'The guest CPU halted with interrupts disabled: it will not run again.' : `The guest CPU has retired no instructions for ${Math.round(HUNG_CPU_MS / 1000)} s.`,
      hint: 'Reset the machine (or stop it).',
    };
  }

  #stalled(s: Sample): MachineError | undefined {
    if (s.ready || this.#stallReported || s.uptimeMs <= 0 || s.now - s.lastOutputAt <= this.stallMs) return undefined;
    this.#stallReported = true;
    return {
      code: 'guest-unresponsive',
      message: `The guest has printed nothing for ${Math.round(this.stallMs / 1000)} s and has not reached its prompt.`,
      hint: 'Look at the screen and console for the last thing it did; reset or stop the machine.',
    };
  }
}
