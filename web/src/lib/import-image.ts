// Imports a user's own files (ISO, raw disk, or kernel + initrd) as an image: recognises them by
// magic bytes, hashes them (disks in chunks, so a big ISO is never read whole), stores them in the
// browser's image store by sha256, and writes an `imported` manifest that boots like any other image.

import { type Artifact, artifactFileName, chunkedDigestText, IMAGE_NAME, type Manifest, MANIFEST_SCHEMA, validateManifest } from '../../../images/manifest.ts';
import { storedFiles } from '../../../worker/artifacts.ts';
import { imageStore } from '../../../worker/image-store.ts';
import { storeFiles } from './fetch-files.ts';
import { sha256Hex } from './image-digest.ts';
import { fetchOrFail } from './user-error.ts';
import { initrdUnpackedEstimate, suggestedMemoryMB } from '../../../worker/guest-messages.ts';
import { checkCombination, type Detected, detectImportType, HEADER_BYTES, ImportError } from './import-detect.ts';
import { checkTruncation, type Truncation } from './import-truncation.ts';

export interface ImportFile {
  file: File;
  detected: Detected;
  /** Shorter than its own header says (an ISO or partitioned disk): imported only if the user accepts. */
  truncation?: Truncation;
  /** An initrd's unpacked size, estimated from its header and last bytes (for the memory default). */
  unpackedBytes?: number;
}

export interface ImportSettings {
  name: string;
  memoryMB: number;
  /** Kernel command line (kernel imports only). */
  cmdline: string;
  /** Serial text meaning the guest is ready ('' = none: the machine shows as running, never ready). */
  readyMarker: string;
  /** Import files that are cut off anyway (ImportFile.truncation). */
  acceptTruncated?: boolean;
}

export interface ImportProgress {
  done: number;
  total: number;
  what: string;
}

/** Where firmware comes from: an image in the library with bios and vgabios (SeaBIOS). */
export interface FirmwareSource {
  manifest: Manifest;
  /** To fetch the firmware if it is not stored yet. */
  manifestUrl?: string;
}

/** Disks and ISOs over this size are stored in chunks and read on demand (worker/artifacts.ts). */
const WHOLE_LIMIT = 16 << 20;
/** Chunk size of imported disks: a multiple of v86's 256-byte block and of 2 KiB CD sectors. */
const CHUNK = 4 << 20;

/** Recognises each file; throws an ImportError for the first one that is not bootable or does not fit. */
export async function detectFiles(files: readonly File[]): Promise<ImportFile[]> {
  const out: ImportFile[] = [];
  for (const file of files) {
    const header = new Uint8Array(await file.slice(0, HEADER_BYTES).arrayBuffer());
    const detected = detectImportType(header, file.size, file.name);
    const f: ImportFile = { file, detected };
    const truncation = checkTruncation(detected.kind, header, file.size, file.name);
    if (truncation) f.truncation = truncation;
    if (detected.kind === 'initrd') {
      const tail = new Uint8Array(await file.slice(Math.max(0, file.size - 4)).arrayBuffer());
      f.unpackedBytes = initrdUnpackedEstimate(header.subarray(0, 16), tail, file.size);
    }
    out.push(f);
  }
  checkCombination(out.map((f) => f.detected.kind));
  return out;
}

/** A manifest name from a file name: `debian-12.7.0-i386-netinst.iso` → `debian-12.7.0-i386-netinst`. */
export function nameFromFile(fileName: string, taken: ReadonlySet<string>): string {
  const base =
    fileName
      .replace(/\.(iso|img|raw|bin|gz|xz|zst|cpio)$/gi, '')
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+|-+$/g, '')
      .slice(0, 48) || 'imported';
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  return name;
}

/** Memory for an ISO or disk: a whole system (an installer, a live CD) rarely boots in less. */
export const SYSTEM_MEMORY_MB = 256;

/**
 * Defaults from what was dropped. Memory: for a kernel, what its initrd needs unpacked plus headroom
 * (worker/guest-messages.ts, the same estimate an initrd panic suggests), else 128 MiB; for an ISO or
 * disk, SYSTEM_MEMORY_MB. Command line: the serial console for every kernel; a bzImage (booted through
 * SeaBIOS, which sets up VGA) also gets the VGA console — listed first, because the last `console=`
 * becomes /dev/console, and the serial one is the one to type into.
 */
export function defaultSettings(files: readonly ImportFile[], taken: ReadonlySet<string>): ImportSettings {
  const main = files.find((f) => f.detected.kind !== 'initrd') ?? files[0];
  const kernel = files.find((f) => f.detected.kind === 'kernel');
  const initrd = files.find((f) => f.detected.kind === 'initrd');
  const memoryMB = !kernel ? SYSTEM_MEMORY_MB : initrd ? suggestedMemoryMB(initrd.file.size, initrd.unpackedBytes ?? initrd.file.size * 4) : 128;
  const cmdline = !kernel ? '' : kernel.detected.role === 'vmlinux' ? 'console=ttyS0' : 'console=tty0 console=ttyS0';
  return { name: nameFromFile(main.file.name, taken), memoryMB, cmdline, readyMarker: '' };
}

