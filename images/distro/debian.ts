// Builds `debian`, the full-distribution twin: Debian 12 i386 installed by mmdebstrap as Debian installs
// it (maintainer scripts run, systemd, stock kernel + initramfs-tools initrd), on an ext4 disk v86 boots.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, lutimes, mkdir, mkdtemp, opendir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defaultCacheDir } from '../archive/cache.ts';
import { debianMirror } from '../archive/mirror.ts';
import { writeArtifact, writeChunkedArtifact } from '../artifacts.ts';
import { sha256Hex } from '../hash.ts';
import { BuildError, fail, formatBytes } from '../log.ts';
import { MANIFEST_SCHEMA, type AppEntry, type Artifact, type Manifest, type PackageShare } from '../manifest.ts';

/** SeaBIOS images handed to v86 (the appliance builder's firmware stage makes them from Debian's `seabios`). */
export interface Firmware {
  bios: Uint8Array;
  vgabios: Uint8Array;
}

export interface DebianTwinOptions {
  /** Debian mirror base URL (the folder holding dists/ and pool/). */
  mirror: string;
  /** Cache root; apt's downloads are kept in `<cacheDir>/distro/apt-archives` across builds. */
  cacheDir: string;
  /** Empty or missing folder that receives manifest.json and the artifacts. */
  outDir: string;
  /** package -> version, from the appliance locks. Packages the twin installs get exactly these versions. */
  pins: Record<string, string>;
  sourceDateEpoch: number;
  /** When absent, bios.bin and vgabios-stdvga.bin come from Debian's `seabios` (pinned if `pins.seabios`). */
  firmware?: Firmware;
  /** Guest memory; default {@link TWIN.memoryMB}. */
  memoryMB?: number;
  /** Hash of the build's inputs (images/inputs.ts), stamped into the manifest. */
  inputs?: string;
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

/** The twin's fixed choices, in one place. */
export const TWIN = {
  name: 'debian',
  suite: 'bookworm',
  arch: 'i386',
  hostname: 'debian',
  /** What `apt install` would add to a minbase system to make this machine (the demo apps last). */
  packages: ['systemd-sysv', 'udev', 'linux-image-686', 'initramfs-tools', 'busybox', 'sqlite3', 'lua5.4', 'redis-server', 'redis-tools'],
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
export const TWIN_FSTAB = `# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=${TWIN.diskUuid} / ext4 errors=remount-ro 0 1\n`;

/** Apps the twin starts at its prompt: the same programs, prompts and smoke lines as the appliances. */
export const TWIN_APPS: AppEntry[] = [
  {
    name: 'sqlite',
    command: 'sqlite3',
    readyMarker: 'sqlite> ',
    smoke: [
      { send: 'select 1+1;', expect: '2' },
      { send: "create table t(x); insert into t values ('whittled'); select x from t;", expect: 'whittled' },
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
  // busybox ash's default prompt for root (`\w \$ `) in root's home.
  { name: 'shell', command: 'busybox sh', readyMarker: '~ # ', smoke: [{ send: 'uname -a', expect: 'Linux debian' }, { send: 'echo $((6*7))', expect: '42' }] },
];

const HOST_PACKAGES = 'mmdebstrap e2fsprogs debian-archive-keyring';

interface Context {
  opts: DebianTwinOptions;
  progress: (line: string) => void;
  work: string;
  root: string;
  disk: string;
  aptCache: string;
  installed: InstalledPackage[];
  kernelVersion: string;
  kernelPackageVersion: string;
  kernel: Uint8Array;
  initrd: Uint8Array;
  kernelConfig: Uint8Array;
  firmware: Firmware;
  tree: TreeStats;
  artifacts: Artifact[];
}

/** Builds the twin into `opts.outDir` (manifest.json + artifacts) and returns its manifest. */
export async function buildDebianTwin(opts: DebianTwinOptions): Promise<Manifest> {
  const ctx = await createContext(opts);
  try {
    await checkHost(ctx);
    await installDebian(ctx);
    await configureTwin(ctx);
    await readInstalledPackages(ctx);
    await takeBootFiles(ctx);
    await clampTimes(ctx);
    await makeDisk(ctx);
    await writeArtifacts(ctx);
    return await writeManifest(ctx);
  } finally {
    await removeWorkDir(ctx);
  }
}

async function createContext(opts: DebianTwinOptions): Promise<Context> {
  const progress = opts.onProgress ?? (() => {});
  const work = await mkdtemp(join(tmpdir(), 'whittle-debian-'));
  return {
    opts,
    progress,
    work,
    root: join(work, 'root'),
    disk: join(work, 'disk.ext4'),
    aptCache: join(opts.cacheDir, 'distro', 'apt-archives'),
    installed: [],
    kernelVersion: '',
    kernelPackageVersion: '',
    kernel: new Uint8Array(),
    initrd: new Uint8Array(),
    kernelConfig: new Uint8Array(),
    firmware: opts.firmware ?? { bios: new Uint8Array(), vgabios: new Uint8Array() },
    tree: { files: 0, bytes: 0, blocks: 0, entries: 0 },
    artifacts: [],
  };
}

// ---- host ---------------------------------------------------------------------------------------------

async function checkHost(ctx: Context): Promise<void> {
  if (process.getuid?.() !== 0) {
    fail('Building the debian twin needs root: mmdebstrap installs packages into a chroot and mke2fs copies root-owned files.', {
      hint: 'Run the build as root (CI runs as root), e.g. `sudo npm run images -- build debian`.',
    });
  }
  for (const tool of ['mmdebstrap', 'mke2fs', 'debugfs', 'dumpe2fs', 'e2fsck', 'dpkg-deb']) {
    if (!(await commandExists(tool))) fail(`${tool} is not installed.`, { hint: `apt-get install ${HOST_PACKAGES}` });
  }
  if (!existsSync('/usr/share/keyrings/debian-archive-keyring.gpg')) {
    fail("Debian's archive keyring is missing: mmdebstrap verifies the mirror's signatures with it.", { hint: 'apt-get install debian-archive-keyring' });
  }
  if (!/^https?:\/\//.test(ctx.opts.mirror)) fail(`Not an http(s) mirror URL: ${ctx.opts.mirror}`, { hint: 'Set DEBIAN_MIRROR to a Debian mirror base URL.' });
  const missing = ['sqlite3', 'lua5.4', 'redis-server', 'redis-tools', 'busybox'].filter((p) => !ctx.opts.pins[p]);
  if (missing.length) {
    fail(`No pinned version for ${missing.join(', ')}: the twin installs the versions the appliances use.`, {
      hint: 'Build the appliances first (their locks hold the versions), or pass the versions explicitly.',
    });
  }
  const outEntries = await readdir(ctx.opts.outDir).catch(() => []);
  if (outEntries.length) fail(`Output folder is not empty: ${ctx.opts.outDir}`);
}

async function commandExists(name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(join(dir, name))) return true;
  }
  return false;
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
export function mmdebstrapArgs(opts: Pick<DebianTwinOptions, 'mirror' | 'pins' | 'firmware'>, target: string): string[] {
  const include = TWIN.packages.map((p) => (opts.pins[p] ? `${p}=${opts.pins[p]}` : p));
  const seabios = opts.pins.seabios ? `seabios=${opts.pins.seabios}` : 'seabios';
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
    ...(opts.firmware
      ? []
      : [`--customize-hook=chroot "$1" sh -c 'cd /tmp && apt-get download -q ${seabios}' && mv "$1"/tmp/seabios_*.deb "$WHITTLE_WORK/"`]),
    '--customize-hook=rm "$1/etc/apt/preferences.d/whittle-pins.pref"',
    TWIN.suite,
    target,
    `deb ${opts.mirror} ${TWIN.suite} main`,
  ];
}

async function installDebian(ctx: Context): Promise<void> {
  await mkdir(ctx.aptCache, { recursive: true });
  await writeFile(join(ctx.work, 'pins.pref'), aptPinPreferences(ctx.opts.pins));
  await writeFile(join(ctx.work, 'fstab'), TWIN_FSTAB);
  ctx.progress(`mmdebstrap: Debian ${TWIN.suite} ${TWIN.arch} minbase + ${TWIN.packages.join(', ')}`);
  await run('mmdebstrap', mmdebstrapArgs(ctx.opts, ctx.root), {
    env: {
      SOURCE_DATE_EPOCH: String(ctx.opts.sourceDateEpoch),
      WHITTLE_APT_CACHE: ctx.aptCache,
      WHITTLE_WORK: ctx.work,
      LC_ALL: 'C.UTF-8',
    },
    onLine: (line) => ctx.progress(`mmdebstrap: ${line}`),
    signal: ctx.opts.signal,
    hint: 'Check that the mirror serves bookworm i386 and that the pinned versions are still in it (a point release replaces old versions).',
  });
}

// ---- configure ----------------------------------------------------------------------------------------

/** What the Debian installer would have asked or written: host name, fstab, and the serial autologin. */
async function configureTwin(ctx: Context): Promise<void> {
  const etc = join(ctx.root, 'etc');
  await writeFile(join(etc, 'hostname'), `${TWIN.hostname}\n`);
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

async function readInstalledPackages(ctx: Context): Promise<void> {
  ctx.installed = parseDpkgStatus(await readFile(join(ctx.root, 'var/lib/dpkg/status'), 'utf8'));
  const broken = ctx.installed.filter((p) => p.status !== 'install ok installed');
  if (broken.length) {
    fail(`dpkg left packages not fully installed: ${broken.map((p) => `${p.name} (${p.status})`).join(', ')}`, {
      hint: 'A maintainer script failed; rerun the build and read the mmdebstrap lines before the failure.',
    });
  }
  const wrong = ctx.installed.filter((p) => ctx.opts.pins[p.name] !== undefined && ctx.opts.pins[p.name] !== p.version);
  if (wrong.length) {
    fail(`Installed versions differ from the locks: ${wrong.map((p) => `${p.name} ${p.version} (lock: ${ctx.opts.pins[p.name]})`).join(', ')}`, {
      hint: 'The mirror no longer has the locked versions; re-resolve the appliance locks and build both again.',
    });
  }
  ctx.progress(`installed ${ctx.installed.length} packages, all "install ok installed"`);
}

// ---- boot files ---------------------------------------------------------------------------------------

async function takeBootFiles(ctx: Context): Promise<void> {
  const boot = join(ctx.root, 'boot');
  const kernels = (await readdir(boot)).filter((f) => f.startsWith('vmlinuz-'));
  if (kernels.length !== 1) fail(`Expected one kernel in /boot, found ${kernels.length}: ${kernels.join(', ')}`);
  ctx.kernelVersion = kernels[0].slice('vmlinuz-'.length);
  ctx.kernel = await readFile(join(boot, `vmlinuz-${ctx.kernelVersion}`));
  ctx.initrd = await readFile(join(boot, `initrd.img-${ctx.kernelVersion}`)).catch((cause) =>
    fail(`initramfs-tools made no initrd for ${ctx.kernelVersion}`, { cause, hint: 'Look for update-initramfs errors in the mmdebstrap output.' }),
  );
  ctx.kernelConfig = await readFile(join(boot, `config-${ctx.kernelVersion}`));
  ctx.kernelPackageVersion = ctx.installed.find((p) => p.name === `linux-image-${ctx.kernelVersion}`)?.version ?? '';
  if (!ctx.opts.firmware) ctx.firmware = await firmwareFromSeabiosDeb(ctx);
}

async function firmwareFromSeabiosDeb(ctx: Context): Promise<Firmware> {
  const deb = (await readdir(ctx.work)).find((f) => /^seabios_.*\.deb$/.test(f));
  if (!deb) fail('apt-get download seabios left no .deb');
  const dir = join(ctx.work, 'seabios');
  await run('dpkg-deb', ['-x', join(ctx.work, deb), dir], { signal: ctx.opts.signal });
  return {
    bios: await readFile(join(dir, 'usr/share/seabios/bios.bin')),
    vgabios: await readFile(join(dir, 'usr/share/seabios/vgabios-stdvga.bin')),
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
async function clampTimes(ctx: Context): Promise<void> {
  const epoch = ctx.opts.sourceDateEpoch;
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
  await visit(ctx.root);
  ctx.tree = stats;
}

/** Size of the ext4 image: the tree, its inodes (one per 16 KiB), a 16-32 MiB journal, and the free room. */
export function diskSizeFor(tree: Pick<TreeStats, 'blocks'>, freeBytes: number): number {
  const data = tree.blocks * 4096 + freeBytes + (32 << 20);
  // Inode tables take 256 B per 16 KiB (1.6 %); group descriptors and bitmaps another ~0.1 %.
  const size = data / (1 - 0.0156 - 0.002);
  return Math.ceil(size / (1 << 20)) * (1 << 20);
}

async function makeDisk(ctx: Context): Promise<void> {
  const epoch = String(ctx.opts.sourceDateEpoch);
  const size = diskSizeFor(ctx.tree, TWIN.freeBytes);
  // mke2fs reads the tree in alphasort order (locale-dependent: C), takes times from the files (clamped
  // above) and from E2FSPROGS_FAKE_TIME; its built-in profile (no host mke2fs.conf) gives Debian's ext4 features.
  const env = { E2FSPROGS_FAKE_TIME: epoch, MKE2FS_CONFIG: '/nonexistent', LC_ALL: 'C' };
  ctx.progress(`mke2fs: ext4, ${(size / 2 ** 20).toFixed(0)} MiB, ${ctx.tree.entries} entries`);
  await run(
    'mke2fs',
    ['-q', '-F', '-t', 'ext4', '-b', '4096', '-I', '256', '-i', '16384', '-L', 'debian', '-U', TWIN.diskUuid,
      '-E', `hash_seed=${TWIN.hashSeed},root_owner=0:0`, '-d', ctx.root, ctx.disk, `${size / 1024}k`],
    { env, signal: ctx.opts.signal, hint: 'The disk estimate may be too small; report the tree size.' },
  );
  // mke2fs -d copies each inode's ctime from the host (the time the file was written here): set them all.
  const dump = await run('dumpe2fs', [ctx.disk], { env, signal: ctx.opts.signal });
  const inodes = usedInodes(dump);
  const cmds = inodes.map((ino) => `sif <${ino}> ctime @${epoch}\n`).join('');
  await writeFile(join(ctx.work, 'ctimes.debugfs'), cmds);
  const out = await run('debugfs', ['-w', '-f', join(ctx.work, 'ctimes.debugfs'), ctx.disk], { env, signal: ctx.opts.signal, stderr: true });
  const errors = out.split('\n').filter((l) => l && !l.startsWith('debugfs'));
  if (errors.length) fail(`debugfs failed while setting inode times: ${errors.slice(0, 3).join(' | ')}`);
  await run('e2fsck', ['-fn', ctx.disk], { env, signal: ctx.opts.signal, hint: 'The image is inconsistent: a bug in the disk stage.' });
  const free = /^Free blocks:\s+(\d+)$/m.exec(dump)?.[1];
  ctx.progress(`disk: ${inodes.length} inodes, ${free ? ((Number(free) * 4096) / 2 ** 20).toFixed(0) : '?'} MiB free`);
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

async function writeArtifacts(ctx: Context): Promise<void> {
  const out = ctx.opts.outDir;
  await mkdir(out, { recursive: true });
  ctx.progress('artifacts: firmware, kernel, initrd');
  ctx.artifacts.push(await writeArtifact(out, 'bios', 'bios.bin', ctx.firmware.bios));
  ctx.artifacts.push(await writeArtifact(out, 'vgabios', 'vgabios-stdvga.bin', ctx.firmware.vgabios));
  ctx.artifacts.push(await writeArtifact(out, 'kernel', `vmlinuz-${ctx.kernelVersion}`, ctx.kernel));
  ctx.artifacts.push(await writeArtifact(out, 'initrd', `initrd.img-${ctx.kernelVersion}`, ctx.initrd));
  ctx.opts.signal?.throwIfAborted();
  ctx.progress('artifacts: disk, in 1 MiB zstd chunks');
  ctx.artifacts.push(await writeChunkedArtifact(out, 'disk', await readFile(ctx.disk), TWIN.chunkSize, 9));
}

async function packageShares(ctx: Context): Promise<PackageShare[]> {
  const info = join(ctx.root, 'var/lib/dpkg/info');
  const shares: PackageShare[] = [];
  const seen = new Set<string>();
  for (const p of ctx.installed) {
    const list =
      (await readFile(join(info, `${p.name}:${p.arch}.list`), 'utf8').catch(() => undefined)) ??
      (await readFile(join(info, `${p.name}.list`), 'utf8').catch(() => ''));
    let size = 0;
    let files = 0;
    for (const path of list.split('\n')) {
      if (!path || seen.has(path)) continue;
      const st = await lstat(join(ctx.root, path)).catch(() => undefined);
      if (!st || st.isDirectory()) continue;
      seen.add(path);
      files++;
      if (st.isFile()) size += st.size;
    }
    shares.push({ name: p.name, version: p.version, size, share: ctx.tree.bytes ? size / ctx.tree.bytes : 0, files });
  }
  return shares;
}

async function writeManifest(ctx: Context): Promise<Manifest> {
  const pinsText = Object.keys(ctx.opts.pins)
    .sort()
    .map((k) => `${k} ${ctx.opts.pins[k]}\n`)
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
    memoryMB: ctx.opts.memoryMB ?? TWIN.memoryMB,
    readyMarker: TWIN.readyMarker,
    smoke: [
      { send: 'uname -r', expect: ctx.kernelVersion, timeout: 20 },
      // Every package dpkg knows is installed ("ii"): the count equals the manifest's package list.
      { send: "dpkg-query -W -f='${db:Status-Abbrev}\\n' | grep -c '^ii '", expect: String(ctx.installed.length), timeout: 30 },
    ],
    apps: TWIN_APPS,
    packages: await packageShares(ctx),
    fileCount: ctx.tree.files,
    rootfsSize: ctx.tree.bytes,
    kernel: {
      source: `linux-image-${ctx.kernelVersion} ${ctx.kernelPackageVersion}`,
      version: ctx.kernelVersion,
      configHash: sha256Hex(ctx.kernelConfig),
      stock: true,
    },
    lockHash: sha256Hex(pinsText),
    ...(ctx.opts.inputs ? { inputs: ctx.opts.inputs } : {}),
  };
  await writeFile(join(ctx.opts.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

// ---- cleanup ------------------------------------------------------------------------------------------

/** Removes the work folder, unless something is still mounted inside it (rm would reach into /dev or /proc). */
async function removeWorkDir(ctx: Context): Promise<void> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && (m === ctx.work || m.startsWith(`${ctx.work}/`)));
  if (mounts.length) {
    ctx.progress(`left ${ctx.work} in place: still mounted inside it: ${mounts.join(', ')} (umount them, then remove it)`);
    return;
  }
  await rm(ctx.work, { recursive: true, force: true });
}

// ---- processes ----------------------------------------------------------------------------------------

interface RunOptions {
  env?: Record<string, string>;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  hint?: string;
  /** Return stderr instead of stdout (debugfs reports errors there). */
  stderr?: boolean;
}

/** Runs a command; resolves with its stdout, fails with its last stderr lines and the hint. */
function run(cmd: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    options.signal?.throwIfAborted();
    const child = spawn(cmd, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let pending = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      if (!options.onLine) return;
      pending += b.toString('utf8');
      const lines = pending.split(/\r?\n|\r/);
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) options.onLine(line);
    });
    child.on('error', reject);
    child.on('close', (code, sig) => {
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) return resolve(options.stderr ? stderr : Buffer.concat(out).toString('utf8'));
      if (options.signal?.aborted) return reject(options.signal.reason);
      const tail = stderr.trim().split('\n').slice(-15).join('\n');
      reject(new BuildError(`${cmd} failed (${sig ?? `exit ${code}`}):\n${tail}`, { hint: options.hint }));
    });
  });
}

// ---- command line (the images CLI calls buildDebianTwin; this is for building the twin alone) ----------

/**
 * Pins from lock files: every `{ name, version }` in a lock's `packages`, or in the `packages` of each of
 * its sections (the appliance locks have `rootfs` and `boot`, the latter with seabios and the stock
 * kernel). Two locks disagreeing on a version is an error.
 */
export async function pinsFromLocks(files: string[]): Promise<Record<string, string>> {
  type Pkgs = { packages?: { name: string; version: string }[] };
  const pins: Record<string, string> = {};
  for (const file of files) {
    const lock = JSON.parse(await readFile(file, 'utf8')) as Pkgs & Record<string, unknown>;
    const sections = [lock, ...Object.values(lock).filter((v): v is Pkgs => typeof v === 'object' && v !== null && 'packages' in v)];
    for (const { name, version } of sections.flatMap((s) => (Array.isArray(s.packages) ? s.packages : []))) {
      if (pins[name] && pins[name] !== version) fail(`Locks disagree on ${name}: ${pins[name]} and ${version} (${file})`);
      pins[name] = version;
    }
  }
  return pins;
}

async function main(argv: string[]): Promise<void> {
  const usage = 'usage: tsx images/distro/debian.ts [--out DIR] [--lock FILE]... [--pin NAME=VERSION]... [--memory MB]';
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  let out = join(repo, 'images/dist/debian');
  const locks: string[] = [];
  const pins: Record<string, string> = {};
  let memoryMB: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const value = () => argv[++i] ?? fail(usage);
    if (argv[i] === '--out') out = resolve(value());
    else if (argv[i] === '--lock') locks.push(value());
    else if (argv[i] === '--pin') {
      const [name, version] = value().split('=', 2);
      if (!version) fail(usage);
      pins[name] = version;
    } else if (argv[i] === '--memory') memoryMB = Number(value());
    else fail(usage);
  }
  if (!locks.length && !Object.keys(pins).length) {
    const recipes = join(repo, 'images/recipes');
    for (const name of await readdir(recipes).catch(() => [])) {
      for (const f of await readdir(join(recipes, name)).catch(() => [])) if (/lock.*\.json$/.test(f)) locks.push(join(recipes, name, f));
    }
  }
  Object.assign(pins, { ...(await pinsFromLocks(locks)), ...pins });
  const tmp = `${out}.tmp-${process.pid}`;
  const started = Date.now();
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 1686355200); // Debian 12.0's release day
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted')));
  try {
    const manifest = await buildDebianTwin({
      mirror: debianMirror(),
      cacheDir: defaultCacheDir(),
      outDir: tmp,
      pins,
      sourceDateEpoch: epoch,
      memoryMB,
      onProgress: (line) => process.stderr.write(`[debian ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`),
      signal: controller.signal,
    });
    await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
    const sum = (f: (a: Artifact) => number) => manifest.artifacts.reduce((n, a) => n + f(a), 0);
    process.stderr.write(
      `debian: ${manifest.packages.length} packages, ${manifest.fileCount} files, rootfs ${formatBytes(manifest.rootfsSize)}; ` +
        `artifacts ${formatBytes(sum((a) => a.size))} raw, ${formatBytes(sum((a) => a.compressedSize))} to download; ` +
        `built in ${((Date.now() - started) / 1000).toFixed(0)} s -> ${out}\n`,
    );
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    const err = e as { message?: string; hint?: string };
    process.stderr.write(`debian: ${err.message ?? String(e)}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    process.exit(1);
  });
}
