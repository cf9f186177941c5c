// The image builder: one pipeline of named stages over one context (mkosi's build_image()), for the
// appliances and for the `debian` twin alike; a stage that does not apply to an image returns early.
// Recipe (or the appliance locks, for the twin) in, images/dist/<name>/{manifest.json, artifacts} out,
// published into place only when complete.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  diffLocks,
  fetchDebs,
  formatLock,
  formatLockDiff,
  lockFromResolution,
  loadDebianKeys,
  lockHash,
  openArchive,
  parseDependencies,
  parseLock,
  readDeb,
  readDebMember,
  resolve as resolveClosure,
  samePackages,
  type Archive,
  type Lock,
  type LockedPackage,
} from './archive/index.ts';
import { writeArtifact } from './artifacts.ts';
import { distroState, installDistro, makeDisk, TWIN, writeDiskArtifact, writeDistroManifest, type DistroState } from './distro/debian.ts';
import { seabiosFirmware, type Firmware } from './firmware.ts';
import { sha256Hex } from './hash.ts';
import { applianceInputs } from './inputs.ts';
import { busyboxApplets } from './busybox.ts';
import { addApplianceFiles } from './init.ts';
import { buildKernel } from './kernel/kernel.ts';
import { vmlinuxFromBzImage } from './kernel/vmlinux.ts';
import { formatBytes } from './format.ts';
import { fail, type Log } from './log.ts';
import { isSha256, MANIFEST_SCHEMA, MAX_MEMORY_MB, type Artifact, type Manifest, type PackageShare } from './manifest.ts';
import { publishDir, writeFileAtomic } from './publish.ts';
import { loadRecipe, recipeNames, type RecipeSource } from './recipes.ts';
import type { Recipe } from './recipe.ts';
import { BUILDER_OWNER, RootTree, trim as trimTree, type TrimReport } from './rootfs.ts';
import type { FileList, KeptFile, KeptReason } from './trace/files.ts';
import type { GuestBooter } from './trace/guest.ts';
import { keepTraced } from './trace/keep.ts';
import { diffTraces, formatTraceResult, parseTraceResult, TRACE_FILE, traceResultHash, type TraceResult } from './trace/result.ts';
import { traceWide, verifyAppliance, type BootFiles } from './trace/trace.ts';
import { describeWide, installWide, readWideTree } from './trace/wide.ts';
import { measureSockets, treeSurface } from './surface.ts';
import { epochOfDate, sourceDateEpoch } from './source-date-epoch.ts';

/** The lock file beside a recipe: the root filesystem's packages and the boot packages (firmware, kernel); for a traced recipe the sha256 of its trace.json. */
export interface RecipeLock {
  rootfs: Lock;
  boot: Lock;
  trace?: { file: string; sha256: string };
}

export interface BuildOptions {
  cacheDir: string;
  distDir: string;
  /** Mirror base URL; resolved lazily (a build from a lock with every .deb cached needs none). */
  mirror: () => string;
  log: Log;
  /** Re-resolve against the archive and rewrite the lock instead of building from it. */
  updateLock?: boolean;
  jobs?: number;
  signal?: AbortSignal;
  /** Where recipes live (default images/recipes). */
  recipesDir?: string;
  /** Trusted archive keys (default Debian's, from images/archive/keys): tests pass their own. */
  archiveKeys?: Awaited<ReturnType<typeof loadDebianKeys>>;
  /** Boots guests for the trace and verify stages of `trim: "trace"` recipes (worker/node/guest.ts). */
  guest?: GuestBooter;
  /** Trace again even when trace.json matches the lock (`--retrace`; `updateLock` implies it). */
  retrace?: boolean;
}

export interface BuildContext {
  name: string;
  opts: BuildOptions;
  /** An appliance's recipe; absent for the twin. */
  appliance?: { recipe: Recipe; source: RecipeSource };
  /** The twin's own state (images/distro/debian.ts); absent for an appliance. */
  distro?: DistroState;
  archive?: Archive;
  lock?: RecipeLock;
  /** The .debs the build takes from the archive, verified by sha256: an appliance's locked packages, the twin's seabios. */
  packages: LockedPackage[];
  epoch: number;
  /** package name -> verified .deb in the cache. */
  debs: Map<string, string>;
  tree: RootTree;
  trimReport?: TrimReport;
  /** Traced recipes: the builder's mount points (/proc, /mnt/host, …), kept although nothing touches an empty directory. */
  mountPoints?: Set<string>;
  /** A traced appliance: the wide tree's folder, what the run touched, why each kept path stays. */
  /** `boot`: the trace kernel's files, built only when a trace boots (`retraceable`: not a rung that follows another's trace). */
  trace?: { touched: Map<string, string>; fresh: boolean; reasons: Map<string, KeptReason>; retraceable: boolean };
  /** The initrd the kernel boots: an appliance's cpio, or the twin's initramfs-tools image. */
  initramfs?: Uint8Array;
  kernel?: {
    bzImage: Uint8Array;
    /** The bzImage's uncompressed ELF, for an appliance the machine enters directly. */
    vmlinux?: Uint8Array;
    config?: string;
    configHash: string;
    version: string;
    source: string;
    stock: boolean;
  };
  firmware?: Firmware;
  /** The folder being filled, renamed to images/dist/<name> when the build succeeds. */
  outDir: string;
  artifacts: Artifact[];
  manifest?: Manifest;
  /** Run when the build ends, whether it succeeded or not (the twin's work folder). */
  cleanups: (() => Promise<void>)[];
}

