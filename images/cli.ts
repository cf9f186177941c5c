// `npm run images -- <command>`: build appliance images (and the Debian twin) into images/dist/.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { debianMirror, defaultCacheDir } from './archive/index.ts';
import { appliancePins, build } from './build.ts';
import { TWIN } from './distro/debian.ts';
import { applianceInputs, staleReason, twinInputs } from './inputs.ts';
import { formatBytes, formatInteger, formatMs } from './format.ts';
import { consoleLog, fail } from './log.ts';
import { downloadSize, rawSize, validateManifest, type Manifest } from './manifest.ts';
import { RECIPES_DIR, recipeNames } from './recipes.ts';
import { formatRulesTwin, readRulesTwin } from './rules-twin.ts';
import type { GuestBooter } from './trace/guest.ts';
import { recordExpected, verifyImage } from './verify.ts';

export const DIST_DIR = fileURLToPath(new URL('./dist/', import.meta.url));
/** Download-size goals from the issues (benchmark targets: reported, never asserted). */
const SIZE_TARGETS: Record<string, number> = { shell: 2.5e6, sqlite: 4e6 };

const USAGE = `usage: npm run images -- [command]
  (no command)              build every recipe and the ${TWIN.name} twin
  build <name...>           build the named images (recipes: ${recipeNames().join(', ')}; ${TWIN.name})
        --update-lock       re-resolve packages against the archive and rewrite the recipe's lock (traces again)
        --retrace           trace a "trim": "trace" recipe again and rewrite its trace.json (prints paths added, removed)
  ensure [name...]          build the images that are missing from images/dist or were built from other
                            inputs (recipe, lock, kernel fragments, builder code; default: all)
  list                      list built images with their sizes
  verify [recipe...]        rebuild into a temporary folder and compare every artifact's sha256 with the
                            recipe's expected.json (default: every recipe); exit 1 naming the first
                            differing artifact, 0 with a notice where only the compiler differs
  record [recipe...]        write expected.json from the built image (built first if stale); build
                            --update-lock records too
environment: DEBIAN_MIRROR (else the host's apt sources), WHITTLE_CACHE (default ~/.cache/whittle),
             SOURCE_DATE_EPOCH (default: the locked archive's date)`;

function allNames(): string[] {
  // Appliances first: the twin pins its app versions from their locks.
  return [...recipeNames(), TWIN.name];
}

/** Ctrl-C or a kill: end the running host programs' process groups (make, mmdebstrap) before exiting. */
const interrupt = new AbortController();
function abortOnSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupt.abort(new Error(`interrupted (${sig})`));
      process.once(sig, () => process.exit(130)); // a second one does not wait
    });
  }
}

/** What the entry point (worker/cli/images.ts) hands in: the machine that boots guests for trace and verify. */
export interface CliDeps {
  guest?: GuestBooter;
}
let deps: CliDeps = {};

function buildOptions(name: string) {
  return { cacheDir: defaultCacheDir(), mirror: () => debianMirror(), log: consoleLog(`[${name}]`), signal: interrupt.signal, guest: deps.guest };
}

async function buildOne(name: string, updateLock: boolean, retrace = false): Promise<Manifest> {
  const opts = { ...buildOptions(name), distDir: DIST_DIR, updateLock, retrace };
  const started = Date.now();
  const manifest = await build(name, opts);
  opts.log.info(`finished in ${formatMs(Date.now() - started)}`);
  if (updateLock && name !== TWIN.name) opts.log.info(`recorded ${await recordExpected(name, manifest)}`);
  return manifest;
}

/** The current build of `name`: the one in images/dist if built from today's inputs, else a new one. */
async function ensureOne(name: string): Promise<Manifest> {
  const built = builtManifest(name);
  const reason = staleReason(built, name === TWIN.name ? twinInputs((await appliancePins()).pins) : await applianceInputs(name));
  if (!reason) return built!;
  console.error(`[images] building ${name}: ${reason}`);
  return buildOne(name, false);
}

/** The manifest of a built image, or undefined if it is missing or unreadable (then it is rebuilt). */
function builtManifest(name: string): Manifest | undefined {
  try {
    return validateManifest(JSON.parse(readFileSync(join(DIST_DIR, name, 'manifest.json'), 'utf8')));
  } catch {
    return undefined;
  }
}

export function readBuilt(dist = DIST_DIR): Manifest[] {
  if (!existsSync(dist)) return [];
  return readdirSync(dist, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && existsSync(join(dist, d.name, 'manifest.json')))
    .map((d) => validateManifest(JSON.parse(readFileSync(join(dist, d.name, 'manifest.json'), 'utf8'))));
}

