import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BuildContext } from './build.ts';
import type { Log } from './log.ts';
import { validateManifest, type Manifest, type ScriptStep } from './manifest.ts';
import type { GuestBooter } from './trace/guest.ts';
import { RootTree } from './rootfs.ts';
import {
  loginAccounts,
  measureSockets,
  parseProcNetInet,
  parseProcNetUnix,
  parseSocketsDump,
  readTreeSurface,
  SOCKETS_COMMAND,
  staticSurface,
  treeSurface,
} from './surface.ts';

const enc = new TextEncoder();
/** The first bytes of a 32-bit ELF (isElf reads the magic of a 52-byte header). */
const elf = () => {
  const b = new Uint8Array(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  return b;
};

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'sync:x:4:65534:sync:/bin:/bin/sync',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  'redis:x:100:101::/var/lib/redis:/usr/sbin/nologin',
  'kiosk:x:1000:1000::/home/kiosk:/bin/sh',
  '',
].join('\n');

// Real lines from Linux 6.1's /proc/net: redis on 127.0.0.1:6379, sshd on [::]:22, a connected socket.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   100        0 4321 1 00000000c1e7285a 100 0 0 10 0
   1: 0100007F:B54F 0100007F:18EB 01 00000000:00000000 03:0000125C 00000000     0        0 0 3 00000000232f7dab
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 18 1 0000000000000000 100 0 0 10 0
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1234 2 0000000000000000 0
  101: 0100007F:D431 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 1235 2 0000000000000000 0