/** Serial console settings every appliance boots with. `quiet` keeps the emulated UART from printing
 *  hundreds of lines; `tsc=reliable` skips the clocksource watchdog (see shared DESIGN notes);
 *  `init_on_free=1` zeroes freed pages, so saved states (v86 skips zero pages) are a third smaller
 *  for ~1% more boot instructions. */
export const APPLIANCE_CMDLINE = 'console=ttyS0 quiet tsc=reliable init_on_free=1';
/** Debian's stock kernel gets the same console; its own defaults otherwise. */
export const STOCK_CMDLINE = 'console=ttyS0';

/** Builds image `name` (a recipe, or {@link TWIN}.name) into `opts.distDir`, replacing the previous build. */
export async function build(name: string, opts: BuildOptions): Promise<Manifest> {
  const ctx = await createContext(name, opts);
  try {
    const manifest = await publishDir(join(opts.distDir, name), async (outDir) => {
      ctx.outDir = outDir;
      await lockPackages(ctx);
      await pinTwin(ctx);
      await fetchPackages(ctx);
      await unpack(ctx);
      await installWideTree(ctx);
      trim(ctx);
      await traceAndKeep(ctx);
      writeInitramfs(ctx);
      await installDistro(ctx);
      await makeDisk(ctx);
      await buildTheKernel(ctx);
      await extractFirmware(ctx);
      await writeArtifacts(ctx);
      await writeDiskArtifact(ctx);
      await writeManifest(ctx);
      await verify(ctx);
      await writeDistroManifest(ctx);
      await measureSockets(ctx);
      return ctx.manifest!;
    });
    reportDone(ctx);
    return manifest;
  } finally {
    for (const cleanup of ctx.cleanups.reverse()) await cleanup();
  }
}

async function createContext(name: string, opts: BuildOptions): Promise<BuildContext> {
  const ctx: BuildContext = { name, opts, packages: [], epoch: 0, debs: new Map(), tree: new RootTree(), outDir: '', artifacts: [], cleanups: [] };
  if (name === TWIN.name) ctx.distro = distroState({}, opts.cacheDir);
  else {
    const source = await loadRecipe(name, opts.recipesDir);
    ctx.appliance = { recipe: source.recipe, source };
  }
  return ctx;
}

/** Archive + Resolve: use the lock beside the recipe, or resolve from the verified archive and write one. */
async function lockPackages(ctx: BuildContext): Promise<void> {
  if (!ctx.appliance) return;
  const { recipe, source } = ctx.appliance;
  const { opts } = ctx;
  const existing = existsSync(source.lockPath) ? parseRecipeLock(await readFile(source.lockPath, 'utf8'), source.lockPath) : undefined;
  if (existing && !opts.updateLock) {
    opts.log.stage('lock', `${existing.rootfs.packages.length} packages from ${source.lockPath}`);
    const wantRoots = recipe.packages.join(' ');
    // A traced recipe's lock adds the Essential set after the recipe's packages (see rootfsRoots).
    const roots = recipe.trim === 'trace' ? existing.rootfs.roots.slice(0, recipe.packages.length) : existing.rootfs.roots;
    if (roots.join(' ') !== wantRoots || existing.rootfs.exclude.join(' ') !== [...recipe.exclude].sort().join(' ')) {
      fail(`The lock of ${recipe.name} was made for other packages (${existing.rootfs.roots.join(' ')}) than the recipe lists (${wantRoots})`, {
        hint: `Re-resolve: npm run images -- build ${recipe.name} --update-lock`,
      });
    }
    ctx.lock = existing;
  } else {
    opts.log.stage('archive', 'fetching and verifying InRelease and Packages');
    const archive = await openArchive({ mirror: opts.mirror(), cacheDir: opts.cacheDir, signal: opts.signal, keys: opts.archiveKeys });
    ctx.archive = archive;
    opts.log.info(`${archive.suite} ${archive.arch}: ${archive.packages.size} packages, Release of ${archive.release.date}, signed by ${archive.signers.map((s) => s.slice(-16)).join(', ')}`);
    opts.log.stage('resolve', recipe.packages.join(' '));
    const meta = { suite: archive.suite, arch: archive.arch, date: archive.release.date };
    const rootfs = resolveClosure(archive.packages, rootfsRoots(recipe, archive), { exclude: recipe.exclude });
    for (const d of rootfs.dropped) opts.log.info(`left out: ${d.package} ${d.field}: ${d.dependency} (excluded: ${d.excluded.join(', ')})`);
    const bootRoots = bootPackages(recipe, archive);
    const boot = resolveClosure(archive.packages, bootRoots, { exclude: allDependencies(archive, bootRoots) });
    const lock: RecipeLock = { rootfs: lockFromResolution(rootfs, meta), boot: lockFromResolution(boot, meta), ...(existing?.trace ? { trace: existing.trace } : {}) };
    if (existing) {
      for (const part of ['rootfs', 'boot'] as const) {
        const diff = diffLocks(existing[part], lock[part]);
        if (!samePackages(diff)) opts.log.info(`lock ${part} changed:\n${formatLockDiff(diff)}`);
      }
    }
    await writeFileAtomic(source.lockPath, formatRecipeLock(lock));
    opts.log.info(`wrote ${source.lockPath}: ${lock.rootfs.packages.length} packages + ${lock.boot.packages.map((p) => p.name).join(', ')}`);
    ctx.lock = lock;
  }
  ctx.packages = [...ctx.lock.rootfs.packages, ...ctx.lock.boot.packages];
  ctx.epoch = sourceDateEpoch(epochOfDate(ctx.lock.rootfs.date, "the lock's archive date"));
}

