// `npm run doctor`: does this machine have every host tool and file the builder and tests use, does
// scripts/host-packages.sh install each one, and do the tools work the way the builder needs? Prints a
// table and, for anything missing, the apt-get line; exits 1 when anything is missing or broken.
// `--packages` prints the install list (scripts/host-packages.sh reads it); `--mirror` prints the Debian
// mirror the builder would use; `--online` also runs mmdebstrap against that mirror, as the twin does.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { debianMirror } from './archive/mirror.ts';
import { HintedError } from './hinted-error.ts';
import { spawnHostTool } from './host-process.ts';
import { fail } from './log.ts';
import { aptInstallLine, findHostTool, HOST_FILES, HOST_TOOLS, hostPackages, type HostTool, type HostToolUse } from './host-tools.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const HOST_PACKAGES_SCRIPT = join(REPO, 'scripts/host-packages.sh');

/** The twin's architecture and suite (images/distro): what the online mmdebstrap check asks for. */
const TWIN_ARCH = 'i386';
const TWIN_SUITE = 'bookworm';

/**
 * `missing`: not installed (the apt-get line installs `package`); `unlisted`: installed here, but
 * scripts/host-packages.sh would not install it on a fresh machine; `failed`: present but not working.
 */
export type DoctorStatus = 'ok' | 'missing' | 'unlisted' | 'failed';

export interface DoctorRow {
  for: HostToolUse | 'host';
  /** The tool, file or check. */
  name: string;
  package?: string;
  status: DoctorStatus;
  /** Where it was found, or what is wrong. */
  detail: string;
  /** What to do when it is not ok, beyond installing `package`. */
  hint?: string;
}

export interface DoctorOptions {
  /** The packages scripts/host-packages.sh installs (default: what `host-packages.sh --list` prints). */
  installList?: readonly string[];
  path?: string;
  online?: boolean;
}

/** Every check, in table order: tools, files, then whether they work as the builder needs. */
export async function diagnose(options: DoctorOptions = {}): Promise<DoctorRow[]> {
  const installList = new Set(options.installList ?? (await hostPackagesScriptList()));
  const path = options.path ?? process.env.PATH ?? '';
  const rows: DoctorRow[] = [];
  const status = (found: boolean, pkg: string): DoctorStatus => (!found ? 'missing' : installList.has(pkg) ? 'ok' : 'unlisted');

  for (const [name, entry] of Object.entries(HOST_TOOLS)) {
    const found = findHostTool(name, path);
    const elsewhere = found ? undefined : findHostTool(name, '/usr/local/sbin:/usr/sbin:/sbin');
    rows.push({
      for: entry.for,
      name,
      package: entry.package,
      status: elsewhere ? 'failed' : status(found !== undefined, entry.package),
      detail: found ?? (elsewhere ? `${elsewhere}, but its folder is not on PATH` : 'not on PATH'),
      hint: elsewhere ? `Add ${dirname(elsewhere)} to PATH (a root login has it; sudo may drop it).` : undefined,
    });
  }
  for (const [name, entry] of Object.entries(HOST_FILES)) {
    const found = existsSync(entry.path);
    rows.push({
      for: entry.for,
      name,
      package: entry.package,
      status: status(found, entry.package),
      detail: found ? entry.path : `${entry.path} is missing`,
    });
  }

  rows.push(nodeVersion());
  rows.push({
    for: 'twin',
    name: 'root',
    status: process.getuid?.() === 0 ? 'ok' : 'failed',
    detail: process.getuid?.() === 0 ? 'running as root' : `running as uid ${process.getuid?.()}`,
    hint: 'Building the twin needs root (mmdebstrap --mode=root, mke2fs of root-owned files): run as root, e.g. sudo.',
  });
  const has = (tool: HostTool) => rows.some((r) => r.name === tool && r.status !== 'missing');
  if (has('arch-test')) rows.push(await foreignArch());
  if (has('gcc') && existsSync(HOST_FILES['libc headers'].path)) rows.push(await hostCompiler());
  const mirror = mirrorRow();
  rows.push(mirror.row);
  if (options.online && mirror.url && has('mmdebstrap')) rows.push(await mmdebstrapSimulate(mirror.url));
  return rows;
}

