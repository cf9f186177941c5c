// Kernel stage: a tailored, reproducible bzImage from Debian's linux-source-6.1 — tinyconfig plus config
// fragments, built out of tree and cached by the hash of everything that goes into it.
// The cache lives in cache.ts, the explanation of options that did not stick in explain.ts, and every
// program is run by ../host-process.ts.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, sha256Hex } from '../hash.ts';
import { formatBytes, formatMs } from '../format.ts';
import type { HintedErrorOptions } from '../hinted-error.ts';
import { requireHostTools, runHostTool } from '../host-process.ts';
import { BuildError } from '../log.ts';
import { publishDir } from '../publish.ts';
import { BOOKWORM_EPOCH, sourceDateEpoch } from '../source-date-epoch.ts';
import { cachePaths, kernelCacheKey, readCachedBuild, storeBuild, whyNotCached, withLock, type KernelInputs } from './cache.ts';
import { explainUnmet } from './explain.ts';
import { mergeConfig, overrides, parseFragment, unmetOptions, type ConfigAssignment, type UnmetOption } from './kconfig.ts';

/** Where the fragments shipped with Whittle live (`base`, `net`, `ata`, ...). */
export const FRAGMENTS_DIR = fileURLToPath(new URL('./fragments/', import.meta.url));

/** v86 emulates a 32-bit PC. */
export const KERNEL_ARCH = 'i386';

/** Bump when the way a kernel is built changes (make targets, environment), to invalidate cached builds. */
const BUILD_RECIPE_VERSION = 1;

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
  /** Build date in seconds (default: env SOURCE_DATE_EPOCH, else Debian 12.0's release day). */
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
  declare readonly code: 'kernel';
  override name = 'KernelBuildError';
  constructor(message: string, options: HintedErrorOptions = {}) {
    super(message, { ...options, code: 'kernel' });
  }
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

  requireHostTools('kernel', 'building the kernel');
  const buildEpoch = opts.sourceDateEpoch ?? sourceDateEpoch(BOOKWORM_EPOCH);
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
    return { ...cached, cached: true };
  }
  log(`kernel: no cached build ${key.slice(0, 12)}: ${await whyNotCached(opts.cacheDir, inputs)}`);

  return withLock(`${paths.build}.lock`, opts.signal, log, async () => {
    // Another process may have finished the same build while we waited for the lock.
    const built = await readCachedBuild(paths.kernel, key, log);
    if (built) return { ...built, cached: true };
    const started = Date.now();
    await ensureSource(opts, paths.src, log);
    const env = buildEnvironment(buildEpoch);
    const make = (args: string[], onLine?: (line: string) => void) =>
      runHostTool('make', ['-C', paths.src, `O=${paths.build}`, `ARCH=${KERNEL_ARCH}`, ...args], {
        env,
        signal: opts.signal,
        onLine,
        hint: 'see the output above; a fragment may enable an option this source tree cannot build',
      });

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
    log(`kernel: built ${kernelRelease} in ${formatMs(Date.now() - started)}, bzImage ${formatBytes(bzImage.length)}, ${compiled} files compiled`);
    return result;
  });
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

/** First line of `gcc --version` and `ld --version`: part of the cache key and of a recipe's expected.json. */
export async function toolchainIdentity(): Promise<string[]> {
  const first = async (tool: 'gcc' | 'ld') => (await runHostTool(tool, ['--version'], { env: { ...process.env, LC_ALL: 'C' } })).stdout.split('\n')[0].trim();
  return [await first('gcc'), await first('ld')];
}

/** Extracts the source tarball once per source version, checking it holds the version it claims. */
async function ensureSource(opts: KernelBuildOptions, srcDir: string, log: (line: string) => void): Promise<void> {
  const marker = path.join(srcDir, '.whittle-source');
  if ((await readFile(marker, 'utf8').catch(() => '')) === `${opts.sourceVersion}\n`) return;
  await withLock(`${srcDir}.lock`, opts.signal, log, async () => {
    if ((await readFile(marker, 'utf8').catch(() => '')) === `${opts.sourceVersion}\n`) return;
    const tarXz = await opts.sourceTarXz();
    log(`kernel: extracting ${path.basename(tarXz)} (linux-source ${opts.sourceVersion})`);
    await publishDir(srcDir, async (tmp) => {
      await runHostTool('tar', ['-xJf', tarXz, '-C', tmp, '--strip-components=1', '--no-same-owner'], { signal: opts.signal });
      const upstream = await makefileVersion(path.join(tmp, 'Makefile'));
      const claimed = upstreamVersion(opts.sourceVersion);
      if (upstream !== claimed) {
        throw new KernelBuildError(`${tarXz} holds Linux ${upstream}, but the package version ${opts.sourceVersion} says ${claimed}`, {
          hint: 'pass the linux-source-6.1 tarball that belongs to sourceVersion',
        });
      }
      await writeFile(path.join(tmp, '.whittle-source'), `${opts.sourceVersion}\n`);
    });
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
  return new KernelBuildError(`kernel config: ${unmet.length} option(s) didn't stick after olddefconfig:\n${await explainUnmet(unmet, srcDir, finalConfig)}`, {
    hint: 'fix the spelling, add the options they depend on, or turn off what selects them, in the fragment',
  });
}
