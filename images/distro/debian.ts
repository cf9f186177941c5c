// The `debian` twin's stages: Debian 12 i386 installed by mmdebstrap as Debian installs it (maintainer
// scripts run, systemd, stock kernel + initramfs-tools initrd), on an ext4 disk v86 boots. They run in
// the builder's one pipeline (images/build.ts) over its context, and return early for an appliance.

import { lstat, lutimes, mkdir, mkdtemp, opendir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildContext } from '../build.ts';
import { writeChunkedArtifact } from '../artifacts.ts';
import { formatMemory } from '../format.ts';
import { sha256Hex } from '../hash.ts';
import { HostProcessError, requireHostTools, runHostTool, spawnHostTool } from '../host-process.ts';
import { fail } from '../log.ts';
import { twinInputs } from '../inputs.ts';
import { readTreeSurface } from '../surface.ts';
import { MANIFEST_SCHEMA, type AppEntry, type Manifest, type PackageShare } from '../manifest.ts';
import { explainInstallFailure } from './install-failure.ts';

/** What the twin's stages know beyond the shared context: its pins, its work folder, what dpkg installed. */
export interface DistroState {
  /** package -> version, from the appliance locks. Packages the twin installs get exactly these versions. */
  pins: Record<string, string>;
  /** A folder in TMPDIR holding the installed tree and the disk image, removed when the build ends. */
  work: string;
  root: string;
  disk: string;
  /** apt's downloads, kept in `<cacheDir>/distro/apt-archives` across builds. */
  aptCache: string;
  installed: InstalledPackage[];
  kernelVersion: string;
  kernelPackageVersion: string;
  kernelConfig: Uint8Array;
  tree: TreeStats;
}

/** The twin's state before its install stage runs. */
export function distroState(pins: Record<string, string>, cacheDir: string): DistroState {
  return {
    pins,
    work: '',
    root: '',
    disk: '',
    aptCache: join(cacheDir, 'distro', 'apt-archives'),
    installed: [],
    kernelVersion: '',
    kernelPackageVersion: '',
    kernelConfig: new Uint8Array(),
    tree: { files: 0, bytes: 0, blocks: 0, entries: 0 },
  };
}

/** The twin's fixed choices, in one place. */
export const TWIN = {
  name: 'debian',
  suite: 'bookworm',
  arch: 'i386',
  hostname: 'debian',
  /** What `apt install` would add to a minbase system to make this machine (the demo apps last). */
  packages: ['systemd-sysv', 'udev', 'linux-image-686', 'initramfs-tools', 'busybox', 'sqlite3', 'lua5.4', 'redis-server', 'redis-tools', 'ruby', 'lighttpd'],
  /** Fixed so the disk is reproducible and the kernel finds its root by UUID like an installed Debian does. */
  diskUuid: '6b1e3d1a-7e57-4c1e-9d3a-0de61a2b7e11',
  hashSeed: '2f0c5a8e-1d43-4b7a-a2c5-5e9b1f3d7c20',
  /** Room left free on the root filesystem; zero blocks cost nothing once compressed. */
  freeBytes: 64 << 20,
  chunkSize: 1 << 20,
  /** systemd + redis-server + the stock kernel: see images/distro/README.md for the measurement. */
  memoryMB: 256,
  /** bash's prompt for root in /root (Debian's /root/.bashrc PS1 `\u@\h:\w\$ `, no colour for vt220). */
  readyMarker: 'root@debian:~# ',
} as const;

/**
 * Kernel command line: root by UUID, read-only until systemd remounts it (as Debian's installer writes
 * it); kernel messages and /dev/console on ttyS0 (the last `console=`), the VGA text screen still gets
 * them and its own getty on tty1. `quiet` as Debian installs it.
 */
export const TWIN_CMDLINE = `root=UUID=${TWIN.diskUuid} ro console=tty0 console=ttyS0,115200 quiet`;