`;
const UNIX = `Num       RefCount Protocol Flags    Type St Inode Path
00000000f150ea70: 00000002 00000000 00010000 0001 01 360217 /run/systemd/private
00000000df7013b0: 00000003 00000000 00000000 0001 03 360223
00000000df7013b1: 00000002 00000000 00000000 0002 01 11 /run/systemd/journal/dev-log
00000000df7013b2: 00000002 00000000 00000000 0002 01 12
00000000df7013b3: 00000002 00000000 00010000 0005 01 13 @/org/kernel/udev/udevd
`;

describe('static surface', () => {
  it('finds setuid and setgid files, counts ELF programs, scripts and shared objects', () => {
    const s = staticSurface(
      [
        { path: 'usr/bin/su', type: 'file', mode: 0o4755, head: elf() },
        { path: 'usr/bin/chage', type: 'file', mode: 0o2755, head: elf() },
        { path: 'var/mail', type: 'dir', mode: 0o2775 },
        { path: 'usr/bin/sqlite3', type: 'file', mode: 0o755, head: elf() },
        { path: 'usr/bin/helper', type: 'file', mode: 0o755, head: enc.encode('#!/bin/sh\necho hi\n') },
        { path: 'usr/lib/i386-linux-gnu/libc.so.6', type: 'file', mode: 0o755, head: elf() },
        { path: 'usr/lib/i386-linux-gnu/ld-linux.so.2', type: 'file', mode: 0o755, head: elf() },
        { path: 'usr/lib/ruby/3.1.0/i386-linux-gnu/json/ext/parser.so', type: 'file', mode: 0o644, head: elf() },
        { path: 'etc/motd', type: 'file', mode: 0o755, head: enc.encode('hello') },
        { path: 'bin/sh', type: 'symlink', mode: 0o777 },
      ],
      PASSWD,
    );
    expect(s.setuid).toEqual(['/usr/bin/su']);
    expect(s.setgid).toEqual(['/usr/bin/chage']);
    // su, chage, sqlite3 and the script; libc, the loader and the dlopen'd module are libraries; motd is no program.
    expect(s.executables).toBe(4);
    expect(s.sharedLibraries).toBe(3);
    expect(s.loginAccounts.map((a) => a.name)).toEqual(['root', 'sync', 'kiosk']);
  });

  it('takes accounts whose shell is a program, not nologin or false', () => {
    expect(loginAccounts(PASSWD)).toEqual([
      { name: 'root', uid: 0, shell: '/bin/bash' },
      { name: 'sync', uid: 4, shell: '/bin/sync' },
      { name: 'kiosk', uid: 1000, shell: '/bin/sh' },
    ]);
    expect(loginAccounts('# comment\nbroken line\n')).toEqual([]);
  });

  it("reads an appliance's tree as the builder packs it", () => {
    const tree = new RootTree();
    tree.add({ path: 'bin/busybox', type: 'file', mode: 0o755, data: elf(), owner: 'busybox' });
    tree.add({ path: 'bin/sh', type: 'symlink', mode: 0o777, linkTarget: 'busybox', owner: 'whittle' });
    tree.add({ path: 'etc/passwd', type: 'file', mode: 0o644, data: enc.encode('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n'), owner: 'whittle' });
    expect(treeSurface(tree)).toEqual({
      setuid: [],
      setgid: [],
      loginAccounts: [{ name: 'root', uid: 0, shell: '/bin/sh' }],
      executables: 1,
      sharedLibraries: 0,
    });
  });

  it("marks an account whose shell the image lacks (Debian's passwd in a traced appliance without bash)", () => {
    const tree = new RootTree();
    tree.add({ path: 'usr/bin/dash', type: 'file', mode: 0o755, data: elf(), owner: 'dash' });
    tree.add({ path: 'bin', type: 'symlink', mode: 0o777, linkTarget: 'usr/bin', owner: 'base-files' });
    tree.add({ path: 'etc/passwd', type: 'file', mode: 0o644, data: enc.encode('root:x:0:0:root:/root:/bin/bash\nkiosk:x:1000:1000::/home/k:/bin/dash\n'), owner: 'base-passwd' });
    expect(treeSurface(tree).loginAccounts).toEqual([
      { name: 'root', uid: 0, shell: '/bin/bash', shellMissing: true },
      { name: 'kiosk', uid: 1000, shell: '/bin/dash' },
    ]);
  });

  it('walks a tree on disk (the twin) the same way', async () => {
    const root = await mkdtemp(join(tmpdir(), 'whittle-surface-'));
    try {
      await mkdir(join(root, 'usr/bin'), { recursive: true });
      await mkdir(join(root, 'etc'));
      await writeFile(join(root, 'usr/bin/passwd'), elf());
      await chmod(join(root, 'usr/bin/passwd'), 0o4755);
      await writeFile(join(root, 'usr/bin/run'), '#!/bin/sh\n');
      await chmod(join(root, 'usr/bin/run'), 0o755);
      await symlink('passwd', join(root, 'usr/bin/link'));
      await writeFile(join(root, 'etc/passwd'), PASSWD);
      const s = await readTreeSurface(root);
      expect(s.setuid).toEqual(['/usr/bin/passwd']);
      expect(s.executables).toBe(2);
      expect(s.loginAccounts.map((a) => a.name)).toEqual(['root', 'sync', 'kiosk']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('/proc/net', () => {
  it('takes TCP sockets in LISTEN, with address, port and owner', () => {
    expect(parseProcNetInet('tcp', TCP)).toEqual([{ proto: 'tcp', local: '127.0.0.1:6379', uid: 100 }]);
    expect(parseProcNetInet('tcp6', TCP6)).toEqual([
      { proto: 'tcp6', local: '[::]:22', uid: 0 },
      { proto: 'tcp6', local: '[::1]:80', uid: 33 },
    ]);
  });

  it('takes bound unconnected UDP sockets, not connected ones', () => {
    expect(parseProcNetInet('udp', UDP)).toEqual([{ proto: 'udp', local: '0.0.0.0:68', uid: 0 }]);
  });

  it('takes unix sockets that listen or are named datagram sockets', () => {
    expect(parseProcNetUnix(UNIX)).toEqual([
      { proto: 'unix', local: '/run/systemd/private', type: 'stream' },
      { proto: 'unix', local: '/run/systemd/journal/dev-log', type: 'dgram' },
      { proto: 'unix', local: '@/org/kernel/udev/udevd', type: 'seqpacket' },
    ]);
  });

  it('reads the dump the probe command prints, echo and all', () => {
    const console = `~ # ${SOCKETS_COMMAND}\r\nWHITTLE-SURFACE-BEGIN\r\n== tcp\r\n${TCP.replace(/\n/g, '\r\n')}== tcp6\r\nabsent\r\n== udp\r\n${UDP}== udp6\r\nabsent\r\n== unix\r\n${UNIX}WHITTLE-SURFACE-END\r\n~ # `;
    const r = parseSocketsDump(console);
    expect(r.network).toBe(true);
    expect(r.listening.map((s) => `${s.proto} ${s.local}`)).toEqual([
      'tcp 127.0.0.1:6379',
      'udp 0.0.0.0:68',
      'unix /run/systemd/journal/dev-log',
      'unix /run/systemd/private',
      'unix @/org/kernel/udev/udevd',
    ]);
  });

  it('finds the block past escape sequences and wrapped echoes', () => {
    const console = `\x1b[?2004l\rprobe> echo WHITTLE-''SURFACE-BEGIN; for f in tcp tcp6 udp udp6 unix; do echo "== $\r\nf"; done\r\n\x1b[?2004lWHITTLE-SURFACE-BEGIN \r\n== tcp\r\n${TCP}WHITTLE-SURFACE-END\r\n`;
    expect(parseSocketsDump(console).listening).toEqual([{ proto: 'tcp', local: '127.0.0.1:6379', uid: 100 }]);
  });

  it('survives a stray carriage return before the line (the Enter after ^D, read raw by readline)', () => {
    const strayReturn = '\r'; // a variable, so the host-tools scan does not read "\r..." as a program name
    const out = execFileSync('/bin/sh', ['-c', strayReturn + SOCKETS_COMMAND], { encoding: 'utf8', env: { PATH: '/nonexistent' }, stdio: ['ignore', 'pipe', 'ignore'] });
    expect(parseSocketsDump(out).network).toBe(true);
  });

  it('reads /proc/net with shell builtins alone (a traced appliance may keep no cat)', () => {
    // The host's own /proc/net, through the host's POSIX sh with no PATH: only builtins can run.
    const out = execFileSync('/bin/sh', ['-c', SOCKETS_COMMAND], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
    const r = parseSocketsDump(out);
    expect(r.network).toBe(true);
    expect(out).toMatch(/^== tcp\nsl +local_address/m);
  });

  it('tells a kernel without a network stack from one where nothing listens', () => {
    const none = 'WHITTLE-SURFACE-BEGIN\n== tcp\nabsent\n== tcp6\nabsent\n== udp\nabsent\n== udp6\nabsent\n== unix\nabsent\nWHITTLE-SURFACE-END\n';
    expect(parseSocketsDump(none)).toEqual({ network: false, listening: [] });
    const quiet = `WHITTLE-SURFACE-BEGIN\n== tcp\n${TCP.split('\n')[0]}\n== unix\nNum       RefCount Protocol Flags    Type St Inode Path\nWHITTLE-SURFACE-END\n`;
    expect(parseSocketsDump(quiet)).toEqual({ network: true, listening: [] });
    expect(() => parseSocketsDump('~ # ')).toThrow(/no WHITTLE-SURFACE-BEGIN/);
  });

  it('is a field older manifests may lack and newer ones validate', () => {
    const base = {
      schema: 1, name: 'x', title: 'x', description: '', kind: 'appliance', memoryMB: 64, readyMarker: '$ ', smoke: [], packages: [], fileCount: 0, rootfsSize: 0,
      artifacts: [{ role: 'kernel', file: 'bzImage', sha256: 'a'.repeat(64), size: 1, compressedSize: 1, compression: 'none' }],
    };
    expect(validateManifest(base).surface).toBeUndefined();
    const surface = { setuid: ['/usr/bin/su'], setgid: [], loginAccounts: [{ name: 'root', uid: 0, shell: '/bin/sh' }], executables: 1, sharedLibraries: 2, sockets: { measured: 'after ready', network: true, listening: [{ proto: 'tcp', local: '127.0.0.1:6379', uid: 0 }] } };
    expect(validateManifest({ ...base, surface }).surface).toEqual(surface);
    expect(() => validateManifest({ ...base, surface: { ...surface, sockets: { ...surface.sockets, listening: [{ proto: 'sctp', local: 'x' }] } } })).toThrow(/surface\.sockets\.listening\.0\.proto/);
  });
});

