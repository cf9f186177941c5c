// Loading an image's artifacts for the machine: read the stored bytes from a source, decompress,
// verify the sha256 of the raw bytes, and hand big disks to v86 as lazily read, chunked buffers.

import { chunkFile, chunkedDigestText } from '../images/manifest.ts';
import type { Artifact, Compression, Manifest } from '../images/manifest.ts';
import { MachineFailure, isAbortError } from './errors.ts';
import type { MachineErrorCode } from './protocol.ts';
import { initZstd, zstdDecompress } from './zstd.ts';

/** One file as stored or served: a whole unchunked artifact, or one chunk of a chunked one. */
export interface StoredFile {
  /** sha256 of the raw bytes this file holds (the IndexedDB key). */
  sha256: string;
  /** Path relative to the manifest. */
  file: string;
  compression: Compression;
  /** Raw size in bytes. */
  size: number;
}

/** Reads stored files from one place (a directory, a URL, IndexedDB, the user's files). */
export interface ArtifactReader {
  /** The file's bytes as stored (maybe compressed), or null when the source does not have it. */
  read(f: StoredFile, signal?: AbortSignal): Promise<Uint8Array | null>;
  /** Where the bytes come from, for messages ("images/dist/shell", "this browser's storage"). */
  readonly where: string;
  /** What to do when a file is missing. */
  readonly missingHint: string;
  /**
   * Reads part of an uncompressed file without reading the rest. Only readers of the user's own files
   * offer it: those bytes cannot be verified piecewise, and need not be (they are the user's).
   */
  readRange?(f: StoredFile, start: number, length: number): Promise<Uint8Array | null>;
  /**
   * Told each file's bytes as read (`stored`) once they verified against the file's sha256: a reader
   * that keeps what it fetches (image-store.ts keepingReader) stores them then, never before.
   */
  verified?(f: StoredFile, stored: Uint8Array): void;
}

export class ArtifactError extends MachineFailure {
  declare readonly code: Extract<MachineErrorCode, 'missing-artifact' | 'hash-mismatch' | 'bad-image' | 'storage'>;
  constructor(code: Extract<MachineErrorCode, 'missing-artifact' | 'hash-mismatch' | 'bad-image' | 'storage'>, message: string, hint: string, options?: ErrorOptions) {
    super(code, message, hint, options);
    this.name = 'ArtifactError';
  }
}

export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  if (!globalThis.crypto?.subtle) {
    // Web Crypto exists only in secure contexts (https, localhost).
    throw new MachineFailure('bad-image', 'This page cannot verify images: the browser offers no Web Crypto here.', 'Open the lab over https (or on localhost).');
  }
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The v86 disk-buffer contract, as v86 0.5's IDE and starter use it (src/buffer.js, src/ide.js,
 * src/browser/starter.js): an object with get/set/load is taken as is. Offsets and lengths are
 * multiples of 256 bytes; callbacks may run later.
 */
export interface V86DiskBuffer {
  byteLength: number;
  onload: ((e: object) => void) | undefined;
  onprogress: ((e: object) => void) | undefined;
  load(): void;
  get(start: number, len: number, fn: (data: Uint8Array) => void, options?: { signal?: AbortSignal }): void;
  get_and_cache(start: number, len: number, fn: (data: Uint8Array) => void): void;
  get_from_cache(start: number, len: number): Uint8Array | undefined;
  set(start: number, data: Uint8Array, fn: () => void): void;
  get_buffer(fn: (buffer?: ArrayBuffer) => void): void;
  get_state(): unknown[];
  set_state(state: unknown[]): void;
}

/** What the machine needs from its image source. */
export interface ArtifactLoader {
  /** The artifact's raw bytes, verified against its sha256. */
  load(a: Artifact, signal?: AbortSignal): Promise<Uint8Array>;
  /** A disk or CD-ROM for v86: read lazily by chunk (chunked artifacts) or whole (small ones). */
  openDisk(a: Artifact, signal?: AbortSignal): Promise<V86DiskBuffer | { buffer: ArrayBuffer }>;
  /** Called when a lazily read chunk fails after boot (missing or corrupt): the machine must stop. */
  onDiskError?: (e: ArtifactError) => void;
}

/** Every file an image stores, each once (identical chunks share a file): what the page fetches. */
export function storedFiles(m: Manifest): StoredFile[] {
  const seen = new Map<string, StoredFile>();
  for (const a of m.artifacts) for (const f of a.chunks ? chunkFilesOf(a) : [storedFileOf(a)]) if (!seen.has(f.sha256)) seen.set(f.sha256, f);
  return [...seen.values()];
}

function storedFileOf(a: Artifact): StoredFile {
  if (!a.file) throw new ArtifactError('bad-image', `artifact ${a.role} has neither a file nor chunks`, 'Rebuild the image.');
  return { sha256: a.sha256, file: a.file, compression: a.compression, size: a.size };
}

function chunkFilesOf(a: Artifact): StoredFile[] {
  const { chunkSize, chunks } = a;
  if (!chunkSize || !chunks) return [];
  return chunks.map((sha256, i) => ({
    sha256,
    file: chunkFile(sha256, a.compression),
    compression: a.compression,
    size: Math.min(chunkSize, a.size - i * chunkSize),
  }));
}

