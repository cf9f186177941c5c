// Kernel stage: a tailored, reproducible bzImage from Debian's linux-source-6.1 — tinyconfig plus config
// fragments, built out of tree and cached by the hash of everything that goes into it.
import { spawn, execFile } from 'node:child_process';
import { canonicalJson, sha256Hex } from '../hash.ts';
import { BuildError } from '../log.ts';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  describeUnmet,
  mergeConfig,
  overrides,
  parseConfig,
  parseFragment,
  symbolsIn,
  unmetOptions,
  type ConfigAssignment,
  type UnmetOption,
} from './kconfig.ts';

const execFileAsync = promisify(execFile);

/** Where the fragments shipped with Whittle live (`base`, `net`, `ata`, ...). */
export const FRAGMENTS_DIR = fileURLToPath(new URL('./fragments/', import.meta.url));

/** v86 emulates a 32-bit PC. */
export const KERNEL_ARCH = 'i386';

/** Bump when the way a kernel is built changes (make targets, environment), to invalidate cached builds. */
const BUILD_RECIPE_VERSION = 1;

/**
 * Build date when SOURCE_DATE_EPOCH is unset: Debian 12.0's release day (2023-06-10 00:00 UTC), a date
 * that means "bookworm" rather than "when this machine happened to build it".
 */
export const DEFAULT_BUILD_EPOCH = 1686355200;

/** Host programs a kernel build runs, with the Debian package that provides each. */
const HOST_TOOLS: Record<string, string> = {
  gcc: 'gcc',
  ld: 'binutils',
  make: 'make',
  flex: 'flex',
  bison: 'bison',
  bc: 'bc',
  perl: 'perl',
  tar: 'tar',
  xz: 'xz-utils',
  lz4: 'lz4', // CONFIG_KERNEL_LZ4 compresses the bzImage payload with the host's lz4
};
export const HOST_TOOLS_HINT = 'apt-get install gcc make flex bison bc libelf-dev lz4 xz-utils';