/** Pins (the twin): every version the appliance locks hold, and their SeaBIOS, so both boot the same bytes. */
async function pinTwin(ctx: BuildContext): Promise<void> {
  if (!ctx.distro) return;
  const { pins, epoch, seabios } = await appliancePins(ctx.opts.recipesDir);
  if (!seabios) fail('No appliance lock pins seabios yet', { hint: 'Build the appliances first: npm run images -- build shell sqlite lua redis' });
  ctx.distro.pins = pins;
  ctx.packages = [seabios];
  ctx.epoch = sourceDateEpoch(epoch);
  ctx.opts.log.stage('pins', `${Object.keys(pins).length} package versions from the appliance locks`);
}

/** Every package version the appliances' locks pin (root filesystem and boot packages), the latest lock date, their seabios. */
export async function appliancePins(recipesDir?: string): Promise<{ pins: Record<string, string>; epoch: number; seabios?: LockedPackage }> {
  const pins: Record<string, string> = {};
  let epoch = 0;
  let seabios: LockedPackage | undefined;
  for (const name of recipeNames(recipesDir)) {
    const { lockPath } = await loadRecipe(name, recipesDir);
    if (!existsSync(lockPath)) continue;
    const lock = parseRecipeLock(await readFile(lockPath, 'utf8'), lockPath);
    for (const p of [...lock.rootfs.packages, ...lock.boot.packages]) {
      if (pins[p.name] && pins[p.name] !== p.version) {
        fail(`The appliance locks disagree on ${p.name}: ${pins[p.name]} and ${p.version} (in ${lockPath})`, {
          hint: 'Re-resolve them against one archive: npm run images -- build <recipes...> --update-lock',
        });
      }
      pins[p.name] = p.version;
      if (p.name === 'seabios') seabios = p;
    }
    epoch = Math.max(epoch, epochOfDate(lock.rootfs.date, `the archive date in ${lockPath}`));
  }
  return { pins, epoch, seabios };
}

/**
 * The root filesystem's root packages: the recipe's; for a traced recipe also every Essential:yes
 * package (what Debian assumes present: maintainer scripts use them without depending on them, and
 * mmdebstrap's custom variant installs exactly the lock).
 */
function rootfsRoots(recipe: Recipe, archive: Archive): string[] {
  if (recipe.trim !== 'trace') return recipe.packages;
  const named = new Set(recipe.packages.map((p) => p.split('=')[0]));
  const essential = archive.packages.names().filter((n) => !named.has(n) && archive.packages.get(n)?.fields.Essential === 'yes');
  return [...recipe.packages, ...[...new Set(essential)].sort()];
}

/** Firmware and kernel packages: SeaBIOS plus the kernel source (tailored) or Debian's 686 kernel (stock). */
function bootPackages(recipe: Recipe, archive: Archive): string[] {
  if (recipe.kernel.kind === 'tailored') return ['seabios', 'linux-source-6.1'];
  const meta = archive.packages.get('linux-image-686');
  if (!meta) fail('The archive has no linux-image-686', { hint: 'Is the mirror a Debian bookworm i386 mirror?' });
  const image = parseDependencies(meta.fields.Depends ?? '').flat().find((d) => d.name.startsWith('linux-image-'));
  if (!image) fail(`linux-image-686 ${meta.version} depends on no linux-image-* package`);
  return ['seabios', image.name];
}

/** Every dependency name of the given packages: excluding them resolves just the packages themselves. */
function allDependencies(archive: Archive, names: string[]): string[] {
  const deps = new Set<string>();
  for (const n of names) {
    const p = archive.packages.get(n);
    for (const field of ['Pre-Depends', 'Depends']) {
      for (const group of parseDependencies(p?.fields[field] ?? '')) for (const d of group) if (!names.includes(d.name)) deps.add(d.name);
    }
  }
  return [...deps].sort();
}

export function formatRecipeLock(lock: RecipeLock): string {
  const trace = lock.trace ? `,\n  "trace": ${JSON.stringify(lock.trace)}` : '';
  return `{\n  "rootfs": ${indent(formatLock(lock.rootfs))},\n  "boot": ${indent(formatLock(lock.boot))}${trace}\n}\n`;
}

