// Known guest messages — firmware and kernel lines seen on the serial console or the VGA text screen
// — turned into what happened and what to do. One table; boot-phases.ts feeds it serial lines and
// machine.ts the screen's. Also the memory an initrd needs (used by the import form's default).
// Environment-neutral and pure.

import { MAX_MEMORY_MB } from '../images/manifest.ts';
import type { MachineErrorCode } from './protocol.ts';

export interface GuestMessage {
  code: Extract<MachineErrorCode, 'guest-panic' | 'guest-boot-failed' | 'guest-service-failed' | 'guest-out-of-memory'>;
  /** Which known message (one report per kind and boot). */
  kind: GuestMessageKind;
  message: string;
  hint: string;
  /** Memory to boot with instead (an init that died with an initrd larger than memory allows). */
  memoryMB?: number;
}

export type GuestMessageKind = 'no-bootable-device' | 'cdrom-read-failed' | 'disk-read-failed' | 'init-died' | 'no-root' | 'kernel-panic' | 'service-exited' | 'out-of-memory';

export interface GuestContext {
  /** Guest memory, MiB. */
  memoryMB: number;
  /** The initrd as stored (bytes), if the image has one. */
  initrdBytes?: number;
  /** Its unpacked size, estimated (initrdUnpackedEstimate). */
  initrdUnpackedBytes?: number;
  /** What the firmware boots from, for an image booted through it. */
  bootDevice?: 'cdrom' | 'disk';
}

const MiB = 1 << 20;
/** Kernel, page tables and a small userspace beside the unpacked initramfs (measured: shell needs ~40 MiB free). */
const HEADROOM_MB = 64;

/**
 * Memory (MiB) a Linux guest needs for an initrd: while it unpacks, the compressed initrd and the
 * unpacked files are both in memory; then the kernel and userspace need room. Rounded up to 64 MiB.
 */
export function suggestedMemoryMB(initrdBytes: number, unpackedBytes: number): number {
  const need = (initrdBytes + unpackedBytes) / MiB + HEADROOM_MB;
  return Math.max(128, Math.ceil(need / 64) * 64);
}

/**
 * The unpacked size of an initrd, estimated from its first and last bytes: gzip records it (ISIZE,
 * the last 4 bytes, modulo 4 GiB); an uncompressed cpio is its own size; zstd may record it in its
 * frame header; anything else (xz, lz4, bzip2) is taken as 4 × its size, a typical ratio for a
 * distribution's initrd.
 */
export function initrdUnpackedEstimate(head: Uint8Array, tail: Uint8Array, size: number): number {
  if (head[0] === 0x1f && head[1] === 0x8b && tail.length >= 4) {
    const n = tail.length;
    const isize = (tail[n - 4] | (tail[n - 3] << 8) | (tail[n - 2] << 16) | (tail[n - 1] << 24)) >>> 0;
    // A gzip initrd made of several members records only its last member's size: never less than the input.
    return Math.max(isize, size);
  }
  if (String.fromCharCode(...head.subarray(0, 6)) === '070701' || String.fromCharCode(...head.subarray(0, 6)) === '070702') return size;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    const fromHeader = zstdContentSize(head);
    if (fromHeader !== undefined) return fromHeader;
  }
  return size * 4;
}

/** A zstd frame's content size field, if the frame has one (RFC 8878 §3.1.1.1). */
function zstdContentSize(b: Uint8Array): number | undefined {
  const fhd = b[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  if (fcsFlag === 0 && !single) return undefined;
  const at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag];
  const len = [single ? 1 : 0, 2, 4, 8][fcsFlag];
  if (b.length < at + len) return undefined;
  let v = 0;
  for (let i = len - 1; i >= 0; i--) v = v * 256 + b[at + i];
  if (len === 2) v += 256;
  return v;
}

const V86_COMPAT = 'https://github.com/copy/v86#compatibility';

/** What the kernel says led to a panic, in the lines before it (most recent first). */
const CAUSES: { pattern: RegExp; say: (m: RegExpMatchArray) => string }[] = [
  { pattern: /Initramfs unpacking failed: (.+)/, say: (m) => `unpacking the initrd failed (${m[1].trim()})` },
  { pattern: /Out of memory: Kill(?:ed)? process \d+ \(([^)]+)\)/, say: (m) => `the guest ran out of memory (it killed ${m[1]})` },
  { pattern: /Out of memory and no killable processes/, say: () => 'the guest ran out of memory' },
  { pattern: /(\S+): (?:error while loading shared libraries|not found|Permission denied|Exec format error).*/, say: (m) => m[0].trim() },
  { pattern: /Failed to execute (\S+) \(error (-?\d+)\)/, say: (m) => `${m[1]} could not be run (error ${m[2]})` },
];

