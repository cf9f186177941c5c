// `npm run images -- <command>`: build appliance images (and the Debian twin) into images/dist/.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianMirror, defaultCacheDir } from './archive/index.ts';
import { build } from './build.ts';
import { applianceInputs, staleReason, twinInputs } from './inputs.ts';
import { consoleLog, formatBytes } from './log.ts';
import { downloadSize, rawSize, validateManifest, type Manifest } from './manifest.ts';
import { recipeNames } from './recipes.ts';
import { appliancePins, buildTwin } from './twin.ts';

export const DIST_DIR = fileURLToPath(new URL('./dist/', import.meta.url));
/** The Debian twin is built by images/distro/, not from a recipe folder. */
const TWIN = 'debian';
/** Download-size goals from the issues (benchmark targets: reported, never asserted). */
const SIZE_TARGETS: Record<string, number> = { shell: 2.5e6, sqlite: 4e6 };

const USAGE = `usage: npm run images -- [command]
  (no command)              build every recipe and the ${TWIN} twin
  build <name...>           build the named images (recipes: ${recipeNames().join(', ')}; ${TWIN})
        --update-lock       re-resolve packages against the archive and rewrite the recipe's lock
  ensure [name...]          build the images that are missing from images/dist or were built from other
                            inputs (recipe, lock, kernel fragments, builder code; default: all)
  list                      list built images with their sizes
environment: DEBIAN_MIRROR (else the host's apt sources), WHITTLE_CACHE (default ~/.cache/whittle),
             SOURCE_DATE_EPOCH (default: the locked archive's date)`;

function allNames(): string[] {
  // Appliances first: the twin pins its app versions from their locks.
  return [...recipeNames(), TWIN];
}

async function buildOne(name: string, updateLock: boolean): Promise<void> {
  const log = consoleLog(`[${name}]`);
  const started = Date.now();
  const opts = { cacheDir: defaultCacheDir(), distDir: DIST_DIR, mirror: () => debianMirror(), log, updateLock };
  if (name === TWIN) {
    await buildTwin(opts);
  } else {
    await build(name, opts);
  }
  log.info(`finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
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
  if (images.length === 0) {
    console.log('No images built yet: run `npm run images`.');
    return;
  }
  const rows = images.map((m) => {
    const target = SIZE_TARGETS[m.name];
    const dl = downloadSize(m);
    const byRole = (role: string) => m.artifacts.filter((a) => a.role === role || (role === 'firmware' && (a.role === 'bios' || a.role === 'vgabios'))).reduce((n, a) => n + a.compressedSize, 0);
    return [
      m.name,
      m.kind,
      formatBytes(dl),
      formatBytes(rawSize(m)),
      formatBytes(byRole('firmware')),
      formatBytes(byRole('kernel')),
      formatBytes(byRole('initrd') + byRole('disk')),
      String(m.packages.length),
      String(m.fileCount),
      target === undefined ? '' : dl <= target ? `≤ ${formatBytes(target)} ✓` : `> ${formatBytes(target)} by ${formatBytes(dl - target)}`,
    ];
  });
  const head = ['image', 'kind', 'download', 'raw', 'firmware', 'kernel', 'initrd/disk', 'packages', 'files', 'size target'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

async function main(argv: string[]): Promise<void> {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const args = argv.filter((a) => !a.startsWith('--'));
  for (const f of flags) if (!['--update-lock', '--help'].includes(f)) throw Object.assign(new Error(`unknown option ${f}`), { hint: USAGE });
  const [command, ...names] = args;
  if (flags.has('--help') || command === 'help') return console.log(USAGE);
  const known = allNames();
  for (const n of names) if (!known.includes(n)) throw Object.assign(new Error(`no image named ${JSON.stringify(n)}`), { hint: `Known: ${known.join(', ')}` });
  switch (command) {
    case undefined:
    case 'all':
      for (const n of known) await buildOne(n, flags.has('--update-lock'));
      return list();
    case 'build':
      if (names.length === 0) throw Object.assign(new Error('build: name at least one image'), { hint: USAGE });
      for (const n of names) await buildOne(n, flags.has('--update-lock'));
      return list();
    case 'ensure':
      // One at a time: the twin's inputs come from the appliance locks, which a build may have written.
      for (const n of names.length ? names : known) {
        const reason = staleReason(builtManifest(n), n === TWIN ? twinInputs((await appliancePins()).pins) : await applianceInputs(n));
        if (!reason) continue;
        console.error(`[images] building ${n}: ${reason}`);
        await buildOne(n, false);
      }
      return;
    case 'list':
      return list();
    default:
      throw Object.assign(new Error(`unknown command ${command}`), { hint: USAGE });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e: Error & { hint?: string }) => {
    console.error(`\nerror: ${e.message}`);
    if (e.hint) console.error(`hint: ${e.hint}`);
    if (process.env.WHITTLE_DEBUG) console.error(e);
    process.exit(1);
  });
}
