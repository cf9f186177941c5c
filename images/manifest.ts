// The image manifest: the contract between the builder, the worker, the page and the tests.
// Pure data and pure functions only: no Node or DOM imports, so every environment can share it.

export const MANIFEST_SCHEMA = 1;

export type ImageKind = 'appliance' | 'distro' | 'imported';

/** What an artifact is to the machine. */
export type ArtifactRole =
  | 'bios' // SeaBIOS bios.bin
  | 'vgabios' // SeaBIOS vgabios-stdvga.bin
  | 'kernel' // bzImage, booted directly by v86
  | 'initrd' // newc cpio (handed to the guest uncompressed)
  | 'disk' // raw disk image on the first IDE disk (hda)
  | 'cdrom'; // ISO 9660 image on the CD-ROM drive

export type Compression = 'none' | 'zstd';

/**
 * One file of an image. `sha256` names the raw bytes the guest sees (after decompression), so an
 * artifact keeps its identity whatever it was compressed with; `file` holds it as stored/served.
 * Large artifacts (disks) are split into chunks of `chunkSize` raw bytes, each content-addressed and
 * served as `chunks/<sha256>` (+ `.zst` when compressed); their `sha256` is then `chunkedDigest()`.
 */
export interface Artifact {
  role: ArtifactRole;
  /** Path relative to the manifest, for unchunked artifacts. */
  file?: string;
  sha256: string;
  /** Raw size in bytes (what the guest sees). */
  size: number;
  /** Bytes to download and store. */
  compressedSize: number;
  compression: Compression;
  chunkSize?: number;
  /** sha256 of each raw chunk, in order; identical chunks (e.g. zeros) share one file. */
  chunks?: string[];
}

/** A line to type and the text to wait for before the next one. */
export interface ScriptStep {
  send: string;
  expect: string;
  /** Seconds to wait for `expect` (default 10). */
  timeout?: number;
}

/** An application a distro image can run: the same app an appliance runs, started by hand. */
export interface AppEntry {
  /** Short name matching the appliance recipe, e.g. `sqlite`. */
  name: string;
  /** Command typed at the ready prompt to start the app. */
  command: string;
  /** Serial text meaning the app waits for input. */
  readyMarker: string;
  smoke: ScriptStep[];
}

export interface PackageShare {
  name: string;
  version: string;
  /** Bytes this package contributes to the image's root filesystem (after trimming). */
  size: number;
  /** Share of the image's root filesystem bytes, 0..1. */
  share: number;
  files: number;
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  name: string;
  title: string;
  description: string;
  kind: ImageKind;
  artifacts: Artifact[];
  /** Kernel command line (for images that boot a kernel directly). */
  cmdline?: string;
  /** Guest memory in MiB. */
  memoryMB: number;
  /** Serial text meaning the image's app (or shell) waits for input. */
  readyMarker: string;
  /** Lines that prove the app works (typed after the ready marker). */
  smoke: ScriptStep[];
  /**
   * A line the machine may type at the ready prompt before saving a state, to make the state smaller
   * (e.g. `sync; echo 3 > /proc/sys/vm/drop_caches`); only for images where that is harmless.
   */
  beforeSaveState?: ScriptStep;
  /** The app this image runs at its ready marker (appliances), for matching a twin's app. */
  app?: string;
  /** Apps a distro image can start at its prompt. */
  apps?: AppEntry[];
  packages: PackageShare[];
  fileCount: number;
  /** Total bytes of the root filesystem (appliances: the initramfs contents). */
  rootfsSize: number;
  /** The kernel: where it came from; `config` is the path of its .config beside the manifest. */
  kernel?: { source: string; version: string; configHash: string; config?: string; stock: boolean };
  /** Extra files for the Inspect view: `files` is the path of a JSON file list ({files, dropped}). */
  inspect?: { files?: string; builderFiles?: number };
  lockHash?: string;
  /** Hash of what the image was built from (images/inputs.ts): `images ensure` rebuilds it when that changes. */
  inputs?: string;
  /** Recipe this image was built from. */
  recipe?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function isSha256(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

/** Total bytes to download (what the library shows as the image's download size). */
export function downloadSize(m: Manifest): number {
  return m.artifacts.reduce((n, a) => n + a.compressedSize, 0);
}

/** Total raw bytes of all artifacts. */
export function rawSize(m: Manifest): number {
  return m.artifacts.reduce((n, a) => n + a.size, 0);
}

/** The file name a chunk is stored under, relative to the manifest. */
export function chunkFile(sha256: string, compression: Compression): string {
  return `chunks/${sha256}${compression === 'zstd' ? '.zst' : ''}`;
}

/** The text hashed to name a chunked artifact: its chunk size and chunk hashes, one per line. */
export function chunkedDigestText(chunkSize: number, chunks: readonly string[]): string {
  return `whittle-chunked-v1 ${chunkSize}\n${chunks.join('\n')}\n`;
}

export class ManifestError extends Error {}

/** Checks that `value` is a well-formed manifest; throws a ManifestError naming the first problem. */
export function validateManifest(value: unknown): Manifest {
  const fail = (what: string): never => {
    throw new ManifestError(`invalid image manifest: ${what}`);
  };
  if (typeof value !== 'object' || value === null) fail('not an object');
  const m = value as Record<string, unknown>;
  if (m.schema !== MANIFEST_SCHEMA) fail(`schema ${String(m.schema)} (this build reads ${MANIFEST_SCHEMA})`);
  if (typeof m.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(m.name)) fail('name');
  if (!['appliance', 'distro', 'imported'].includes(m.kind as string)) fail(`kind ${String(m.kind)}`);
  if (typeof m.memoryMB !== 'number' || m.memoryMB < 16 || m.memoryMB > 2048) fail('memoryMB');
  if (typeof m.readyMarker !== 'string') fail('readyMarker');
  if (!Array.isArray(m.artifacts) || m.artifacts.length === 0) fail('no artifacts');
  for (const a of m.artifacts as Artifact[]) {
    if (!isSha256(a.sha256)) fail(`artifact ${a.role}: sha256`);
    if (!Number.isSafeInteger(a.size) || a.size < 0) fail(`artifact ${a.role}: size`);
    if (a.chunks) {
      if (!a.chunkSize || !a.chunks.every(isSha256)) fail(`artifact ${a.role}: chunks`);
    } else if (typeof a.file !== 'string' || a.file.includes('..')) fail(`artifact ${a.role}: file`);
  }
  const roles = (m.artifacts as Artifact[]).map((a) => a.role);
  if (!roles.includes('kernel') && !roles.includes('disk') && !roles.includes('cdrom')) {
    fail('nothing to boot (needs a kernel, disk or cdrom artifact)');
  }
  return value as Manifest;
}