/**
 * Recognises known messages line by line; each kind is reported once per boot (`clear` on reset).
 * Serial and screen lines go through the same instance: a firmware message on both is one report.
 */
export class GuestMessages {
  #recent: string[] = [];
  readonly #seen = new Set<GuestMessageKind>();
  #screenSeen = new Set<string>();

  /** What the guest was given (set once its artifacts are loaded). */
  ctx: GuestContext = { memoryMB: 0 };

  clear(): void {
    this.#recent = [];
    this.#seen.clear();
    this.#screenSeen.clear();
  }

  /** One serial console line. */
  line(text: string): GuestMessage | undefined {
    const found = this.#recognise(text);
    this.#recent.push(text);
    if (this.#recent.length > 40) this.#recent.shift();
    return found;
  }

  /** The VGA text screen as lines: each line not seen on screen before is looked at once. */
  screen(lines: readonly string[]): GuestMessage[] {
    const out: GuestMessage[] = [];
    for (const raw of lines) {
      const text = raw.trimEnd();
      if (!text.trim() || this.#screenSeen.has(text)) continue;
      this.#screenSeen.add(text);
      const m = this.line(text);
      if (m) out.push(m);
    }
    return out;
  }

  #once(m: GuestMessage): GuestMessage | undefined {
    if (this.#seen.has(m.kind)) return undefined;
    this.#seen.add(m.kind);
    return m;
  }

  #recognise(line: string): GuestMessage | undefined {
    // SeaBIOS tries every device in turn (v86 always has a CD drive and a floppy), printing a failure
    // for each, and ends with "No bootable device": only the device the image boots from matters.
    if (/No bootable device/i.test(line)) {
      const failures = this.#bootFailures();
      const cd = failures.get('cdrom');
      if (this.ctx.bootDevice === 'cdrom' && cd) {
        return this.#once({
          code: 'guest-boot-failed',
          kind: 'cdrom-read-failed',
          message: `The firmware could not read the CD image ("${cd}"), so nothing booted.`,
          hint: 'The ISO is damaged or cut off (an interrupted download) or not bootable. Download it again, check its checksum, and import it again.',
        });
      }
      const hd = failures.get('disk');
      if (this.ctx.bootDevice === 'disk' && hd) {
        return this.#once({
          code: 'guest-boot-failed',
          kind: 'disk-read-failed',
          message: `The firmware could not read the disk image's boot sector ("${hd}"), so nothing booted.`,
          hint: 'The disk image is cut off or has no boot loader. Check it (fdisk -l shows its partitions) and import it again.',
        });
      }
      return this.#once({
        code: 'guest-boot-failed',
        kind: 'no-bootable-device',
        message: 'The firmware found nothing to boot: "No bootable device".',
        hint: "The image's boot code gave up, or it has none the BIOS can start (a UEFI-only ISO or disk, or a data image). Import an image made for BIOS (legacy) boot.",
      });
    }
    // An appliance's console wait (images/init.ts, waitForPorts) when a service it waited for failed.
    const service = /^whittle: (\S+) exited with status (\d+) before port (\d+) listened/.exec(line.trim());
    if (service) {
      return this.#once({
        code: 'guest-service-failed',
        kind: 'service-exited',
        message: `The appliance's service ${service[1]} exited with status ${service[2]} before it listened on port ${service[3]}; the console started without it.`,
        hint: "Read the service's own messages on the console above (its log, if it writes one, is in the guest). Press Reset to try again; if it fails every time, the image is broken: rebuild it.",
      });
    }
    const panic = /Kernel panic - not syncing:\s*(.*)/.exec(line);
    if (!panic) {
      // The OOM killer ended a program and the machine runs on (a panic for lack of memory is below).
      const killed = /Out of memory: Kill(?:ed)? process \d+ \(([^)]+)\)/.exec(line);
      if (!killed) return undefined;
      const more = Math.min(MAX_MEMORY_MB, this.ctx.memoryMB * 2);
      return this.#once({
        code: 'guest-out-of-memory',
        kind: 'out-of-memory',
        message: `The guest ran out of memory: its kernel killed ${killed[1]}.`,
        hint: more > this.ctx.memoryMB ? `${this.ctx.memoryMB} MiB is too little for what it was doing: boot it with ${more} MiB.` : 'Do less at once in the guest (it has the most memory the lab gives).',
        ...(more > this.ctx.memoryMB ? { memoryMB: more } : {}),
      });
    }
    const cause = panic[1].trim().replace(/\.+$/, '');
    if (/Attempted to kill init/i.test(cause)) return this.#once(this.#initDied(cause));
    const short = this.#memoryShort();
    if (short && /memory|unpacking failed/i.test(`${cause}\n${this.#recent.join('\n')}`)) {
      const before = this.#causeBefore();
      return this.#once({
        code: 'guest-panic',
        kind: 'kernel-panic',
        message: `The guest ran out of memory${before && !before.startsWith('the guest ran out') ? ` (${before})` : ''}, then its kernel stopped ("${cause}").`,
        hint: short.hint,
        memoryMB: short.memoryMB,
      });
    }
    if (/VFS: Unable to mount root fs|No working init found|No init found/i.test(cause)) {
      return this.#once({
        code: 'guest-panic',
        kind: 'no-root',
        message: `The guest kernel found no root file system or init: ${cause}.`,
        hint: 'The kernel needs an initrd with /init, or a root= on its command line that names a disk it has a driver for. Import the kernel with its initrd, or set root= in the command line.',
      });
    }
    return this.#once({
      code: 'guest-panic',
      kind: 'kernel-panic',
      message: `The guest kernel panicked: ${cause || line.trim()}.`,
      hint: 'Read the console above the panic for what led to it, then press Boot again.',
    });
  }

  #initDied(cause: string): GuestMessage {
    const before = this.#causeBefore();
    const message = `The guest's init died, so the kernel stopped (${cause.replace(/!$/, '')})${before ? `: ${before}` : ''}.`;
    const short = this.#memoryShort();
    if (short) return { code: 'guest-panic', kind: 'init-died', message, ...short };
    return {
      code: 'guest-panic',
      kind: 'init-died',
      message,
      hint: 'Init (the first program the kernel starts) exited or crashed: read the lines above the panic for why, then press Boot again.',
    };
  }

  /** SeaBIOS's "Boot failed: …" lines by the device it was "Booting from" just before. */
  #bootFailures(): Map<'cdrom' | 'disk' | 'floppy', string> {
    const out = new Map<'cdrom' | 'disk' | 'floppy', string>();
    let device: 'cdrom' | 'disk' | 'floppy' | undefined;
    for (const l of this.#recent) {
      const from = /Booting from (Hard Disk|Floppy|DVD\/CD|CD-?ROM)/i.exec(l);
      if (from) device = /Hard/i.test(from[1]) ? 'disk' : /Floppy/i.test(from[1]) ? 'floppy' : 'cdrom';
      else if (device && /Boot failed/i.test(l)) out.set(device, l.trim());
    }
    return out;
  }

  /** The initrd needs more memory than the guest has: what to say, and the size to suggest. */
  #memoryShort(): { hint: string; memoryMB: number } | undefined {
    const { memoryMB, initrdBytes, initrdUnpackedBytes } = this.ctx;
    if (initrdBytes === undefined) return undefined;
    const unpacked = initrdUnpackedBytes ?? initrdBytes * 4;
    const suggested = suggestedMemoryMB(initrdBytes, unpacked);
    if (suggested <= memoryMB) return undefined;
    return { hint: `Its initrd (about ${Math.round(unpacked / MiB)} MiB unpacked) needs more memory than ${memoryMB} MiB: boot it with ${suggested} MiB.`, memoryMB: suggested };
  }

  #causeBefore(): string | undefined {
    for (let i = this.#recent.length - 1; i >= 0; i--) {
      for (const c of CAUSES) {
        const m = c.pattern.exec(this.#recent[i]);
        if (m) return c.say(m);
      }
    }
    return undefined;
  }
}

/** The emulator crashed on the same image right after booting it again: it cannot run this image. */
export function repeatedCrash(imageName: string, message: string): { message: string; hint: string } {
  return {
    message: `The emulator crashed again on ${imageName} (${message}): v86 cannot run this image.`,
    hint: `Booting again will not help. v86 emulates a 32-bit PC without every CPU feature; see which systems it runs at ${V86_COMPAT}.`,
  };
}
