// `npm run images -- build debian`: the full-distribution twin, pinned to the appliances' package
// versions and booted with the same SeaBIOS, built by images/distro/ and moved into place when complete.

import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchDebs, readDebMember } from './archive/index.ts';
import { parseRecipeLock, type BuildOptions } from './build.ts';
import { buildDebianTwin } from './distro/debian.ts';
import { twinInputs } from './inputs.ts';
import { fail, formatBytes } from './log.ts';
import { downloadSize, type Manifest } from './manifest.ts';
import { loadRecipe, recipeNames } from './recipes.ts';

/** Every package version the appliances' locks pin (root filesystem and boot packages). */
export async function appliancePins(recipesDir?: string): Promise<{ pins: Record<string, string>; epoch: number; seabios?: { name: string; version: string; filename: string; size: number; sha256: string } }> {
  const pins: Record<string, string> = {};
  let epoch = 0;
  let seabios;
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
    epoch = Math.max(epoch, Math.floor(Date.parse(lock.rootfs.date) / 1000));
  }
  return { pins, epoch, seabios };
}

export async function buildTwin(opts: BuildOptions): Promise<Manifest> {
  const { log } = opts;
  const { pins, epoch, seabios } = await appliancePins(opts.recipesDir);
  if (!seabios) fail('No appliance lock pins seabios yet', { hint: 'Build the appliances first: npm run images -- build shell sqlite lua redis' });
  log.stage('firmware', `seabios ${seabios.version} (as the appliances)`);
  const [deb] = await fetchDebs([seabios], { mirror: opts.mirror(), cacheDir: opts.cacheDir, signal: opts.signal });
  const firmware = {
    bios: await readDebMember(deb.path, 'usr/share/seabios/bios.bin'),
    vgabios: await readDebMember(deb.path, 'usr/share/seabios/vgabios-stdvga.bin'),
  };
  await mkdir(opts.distDir, { recursive: true });
  const outDir = await mkdtemp(join(opts.distDir, '.debian.building-'));
  await chmod(outDir, 0o755);
  try {
    log.stage('debian', `bookworm i386 with mmdebstrap, pinned to ${Object.keys(pins).length} appliance package versions`);
    const manifest = await buildDebianTwin({
      mirror: opts.mirror(),
      cacheDir: opts.cacheDir,
      outDir,
      pins,
      inputs: twinInputs(pins),
      sourceDateEpoch: process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) : epoch,
      firmware,
      onProgress: (line) => log.info(line),
      signal: opts.signal,
    });
    const final = join(opts.distDir, 'debian');
    const old = `${outDir}.old`;
    if (existsSync(final)) await rename(final, old);
    await rename(outDir, final);
    await rm(old, { recursive: true, force: true });
    log.stage('done', `${final}: ${formatBytes(downloadSize(manifest))} to download, ${manifest.packages.length} packages, ${manifest.fileCount} files`);
    return manifest;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
