// openArchive: mirror → verified InRelease → verified Packages index, with an on-disk cache that is
// re-verified on every use.
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublicKey } from 'openpgp';
import { writeFileAtomic } from '../publish.ts';
import { defaultCacheDir } from './cache.ts';
import { HttpError, fail } from './errors.ts';
import { httpGet, mirrorUrl } from './http.ts';
import { debianMirror } from './mirror.ts';
import { PackageIndex } from './packages.ts';
import {
  checkAgainstRelease,
  checkRelease,
  decompressXz,
  loadDebianKeys,
  parseRelease,
  verifyInRelease,
  type Release,
} from './release.ts';

export interface OpenArchiveOptions {
  /** Mirror base URL; default `debianMirror()` (DEBIAN_MIRROR, else the host's apt sources). */
  mirror?: string;
  /** Cache root; default `defaultCacheDir()`. Files go to `<cacheDir>/archive/<suite>/`. */
  cacheDir?: string;
  suite?: string;
  arch?: string;
  component?: string;
  signal?: AbortSignal;
  /** Use only the cached InRelease and Packages (still verified); fail if they are missing. */
  offline?: boolean;
  /** Trusted keys; default Debian's keys from `images/archive/keys/`. */
  keys?: PublicKey[];
  /** Clock for key validity and the Valid-Until check (default now; tests pin it). */
  now?: Date;
}

export interface Archive {
  mirror: string;
  suite: string;
  arch: string;
  component: string;
  release: Release;
  /** Fingerprints of the trusted keys whose signatures on InRelease verified. */
  signers: string[];
  packages: PackageIndex;
  /** The cached, verified files this index was read from. */
  files: { inRelease: string; packages: string };
}

/**
 * Opens a suite of the archive: fetches `dists/<suite>/InRelease` (unless `offline`), verifies its
 * signature, then reads `<component>/binary-<arch>/Packages`, checked against the signed Release.
 * Packages.xz is downloaded (by-hash when the archive offers it) only when the cache lacks the Packages
 * the Release names; the cache keeps it decompressed, named by its sha256. A cached file that fails
 * verification is an error naming the file: it is never silently replaced.
 */
export async function openArchive(options: OpenArchiveOptions = {}): Promise<Archive> {
  const suite = options.suite ?? 'bookworm';
  const arch = options.arch ?? 'i386';
  const component = options.component ?? 'main';
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const mirror = options.mirror ?? debianMirror({ suite });
  const keys = options.keys ?? (await loadDebianKeys());
  const dir = join(cacheDir, 'archive', suite);
  const inReleasePath = join(dir, 'InRelease');
  const cachedInRelease = await readIfExists(inReleasePath);

  let verified;
  let releaseSource: string;
  if (options.offline) {
    if (!cachedInRelease) fail(`No cached InRelease for ${suite} at ${inReleasePath}`, { hint: 'Run once without offline mode to fetch it.' });
    releaseSource = inReleasePath;
    verified = await verifyInRelease(cachedInRelease, keys, `Cached file ${inReleasePath}`, { hint: deleteHint(inReleasePath), date: options.now });
  } else {
    const url = mirrorUrl(mirror, `dists/${suite}/InRelease`);
    const fresh = await httpGet(url, options.signal);
    releaseSource = url;
    verified = await verifyInRelease(fresh, keys, url, { date: options.now });
    if (!cachedInRelease || !sameBytes(cachedInRelease, fresh)) await writeFileAtomic(inReleasePath, fresh);
  }
  const release = parseRelease(verified.text);
  checkRelease(release, suite, releaseSource, options.now);

  // The cache keeps the decompressed Packages (re-checked against the signed Release on each use: a
  // hash of 50 MB is cheaper than decompressing 9 MB of xz); the download is the .xz.
  const plainPath = `${component}/binary-${arch}/Packages`;
  const xzPath = `${plainPath}.xz`;
  const plainEntry = release.files.get(plainPath);
  const xzEntry = release.files.get(xzPath);
  if (!plainEntry || !xzEntry) {
    fail(`${suite}'s Release does not list ${plainEntry ? xzPath : plainPath}`, {
      hint: `Architectures: ${release.architectures.join(' ')}; components: ${release.components.join(' ')}.`,
    });
  }
  const packagesDir = join(dir, component, `binary-${arch}`);
  const packagesPath = join(packagesDir, `Packages-${plainEntry.sha256}`);
  let plain = await readIfExists(packagesPath);
  let source: string;
  let hint: string;
  if (plain) {
    source = `Cached file ${packagesPath}`;
    hint = deleteHint(packagesPath);
    checkAgainstRelease(release, plainPath, plain, source, hint);
  } else {
    if (options.offline) fail(`No cached ${plainPath} for ${suite} at ${packagesPath}`, { hint: 'Run once without offline mode to fetch it.' });
    const download = await downloadIndex(mirror, suite, xzPath, xzEntry.sha256, release, options.signal);
    source = download.source;
    hint = 'Run again; if it keeps failing, the mirror serves a tampered or broken file: try another mirror (DEBIAN_MIRROR).';
    checkAgainstRelease(release, xzPath, download.data, source, hint);
    plain = await decompressXz(download.data, source, hint);
    checkAgainstRelease(release, plainPath, plain, `${source} (decompressed)`, hint);
    await writeFileAtomic(packagesPath, plain);
    await removeOtherIndices(packagesDir, packagesPath);
  }
  let packages: PackageIndex;
  try {
    packages = PackageIndex.fromText(Buffer.from(plain.buffer, plain.byteOffset, plain.length).toString('utf8'));
  } catch (cause) {
    fail(`${source} does not parse as a Packages file: ${(cause as Error).message}`, { hint, cause });
  }
  return {
    mirror,
    suite,
    arch,
    component,
    release,
    signers: verified.signers,
    packages,
    files: { inRelease: inReleasePath, packages: packagesPath },
  };
}

/** Fetches an index by its hash when the archive offers that (no race with a mirror update), else by name. */
async function downloadIndex(
  mirror: string,
  suite: string,
  path: string,
  sha256: string,
  release: Release,
  signal?: AbortSignal,
): Promise<{ data: Uint8Array; source: string }> {
  if (release.fields['Acquire-By-Hash'] === 'yes') {
    const dir = path.slice(0, path.lastIndexOf('/'));
    const url = mirrorUrl(mirror, `dists/${suite}/${dir}/by-hash/SHA256/${sha256}`);
    try {
      return { data: await httpGet(url, signal), source: url };
    } catch (e) {
      if (!(e instanceof HttpError) || e.status !== 404) throw e;
    }
  }
  const url = mirrorUrl(mirror, `dists/${suite}/${path}`);
  return { data: await httpGet(url, signal), source: url };
}

function deleteHint(path: string): string {
  return `The cached file was altered or damaged. Delete it (rm '${path}') and run again to download it anew.`;
}

async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

async function removeOtherIndices(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (path !== keep && /^Packages-[0-9a-f]{64}$/.test(name)) await rm(path, { force: true });
  }
}
