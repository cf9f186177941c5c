// An image's attack surface, as the manifest lists it for the appliance and its twin alike: setuid and
// setgid files, accounts with a login shell, executables and shared libraries (counted from the files
// the builder packs), and the sockets listening once the app is up (read from the guest's /proc/net).
// The counting and parsing are pure; readTreeSurface walks a tree on disk (the twin's).

import { existsSync } from 'node:fs';
import { lstat, open, opendir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildContext } from './build.ts';
import type { GuestBooter } from './trace/guest.ts';
import { isElf } from './elf.ts';
import { PROBE_FLAG, PROBE_PROMPT } from './init.ts';
import { fail } from './log.ts';
import type { ListeningSocket, ScriptStep, Surface } from './manifest.ts';
import type { RootTree } from './rootfs.ts';

/** A file as the surface counts it: its path in the image, type, mode (with setuid/setgid bits) and first bytes. */
export interface SurfaceFile {
  /** Path in the image, without a leading slash. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'char' | 'other';
  /** Permission bits including setuid (0o4000) and setgid (0o2000). */
  mode: number;
  /** At least the first HEAD_BYTES of a regular file (its ELF header or `#!`); more is fine. */
  head?: Uint8Array;
}

/** Bytes of a file's start the classification reads: an ELF header (isElf wants all 52) or a `#!`. */
export const HEAD_BYTES = 52;

/** Shells that mean "no login": Debian gives system accounts nologin (or false). */
const NO_LOGIN = /(^|\/)(nologin|false)$/;
/** Shared objects by name: lib*.so.N, dlopen'd modules (*.so), and the dynamic loader itself. */
const SHARED_OBJECT = /\.so(\.[0-9][^/]*)?$|(^|\/)ld-linux[^/]*$/;

function isScript(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x23 && head[1] === 0x21;
}

/**
 * The static part of the surface: every regular file's mode and first bytes, /etc/passwd's text, and
 * whether a path names a program in the image (an account whose shell is not there cannot log in).
 */
export function staticSurface(files: Iterable<SurfaceFile>, passwd: string | undefined, hasProgram?: (path: string) => boolean): Omit<Surface, 'sockets'> {
  const setuid: string[] = [];
  const setgid: string[] = [];
  let executables = 0;
  let sharedLibraries = 0;
  for (const f of files) {
    if (f.type !== 'file') continue;
    // Set-group-ID on a directory only makes new files inherit the group: no privilege, not counted.
    if (f.mode & 0o4000) setuid.push(`/${f.path}`);
    if (f.mode & 0o2000) setgid.push(`/${f.path}`);
    const head = f.head ?? new Uint8Array();
    const elf = isElf(head);
    if (elf && SHARED_OBJECT.test(f.path)) sharedLibraries++;
    else if (f.mode & 0o111 && (elf || isScript(head))) executables++;
  }
  const accounts = loginAccounts(passwd ?? '').map((a) => (hasProgram && !hasProgram(a.shell) ? { ...a, shellMissing: true } : a));
  return { setuid: setuid.sort(), setgid: setgid.sort(), loginAccounts: accounts, executables, sharedLibraries };
}

/** Accounts in an /etc/passwd whose shell is a program one can log in to (not nologin or false). */
export function loginAccounts(passwd: string): Surface['loginAccounts'] {
  const out: Surface['loginAccounts'] = [];
  for (const line of passwd.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7) continue;
    const shell = f[6].trim();
    const uid = Number(f[2]);
    if (!shell || NO_LOGIN.test(shell) || !Number.isInteger(uid)) continue;
    out.push({ name: f[0], uid, shell });
  }
  return out;
}

// ---- sockets: /proc/net as the guest prints it -----------------------------------------------------

export const PROC_NET_FILES = ['tcp', 'tcp6', 'udp', 'udp6', 'unix'] as const;
const BEGIN = 'WHITTLE-SURFACE-BEGIN';
const END = 'WHITTLE-SURFACE-END';

/**
 * The shell line that prints /proc/net between markers. The markers are split by quotes so the line's
 * own echo never matches them; a file the kernel lacks (no IPv6, no network stack) prints `absent`.
 * `read -r` drops each line's leading blanks, which the parsers ignore anyway.
 */