/** The root filesystem's line as the Debian installer writes it (by UUID, fsck pass 1). */
export const TWIN_FSTAB =
  `# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=${TWIN.diskUuid} / ext4 errors=remount-ro 0 1\n` +
  // The lab's files (v86's virtio-9p share), as the appliances mount them; nofail: a machine without the share boots on.
  `host9p /mnt/host 9p trans=virtio,version=9p2000.L,msize=131072,nofail 0 0\n`;

/** Apps the twin starts at its prompt: the same programs, prompts and smoke lines as the appliances. */
export const TWIN_APPS: AppEntry[] = [
  {
    name: 'sqlite',
    command: 'sqlite3',
    readyMarker: 'sqlite> ',
    smoke: [
      { send: 'select 1+1;', expect: '2' },
      { send: "create table t(x); insert into t values ('whit' || 'tled'); select upper(x) from t;", expect: 'WHITTLED' },
    ],
  },
  { name: 'lua', command: 'lua5.4', readyMarker: '> ', smoke: [{ send: 'print(6*7)', expect: '42' }, { send: "print(string.rep('ab', 3))", expect: 'ababab' }] },
  {
    name: 'redis',
    // systemd starts redis-server at boot as Debian does, but not necessarily before the getty: wait for it
    // the way the appliance's init does, so both sides stop the clock at a redis-cli that is connected.
    command: 'until redis-cli ping >/dev/null 2>&1; do sleep 0.05; done; redis-cli',
    readyMarker: '127.0.0.1:6379> ',
    smoke: [
      { send: 'PING', expect: 'PONG' },
      { send: 'SET greeting whittled', expect: 'OK' },
      { send: 'GET greeting', expect: '"whittled"' },
    ],
  },
  {
    name: 'ruby',
    command: 'irb --simple-prompt --nomultiline --nosingleline --nocolorize',
    readyMarker: '>> ',
    smoke: [
      { send: 'puts [1,2,3].sum * 7', expect: '42' },
      { send: "require 'json'; puts JSON.generate({a: 1+1})", expect: '{"a":2}' },
    ],
  },
  {
    name: 'lighttpd',
    // systemd starts lighttpd as Debian enables it; wait until it answers, as the appliance's console does.
    command: 'until busybox wget -q -O /dev/null http://127.0.0.1/ 2>/dev/null; do sleep 0.1; done; busybox sh',
    readyMarker: '~ # ',
    smoke: [{ send: 'busybox wget -q -O - http://127.0.0.1/ | busybox grep -i title', expect: 'Welcome page' }],
  },
  // busybox ash's default prompt for root (`\w \$ `) in root's home.
  { name: 'shell', command: 'busybox sh', readyMarker: '~ # ', smoke: [{ send: 'uname -a', expect: 'Linux debian' }, { send: 'echo $((6*7))', expect: '42' }] },
];

/**
 * Install: mmdebstrap into a work folder, then what the Debian installer would have configured, a check
 * that dpkg installed everything at the locked versions, the boot files, and mtimes clamped.
 */
export async function installDistro(ctx: BuildContext): Promise<void> {
  const d = ctx.distro;
  if (!d) return;
  checkHost(ctx, d);
  d.work = await mkdtemp(join(tmpdir(), 'whittle-debian-'));
  d.root = join(d.work, 'root');
  d.disk = join(d.work, 'disk.ext4');
  ctx.cleanups.push(() => removeWorkDir(ctx, d));
  ctx.opts.log.stage('install', `mmdebstrap: Debian ${TWIN.suite} ${TWIN.arch} minbase + ${TWIN.packages.join(', ')}`);
  await installDebian(ctx, d);
  await configureTwin(d);
  readInstalledPackages(ctx, d, await readFile(join(d.root, 'var/lib/dpkg/status'), 'utf8'));
  await takeBootFiles(ctx, d);
  await clampTimes(d, ctx.epoch);
}

// ---- host ---------------------------------------------------------------------------------------------

