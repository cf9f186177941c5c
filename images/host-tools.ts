// Every host program and file the builder and the tests use, with the Debian bookworm package providing it:
// the one list behind `npm run doctor`, scripts/host-packages.sh's install list and the process runner.

import { accessSync, existsSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What needs a tool; the doctor groups its table by this. */
export type HostToolUse = 'setup' | 'kernel' | 'twin' | 'tests';

export interface HostToolEntry {
  /** The Debian bookworm package that provides it (`apt-cache show` knows each). */
  readonly package: string;
  readonly why: string;
  readonly for: HostToolUse;
  /**
   * The package has `Priority: required` (the Essential ones among them): every Debian system has it,
   * a minbase chroot too, so the README need not name it. It stays in the install list all the same.
   */
  readonly base?: true;
}

/**
 * Programs run by name. A static scan (host-tools.test.ts) fails when source runs a program missing here,
 * so add a tool before spawning it. Programs that programs run count too where Debian leaves them to a
 * Recommends (arch-test, mount for mmdebstrap; libc6-dev for gcc), since `--no-install-recommends` drops them.
 */
export const HOST_TOOLS = {
  // scripts/host-packages.sh itself (`npm start` and `npm test` run it first).
  bash: { package: 'bash', why: 'runs scripts/host-packages.sh', for: 'setup', base: true },
  'apt-get': { package: 'apt', why: 'installs missing host packages', for: 'setup', base: true },
  'dpkg-query': { package: 'dpkg', why: 'tells which host packages are installed', for: 'setup', base: true },
  // The kernel build (images/kernel/): `make` runs the rest.
  gcc: { package: 'gcc', why: 'compiles the kernel and its host programs', for: 'kernel' },
  ld: { package: 'binutils', why: 'links the kernel (its version is part of the build cache key)', for: 'kernel' },
  make: { package: 'make', why: 'runs the kernel build', for: 'kernel' },
  flex: { package: 'flex', why: "generates the kernel config parser's lexer", for: 'kernel' },
  bison: { package: 'bison', why: "generates the kernel config parser", for: 'kernel' },
  bc: { package: 'bc', why: 'computes kernel/time constants during the build', for: 'kernel' },
  perl: { package: 'perl', why: "runs the kernel build's perl scripts", for: 'kernel' },
  tar: { package: 'tar', why: 'unpacks linux-source-6.1.tar.xz', for: 'kernel', base: true },
  xz: { package: 'xz-utils', why: 'decompresses the kernel source for tar -J', for: 'kernel' },
  lz4: { package: 'lz4', why: 'compresses the bzImage payload (CONFIG_KERNEL_LZ4)', for: 'kernel' },
  // The Debian twin (images/distro/): mmdebstrap, its hooks, and the ext4 disk.
  mmdebstrap: { package: 'mmdebstrap', why: "installs the twin's Debian tree", for: 'twin' },
  'arch-test': { package: 'arch-test', why: 'lets mmdebstrap build an i386 tree on amd64 (only a Recommends of mmdebstrap)', for: 'twin' },
  mount: { package: 'mount', why: 'mmdebstrap --mode=root mounts /proc, /sys and /dev in the tree (a Recommends)', for: 'twin', base: true },
  chroot: { package: 'coreutils', why: "runs apt-get inside the twin's tree (mmdebstrap hook)", for: 'twin', base: true },
  cp: { package: 'coreutils', why: "moves apt's downloads in and out of the tree (mmdebstrap hooks)", for: 'twin', base: true },
  mkdir: { package: 'coreutils', why: 'mmdebstrap hooks', for: 'twin', base: true },
  mv: { package: 'coreutils', why: 'mmdebstrap hooks', for: 'twin', base: true },
  rm: { package: 'coreutils', why: 'mmdebstrap hooks', for: 'twin', base: true },
  find: { package: 'findutils', why: "finds new downloads in the tree's apt cache (mmdebstrap hook)", for: 'twin', base: true },
  sh: { package: 'dash', why: 'runs shell commands (mmdebstrap hooks, process tests)', for: 'twin', base: true },
  'dpkg-deb': { package: 'dpkg', why: 'unpacks the seabios package for the twin firmware', for: 'twin', base: true },
  mke2fs: { package: 'e2fsprogs', why: "writes the twin's ext4 disk from its tree", for: 'twin', base: true },
  debugfs: { package: 'e2fsprogs', why: "clamps the disk's inode times for a byte-identical image", for: 'twin', base: true },
  dumpe2fs: { package: 'e2fsprogs', why: "reads the disk's free blocks and inodes", for: 'twin', base: true },
  e2fsck: { package: 'e2fsprogs', why: 'checks the finished disk', for: 'twin', base: true },
  // Tests (vitest projects unit, boot, e2e).
  dpkg: { package: 'dpkg', why: "the version-comparison test checks against dpkg's own", for: 'tests', base: true },
  sleep: { package: 'coreutils', why: 'the process runner test ends a sleeping grandchild', for: 'tests', base: true },
  chromium: { package: 'chromium', why: 'the browser tests (playwright-core drives /usr/bin/chromium)', for: 'tests' },
} as const satisfies Record<string, HostToolEntry>;

export type HostTool = keyof typeof HOST_TOOLS;

export interface HostFileEntry extends HostToolEntry {
  /** The file whose presence shows the package is installed. */
  readonly path: string;
}

/** Headers, keyrings and fonts: not run, but a build or a test fails without them. */
export const HOST_FILES = {
  'libc headers': { package: 'libc6-dev', path: '/usr/include/stdio.h', why: "the kernel's host programs include them (gcc only recommends libc6-dev)", for: 'kernel' },
  libelf: { package: 'libelf-dev', path: '/usr/include/libelf.h', why: "the kernel's host tools link libelf where a config asks (objtool)", for: 'kernel' },
  'archive keyring': {
    package: 'debian-archive-keyring',
    path: '/usr/share/keyrings/debian-archive-keyring.gpg',
    why: "mmdebstrap verifies the mirror's signatures with it",
    for: 'twin',
  },
  'DejaVu fonts': { package: 'fonts-dejavu-core', path: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', why: "chromium's default sans font in the browser tests' screenshots", for: 'tests' },
  'Liberation fonts': {
    package: 'fonts-liberation',
    path: '/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf',
    why: "metric-compatible fonts for the page's font stacks in the browser tests",
    for: 'tests',
  },
} as const satisfies Record<string, HostFileEntry>;

export type HostFile = keyof typeof HOST_FILES;

/** Every package behind HOST_TOOLS and HOST_FILES, each once, in list order: what scripts/host-packages.sh installs. */
export function hostPackages(): string[] {
  const entries: HostToolEntry[] = [...Object.values(HOST_TOOLS), ...Object.values(HOST_FILES)];
  return [...new Set(entries.map((e) => e.package))];
}

/** Where `tool` is on PATH (as spawn would find it), else undefined. */
export function findHostTool(tool: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, tool);
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/**
 * What a stage lacks before it starts: the tools not on PATH and the files not there, named for the
 * message (`mke2fs`, `/usr/include/libelf.h`), with the packages that provide them for the hint.
 */
export function missingHostTools(use: HostToolUse, path = process.env.PATH ?? ''): { missing: string[]; packages: string[] } {
  const tools = Object.entries(HOST_TOOLS as Record<string, HostToolEntry>).filter(([tool, t]) => t.for === use && !findHostTool(tool, path));
  const files = Object.values(HOST_FILES as Record<string, HostFileEntry>).filter((f) => f.for === use && !existsSync(f.path));
  return { missing: [...tools.map(([tool]) => tool), ...files.map((f) => f.path)], packages: [...new Set([...tools.map(([, t]) => t.package), ...files.map((f) => f.package)])] };
}

/** The line that installs `packages` on Debian. */
export function aptInstallLine(packages: readonly string[]): string {
  return `apt-get install ${[...new Set(packages)].join(' ')}`;
}