/** The table, then the apt-get line for what is missing and a hint for what is broken. */
export function report(rows: readonly DoctorRow[]): string {
  const label: Record<DoctorStatus, string> = { ok: 'ok', missing: 'MISSING', unlisted: 'UNLISTED', failed: 'FAILED' };
  const cells = rows.map((r) => [label[r.status], r.for, r.name, r.package ?? '', r.detail]);
  const header = ['', 'for', 'tool, file or check', 'package', 'found'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((cell, i) => (i === c.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(header), ...cells.map(line), ''];
  const packagesOf = (s: DoctorStatus) => [...new Set(rows.filter((r) => r.status === s && r.package).map((r) => r.package!))];
  const missing = packagesOf('missing');
  const unlisted = packagesOf('unlisted');
  if (missing.length) out.push(`Install what is missing, as root:  ${aptInstallLine(missing)}`);
  if (unlisted.length) out.push(`scripts/host-packages.sh would not install ${unlisted.join(' ')}: it must install every package images/host-tools.ts names.`);
  // One line per hint, naming every row it helps (five e2fsprogs tools share one PATH hint).
  const hints = new Map<string, string[]>();
  for (const r of rows) if (r.status === 'failed' && r.hint) hints.set(r.hint, [...(hints.get(r.hint) ?? []), r.name]);
  for (const [hint, names] of hints) out.push(`${names.join(', ')}: ${hint}`);
  if (rows.every((r) => r.status === 'ok')) out.push('Everything the builder and the tests run is here.');
  return out.join('\n');
}

/** The packages scripts/host-packages.sh would install: its own `--list`, so the check covers the script. */
export async function hostPackagesScriptList(): Promise<string[]> {
  const r = await spawnHostTool('bash', [HOST_PACKAGES_SCRIPT, '--list'], { timeoutMs: 60_000 });
  if (r.code !== 0) fail(`scripts/host-packages.sh --list failed: ${r.tail.join(' ')}`, { hint: 'Run npm ci first (the script reads its list through tsx).' });
  return r.stdout.split('\n').filter(Boolean);
}

function nodeVersion(): DoctorRow {
  const wanted = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const [wMajor, wMinor] = wanted.replace(/^>=\s*/, '').split('.').map(Number);
  const [major, minor] = process.versions.node.split('.').map(Number);
  const ok = major > wMajor || (major === wMajor && minor >= (wMinor ?? 0));
  return { for: 'setup', name: 'Node.js', status: ok ? 'ok' : 'failed', detail: `${process.versions.node} (package.json wants ${wanted})`, hint: ok ? undefined : `Install Node.js ${wanted}.` };
}

/** mmdebstrap builds the i386 twin on amd64 only where arch-test says i386 binaries run here. */
async function foreignArch(): Promise<DoctorRow> {
  const r = await spawnHostTool('arch-test', [TWIN_ARCH], { timeoutMs: 30_000 });
  const said = `${r.stdout}${r.stderr}`.trim();
  return {
    for: 'twin',
    name: `arch-test ${TWIN_ARCH}`,
    status: r.code === 0 ? 'ok' : 'failed',
    detail: r.code === 0 ? said : `failed: ${said}`,
    hint: `mmdebstrap cannot build an ${TWIN_ARCH} tree: this kernel runs no ${TWIN_ARCH} binaries (a 64-bit kernel without IA32 emulation?).`,
  };
}

/** The kernel's host programs (fixdep, kconfig) are C built and run on this machine: compile and run one. */
async function hostCompiler(): Promise<DoctorRow> {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-doctor-'));
  try {
    writeFileSync(join(dir, 'host.c'), '#include <stdio.h>\nint main(void) { puts("host program ran"); return 0; }\n');
    const cc = await spawnHostTool('gcc', ['-o', join(dir, 'host'), join(dir, 'host.c')], { timeoutMs: 60_000 });
    if (cc.code !== 0) return { for: 'kernel', name: 'gcc builds a host program', package: 'libc6-dev', status: 'failed', detail: `failed: ${cc.tail.join(' ')}`, hint: 'gcc cannot build a C program: apt-get install libc6-dev' };
    // The program just built is no host tool: run it directly, as make runs fixdep.
    const ran = execFileSync(join(dir, 'host'), { encoding: 'utf8' }).trim();
    return { for: 'kernel', name: 'gcc builds a host program', status: ran === 'host program ran' ? 'ok' : 'failed', detail: ran };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mirrorRow(): { row: DoctorRow; url?: string } {
  try {
    const url = debianMirror();
    return { row: { for: 'host', name: 'Debian mirror', status: 'ok', detail: url }, url };
  } catch (e) {
    return { row: { for: 'host', name: 'Debian mirror', status: 'failed', detail: (e as Error).message, hint: e instanceof HintedError ? e.hint : undefined } };
  }
}

/**
 * What the twin's install needs before it downloads a package: mmdebstrap accepts the architecture
 * (arch-test), apt fetches and verifies the mirror's indices (keyring), and resolves minbase. Seconds.
 */
async function mmdebstrapSimulate(mirror: string): Promise<DoctorRow> {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-doctor-'));
  try {
    const target = join(dir, 'root');
    const args = ['--simulate', '--mode=root', `--arch=${TWIN_ARCH}`, '--variant=minbase', TWIN_SUITE, target, `deb ${mirror} ${TWIN_SUITE} main`];
    const r = await spawnHostTool('mmdebstrap', args, { timeoutMs: 180_000, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    const last = r.tail.at(-1) ?? '';
    return {
      for: 'twin',
      name: `mmdebstrap --simulate ${TWIN_ARCH}`,
      status: r.code === 0 ? 'ok' : 'failed',
      detail: r.code === 0 ? last : `failed: ${r.tail.filter((l) => l.startsWith('E:')).join(' ') || last}`,
      hint: `To see its whole output: mmdebstrap ${args.map((a) => (a === target ? '"$(mktemp -d)"' : /[\s"]/.test(a) ? `'${a}'` : a)).join(' ')}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { packages: { type: 'boolean' }, mirror: { type: 'boolean' }, online: { type: 'boolean' } } });
  if (values.packages) {
    process.stdout.write(`${hostPackages().join('\n')}\n`);
    return 0;
  }
  if (values.mirror) {
    process.stdout.write(`${debianMirror()}\n`);
    return 0;
  }
  const rows = await diagnose({ online: values.online });
  process.stdout.write(`${report(rows)}\n`);
  return rows.every((r) => r.status === 'ok') ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      const hint = e instanceof HintedError && e.hint ? `\n  hint: ${e.hint}` : '';
      process.stderr.write(`doctor: ${e instanceof Error ? e.message : String(e)}${hint}\n`);
      process.exit(2);
    },
  );
}