export interface KernelBuildOptions {
  /** Path to linux-source-6.1.tar.xz; called only when the source tree isn't cached yet. */
  sourceTarXz: () => Promise<string>;
  /** Debian version of the linux-source-6.1 package, e.g. `6.1.192-2`. */
  sourceVersion: string;
  /** Fragment names (`base`, `net.config`, ... from FRAGMENTS_DIR) or paths, applied in order. */
  fragments: string[];
  /** A recipe's own lines (`CONFIG_X=y`, `# CONFIG_X is not set`), applied after the fragments. */
  extraConfig?: string[];
  cacheDir: string;
  /** Parallel make jobs (default: the machine's available parallelism). */
  jobs?: number;
  /** Build date in seconds (default: env SOURCE_DATE_EPOCH, else DEFAULT_BUILD_EPOCH). */
  sourceDateEpoch?: number;
  /** Condensed progress: phases and the running count of compiled files. */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface KernelBuild {
  bzImage: Uint8Array;
  /** The final .config. */
  config: string;
  /** sha256 of the final .config. */
  configHash: string;
  /** sha256 of the build inputs: names the cached build. */
  cacheKey: string;
  /** `make kernelrelease`, e.g. `6.1.192`. */
  kernelRelease: string;
  cached: boolean;
}

/** An expected failure of the kernel stage, with what to do about it. */
export class KernelBuildError extends BuildError {
  override name = 'KernelBuildError';
}

/** Everything a build's output depends on; its hash is the cache key. */
export interface KernelInputs {
  recipe: number;
  arch: string;
  base: 'tinyconfig';
  sourceVersion: string;
  /** Contents of each fragment, in order (names don't matter to the kernel). */
  fragments: string[];
  extraConfig: string[];
  buildEpoch: number;
  /** First line of `gcc --version` and `ld --version`: another compiler gives another binary. */
  toolchain: string[];
}

export function kernelCacheKey(inputs: KernelInputs): string {
  return sha256Hex(canonicalJson(inputs));
}

/** Names the inputs that differ between two builds, for "why isn't the cache used" messages. */
export function inputDifferences(had: KernelInputs, want: KernelInputs): string[] {
  const diffs: string[] = [];
  const scalar = (k: keyof KernelInputs) => {
    if (canonicalJson(had[k]) !== canonicalJson(want[k])) diffs.push(`${k} ${canonicalJson(had[k])} → ${canonicalJson(want[k])}`);
  };
  scalar('recipe');
  scalar('arch');
  scalar('sourceVersion');
  scalar('buildEpoch');
  scalar('toolchain');
  if (had.fragments.length !== want.fragments.length) diffs.push(`${had.fragments.length} fragments → ${want.fragments.length}`);
  else had.fragments.forEach((text, i) => text !== want.fragments[i] && diffs.push(`fragment ${i + 1} changed`));
  if (canonicalJson(had.extraConfig) !== canonicalJson(want.extraConfig)) diffs.push('extra config lines changed');
  return diffs;
}

/** A fragment as read: its name for messages and its text for the build. */
export interface Fragment {
  name: string;
  path: string;
  text: string;
}

/** Resolves `base`, `base.config` (from FRAGMENTS_DIR) or a path, and reads it. */
export async function readFragment(nameOrPath: string): Promise<Fragment> {
  const isPath = nameOrPath.includes('/') || nameOrPath.includes(path.sep);
  const file = isPath ? path.resolve(nameOrPath) : path.join(FRAGMENTS_DIR, nameOrPath.endsWith('.config') ? nameOrPath : `${nameOrPath}.config`);
  try {
    return { name: path.basename(file), path: file, text: await readFile(file, 'utf8') };
  } catch (cause) {
    const known = (await readdir(FRAGMENTS_DIR)).filter((f) => f.endsWith('.config')).map((f) => f.replace(/\.config$/, ''));
    throw new KernelBuildError(`kernel config fragment not found: ${nameOrPath} (${file})`, {
      hint: `use one of: ${known.join(', ')}, or a path to a .config fragment`,
      cause,
    });
  }
}

/** The layout of one source version's cache. */
function cachePaths(cacheDir: string, sourceVersion: string, key: string) {
  const root = path.join(cacheDir, 'linux', sourceVersion);
  return {
    root,
    src: path.join(root, 'src'),
    build: path.join(root, 'build', key),
    kernel: path.join(root, 'kernels', key),
  };
}

/** What the cache keeps beside a finished bzImage and its .config. */
interface CachedBuildRecord {
  key: string;
  inputs: KernelInputs;
  fragmentNames: string[];
  bzImageSha256: string;
  configHash: string;
  kernelRelease: string;
}

const inFlight = new Map<string, Promise<KernelBuild>>();

/**
 * Builds (or takes from the cache) the kernel for these fragments. Fails with a KernelBuildError when
 * host tools are missing, a fragment is malformed or an option does not end up in the final .config.
 */
export function buildKernel(opts: KernelBuildOptions): Promise<KernelBuild> {
  // Two recipes asking for the same kernel at once share one build.
  const id = canonicalJson([opts.cacheDir, opts.sourceVersion, opts.fragments, opts.extraConfig ?? [], opts.sourceDateEpoch ?? null]);
  const running = inFlight.get(id);
  if (running) return running;
  const promise = buildKernelOnce(opts).finally(() => inFlight.delete(id));
  inFlight.set(id, promise);
  return promise;
}

async function buildKernelOnce(opts: KernelBuildOptions): Promise<KernelBuild> {
  const log = opts.onProgress ?? (() => {});
  opts.signal?.throwIfAborted();
  if (!/^[0-9][A-Za-z0-9.+~:-]*$/.test(opts.sourceVersion)) {
    throw new KernelBuildError(`not a Debian package version: ${JSON.stringify(opts.sourceVersion)}`);
  }
  const fragments = await Promise.all(opts.fragments.map(readFragment));
  const assignments: ConfigAssignment[] = fragments.flatMap((f) => parseFragment(f.text, f.name));
  assignments.push(...parseFragment((opts.extraConfig ?? []).join('\n'), 'extraConfig'));
  for (const { earlier, later } of overrides(assignments)) log(`kernel: ${later.origin} overrides ${earlier.origin} for ${later.name}`);

  await checkHostTools();
  const buildEpoch = opts.sourceDateEpoch ?? epochFromEnv() ?? DEFAULT_BUILD_EPOCH;
  const inputs: KernelInputs = {
    recipe: BUILD_RECIPE_VERSION,
    arch: KERNEL_ARCH,
    base: 'tinyconfig',
    sourceVersion: opts.sourceVersion,
    fragments: fragments.map((f) => f.text),
    extraConfig: opts.extraConfig ?? [],
    buildEpoch,
    toolchain: await toolchainIdentity(),
  };
  const key = kernelCacheKey(inputs);
  const paths = cachePaths(opts.cacheDir, opts.sourceVersion, key);

  const cached = await readCachedBuild(paths.kernel, key, log);
  if (cached) {
    log(`kernel: using cached build ${key.slice(0, 12)} (${cached.kernelRelease})`);
    return cached;
  }
  log(`kernel: no cached build ${key.slice(0, 12)}: ${await whyNotCached(opts.cacheDir, inputs)}`);

  return withLock(`${paths.build}.lock`, opts.signal, log, async () => {
    // Another process may have finished the same build while we waited for the lock.
    const built = await readCachedBuild(paths.kernel, key, log);
    if (built) return built;
    const started = Date.now();
    await ensureSource(opts, paths.src, paths.root, log);
    const env = buildEnvironment(buildEpoch);
    const make = (args: string[], onLine?: (line: string) => void) =>
      run('make', ['-C', paths.src, `O=${paths.build}`, `ARCH=${KERNEL_ARCH}`, ...args], { env, signal: opts.signal, onLine });

    await mkdir(paths.build, { recursive: true });
    log('kernel: configuring (tinyconfig + fragments)');
    await make(['tinyconfig']);
    const configFile = path.join(paths.build, '.config');
    await writeFile(configFile, mergeConfig(await readFile(configFile, 'utf8'), assignments));
    await make(['olddefconfig']);
    const config = await readFile(configFile, 'utf8');
    const unmet = unmetOptions(assignments, config);
    if (unmet.length > 0) throw await unmetError(unmet, paths.src, config);

    const jobs = Math.max(1, opts.jobs ?? os.availableParallelism());
    let compiled = 0;
    let lastReport = 0;
    await make([`-j${jobs}`, 'bzImage'], (line) => {
      const step = /^\s+([A-Z0-9_]+)\s+(\S+)/.exec(line);
      if (!step) return;
      if (step[1] === 'CC' || step[1] === 'AS') compiled++;
      const now = Date.now();
      if (now - lastReport >= 250 || step[1].startsWith('LD') || step[1] === 'LZ4' || step[1] === 'BUILD') {
        lastReport = now;
        log(`kernel: ${compiled} files compiled — ${step[1]} ${step[2]}`);
      }
    });

    const bzImage = new Uint8Array(await readFile(path.join(paths.build, 'arch/x86/boot/bzImage')));
    const kernelRelease = (await readFile(path.join(paths.build, 'include/config/kernel.release'), 'utf8')).trim();
    const result: KernelBuild = { bzImage, config, configHash: sha256Hex(config), cacheKey: key, kernelRelease, cached: false };
    await storeBuild(paths.kernel, {
      key,
      inputs,
      fragmentNames: [...fragments.map((f) => f.name), ...(inputs.extraConfig.length > 0 ? ['extraConfig'] : [])],
      bzImageSha256: sha256Hex(bzImage),
      configHash: result.configHash,
      kernelRelease,
    }, result, await readFile(path.join(paths.build, 'System.map'), 'utf8'));
    // The object tree (tens of MB) is only useful to resume an interrupted build of this exact key.
    await rm(paths.build, { recursive: true, force: true });
    log(`kernel: built ${kernelRelease} in ${((Date.now() - started) / 1000).toFixed(0)} s, bzImage ${bzImage.length} bytes, ${compiled} files compiled`);
    return result;
  });
}

function epochFromEnv(): number | undefined {
  const raw = process.env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new KernelBuildError(`SOURCE_DATE_EPOCH is not a number of seconds: ${raw}`);
  return Number(raw);
}

/** `date -u`-style text for an epoch, e.g. `Sat Jun 10 00:00:00 UTC 2023` (what `uname -v` shows). */
export function buildTimestamp(epoch: number): string {
  const d = new Date(epoch * 1000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${two(d.getUTCDate())} ${time} UTC ${d.getUTCFullYear()}`;
}

/**
 * The environment for make: the host's, minus make/kbuild variables that would change the build, plus
 * what makes the output reproducible (kernel docs: "Reproducible builds").
 */
function buildEnvironment(epoch: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const v of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'KBUILD_OUTPUT', 'KCONFIG_CONFIG', 'CROSS_COMPILE', 'KCFLAGS', 'KCPPFLAGS', 'KAFLAGS', 'LOCALVERSION', 'INSTALL_PATH']) {
    delete env[v];
  }
  return {
    ...env,
    LC_ALL: 'C',
    TZ: 'UTC',
    SOURCE_DATE_EPOCH: String(epoch),
    KBUILD_BUILD_TIMESTAMP: buildTimestamp(epoch),
    KBUILD_BUILD_USER: 'whittle',
    KBUILD_BUILD_HOST: 'whittle',
    KBUILD_BUILD_VERSION: '1',
  };
}

/** Fails with an install hint when a program the build runs is missing. */
export async function checkHostTools(): Promise<void> {
  const missing: string[] = [];
  for (const tool of Object.keys(HOST_TOOLS)) {
    if (!(await onPath(tool))) missing.push(tool);
  }
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((t) => HOST_TOOLS[t]))];
    throw new KernelBuildError(`building the kernel needs ${missing.join(', ')}, not found on PATH`, {
      hint: `on Debian/Ubuntu: ${HOST_TOOLS_HINT} (missing here: ${packages.join(' ')})`,
    });
  }
}

async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      await access(path.join(dir, program), fsConstants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

async function toolchainIdentity(): Promise<string[]> {
  const first = async (cmd: string) => (await execFileAsync(cmd, ['--version'], { env: { ...process.env, LC_ALL: 'C' } })).stdout.split('\n')[0].trim();
  return [await first('gcc'), await first('ld')];
}

/** Reads a cached build, or returns undefined (saying why, when the entry exists but is unusable). */
async function readCachedBuild(dir: string, key: string, log: (line: string) => void): Promise<KernelBuild | undefined> {
  let record: CachedBuildRecord;
  try {
    record = JSON.parse(await readFile(path.join(dir, 'build.json'), 'utf8')) as CachedBuildRecord;
  } catch {
    return undefined;
  }
  try {
    const bzImage = new Uint8Array(await readFile(path.join(dir, 'bzImage')));
    const config = await readFile(path.join(dir, 'config'), 'utf8');
    if (record.key !== key || sha256Hex(bzImage) !== record.bzImageSha256 || sha256Hex(config) !== record.configHash) {
      log(`kernel: cached build ${key.slice(0, 12)} is damaged (hash mismatch); rebuilding`);
      return undefined;
    }
    return { bzImage, config, configHash: record.configHash, cacheKey: key, kernelRelease: record.kernelRelease, cached: true };
  } catch (e) {
    log(`kernel: cached build ${key.slice(0, 12)} is incomplete (${(e as Error).message}); rebuilding`);
    return undefined;
  }
}

/**
 * Writes bzImage, config, System.map (to name the addresses of `initcall_debug` and boot profiles)
 * and build.json into a temporary folder, then moves it into place.
 */
async function storeBuild(dir: string, record: CachedBuildRecord, build: KernelBuild, systemMap: string): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeFile(path.join(tmp, 'bzImage'), build.bzImage);
  await writeFile(path.join(tmp, 'config'), build.config);
  await writeFile(path.join(tmp, 'System.map'), systemMap);
  await writeFile(path.join(tmp, 'build.json'), JSON.stringify(record, null, 2) + '\n');
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

/** Compares the wanted inputs with the nearest cached build, for the log. */
async function whyNotCached(cacheDir: string, want: KernelInputs): Promise<string> {
  const records: CachedBuildRecord[] = [];
  const linuxDir = path.join(cacheDir, 'linux');
  for (const version of await readdir(linuxDir).catch(() => [] as string[])) {
    const kernels = path.join(linuxDir, version, 'kernels');
    for (const key of await readdir(kernels).catch(() => [] as string[])) {
      try {
        records.push(JSON.parse(await readFile(path.join(kernels, key, 'build.json'), 'utf8')) as CachedBuildRecord);
      } catch {
        // an incomplete entry: ignore
      }
    }
  }
  if (records.length === 0) return `no kernel cached yet under ${linuxDir}`;
  const nearest = records
    .map((r) => ({ r, diffs: inputDifferences(r.inputs, want) }))
    .sort((a, b) => a.diffs.length - b.diffs.length)[0];
  return `nearest cached build ${nearest.r.key.slice(0, 12)} (${nearest.r.fragmentNames.join(' + ')}) differs in: ${nearest.diffs.join('; ')}`;
}

/** Extracts the source tarball once per source version, checking it holds the version it claims. */
async function ensureSource(opts: KernelBuildOptions, srcDir: string, root: string, log: (line: string) => void): Promise<void> {
  const marker = path.join(srcDir, '.whittle-source');
  if ((await readFile(marker, 'utf8').catch(() => '')) === `${opts.sourceVersion}\n`) return;
  await withLock(`${srcDir}.lock`, opts.signal, log, async () => {
    if ((await readFile(marker, 'utf8').catch(() => '')) === `${opts.sourceVersion}\n`) return;
    const tarXz = await opts.sourceTarXz();
    log(`kernel: extracting ${path.basename(tarXz)} (linux-source ${opts.sourceVersion})`);
    const tmp = `${srcDir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await run('tar', ['-xJf', tarXz, '-C', tmp, '--strip-components=1', '--no-same-owner'], { signal: opts.signal });
    const upstream = await makefileVersion(path.join(tmp, 'Makefile'));
    const claimed = upstreamVersion(opts.sourceVersion);
    if (upstream !== claimed) {
      await rm(tmp, { recursive: true, force: true });
      throw new KernelBuildError(`${tarXz} holds Linux ${upstream}, but the package version ${opts.sourceVersion} says ${claimed}`, {
        hint: 'pass the linux-source-6.1 tarball that belongs to sourceVersion',
      });
    }
    await writeFile(path.join(tmp, '.whittle-source'), `${opts.sourceVersion}\n`);
    await rm(srcDir, { recursive: true, force: true });
    await mkdir(root, { recursive: true });
    await rename(tmp, srcDir);
  });
}

/** `6.1.192-2` → `6.1.192`; `1:6.1.192-2` → `6.1.192` (epoch and Debian revision dropped). */
export function upstreamVersion(debianVersion: string): string {
  return debianVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

async function makefileVersion(makefile: string): Promise<string> {
  const text = await readFile(makefile, 'utf8').catch((cause: unknown) => {
    throw new KernelBuildError(`the source tarball has no top-level Makefile (${makefile})`, { hint: 'is it linux-source-6.1.tar.xz?', cause });
  });
  const field = (name: string) => new RegExp(`^${name}[ \\t]*=[ \\t]*(\\S*)`, 'm').exec(text)?.[1] ?? '';
  const sub = field('SUBLEVEL');
  return [field('VERSION'), field('PATCHLEVEL'), ...(sub && sub !== '0' ? [sub] : [])].join('.') + field('EXTRAVERSION');
}

/** Builds the "options didn't stick" error, explaining each option from the source's Kconfig. */
async function unmetError(unmet: UnmetOption[], srcDir: string, finalConfig: string): Promise<KernelBuildError> {
  const info = await kconfigInfo(srcDir, unmet.map((u) => u.wanted.name.replace(/^CONFIG_/, '')));
  const config = parseConfig(finalConfig);
  const valueOf = (s: string) => `${s}=${config.get(`CONFIG_${s}`) ?? 'n'}`;
  const lines = unmet.map((u) => {
    const i = info.get(u.wanted.name.replace(/^CONFIG_/, ''));
    const why: string[] = [];
    if (!i) why.push('no such option in this kernel (typo?)');
    else {
      for (const expr of i.dependsOn) why.push(`depends on ${expr} [${symbolsIn(expr).map(valueOf).join(', ')}]`);
      // An option forced on by another one: name the selectors that are on.
      const on = i.selectedBy.filter((s) => config.get(`CONFIG_${s}`) === 'y' || config.get(`CONFIG_${s}`) === 'm');
      if (on.length > 0) why.push(`selected by ${on.map(valueOf).join(', ')}`);
      if (why.length === 0) why.push('no "depends on" and nothing selects it (part of a choice?)');
    }
    return `  ${describeUnmet(u)}\n      ${why.join('; ')}`;
  });
  return new KernelBuildError(`kernel config: ${unmet.length} option(s) didn't stick after olddefconfig:\n${lines.join('\n')}`, {
    hint: 'fix the spelling, add the options they depend on, or turn off what selects them, in the fragment',
  });
}

/** What the source's Kconfig files say about a symbol. */
export interface KconfigSymbolInfo {
  /** The `depends on` expressions of its entries. */
  dependsOn: string[];
  /** Symbols whose entries `select` it. */
  selectedBy: string[];
}

/**
 * Reads every Kconfig file of the source tree once and returns, for each symbol that has an entry,
 * its dependencies and reverse selects. Symbols without an entry are absent from the map.
 */
async function kconfigInfo(srcDir: string, symbols: string[]): Promise<Map<string, KconfigSymbolInfo>> {
  const wanted = new Set(symbols);
  const found = new Map<string, KconfigSymbolInfo>();
  const entry = (sym: string) => found.get(sym) ?? found.set(sym, { dependsOn: [], selectedBy: [] }).get(sym)!;
  const visit = async (dir: string): Promise<void> => {
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, dirent.name);
      if (dirent.isDirectory()) {
        if (dirent.name !== 'Documentation' && !dirent.name.startsWith('.')) await visit(p);
      } else if (dirent.name.startsWith('Kconfig')) {
        let current: string | undefined;
        for (const line of (await readFile(p, 'utf8')).split('\n')) {
          const header = /^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$/.exec(line);
          if (header) {
            current = header[1];
            if (wanted.has(current)) entry(current);
            continue;
          }
          if (/^\s*(?:choice|endchoice|menu|endmenu|if|endif|source|comment)\b/.test(line)) current = undefined;
          if (!current) continue;
          const dep = /^\s*depends on\s+(.*)$/.exec(line);
          if (dep && wanted.has(current)) entry(current).dependsOn.push(dep[1].trim());
          const sel = /^\s*select\s+([A-Za-z0-9_]+)/.exec(line);
          if (sel && wanted.has(sel[1])) entry(sel[1]).selectedBy.push(current);
        }
      }
    }
  };
  await visit(srcDir);
  return found;
}