export const SOCKETS_COMMAND =
  // Shell builtins only (echo, test, read): a traced appliance keeps only the programs its run used, so
  // even `cat` may be gone. The leading `:;` absorbs a stray carriage return: the Enter typed after ^D
  // reaches the tty while readline (sqlite3) still has it raw, so the probe shell reads it as the first
  // character of this line (seen with dash: "\recho: not found"); then only `\r:` fails.
  `:; echo ${BEGIN.slice(0, 8)}''${BEGIN.slice(8)}; for f in ${PROC_NET_FILES.join(' ')}; do echo "== $f"; ` +
  `if [ -r /proc/net/$f ]; then while read -r l; do echo "$l"; done </proc/net/$f; else echo absent; fi; done; ` +
  `echo ${END.slice(0, 8)}''${END.slice(8)}`;
/** Text `SOCKETS_COMMAND` prints last: what to wait for on the console. */
export const SOCKETS_DONE = END;

/** What the probe needs of a booted guest (images/trace/guest.ts's GuestSession has it). */
export interface ProbeSession {
  runScript(steps: ScriptStep[]): Promise<{ ok: boolean; transcript: string; message?: string }>;
}

/** What `sockets.measured` says, per kind of image: when and how the sockets were read. */
export const SOCKETS_MEASURED = {
  appliance: 'by the builder in a boot of the built image (kernel flag whittle.probe): after the ready marker the console program is ended with ^D and a shell reads /proc/net while the services run',
  distro: 'by the builder in a boot of the built disk: at the root prompt after the ready marker, once systemd reports the boot finished (systemctl is-system-running --wait)',
} as const;

/**
 * Reads the listening sockets of a guest that reached its ready marker. An appliance must run with
 * PROBE_FLAG on its command line (images/init.ts): ^D ends its console program and a shell takes the
 * console. The twin's console is already a root shell.
 */
export async function probeSockets(session: ProbeSession, kind: keyof typeof SOCKETS_MEASURED): Promise<NonNullable<Surface['sockets']>> {
  if (kind === 'appliance') {
    const handOver = await session.runScript([{ send: '\x04', expect: PROBE_PROMPT, timeout: 60 }]);
    if (!handOver.ok) {
      fail(`The console program did not give way to the probe shell after ^D: ${handOver.message ?? ''}\n${lastLines(handOver.transcript)}`, {
        hint: 'The console program must exit on end of input (^D on an empty line), as shells and REPLs do; the kernel command line needs whittle.probe.',
      });
    }
  }
  const wait = kind === 'distro' ? 'systemctl is-system-running --wait; ' : '';
  const dump = await session.runScript([{ send: `${wait}${SOCKETS_COMMAND}`, expect: SOCKETS_DONE, timeout: kind === 'distro' ? 900 : 60 }]);
  if (!dump.ok) fail(`Reading /proc/net in the guest failed: ${dump.message ?? ''}\n${lastLines(dump.transcript)}`, { hint: 'Boot the image by hand (npm run compare) and run the line it shows.' });
  try {
    return { measured: SOCKETS_MEASURED[kind], ...parseSocketsDump(dump.transcript) };
  } catch (cause) {
    fail(`The guest's /proc/net dump could not be read: ${(cause as Error).message}\n${lastLines(dump.transcript)}`, { cause });
  }
}

/** Minutes an image may take to its ready marker in the sockets boot: the twin's systemd boot takes 2–3 min on a quiet host. */
const READY_MINUTES = { appliance: 5, distro: 20 };

/**
 * Sockets stage (after the manifest is written, appliance and twin alike): boots the built image in
 * outDir, reads its listening sockets after the ready marker and adds them to the manifest. Skipped
 * when the builder has no guest to boot (a build through images/cli.ts alone, the unit tests).
 */