function list(): void {
  const images = readBuilt();
  const recipes = new Set(recipeNames());
  if (images.length === 0) {
    console.log('No images built yet: run `npm run images`.');
    return;
  }
  const rows = images.map((m) => {
    const target = SIZE_TARGETS[m.name];
    const dl = downloadSize(m);
    const group: Record<string, string> = { bios: 'firmware', vgabios: 'firmware', vmlinux: 'kernel' };
    const byRole = (role: string) => m.artifacts.filter((a) => (group[a.role] ?? a.role) === role).reduce((n, a) => n + a.compressedSize, 0);
    return [
      m.name,
      m.kind === 'appliance' ? `${m.kind} (${m.trim ?? 'rules'})` : m.kind,
      formatBytes(dl),
      formatBytes(rawSize(m)),
      formatBytes(byRole('firmware')),
      formatBytes(byRole('kernel')),
      formatBytes(byRole('initrd') + byRole('disk')),
      formatInteger(m.packages.length),
      formatBytes(m.rootfsSize),
      formatInteger(m.fileCount),
      m.trim === 'trace' && recipes.has(m.name) ? formatRulesTwin(readRulesTwin(join(RECIPES_DIR, m.name)), m) : '',
      target === undefined ? '' : dl <= target ? `≤ ${formatBytes(target)} ✓` : `> ${formatBytes(target)} by ${formatBytes(dl - target)}`,
    ];
  });
  const head = ['image', 'kind', 'download', 'raw', 'firmware', 'kernel', 'initrd/disk', 'packages', 'root fs', 'files', 'by rules (bench:trim)', 'size target'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  if (rows.some((r) => r[head.indexOf('by rules (bench:trim)')])) {
    console.log('\nby rules: the same recipe trimmed by rules instead of its trace (root fs / files), as `npm run bench:trim` last measured it (images/recipes/<name>/rules-twin.json).');
  }
}

export async function main(argv: string[], given: CliDeps = {}): Promise<void> {
  deps = given;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { 'update-lock': { type: 'boolean' }, retrace: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (cause) {
    fail((cause as Error).message, { hint: USAGE, cause });
  }
  const [command, ...names] = parsed.positionals;
  const updateLock = parsed.values['update-lock'] ?? false;
  const retrace = parsed.values.retrace ?? false;
  if (parsed.values.help || command === 'help') return console.log(USAGE);
  const known = allNames();
  for (const n of names) if (!known.includes(n)) fail(`no image named ${JSON.stringify(n)}`, { hint: `Known: ${known.join(', ')}` });
  const recipes = (names.length ? names : recipeNames()).map((n) => {
    if (n === TWIN.name && (command === 'verify' || command === 'record')) fail(`${command}: the ${TWIN.name} twin has no recipe folder to hold an expected.json`, { hint: `Name appliances: ${recipeNames().join(' ')}` });
    return n;
  });
  switch (command) {
    case undefined:
    case 'all':
      for (const n of known) await buildOne(n, updateLock);
      return list();
    case 'build':
      if (names.length === 0) fail('build: name at least one image', { hint: USAGE });
      for (const n of names) await buildOne(n, updateLock, retrace);
      return list();
    case 'ensure':
      // One at a time: the twin's inputs come from the appliance locks, which a build may have written.
      for (const n of names.length ? names : known) await ensureOne(n);
      return;
    case 'list':
      return list();
    case 'record':
      for (const n of recipes) console.error(`[images] recorded ${await recordExpected(n, await ensureOne(n))}`);
      return;
    case 'verify': {
      let failed = 0;
      for (const n of recipes) {
        const verdict = await verifyImage(n, buildOptions(`${n} verify`));
        console.error(`[images] ${verdict.kind === 'different' ? 'FAIL ' : verdict.kind === 'different-toolchain' ? 'notice: ' : 'ok '}${verdict.message}`);
        if (verdict.kind === 'different') failed++;
      }
      if (failed) {
        fail(`${failed} of ${recipes.length} images differ from their expected.json`, {
          hint: 'If the change is intended (a new lock or builder), record it: npm run images -- record <name>; otherwise compare the inputs the builds used.',
        });
      }
      return;
    }
    default:
      fail(`unknown command ${command}`, { hint: USAGE });
  }
}

/** Runs the CLI as a program: exits 1 with the error and its hint. */
export function runCli(given: CliDeps = {}): void {
  abortOnSignals();
  main(process.argv.slice(2), given).catch((e: Error & { hint?: string }) => {
    console.error(`\nerror: ${e.message}`);
    if (e.hint) console.error(`hint: ${e.hint}`);
    if (process.env.WHITTLE_DEBUG) console.error(e);
    process.exit(1);
  });
}

// Run directly (without a machine: traced recipes then build from their trace.json only if nothing
// needs booting; `npm run images` runs worker/cli/images.ts, which hands in the headless machine).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) runCli();