function indent(json: string): string {
  return json.trimEnd().replace(/\n/g, '\n  ');
}

export function parseRecipeLock(text: string, source: string): RecipeLock {
  let raw: { rootfs?: unknown; boot?: unknown; trace?: { file?: unknown; sha256?: unknown } };
  try {
    raw = JSON.parse(text);
  } catch (e) {
    fail(`${source} is not valid JSON`, { cause: e, hint: 'Restore it from git, or delete it and rebuild with --update-lock.' });
  }
  if (!raw.rootfs || !raw.boot) fail(`${source} lacks its "rootfs" or "boot" section`, { hint: 'Delete it and rebuild with --update-lock.' });
  const lock: RecipeLock = { rootfs: parseLock(JSON.stringify(raw.rootfs), `${source} (rootfs)`), boot: parseLock(JSON.stringify(raw.boot), `${source} (boot)`) };
  if (raw.trace !== undefined) {
    const { file, sha256 } = raw.trace ?? {};
    if (file !== TRACE_FILE || !isSha256(sha256)) fail(`${source}: "trace" must be {"file": "${TRACE_FILE}", "sha256": <64 hex digits>}`, { hint: 'Restore it from git, or trace again: --retrace.' });
    lock.trace = { file, sha256 };
  }
  return lock;
}

export function recipeLockHash(lock: RecipeLock): string {
  return sha256Hex(`${lockHash(lock.rootfs)}\n${lockHash(lock.boot)}\n`);
}

/** Fetch: every locked .deb, verified by sha256, into the shared cache. */
async function fetchPackages(ctx: BuildContext): Promise<void> {
  ctx.opts.log.stage('fetch', `${ctx.packages.length} packages`);
  let mirror: string | undefined;
  const fetched = await fetchDebs(ctx.packages, {
    get mirror() {
      return (mirror ??= ctx.opts.mirror());
    },
    cacheDir: ctx.opts.cacheDir,
    signal: ctx.opts.signal,
  });
  for (const f of fetched) ctx.debs.set(f.entry.name, f.path);
}

/** Unpack: each root-filesystem package's data.tar into the tree (no dpkg, no maintainer scripts). */
async function unpack(ctx: BuildContext): Promise<void> {
  if (!ctx.lock || ctx.appliance?.recipe.trim === 'trace') return;
  ctx.opts.log.stage('unpack', `${ctx.lock!.rootfs.packages.length} packages`);
  for (const p of ctx.lock!.rootfs.packages) {
    const deb = await readDeb(ctx.debs.get(p.name)!);
    if (deb.control.Package !== p.name || deb.control.Version !== p.version) {
      fail(`${ctx.debs.get(p.name)} holds ${deb.control.Package} ${deb.control.Version}, not ${p.name} ${p.version}`);
    }
    ctx.tree.addPackage(p.name, deb.files.map((f) => ({ path: f.path, type: f.type as 'file', mode: f.mode, linkTarget: f.linkTarget, data: f.data })));
  }
  ctx.opts.log.info(`${ctx.tree.entries.size} paths, ${formatBytes(ctx.tree.size())}`);
}

/** Trim and assemble: drop what the app does not need, add /init and the rest of the appliance. */
function trim(ctx: BuildContext): void {
  if (!ctx.appliance || ctx.appliance.recipe.trim === 'trace') return;
  const { recipe } = ctx.appliance;
  const { tree } = ctx;
  const before = tree.size();
  const busybox = tree.resolve('bin/busybox');
  const applets = busybox?.data ? busyboxApplets(busybox.data) : [];
  if (!busybox) fail(`${recipe.name}: no /bin/busybox in the packages`, { hint: 'Add busybox or busybox-static to the recipe: /init is a busybox script.' });
  const protect = addApplianceFiles(tree, recipe, applets);
  ctx.trimReport = trimTree(tree, { drop: recipe.drop, keep: recipe.keep, protect });
  const dropped = ctx.trimReport.dropped.length;
  ctx.opts.log.stage('trim', `${formatBytes(before)} → ${formatBytes(tree.size())}, dropped ${dropped} paths, ${tree.entries.size} left`);
}

/** Wide (traced recipes): the lock installed by mmdebstrap as Debian installs it (cached), read into the tree with /init added. */
async function installWideTree(ctx: BuildContext): Promise<void> {
  if (!ctx.appliance || ctx.appliance.recipe.trim !== 'trace') return;
  const root = await installWide(ctx);
  // What the read left out (docs, man pages, locales) is in files.json's dropped list, as "trim rule".
  const wide = await loadWide(ctx, root, ctx.tree);
  ctx.trimReport = { dropped: wide.dropped };
  ctx.mountPoints = wide.protect;
  ctx.opts.log.info(`wide tree: ${describeWide(ctx.tree)}, ${ctx.trimReport.dropped.length} docs, man pages and locales left out`);
}