export async function measureSockets(ctx: BuildContext): Promise<void> {
  const m = ctx.manifest;
  const { log, guest } = ctx.opts;
  if (!m?.surface || m.surface.sockets || (ctx.distro && m.kind !== 'distro')) return;
  if (!guest) {
    log.info('sockets: not measured (this builder has no guest to boot: build with npm run images)');
    return;
  }
  const kind = ctx.distro ? 'distro' : 'appliance';
  log.stage('sockets', `booting ${m.name} to read /proc/net after its ready marker${kind === 'distro' ? ' (the twin takes minutes)' : ''}`);
  const started = Date.now();
  try {
    m.surface.sockets = await readSockets({ dir: ctx.outDir, name: m.name }, guest, kind, (line) => log.progress(`sockets: ${Math.round((Date.now() - started) / 1000)} s | ${line}`));
  } catch (e) {
    // Not a reason to throw the image away: the manifest then says "not measured", and the boot test
    // test/boot/surface.test.ts fails on a probe that does not work.
    log.info(`sockets: NOT MEASURED: ${(e as Error).message}${(e as { hint?: string }).hint ? `\n  hint: ${(e as { hint?: string }).hint}` : ''}`);
    return;
  }
  const s = m.surface.sockets;
  log.info(`sockets: ${s.network ? `${s.listening.length} listening${s.listening.length ? `: ${s.listening.map((l) => `${l.proto} ${l.local}`).join(', ')}` : ''}` : 'no network stack'} (${Math.round((Date.now() - started) / 1000)} s)`);
  await writeFile(join(ctx.outDir, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
}

/** Boots the image in `dir` and reads its listening sockets after the ready marker. */
export async function readSockets(
  image: { dir: string; name: string },
  guest: GuestBooter,
  kind: keyof typeof SOCKETS_MEASURED,
  progress: (line: string) => void,
): Promise<NonNullable<Surface['sockets']>> {
  const { dir, name } = image;
  const session = await guest(dir, { ...(kind === 'appliance' ? { cmdline: PROBE_FLAG } : {}), echo: progressLines(progress) });
  try {
    await session.ready(READY_MINUTES[kind] * 60_000).catch((cause) =>
      fail(`${name} did not reach its ready marker within ${READY_MINUTES[kind]} min in the sockets boot: ${(cause as Error).message}\n${lastLines(session.output)}`, {
        cause,
        hint: 'Boot it by hand to see why (npm run compare -- <name>); a busy host may need a rerun.',
      }),
    );
    return await probeSockets(session, kind);
  } finally {
    await session.stop();
  }
}

/** A writer for serial bytes that hands each completed, non-empty line to `line` (the build's progress line). */
function progressLines(line: (text: string) => void): { write(chunk: Uint8Array): void } {
  const decoder = new TextDecoder();
  let pending = '';
  return {
    write(chunk) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split(/\r?\n/);
      pending = lines.pop() ?? '';
      const last = lines.map((l) => l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').trim()).filter(Boolean).at(-1);
      if (last) line(last.slice(0, 100));
    },
  };
}

function lastLines(text: string, n = 8): string {
  return text.replace(/\r/g, '').trimEnd().split('\n').slice(-n).map((l) => `  | ${l}`).join('\n');
}

/** TCP state 0A is LISTEN (include/net/tcp_states.h); an unconnected bound UDP socket sits in 07 (CLOSE). */
const TCP_LISTEN = '0A';
const UDP_UNCONNECTED = '07';
/** __SO_ACCEPTCON in /proc/net/unix's Flags: a socket that listen()ed (include/linux/net.h). */
const SO_ACCEPTCON = 0x10000;
const UNIX_TYPES: Record<string, string> = { '0001': 'stream', '0002': 'dgram', '0005': 'seqpacket' };

/** What `SOCKETS_COMMAND` printed, as listening sockets; throws when the markers are not in `text`. */
export function parseSocketsDump(text: string): { network: boolean; listening: ListeningSocket[] } {
  // Lines as a terminal shows them: no carriage returns, no escape sequences (a line editor's or
  // readline's bracketed-paste switch may sit anywhere), no blanks at either end.
  const lines = text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\r/g, '').split('\n').map((l) => l.trim());
  const start = lines.lastIndexOf(BEGIN);
  const end = lines.indexOf(END, start);
  if (start < 0 || end < 0) throw new Error(`no ${BEGIN} … ${END} block in the console output`);
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of lines.slice(start + 1, end)) {
    const head = /^== (\w+)$/.exec(line);
    if (head) sections.set(head[1], (current = []));
    else if (current && line) current.push(line);
  }
  const listening: ListeningSocket[] = [];
  let network = false;
  for (const name of PROC_NET_FILES) {
    const lines = sections.get(name);
    if (!lines || lines[0] === 'absent') continue;
    network = true;
    listening.push(...(name === 'unix' ? parseProcNetUnix(lines.join('\n')) : parseProcNetInet(name, lines.join('\n'))));
  }
  return { network, listening: dedupe(listening) };
}