/** Reads, decompresses and verifies one stored file. */
export async function loadStoredFile(reader: ArtifactReader, f: StoredFile, what: string, signal?: AbortSignal): Promise<Uint8Array> {
  let stored: Uint8Array | null;
  try {
    stored = await reader.read(f, signal);
  } catch (e) {
    if (e instanceof MachineFailure || isAbortError(e)) throw e;
    throw new ArtifactError('missing-artifact', `Could not read ${what} (${f.file}) from ${reader.where}: ${String((e as Error)?.message ?? e)}`, reader.missingHint, { cause: e });
  }
  if (!stored) throw new ArtifactError('missing-artifact', `${what} (${f.file}, sha256 ${f.sha256.slice(0, 12)}…) is missing from ${reader.where}.`, reader.missingHint);
  const raw = await verifyStoredFile(f, stored, what, reader.where);
  reader.verified?.(f, stored);
  return raw;
}

/**
 * Decompresses a stored file and checks its raw bytes against the sha256 that names them; returns the
 * raw bytes. The page calls this on downloaded files before storing them.
 */
export async function verifyStoredFile(f: StoredFile, stored: Uint8Array, what = f.file, where = 'the download'): Promise<Uint8Array> {
  let raw = stored;
  if (f.compression === 'zstd') {
    await initZstd();
    try {
      raw = zstdDecompress(stored, f.size);
    } catch (e) {
      throw new ArtifactError('hash-mismatch', `${what} (${f.file}) from ${where} is not valid zstd data: it is damaged.`, 'Delete the image and fetch it again.', { cause: e });
    }
  }
  const actual = await sha256Hex(raw);
  if (raw.length !== f.size || actual !== f.sha256) {
    throw new ArtifactError(
      'hash-mismatch',
      `${what} (${f.file}) from ${where} does not match its manifest: sha256 ${actual.slice(0, 12)}…, ${raw.length} bytes; expected ${f.sha256.slice(0, 12)}…, ${f.size} bytes.`,
      'The stored copy is damaged or belongs to another build: delete the image and fetch it again (or rebuild it).',
    );
  }
  return raw;
}

/** Checks that a chunked artifact's sha256 names its chunk list (cheap; chunks are verified as read). */
async function verifyChunkList(a: Artifact): Promise<void> {
  if (!a.chunkSize || !a.chunks) return;
  const expectedCount = Math.ceil(a.size / a.chunkSize);
  const digest = await sha256Hex(chunkedDigestText(a.chunkSize, a.chunks));
  if (a.chunks.length !== expectedCount || digest !== a.sha256) {
    throw new ArtifactError('bad-image', `The chunk list of the ${a.role} artifact does not match its sha256.`, 'The manifest is damaged: fetch or rebuild the image.');
  }
}

/** Disks smaller than this are loaded whole (as v86 SyncBuffers) rather than read on demand. */
const WHOLE_DISK_LIMIT = 16 << 20;

/** Piece size for disks read by range from the user's own file (an imported ISO or disk image). */
const RANGE_CHUNK = 1 << 20;

/** Decoded chunks kept in memory per lazy disk; reads past it are fetched (and verified) again. */
const CHUNK_CACHE_BYTES = 64 << 20;

export function createArtifactLoader(reader: ArtifactReader): ArtifactLoader {
  const loader: ArtifactLoader = {
    async load(a, signal) {
      if (!a.chunks) return loadStoredFile(reader, storedFileOf(a), `the ${a.role} artifact`, signal);
      await verifyChunkList(a);
      const out = new Uint8Array(a.size);
      const files = chunkFilesOf(a);
      for (let i = 0; i < files.length; i++) {
        out.set(await loadStoredFile(reader, files[i], `chunk ${i} of the ${a.role} artifact`, signal), i * a.chunkSize!);
      }
      return out;
    },
    async openDisk(a, signal) {
      if (!a.chunks && a.size <= WHOLE_DISK_LIMIT) {
        const raw = await loader.load(a, signal);
        return { buffer: raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer };
      }
      if (!a.chunks) {
        const f = storedFileOf(a);
        if (!reader.readRange || a.compression !== 'none') {
          // Served whole: it must be read whole to be verified.
          const raw = await loader.load(a, signal);
          return { buffer: raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer };
        }
        const readRange = reader.readRange.bind(reader);
        const read = async (i: number) => {
          const bytes = await readRange(f, i * RANGE_CHUNK, Math.min(RANGE_CHUNK, a.size - i * RANGE_CHUNK));
          if (!bytes) throw new ArtifactError('missing-artifact', `The ${a.role} (${f.file}) is no longer readable from ${reader.where}.`, reader.missingHint);
          return bytes;
        };
        await read(0);
        return new LazyDisk(a.size, RANGE_CHUNK, read, (e) => loader.onDiskError?.(e));
      }
      await verifyChunkList(a);
      const files = chunkFilesOf(a);
      // Read the first chunk now: a missing or damaged disk is refused before boot, not during it.
      const first = await loadStoredFile(reader, files[0], `chunk 0 of the ${a.role} artifact`, signal);
      return new LazyDisk(a.size, a.chunkSize!, (i) => (i === 0 ? Promise.resolve(first) : loadStoredFile(reader, files[i], `chunk ${i} of the ${a.role} artifact`)), (e) => loader.onDiskError?.(e));
    },
  };
  return loader;
}