function checkHost(ctx: BuildContext, d: DistroState): void {
  if (process.getuid?.() !== 0) {
    fail('Building the debian twin needs root: mmdebstrap installs packages into a chroot and mke2fs copies root-owned files.', {
      hint: 'Run the build as root (CI runs as root), e.g. `sudo npm run images -- build debian`.',
    });
  }
  // Before minutes of work: every program the twin's stages and mmdebstrap's hooks run, and the keyring.
  requireHostTools('twin', 'Building the debian twin');
  const mirror = ctx.opts.mirror();
  if (!/^https?:\/\//.test(mirror)) fail(`Not an http(s) mirror URL: ${mirror}`, { hint: 'Set DEBIAN_MIRROR to a Debian mirror base URL.' });
  const missing = ['sqlite3', 'lua5.4', 'redis-server', 'redis-tools', 'busybox', 'ruby', 'lighttpd'].filter((p) => !d.pins[p]);
  if (missing.length) {
    fail(`No pinned version for ${missing.join(', ')}: the twin installs the versions the appliances use.`, {
      hint: 'Build the appliances first (their locks hold the versions): npm run images -- build shell sqlite lua redis ruby lighttpd',
    });
  }
}

// ---- install ------------------------------------------------------------------------------------------

/** apt preferences pinning every locked version: used when the package is installed, never forcing one in. */
export function aptPinPreferences(pins: Record<string, string>): string {
  return Object.keys(pins)
    .sort()
    .map((name) => `Package: ${name}\nPin: version ${pins[name]}\nPin-Priority: 1001\n`)
    .join('\n');
}

/** The mmdebstrap command line (hooks read the paths from the environment, so no path is ever quoted). */
export function mmdebstrapArgs(opts: { mirror: string; pins: Record<string, string> }, target: string): string[] {
  const include = TWIN.packages.map((p) => (opts.pins[p] ? `${p}=${opts.pins[p]}` : p));
  return [
    '--mode=root',
    '--format=directory',
    // apt's and dpkg's own lines ("Unpacking …", "Setting up …") as progress: the install takes minutes.
    '--verbose',
    `--arch=${TWIN.arch}`,
    '--variant=minbase',
    `--include=${include.join(',')}`,
    '--aptopt=Acquire::Languages "none"',
    // Keep apt's downloads between builds: copy the cache in before apt runs and back out before cleanup
    // (the recipe from mmdebstrap(1), EXAMPLES).
    '--skip=download/empty',
    '--skip=essential/unlink',
    '--setup-hook=mkdir -p "$WHITTLE_APT_CACHE" "$1/var/cache/apt/archives" "$1/etc/apt/preferences.d" && cp -a "$WHITTLE_APT_CACHE/." "$1/var/cache/apt/archives/"',
    '--setup-hook=cp "$WHITTLE_WORK/pins.pref" "$1/etc/apt/preferences.d/whittle-pins.pref"',
    // The installer writes fstab before it installs the kernel; so do we. (initramfs-tools' fsck hook
    // still finds no root device in a chroot, warns, and leaves fsck out: systemd-fsck-root checks the
    // root instead, as it does on any Debian whose initrd has no fsck.)
    '--essential-hook=cp "$WHITTLE_WORK/fstab" "$1/etc/fstab"',
    '--customize-hook=find "$1/var/cache/apt/archives" -maxdepth 1 -name "*.deb" -newer "$WHITTLE_WORK/pins.pref" -exec cp -a -t "$WHITTLE_APT_CACHE" {} +',
    '--customize-hook=rm "$1/etc/apt/preferences.d/whittle-pins.pref"',
    TWIN.suite,
    target,
    `deb ${opts.mirror} ${TWIN.suite} main`,
  ];
}

async function installDebian(ctx: BuildContext, d: DistroState): Promise<void> {
  await mkdir(d.aptCache, { recursive: true });
  await writeFile(join(d.work, 'pins.pref'), aptPinPreferences(d.pins));
  await writeFile(join(d.work, 'fstab'), TWIN_FSTAB);
  const mirror = ctx.opts.mirror();
  await runMmdebstrap(ctx, mmdebstrapArgs({ mirror, pins: d.pins }, d.root), mirror, { WHITTLE_APT_CACHE: d.aptCache, WHITTLE_WORK: d.work });
}

/** Runs mmdebstrap (the twin's install, an appliance's wide tree) with apt's and dpkg's lines as progress; explains a failure. */
export async function runMmdebstrap(ctx: BuildContext, args: string[], mirror: string, env: Record<string, string> = {}): Promise<void> {
  const result = await spawnHostTool('mmdebstrap', args, {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(ctx.epoch), LC_ALL: 'C.UTF-8', ...env },
    onLine: (line) => ctx.opts.log.info(`mmdebstrap: ${line}`),
    signal: ctx.opts.signal,
  });
  if (result.code !== 0) {
    // Say what failed (a missing arch-test is not a mirror problem): see install-failure.ts.
    const failure = explainInstallFailure(`${result.stderr}\n${result.stdout}`, mirror);
    throw new HostProcessError('mmdebstrap', failure.message, { hint: failure.hint, result });
  }
}