/** Reads the wide tree at `root` into `tree` and adds the builder's files; returns the protected mount points and what the read left out. */
async function loadWide(ctx: BuildContext, root: string, tree: RootTree): Promise<{ protect: Set<string>; dropped: TrimReport['dropped'] }> {
  const { recipe } = ctx.appliance!;
  const { dropped } = await readWideTree(root, tree);
  const busybox = tree.resolve('bin/busybox');
  if (!busybox?.data) fail(`${recipe.name}: no /bin/busybox in the packages`, { hint: 'Add busybox or busybox-static to the recipe: /init is a busybox script.' });
  const protect = addApplianceFiles(tree, recipe, busyboxApplets(busybox.data), { installed: true });
  return { protect, dropped };
}

/**
 * Trace and keep (traced recipes): take what the wide run touched from trace.json when it matches the
 * lock, else boot the wide tree and record it (and write trace.json and its hash into the lock); then
 * keep the touched paths and what they need (images/trace/keep.ts).
 */
async function traceAndKeep(ctx: BuildContext): Promise<void> {
  if (!ctx.appliance || ctx.appliance.recipe.trim !== 'trace') return;
  const { recipe, source } = ctx.appliance;
  const { opts } = ctx;
  let lock = ctx.lock!;
  let tracePath = join(dirname(source.lockPath), TRACE_FILE);
  let lockPath = source.lockPath;
  // A rung that only changes how the same packages boot follows the recipe it extends, whose trace ran
  // on them (shell-stock, whose stock kernel has no virtio console built in, and shell-firmware follow shell).
  const parent = recipe.extends ? await loadRecipe(recipe.extends, opts.recipesDir) : undefined;
  const follows = parent && parent.recipe.packages.join(' ') === recipe.packages.join(' ') ? parent : undefined;
  if (follows) {
    lockPath = follows.lockPath;
    tracePath = join(dirname(lockPath), TRACE_FILE);
    if (!existsSync(lockPath) || !existsSync(tracePath)) fail(`${recipe.name} follows the trace of ${follows.recipe.name}, which has none yet`, { hint: `Build it first: npm run images -- build ${follows.recipe.name}` });
    lock = parseRecipeLock(await readFile(lockPath, 'utf8'), lockPath);
    if (lockHash(lock.rootfs) !== lockHash(ctx.lock!.rootfs)) {
      fail(`${recipe.name} follows the trace of ${follows.recipe.name}, but their locks hold other packages`, { hint: `Re-resolve both against one archive: npm run images -- build ${follows.recipe.name} ${recipe.name} --update-lock` });
    }
  }
  const existing = existsSync(tracePath) ? parseTraceResult(await readFile(tracePath, 'utf8'), tracePath) : undefined;
  if (existing && !lock.trace) fail(`${tracePath} is not recorded in ${lockPath}`, { hint: `Trace again: npm run images -- build ${follows?.recipe.name ?? recipe.name} --retrace` });
  if (existing && lock.trace && traceResultHash(existing) !== lock.trace.sha256) {
    fail(`${tracePath} does not match the sha256 its lock records (${lock.trace.sha256.slice(0, 12)}…): it was edited or belongs to another lock`, {
      hint: `Restore both from git, or trace again: npm run images -- build ${recipe.name} --retrace`,
    });
  }
  const wideLock = lockHash(lock.rootfs);
  const stale = existing && existing.lockHash !== wideLock;
  const fresh = !follows && (opts.retrace === true || opts.updateLock === true || !existing || stale === true);
  if (follows && stale) fail(`${tracePath} was made for another lock than ${recipe.name}'s`, { hint: `Trace ${follows.recipe.name} again first: npm run images -- build ${follows.recipe.name} --retrace` });
  await loadFirmware(ctx);
  let touched: Map<string, string>;
  if (fresh) {
    if (stale) opts.log.info(`trace.json was made for another lock (${existing!.lockHash.slice(0, 12)}…): tracing again`);
    touched = await traceWide(ctx, ctx.tree, await traceBootFiles(ctx));
    const result: TraceResult = { schema: 1, lockHash: wideLock, touched: Object.fromEntries([...touched].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
    const diff = diffTraces(existing, result);
    if (existing) opts.log.info(`trace changed: ${diff.added.length} paths added, ${diff.removed.length} removed${[...diff.added.map((p) => `\n  + /${p}`), ...diff.removed.map((p) => `\n  - /${p}`)].slice(0, 200).join('')}`);
    await writeFileAtomic(tracePath, formatTraceResult(result));
    lock.trace = { file: TRACE_FILE, sha256: traceResultHash(result) };
    await writeFileAtomic(source.lockPath, formatRecipeLock(lock));
    opts.log.info(`wrote ${tracePath} (${touched.size} paths) and its sha256 into ${source.lockPath}`);
  } else {
    touched = new Map(Object.entries(existing!.touched));
    opts.log.stage('trace', `${touched.size} touched paths from ${tracePath} (no boot; --retrace traces again${follows ? `, on ${follows.recipe.name}` : ''})`);
  }
  const before = ctx.tree.size();
  const decision = keepTraced(ctx.tree, touched, { keep: recipe.keep, protect: ctx.mountPoints });
  ctx.trimReport = { dropped: [...(ctx.trimReport?.dropped ?? []), ...decision.report.dropped].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
  ctx.trace = { touched, fresh, reasons: decision.reasons, retraceable: !follows };
  opts.log.stage('keep', `${formatBytes(before)} → ${formatBytes(ctx.tree.size())}: kept ${decision.reasons.size} paths, dropped ${decision.report.dropped.length}; ${decision.notInTree.length} touched paths were made at run time`);
}

/** The trace boot's kernel: the recipe's own plus the virtio console the control shell runs on (its own cached build). */
async function traceBootFiles(ctx: BuildContext): Promise<BootFiles> {
  const { recipe } = ctx.appliance!;
  if (recipe.kernel.kind === 'stock') {
    fail(`${recipe.name} boots Debian's stock kernel, which has the virtio console only as a module: it cannot be traced`, {
      hint: 'Trace a recipe with a tailored kernel and extend it ("extends"), or set "trim": "rules".',
    });
  }
  const k = await tailoredKernel(ctx, ['virtio-console']);
  return { bzImage: k.bzImage, bios: ctx.firmware!.bios, vgabios: ctx.firmware!.vgabios, cmdline: [APPLIANCE_CMDLINE, recipe.kernel.cmdline].filter(Boolean).join(' ') };
}

/**
 * Verify (traced recipes): boot the finished appliance and run its smoke script. On failure, name the
 * step and the paths the wide run touched during that step that the appliance lacks (tracing again
 * when the trace came from trace.json, which may have been edited).
 */
async function verify(ctx: BuildContext): Promise<void> {
  if (!ctx.appliance || ctx.appliance.recipe.trim !== 'trace') return;
  const failed = await verifyAppliance(ctx, ctx.opts.log);
  if (!failed) return;
  const { recipe } = ctx.appliance;
  // Too little memory is not a trace problem: say so, without tracing again.
  if (/ran out of memory|do not fit in \d+ MiB/.test(failed.message)) {
    fail(`${recipe.name}: the trimmed appliance fails ${failed.label} in ${recipe.memoryMB} MiB: ${failed.message}`, {
      hint: `Give it more memory: "memoryMB": ${Math.min(MAX_MEMORY_MB, recipe.memoryMB * 2)} in its recipe.json (the unpacked initramfs and the archive it came from are both in RAM at boot).`,
    });
  }
  let touched = ctx.trace!.touched;
  if (!ctx.trace!.fresh && ctx.trace!.retraceable) {
    ctx.opts.log.info(`verify: ${failed.label} failed; tracing the wide tree again to see what it touched then`);
    const wide = new RootTree();
    await loadWide(ctx, await installWide(ctx), wide);
    touched = await traceWide(ctx, wide, await traceBootFiles(ctx));
  }
  const missing = [...touched].filter(([path, step]) => step === failed.label && !ctx.tree.entries.has(path)).map(([p]) => `/${p}`).sort();
  fail(`${recipe.name}: the trimmed appliance fails ${failed.label} (${failed.message}); ${missing.length ? `the wide run touched during ${failed.label} what the appliance lacks: ${missing.slice(0, 40).join(' ')}${missing.length > 40 ? ` and ${missing.length - 40} more` : ''}` : 'it lacks nothing the wide run touched during that step'}`, {
    hint: missing.length
      ? `trace.json lost these paths (edited, or from another run): trace again with npm run images -- build ${recipe.name} --retrace, or list them under "keep".`
      : `Output: ${JSON.stringify(failed.output)}. Compare the wide run with WHITTLE_DEBUG=1; the app may depend on something atime cannot see (a bare stat or access check): list it under "keep".`,
  });
}

function writeInitramfs(ctx: BuildContext): void {
  if (!ctx.appliance) return;
  ctx.initramfs = ctx.tree.toCpio(ctx.epoch);
  ctx.opts.log.stage('initramfs', `newc cpio, ${formatBytes(ctx.initramfs.length)}`);
  const { recipe } = ctx.appliance;
  // Through firmware, v86 (src/kernel.js) loads the initrd at a fixed 64 MiB: the guest needs RAM above it.
  const need = Math.ceil((FIRMWARE_INITRD_ADDRESS + ctx.initramfs.length) / MiB) + 1;
  if (bootMethod(recipe) === 'firmware' && recipe.memoryMB < need) {
    fail(`recipe ${recipe.name}: ${recipe.memoryMB} MiB cannot hold its ${formatBytes(ctx.initramfs.length)} initramfs when booted through firmware (v86 loads it at 64 MiB)`, { hint: `Give it "memoryMB": ${need} or more, or boot it directly ("kernel": { "boot": "direct" }).` });
  }
}

const MiB = 1 << 20;
const FIRMWARE_INITRD_ADDRESS = 64 * MiB;

/** Kernel (appliances): tailored from linux-source-6.1, or Debian's stock one. The twin's came with its install. */
async function buildTheKernel(ctx: BuildContext): Promise<void> {
  if (!ctx.appliance) return;
  const { recipe } = ctx.appliance;
  const { opts } = ctx;
  if (recipe.kernel.kind === 'stock') {
    const pkg = ctx.lock!.boot.packages.find((p) => p.name.startsWith('linux-image-'))!;
    const deb = await readDeb(ctx.debs.get(pkg.name)!);
    const vmlinuz = deb.files.find((f) => /^boot\/vmlinuz-/.test(f.path) && f.data);
    if (!vmlinuz?.data) fail(`${pkg.name} ${pkg.version} holds no boot/vmlinuz-*`);
    opts.log.stage('kernel', `Debian's stock ${vmlinuz.path.slice(5)} (${formatBytes(vmlinuz.data.length)})`);
    ctx.kernel = { bzImage: vmlinuz.data, configHash: sha256Hex(deb.files.find((f) => f.path.startsWith('boot/config-'))?.data ?? ''), version: pkg.version, source: pkg.name, stock: true };
    return;
  }
  const k = await tailoredKernel(ctx, []);
  const src = ctx.lock!.boot.packages.find((p) => p.name === 'linux-source-6.1')!;
  ctx.kernel = { bzImage: k.bzImage, config: k.config, configHash: k.configHash, version: k.kernelRelease, source: `linux-source-6.1 ${src.version}`, stock: false };
  if (bootMethod(recipe) === 'direct') {
    ctx.kernel.vmlinux = await vmlinuxFromBzImage(k.bzImage, { signal: opts.signal });
    opts.log.info(`direct entry: vmlinux ${formatBytes(ctx.kernel.vmlinux.length)} from the bzImage (no firmware, no in-guest decompression)`);
  }
}

/** The recipe's tailored kernel (plus `extraFragments`), from the kernel cache or built. */
async function tailoredKernel(ctx: BuildContext, extraFragments: string[]) {
  const { recipe } = ctx.appliance!;
  const { opts } = ctx;
  const src = ctx.lock!.boot.packages.find((p) => p.name === 'linux-source-6.1');
  if (!src) fail('The lock has no linux-source-6.1 boot package', { hint: `Rebuild with --update-lock.` });
  const fragments = [...recipe.kernel.fragments, ...extraFragments];
  opts.log.stage('kernel', `tinyconfig + ${fragments.join(' + ')}${recipe.kernel.config.length ? ` + ${recipe.kernel.config.length} recipe options` : ''} from linux-source-6.1 ${src.version}`);
  const k = await buildKernel({
    sourceTarXz: async () => {
      const tarball = join(opts.cacheDir, 'linux', src.version, 'linux-source-6.1.tar.xz');
      if (!existsSync(tarball)) {
        opts.log.info('extracting linux-source-6.1.tar.xz from the verified .deb');
        await writeFileAtomic(tarball, await readDebMember(ctx.debs.get(src.name)!, 'usr/src/linux-source-6.1.tar.xz'));
      }
      return tarball;
    },
    sourceVersion: src.version,
    fragments,
    extraConfig: recipe.kernel.config,
    cacheDir: opts.cacheDir,
    jobs: opts.jobs,
    sourceDateEpoch: ctx.epoch,
    onProgress: (line) => opts.log.progress(line),
    signal: opts.signal,
  });
  opts.log.info(`${k.cached ? 'cached build' : 'built'} ${k.kernelRelease}: bzImage ${formatBytes(k.bzImage.length)}, config ${k.configHash.slice(0, 12)}`);
  return k;
}

/**
 * How an appliance boots: `direct` (the machine enters the uncompressed kernel; the default for a
 * tailored kernel) or `firmware` (SeaBIOS and the bzImage: the fallback, and Debian's stock kernel).
 */
export function bootMethod(recipe: Pick<Recipe, 'name' | 'kernel'>): 'direct' | 'firmware' {
  const boot = recipe.kernel.boot ?? (recipe.kernel.kind === 'stock' ? 'firmware' : 'direct');
  if (boot === 'direct' && recipe.kernel.kind === 'stock') {
    fail(`recipe ${recipe.name}: Debian's stock kernel boots through firmware only`, { hint: 'Remove "boot": "direct" from its kernel, or use a tailored kernel.' });
  }
  return boot;
}

/** Firmware stage: SeaBIOS for what boots through it (an appliance entered directly needs none). */
async function extractFirmware(ctx: BuildContext): Promise<void> {
  if (ctx.appliance && bootMethod(ctx.appliance.recipe) === 'direct') return;
  await loadFirmware(ctx);
}

/** SeaBIOS and its VGA BIOS from the locked seabios package (the twin's: the appliances'); a trace boot takes it too. */
async function loadFirmware(ctx: BuildContext): Promise<void> {
  if (ctx.firmware) return;
  const pkg = ctx.packages.find((p) => p.name === 'seabios');
  if (!pkg) fail('The lock has no seabios boot package', { hint: 'Rebuild with --update-lock.' });
  const { bios, vgabios } = (ctx.firmware = await seabiosFirmware(ctx.debs.get('seabios')!));
  ctx.opts.log.stage('firmware', `seabios ${pkg.version}: bios.bin ${formatBytes(bios.length)}, vgabios-stdvga.bin ${formatBytes(vgabios.length)}`);
}

/** Artifacts every image has, content-addressed and compressed where it pays: firmware, kernel, initrd. */
async function writeArtifacts(ctx: BuildContext): Promise<void> {
  const { outDir, kernel, firmware } = ctx;
  // The twin's keep Debian's names (vmlinuz-<version>, initrd.img-<version>), as in its /boot.
  const names = ctx.distro ? { kernel: `vmlinuz-${kernel!.version}`, initrd: `initrd.img-${kernel!.version}` } : { kernel: 'bzImage', initrd: 'initramfs.cpio' };
  if (kernel!.vmlinux) {
    ctx.opts.log.stage('artifacts', 'vmlinux (direct entry), initrd: compressing');
    ctx.artifacts = [await writeArtifact(outDir, 'vmlinux', 'vmlinux', kernel!.vmlinux), await writeArtifact(outDir, 'initrd', names.initrd, ctx.initramfs!)];
    return;
  }
  ctx.opts.log.stage('artifacts', 'firmware, kernel, initrd: compressing');
  ctx.artifacts = [
    await writeArtifact(outDir, 'bios', 'bios.bin', firmware!.bios),
    await writeArtifact(outDir, 'vgabios', 'vgabios-stdvga.bin', firmware!.vgabios),
    await writeArtifact(outDir, 'kernel', names.kernel, kernel!.bzImage),
    await writeArtifact(outDir, 'initrd', names.initrd, ctx.initramfs!),
  ];
}

/** Manifest (appliances): artifacts, packages with their share of the tree, file list, kernel config. */
async function writeManifest(ctx: BuildContext): Promise<void> {
  if (!ctx.appliance) return;
  const { recipe } = ctx.appliance;
  const { outDir, tree, kernel } = ctx;
  ctx.opts.log.stage('manifest', `${ctx.artifacts.length} artifacts`);
  const rootfsSize = tree.size();
  const byOwner = new Map<string, { size: number; files: number }>();
  for (const e of tree.files()) {
    const o = byOwner.get(e.owner) ?? { size: 0, files: 0 };
    o.size += e.data?.length ?? e.linkTarget?.length ?? 0;
    if (e.type !== 'dir') o.files++;
    byOwner.set(e.owner, o);
  }
  const packages: PackageShare[] = ctx.lock!.rootfs.packages
    .map((p) => {
      const o = byOwner.get(p.name) ?? { size: 0, files: 0 };
      return { name: p.name, version: p.version, size: o.size, share: rootfsSize ? o.size / rootfsSize : 0, files: o.files };
    })
    // A traced appliance lists the packages it holds files of (the wide tree installed them all).
    .filter((p) => recipe.trim !== 'trace' || p.files > 0);
  const reasons = ctx.trace?.reasons;
  const files: KeptFile[] = tree
    .files()
    .filter((e) => e.type !== 'dir')
    .map((e) => ({ path: `/${e.path}`, size: e.data?.length ?? 0, type: e.type, owner: e.owner, ...(reasons?.has(e.path) ? { reason: reasons.get(e.path)! } : {}) }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const fileList: FileList = { files, dropped: ctx.trimReport!.dropped.map((d) => ({ ...d, path: `/${d.path}` })), trim: recipe.trim };
  await writeFile(join(outDir, 'files.json'), JSON.stringify(fileList) + '\n');
  if (kernel!.config) await writeFile(join(outDir, 'kernel.config'), kernel!.config);
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    name: recipe.name,
    title: recipe.title,
    description: recipe.description,
    kind: 'appliance',
    artifacts: ctx.artifacts,
    cmdline: [kernel!.stock ? STOCK_CMDLINE : APPLIANCE_CMDLINE, recipe.kernel.cmdline].filter(Boolean).join(' '),
    memoryMB: recipe.memoryMB,
    readyMarker: recipe.readyMarker,
    smoke: recipe.smoke,
    app: recipe.app,
    packages,
    fileCount: files.length,
    rootfsSize,
    kernel: { source: kernel!.source, version: kernel!.version, configHash: kernel!.configHash, stock: kernel!.stock, ...(kernel!.config ? { config: 'kernel.config' } : {}) },
    lockHash: recipeLockHash(ctx.lock!),
    inputs: await applianceInputs(recipe.name, ctx.opts.recipesDir),
    recipe: recipe.name,
    inspect: { files: 'files.json', builderFiles: byOwner.get(BUILDER_OWNER)?.files ?? 0 },
    trim: recipe.trim,
    ...(recipe.share ? { share: true } : {}),
    ...(recipe.network ? { network: true } : {}),
    // Counted from the tree packed into the initramfs above.
    surface: treeSurface(tree),
  };
  await writeFile(join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  ctx.manifest = manifest;
}

function reportDone(ctx: BuildContext): void {
  const m = ctx.manifest!;
  const total = m.artifacts.reduce((n, a) => n + a.compressedSize, 0);
  ctx.opts.log.stage('done', `${join(ctx.opts.distDir, ctx.name)}: ${formatBytes(total)} to download, ${m.fileCount} files, ${m.packages.length} packages`);
}