/** Listening sockets in /proc/net/{tcp,tcp6,udp,udp6}: TCP in LISTEN, UDP bound and unconnected. */
export function parseProcNetInet(proto: 'tcp' | 'tcp6' | 'udp' | 'udp6', text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!/^\d+:$/.test(f[0] ?? '') || f.length < 10) continue;
    const [addr, port] = f[1].split(':');
    const state = f[3];
    const listens = proto.startsWith('tcp') ? state === TCP_LISTEN : state === UDP_UNCONNECTED && port !== '0000';
    if (!listens) continue;
    const host = proto.endsWith('6') ? `[${ipv6(addr)}]` : ipv4(addr);
    out.push({ proto, local: `${host}:${parseInt(port, 16)}`, uid: Number(f[7]) });
  }
  return out;
}

/** Listening sockets in /proc/net/unix: stream/seqpacket that listen()ed, datagram sockets bound to a name. */
export function parseProcNetUnix(text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!/^[0-9a-f]+:$/i.test(f[0] ?? '') || f.length < 7) continue;
    const flags = parseInt(f[3], 16);
    const type = UNIX_TYPES[f[4]] ?? `type ${f[4]}`;
    const path = f.slice(7).join(' ');
    const listens = flags & SO_ACCEPTCON || (type === 'dgram' && path !== '');
    if (!listens) continue;
    out.push({ proto: 'unix', local: path || '(unnamed)', type });
  }
  return out;
}

/** /proc/net prints an IPv4 address as one 32-bit word in host order (x86: little-endian). */
function ipv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
}

/** /proc/net prints an IPv6 address as four 32-bit words, each in host order. */
function ipv6(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let i = 3; i >= 0; i--) bytes.push(parseInt(word.slice(i * 2, i * 2 + 2), 16));
  }
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

function dedupe(sockets: ListeningSocket[]): ListeningSocket[] {
  const seen = new Map<string, ListeningSocket>();
  for (const s of sockets) seen.set(`${s.proto} ${s.local} ${s.type ?? ''}`, s);
  return [...seen.values()].sort((a, b) => (a.proto + a.local < b.proto + b.local ? -1 : 1));
}

/** The static surface of an appliance's tree: the files the builder packs into the initramfs. */
export function treeSurface(tree: RootTree): Omit<Surface, 'sockets'> {
  const passwd = tree.resolve('etc/passwd');
  const files = tree.files().map((e): SurfaceFile => ({ path: e.path, type: e.type, mode: e.mode, head: e.data }));
  return staticSurface(files, passwd?.data ? new TextDecoder().decode(passwd.data) : undefined, (p) => tree.resolve(p)?.type === 'file');
}

// ---- a tree on disk (the twin's) ------------------------------------------------------------------

/** The static surface of a root filesystem on disk: one walk, reading only the first bytes of executable-looking files. */
export async function readTreeSurface(root: string): Promise<Omit<Surface, 'sockets'>> {
  const files: SurfaceFile[] = [];
  const visit = async (rel: string): Promise<void> => {
    const st = await lstat(join(root, rel));
    if (st.isDirectory()) {
      const names: string[] = [];
      for await (const entry of await opendir(join(root, rel))) names.push(entry.name);
      for (const name of names.sort()) await visit(rel ? `${rel}/${name}` : name);
      return;
    }
    if (!st.isFile()) return;
    const mode = st.mode & 0o7777;
    let head: Uint8Array | undefined;
    if (mode & 0o111 || SHARED_OBJECT.test(rel)) {
      const fh = await open(join(root, rel), 'r');
      try {
        const b = new Uint8Array(HEAD_BYTES);
        const { bytesRead } = await fh.read(b, 0, HEAD_BYTES, 0);
        head = b.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    }
    files.push({ path: rel, type: 'file', mode, head });
  };
  await visit('');
  const passwd = await readFile(join(root, 'etc/passwd'), 'utf8').catch(() => undefined);
  // The twin's links are relative or point inside its own tree (merged /usr): the host resolves them there.
  const programs = new Set(files.map((f) => f.path));
  return staticSurface(files, passwd, (p) => programs.has(p.replace(/^\/+/, '')) || existsSync(join(root, p)));
}