// ---- configure ----------------------------------------------------------------------------------------

/** What the Debian installer would have asked or written: host name, fstab, and the serial autologin. */
async function configureTwin(d: DistroState): Promise<void> {
  const etc = join(d.root, 'etc');
  await writeFile(join(etc, 'hostname'), `${TWIN.hostname}\n`);
  await mkdir(join(d.root, 'mnt', 'host'), { recursive: true });
  await writeFile(
    join(etc, 'hosts'),
    `127.0.0.1\tlocalhost\n127.0.1.1\t${TWIN.hostname}\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n`,
  );
  // mmdebstrap copies the build host's resolv.conf; the twin has no network.
  await rm(join(etc, 'resolv.conf'), { force: true });
  if ((await readFile(join(etc, 'fstab'), 'utf8')) !== TWIN_FSTAB) fail('/etc/fstab changed during the install');
  // Debian's 90 s start and device timeouts assume real hardware; in an emulator on a busy host, udev's
  // coldplug can take longer than that to announce /dev/ttyS0, and the serial getty then never starts
  // (seen: "Timed out waiting for device dev-ttyS0.device", journald and redis failing). Longer timeouts
  // change nothing when the boot is fast (a timeout is only a limit).
  await mkdir(join(etc, 'systemd', 'system.conf.d'), { recursive: true });
  await writeFile(join(etc, 'systemd', 'system.conf.d', 'emulator-timeouts.conf'), '[Manager]\nDefaultTimeoutStartSec=15min\nDefaultDeviceTimeoutSec=15min\n');
  const dropIn = join(etc, 'systemd', 'system', 'serial-getty@ttyS0.service.d');
  await mkdir(dropIn, { recursive: true });
  // Debian's serial-getty@.service line with --autologin: agetty runs `login -f root`, no password asked.
  await writeFile(
    join(dropIn, 'autologin.conf'),
    '[Service]\nExecStart=\nExecStart=-/sbin/agetty -o \'-p -f -- \\\\u\' --keep-baud --autologin root 115200,57600,38400,9600 - $TERM\n',
  );
}

// ---- packages -----------------------------------------------------------------------------------------

export interface InstalledPackage {
  name: string;
  version: string;
  arch: string;
  status: string;
  installedSizeKiB: number;
}