describe('sockets stage', () => {
  /** A guest whose console answers like an appliance's: ^D gives the probe prompt, the dump prints `dump`. */
  const fakeGuest = (dump: string, seen: { cmdline?: string; steps: ScriptStep[] }): GuestBooter => async (_dir, opts) => {
    seen.cmdline = opts.cmdline;
    return {
      ready: async () => {},
      runScript: async (steps) => {
        seen.steps.push(...steps);
        const send = steps[0].send;
        return { ok: true, transcript: send === '\x04' ? '\r\nprobe> ' : `${send}\r\n${dump}probe> ` };
      },
      control: async () => '',
      output: '',
      stop: async () => {},
    };
  };
  const lines: string[] = [];
  const log: Log = { stage: (n, d) => lines.push(`${n} ${d ?? ''}`), info: (l) => lines.push(l), progress: () => {} };

  async function run(guest: GuestBooter | undefined): Promise<Manifest> {
    const dir = await mkdtemp(join(tmpdir(), 'whittle-sockets-'));
    try {
      const manifest = { name: 'redis', kind: 'appliance', surface: { setuid: [], setgid: [], loginAccounts: [], executables: 1, sharedLibraries: 0 } } as unknown as Manifest;
      await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const ctx = { outDir: dir, manifest, opts: { log, guest } } as unknown as BuildContext;
      await measureSockets(ctx);
      return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('boots the image with the probe flag, ends the app, reads /proc/net and rewrites the manifest', async () => {
    const seen: { cmdline?: string; steps: ScriptStep[] } = { steps: [] };
    const m = await run(fakeGuest(`WHITTLE-SURFACE-BEGIN\r\n== tcp\r\n${TCP}== unix\r\nabsent\r\nWHITTLE-SURFACE-END\r\n`, seen));
    expect(seen.cmdline).toBe('whittle.probe');
    expect(seen.steps.map((s) => s.send)).toEqual(['\x04', SOCKETS_COMMAND]);
    expect(m.surface?.sockets).toMatchObject({ network: true, listening: [{ proto: 'tcp', local: '127.0.0.1:6379', uid: 100 }] });
    expect(lines.at(-1)).toMatch(/^sockets: 1 listening: tcp 127.0.0.1:6379/);
  });

  it('leaves sockets unmeasured, and says so, when the dump cannot be read or nothing can boot', async () => {
    const m = await run(fakeGuest('garbage\r\n', { steps: [] }));
    expect(m.surface?.sockets).toBeUndefined();
    expect(lines.at(-1)).toMatch(/^sockets: NOT MEASURED: The guest's \/proc\/net dump could not be read/);
    expect((await run(undefined)).surface?.sockets).toBeUndefined();
    expect(lines.at(-1)).toMatch(/not measured \(this builder has no guest to boot/);
  });
});