/** Runs a program, streaming its output lines to onLine; fails with the output's tail. */
function run(
  cmd: string,
  args: string[],
  { env, signal, onLine }: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; onLine?: (line: string) => void },
): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    // Own process group, so an abort ends make's children (the compilers) too.
    const child = spawn(cmd, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const tail: string[] = [];
    const onAbort = () => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const feed = (stream: NodeJS.ReadableStream) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const line of lines) {
          tail.push(line);
          if (tail.length > 60) tail.shift();
          onLine?.(line);
        }
      });
    };
    feed(child.stdout!);
    feed(child.stderr!);
    child.on('error', (cause) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new KernelBuildError(`could not run ${cmd}: ${cause.message}`, { hint: HOST_TOOLS_HINT, cause }));
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(signal.reason);
      else if (code === 0) resolve();
      else {
        reject(
          new KernelBuildError(`${cmd} ${args.join(' ')} failed (${sig ?? `exit ${code}`}); last output:\n${tail.join('\n')}`, {
            hint: 'see the output above; a fragment may enable an option this source tree cannot build',
          }),
        );
      }
    });
  });
}

/**
 * Runs fn holding a lock directory (mkdir is atomic), so two builders never write the same cache entry.
 * A lock whose owner process is gone is taken over.
 */
async function withLock<T>(lockDir: string, signal: AbortSignal | undefined, log: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(lockDir), { recursive: true });
  let waiting = false;
  for (;;) {
    signal?.throwIfAborted();
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => 'NaN'));
      if (!Number.isNaN(owner) && !isAlive(owner)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Number.isNaN(owner) && (await ageMs(lockDir)) > 60_000) {
        await rm(lockDir, { recursive: true, force: true }); // a lock never finished being written
        continue;
      }
      if (!waiting) log(`kernel: waiting for ${lockDir} (held by process ${owner})`);
      waiting = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function ageMs(p: string): Promise<number> {
  return Date.now() - (await stat(p)).mtimeMs;
}