/** The paragraphs of dpkg's status file (only the fields the manifest needs). */
export function parseDpkgStatus(text: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    const field = (key: string) => new RegExp(`^${key}: *(.*)$`, 'm').exec(para)?.[1]?.trim();
    const name = field('Package');
    if (!name) continue;
    out.push({
      name,
      version: field('Version') ?? '',
      arch: field('Architecture') ?? '',
      status: field('Status') ?? '',
      installedSizeKiB: Number(field('Installed-Size') ?? 0),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function readInstalledPackages(ctx: BuildContext, d: DistroState, dpkgStatus: string): void {
  d.installed = parseDpkgStatus(dpkgStatus);
  const broken = d.installed.filter((p) => p.status !== 'install ok installed');
  if (broken.length) {
    fail(`dpkg left packages not fully installed: ${broken.map((p) => `${p.name} (${p.status})`).join(', ')}`, {
      hint: 'A maintainer script failed; rerun the build and read the mmdebstrap lines before the failure.',
    });
  }
  const wrong = d.installed.filter((p) => d.pins[p.name] !== undefined && d.pins[p.name] !== p.version);
  if (wrong.length) {
    fail(`Installed versions differ from the locks: ${wrong.map((p) => `${p.name} ${p.version} (lock: ${d.pins[p.name]})`).join(', ')}`, {
      hint: 'The mirror no longer has the locked versions; re-resolve the appliance locks and build both again.',
    });
  }
  ctx.opts.log.info(`installed ${d.installed.length} packages, all "install ok installed"`);
}

// ---- boot files ---------------------------------------------------------------------------------------

/** Debian's own kernel and initrd, exactly as installed: the pipeline's kernel and initramfs. */
async function takeBootFiles(ctx: BuildContext, d: DistroState): Promise<void> {
  const boot = join(d.root, 'boot');
  const kernels = (await readdir(boot)).filter((f) => f.startsWith('vmlinuz-'));
  if (kernels.length !== 1) fail(`Expected one kernel in /boot, found ${kernels.length}: ${kernels.join(', ')}`);
  d.kernelVersion = kernels[0].slice('vmlinuz-'.length);
  ctx.initramfs = await readFile(join(boot, `initrd.img-${d.kernelVersion}`)).catch((cause) =>
    fail(`initramfs-tools made no initrd for ${d.kernelVersion}`, { cause, hint: 'Look for update-initramfs errors in the mmdebstrap output.' }),
  );
  d.kernelConfig = await readFile(join(boot, `config-${d.kernelVersion}`));
  d.kernelPackageVersion = d.installed.find((p) => p.name === `linux-image-${d.kernelVersion}`)?.version ?? '';
  ctx.kernel = {
    bzImage: await readFile(join(boot, `vmlinuz-${d.kernelVersion}`)),
    configHash: sha256Hex(d.kernelConfig),
    version: d.kernelVersion,
    source: `linux-image-${d.kernelVersion} ${d.kernelPackageVersion}`,
    stock: true,
  };
}

// ---- disk ---------------------------------------------------------------------------------------------

interface TreeStats {
  /** Non-directories: regular files, symlinks, device nodes. */
  files: number;
  /** Bytes of regular files. */
  bytes: number;
  /** 4 KiB blocks the tree needs on ext4 (data + directories + long symlinks). */
  blocks: number;
  entries: number;
}

/** Clamps every mtime to SOURCE_DATE_EPOCH (atime = mtime) and counts the tree for the manifest and the disk size. */
async function clampTimes(d: DistroState, epoch: number): Promise<void> {
  const stats: TreeStats = { files: 0, bytes: 0, blocks: 0, entries: 0 };
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    stats.entries++;
    const blocks = Math.ceil(st.size / 4096);
    if (st.isDirectory()) {
      stats.blocks += Math.max(1, blocks);
      for await (const entry of await opendir(path)) await visit(join(path, entry.name));
    } else {
      stats.files++;
      if (st.isFile()) {
        stats.bytes += st.size;
        stats.blocks += blocks;
      } else if (st.isSymbolicLink() && st.size >= 60) stats.blocks += 1;
    }
    const mtime = Math.min(Math.floor(st.mtimeMs / 1000), epoch);
    await lutimes(path, mtime, mtime);
  };
  await visit(d.root);
  d.tree = stats;
}

/** Size of the ext4 image: the tree, its inodes (one per 16 KiB), a 16-32 MiB journal, and the free room. */
export function diskSizeFor(tree: Pick<TreeStats, 'blocks'>, freeBytes: number): number {
  const data = tree.blocks * 4096 + freeBytes + (32 << 20);
  // Inode tables take 256 B per 16 KiB (1.6 %); group descriptors and bitmaps another ~0.1 %.
  const size = data / (1 - 0.0156 - 0.002);
  return Math.ceil(size / (1 << 20)) * (1 << 20);
}

/** Disk: the tree as an ext4 image (`mke2fs -d`, no loop mount), every inode time at SOURCE_DATE_EPOCH. */
export async function makeDisk(ctx: BuildContext): Promise<void> {
  const d = ctx.distro;
  if (!d) return;
  const epoch = String(ctx.epoch);
  const size = diskSizeFor(d.tree, TWIN.freeBytes);
  const signal = ctx.opts.signal;
  // mke2fs reads the tree in alphasort order (locale-dependent: C), takes times from the files (clamped
  // above) and from E2FSPROGS_FAKE_TIME; its built-in profile (no host mke2fs.conf) gives Debian's ext4 features.
  const env = { ...process.env, E2FSPROGS_FAKE_TIME: epoch, MKE2FS_CONFIG: '/nonexistent', LC_ALL: 'C' };
  ctx.opts.log.stage('disk', `mke2fs: ext4, ${formatMemory(size)}, ${d.tree.entries} entries`);
  await runHostTool(
    'mke2fs',
    ['-q', '-F', '-t', 'ext4', '-b', '4096', '-I', '256', '-i', '16384', '-L', 'debian', '-U', TWIN.diskUuid,
      '-E', `hash_seed=${TWIN.hashSeed},root_owner=0:0`, '-d', d.root, d.disk, `${size / 1024}k`],
    { env, signal, hint: 'The disk estimate may be too small; report the tree size.' },
  );
  // mke2fs -d copies each inode's ctime from the host (the time the file was written here): set them all.
  const dump = (await runHostTool('dumpe2fs', [d.disk], { env, signal })).stdout;
  const inodes = usedInodes(dump);
  const cmds = inodes.map((ino) => `sif <${ino}> ctime @${epoch}\n`).join('');
  await writeFile(join(d.work, 'ctimes.debugfs'), cmds);
  // debugfs reports errors on stderr and still exits 0.
  const out = (await runHostTool('debugfs', ['-w', '-f', join(d.work, 'ctimes.debugfs'), d.disk], { env, signal })).stderr;
  const errors = out.split('\n').filter((l) => l && !l.startsWith('debugfs'));
  if (errors.length) fail(`debugfs failed while setting inode times: ${errors.slice(0, 3).join(' | ')}`);
  await runHostTool('e2fsck', ['-fn', d.disk], { env, signal, hint: 'The image is inconsistent: a bug in the disk stage.' });
  const free = /^Free blocks:\s+(\d+)$/m.exec(dump)?.[1];
  ctx.opts.log.info(`disk: ${inodes.length} inodes, ${free ? formatMemory(Number(free) * 4096) : '?'} free`);
}

/** Inodes in use according to dumpe2fs: the root directory and every non-free inode from 11 on. */
export function usedInodes(dumpe2fs: string): number[] {
  const count = Number(/^Inode count:\s+(\d+)$/m.exec(dumpe2fs)?.[1]);
  const perGroup = Number(/^Inodes per group:\s+(\d+)$/m.exec(dumpe2fs)?.[1]);
  if (!count || !perGroup) fail('Cannot read inode counts from dumpe2fs');
  const free = new Uint8Array(count + 1);
  for (const m of dumpe2fs.matchAll(/^\s+Free inodes: (.*)$/gm)) {
    for (const range of m[1].split(',').map((s) => s.trim()).filter(Boolean)) {
      const [a, b] = range.split('-').map(Number);
      for (let i = a; i <= (b ?? a); i++) free[i] = 1;
    }
  }
  const used = [2];
  for (let i = 11; i <= count; i++) if (!free[i]) used.push(i);
  return used;
}

// ---- artifacts and manifest ---------------------------------------------------------------------------

/** The disk as content-addressed 1 MiB zstd chunks (after the artifacts every image has). */
export async function writeDiskArtifact(ctx: BuildContext): Promise<void> {
  const d = ctx.distro;
  if (!d) return;
  ctx.opts.signal?.throwIfAborted();
  ctx.opts.log.info('artifacts: disk, in 1 MiB zstd chunks');
  ctx.artifacts.push(await writeChunkedArtifact(ctx.outDir, 'disk', await readFile(d.disk), TWIN.chunkSize, 9));
}

async function packageShares(d: DistroState): Promise<PackageShare[]> {
  const info = join(d.root, 'var/lib/dpkg/info');
  const shares: PackageShare[] = [];
  const seen = new Set<string>();
  for (const p of d.installed) {
    const list =
      (await readFile(join(info, `${p.name}:${p.arch}.list`), 'utf8').catch(() => undefined)) ??
      (await readFile(join(info, `${p.name}.list`), 'utf8').catch(() => ''));
    let size = 0;
    let files = 0;
    for (const path of list.split('\n')) {
      if (!path || seen.has(path)) continue;
      const st = await lstat(join(d.root, path)).catch(() => undefined);
      if (!st || st.isDirectory()) continue;
      seen.add(path);
      files++;
      if (st.isFile()) size += st.size;
    }
    shares.push({ name: p.name, version: p.version, size, share: d.tree.bytes ? size / d.tree.bytes : 0, files });
  }
  return shares;
}

/** Manifest: the twin's, with the apps it starts at its prompt and the packages dpkg installed. */
export async function writeDistroManifest(ctx: BuildContext): Promise<void> {
  const d = ctx.distro;
  if (!d) return;
  const pinsText = Object.keys(d.pins)
    .sort()
    .map((k) => `${k} ${d.pins[k]}\n`)
    .join('');
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    name: TWIN.name,
    title: 'Debian 12 (full distribution)',
    description:
      'Debian 12 bookworm i386 as Debian installs it: minbase + systemd, udev, the stock linux-image-686 kernel and its ' +
      'initramfs-tools initrd, and the demo apps at the appliances\' versions; root autologin on the serial console.',
    kind: 'distro',
    artifacts: ctx.artifacts,
    cmdline: TWIN_CMDLINE,
    share: true,
    memoryMB: TWIN.memoryMB,
    readyMarker: TWIN.readyMarker,
    smoke: [
      { send: 'uname -r', expect: d.kernelVersion, timeout: 20 },
      // Every package dpkg knows is installed ("ii"): the count equals the manifest's package list.
      { send: "dpkg-query -W -f='${db:Status-Abbrev}\\n' | grep -c '^ii '", expect: String(d.installed.length), timeout: 30 },
    ],
    apps: TWIN_APPS,
    packages: await packageShares(d),
    fileCount: d.tree.files,
    rootfsSize: d.tree.bytes,
    kernel: {
      source: ctx.kernel!.source,
      version: ctx.kernel!.version,
      configHash: ctx.kernel!.configHash,
      stock: true,
    },
    lockHash: sha256Hex(pinsText),
    inputs: twinInputs(d.pins),
    // Counted from the installed tree that went onto the disk.
    surface: await readTreeSurface(d.root),
  };
  await writeFile(join(ctx.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  ctx.manifest = manifest;
}

// ---- cleanup ------------------------------------------------------------------------------------------

/** Removes the work folder, unless something is still mounted inside it (rm would reach into /dev or /proc). */
async function removeWorkDir(ctx: BuildContext, d: DistroState): Promise<void> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && (m === d.work || m.startsWith(`${d.work}/`)));
  if (mounts.length) {
    ctx.opts.log.info(`left ${d.work} in place: still mounted inside it: ${mounts.join(', ')} (umount them, then remove it)`);
    return;
  }
  await rm(d.work, { recursive: true, force: true });
}