async function hashAndStore(f: ImportFile, progress: (n: number) => void, signal?: AbortSignal): Promise<Artifact> {
  const { file, detected } = f;
  const whole = detected.role === 'kernel' || detected.role === 'vmlinux' || detected.role === 'initrd' || file.size <= WHOLE_LIMIT;
  if (whole) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const sha256 = await sha256Hex(bytes);
    await imageStore.putArtifact(sha256, bytes);
    progress(file.size);
    return { role: detected.role, file: artifactFileName(file.name), sha256, size: file.size, compressedSize: file.size, compression: 'none' };
  }
  const chunks: string[] = [];
  const seen = new Set<string>();
  let stored = 0;
  for (let at = 0; at < file.size; at += CHUNK) {
    signal?.throwIfAborted();
    const bytes = new Uint8Array(await file.slice(at, Math.min(file.size, at + CHUNK)).arrayBuffer());
    const sha = await sha256Hex(bytes);
    chunks.push(sha);
    // Identical chunks (runs of zeros, typically) are stored once.
    if (!seen.has(sha)) {
      seen.add(sha);
      await imageStore.putArtifact(sha, bytes);
      stored += bytes.length;
    }
    progress(bytes.length);
  }
  const sha256 = await sha256Hex(chunkedDigestText(CHUNK, chunks));
  return { role: detected.role, sha256, size: file.size, compressedSize: stored, compression: 'none', chunkSize: CHUNK, chunks };
}

/**
 * Stores the files and firmware and writes the manifest. Nothing is written before every file was
 * recognised (detectFiles), and the manifest is written last: a failed import leaves the library as it
 * was, and the files it stored are collected as orphans.
 */
export async function importImage(
  files: readonly ImportFile[],
  settings: ImportSettings,
  /** Where to borrow SeaBIOS from; not needed for a vmlinux, which is entered directly. */
  firmware: FirmwareSource | undefined,
  onProgress: (p: ImportProgress) => void,
  signal?: AbortSignal,
): Promise<Manifest> {
  checkCombination(files.map((f) => f.detected.kind));
  const cut = files.find((f) => f.truncation);
  if (cut?.truncation && !settings.acceptTruncated) throw new ImportError(cut.truncation.message, cut.truncation.hint);
  if (!IMAGE_NAME.test(settings.name)) {
    throw new ImportError(`"${settings.name}" is not a usable image name.`, 'Use up to 64 lower-case letters, digits, dots, dashes and underscores, starting with a letter or digit.');
  }
  const direct = files.some((f) => f.detected.role === 'vmlinux');
  if (!direct && !firmware) {
    throw new ImportError('No image with firmware (SeaBIOS) is available to borrow it from.', 'Build the images (npm run images) or store one from the library first: imports borrow its firmware.');
  }
  return imageStore.writing(async () => {
    const fw = direct || !firmware ? [] : firmware.manifest.artifacts.filter((a) => a.role === 'bios' || a.role === 'vgabios');
    const missingFw = firmware && fw.length ? await imageStore.missingFiles({ ...firmware.manifest, artifacts: fw }) : [];
    if (firmware && missingFw.length) {
      if (!firmware.manifestUrl) throw new ImportError('No firmware (SeaBIOS) is stored in this browser.', 'Store any image from the library first: imports borrow its firmware.');
      onProgress({ done: 0, total: 1, what: 'Fetching firmware (SeaBIOS)…' });
      await storeFiles(missingFw, firmware.manifestUrl, fw.reduce((n, a) => n + a.compressedSize, 0), () => undefined, signal);
    }

    const total = files.reduce((n, f) => n + f.file.size, 0);
    let done = 0;
    const artifacts: Artifact[] = [...fw.map((a) => ({ ...a }))];
    for (const f of files) {
      const what = `Hashing and storing ${f.file.name}`;
      onProgress({ done, total, what });
      artifacts.push(
        await hashAndStore(
          f,
          (n) => {
            done += n;
            onProgress({ done, total, what });
          },
          signal,
        ),
      );
    }
    const kinds = files.map((f) => f.detected.description).join(' + ');
    const manifest = validateManifest({
      schema: MANIFEST_SCHEMA,
      name: settings.name,
      title: files.map((f) => f.file.name).join(' + '),
      description: `Imported: ${kinds}`,
      kind: 'imported',
      artifacts,
      ...(files.some((f) => f.detected.kind === 'kernel') && settings.cmdline ? { cmdline: settings.cmdline } : {}),
      memoryMB: settings.memoryMB,
      readyMarker: settings.readyMarker,
      smoke: [],
      packages: [],
      fileCount: 0,
      rootfsSize: 0,
    } satisfies Manifest);
    // Recorded only if every file the manifest names is stored (checked in the same transaction).
    const stillMissing = await imageStore.completeImage(manifest);
    if (stillMissing.length) throw new ImportError(`${stillMissing.length} of ${storedFiles(manifest).length} files did not reach the store.`, 'Try again; if the browser is low on space, free some first.');
    return manifest;
  });
}

/** Downloads a file from a URL as a File, for importing. */
export async function fetchAsFile(url: string, onProgress: (done: number, total: number) => void, signal?: AbortSignal): Promise<File> {
  const res = await fetchOrFail(url, { signal }, 'The server must be reachable and allow cross-origin requests (CORS); otherwise download the file and drop it here.');
  if (!res.ok) throw new ImportError(`Downloading ${url} failed: ${res.status} ${res.statusText}.`, 'Check the address.');
  const total = Number(res.headers.get('Content-Length') ?? 0);
  const parts: Uint8Array[] = [];
  let done = 0;
  const reader = res.body?.getReader();
  if (!reader) return new File([await res.blob()], fileNameOf(url));
  for (;;) {
    const { done: end, value } = await reader.read();
    if (end) break;
    parts.push(value);
    done += value.length;
    onProgress(done, total);
  }
  return new File(parts as BlobPart[], fileNameOf(url));
}

function fileNameOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? 'download');
  } catch {
    return 'download';
  }
}