const BLOCK = 256;

/**
 * A disk read on demand by fixed-size chunk, for v86's IDE. Writes stay in memory (per 256-byte
 * block, like v86's own async buffers) and are part of a saved state; the image is never modified.
 */
export class LazyDisk implements V86DiskBuffer {
  onload: ((e: object) => void) | undefined;
  onprogress: ((e: object) => void) | undefined;
  /** Chunks decoded and verified, most recently used last. */
  readonly #cache = new Map<number, Uint8Array>();
  readonly #pending = new Map<number, Promise<Uint8Array>>();
  readonly #written = new Map<number, Uint8Array>();
  readonly #maxCached: number;
  #failed = false;

  constructor(
    readonly byteLength: number,
    readonly chunkSize: number,
    private readonly readChunk: (index: number) => Promise<Uint8Array>,
    private readonly onError: (e: ArtifactError) => void,
  ) {
    if (chunkSize % BLOCK !== 0) throw new ArtifactError('bad-image', `chunk size ${chunkSize} is not a multiple of ${BLOCK}`, 'Rebuild the image.');
    this.#maxCached = Math.max(2, Math.floor(CHUNK_CACHE_BYTES / chunkSize));
  }

  load(): void {
    queueMicrotask(() => this.onload?.(Object.create(null)));
  }

  #chunk(i: number): Promise<Uint8Array> {
    const hit = this.#cache.get(i);
    if (hit) {
      this.#cache.delete(i);
      this.#cache.set(i, hit);
      return Promise.resolve(hit);
    }
    let p = this.#pending.get(i);
    if (!p) {
      p = this.readChunk(i).then(
        (bytes) => {
          this.#pending.delete(i);
          this.#cache.set(i, bytes);
          while (this.#cache.size > this.#maxCached) this.#cache.delete(this.#cache.keys().next().value!);
          return bytes;
        },
        (e: unknown) => {
          this.#pending.delete(i);
          throw e;
        },
      );
      this.#pending.set(i, p);
    }
    return p;
  }

  /** Copies [start, start+len) from cached chunks into a new array, or undefined if one is not cached. */
  #assemble(start: number, len: number): Uint8Array | undefined {
    const out = new Uint8Array(len);
    for (let pos = start; pos < start + len; ) {
      const i = Math.floor(pos / this.chunkSize);
      const chunk = this.#cache.get(i);
      if (!chunk) return undefined;
      const off = pos - i * this.chunkSize;
      const n = Math.min(chunk.length - off, start + len - pos);
      out.set(chunk.subarray(off, off + n), pos - start);
      pos += n;
    }
    for (let b = start / BLOCK; b < (start + len) / BLOCK; b++) {
      const w = this.#written.get(b);
      if (w) out.set(w, b * BLOCK - start);
    }
    return out;
  }

  get(start: number, len: number, fn: (data: Uint8Array) => void): void {
    const cached = this.#assemble(start, len);
    if (cached) {
      fn(cached);
      return;
    }
    const first = Math.floor(start / this.chunkSize);
    const last = Math.floor((start + len - 1) / this.chunkSize);
    const wanted: Promise<Uint8Array>[] = [];
    for (let i = first; i <= last; i++) wanted.push(this.#chunk(i));
    Promise.all(wanted).then(
      () => {
        // Chunks just read may have pushed others out of a small cache: read again if so.
        const data = this.#assemble(start, len);
        if (data) fn(data);
        else this.get(start, len, fn);
      },
      (e: unknown) => {
        // The IDE request stays unanswered; the machine stops on this error.
        if (this.#failed) return;
        this.#failed = true;
        this.onError(e instanceof ArtifactError ? e : new ArtifactError('missing-artifact', `Could not read the disk: ${String(e)}`, 'Check the image source and restart the machine.', { cause: e }));
      },
    );
  }

  get_and_cache(start: number, len: number, fn: (data: Uint8Array) => void): void {
    this.get(start, len, fn);
  }

  get_from_cache(start: number, len: number): Uint8Array | undefined {
    return this.#assemble(start, len);
  }

  set(start: number, data: Uint8Array, fn: () => void): void {
    for (let off = 0; off < data.length; off += BLOCK) {
      this.#written.set((start + off) / BLOCK, data.slice(off, off + BLOCK));
    }
    fn();
  }

  get_buffer(fn: (buffer?: ArrayBuffer) => void): void {
    fn();
  }

  get_state(): unknown[] {
    return [[...this.#written]];
  }

  set_state(state: unknown[]): void {
    this.#written.clear();
    for (const [block, bytes] of state[0] as [number, Uint8Array][]) this.#written.set(block, bytes);
  }
}
