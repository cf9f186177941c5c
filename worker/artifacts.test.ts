import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chunkFile, chunkedDigestText } from '../images/manifest.ts';
import type { Artifact, Manifest } from '../images/manifest.ts';
import { ArtifactError, LazyDisk, createArtifactLoader, sha256Hex, storedFiles, verifyStoredFile } from './artifacts.ts';
import type { ArtifactReader, V86DiskBuffer } from './artifacts.ts';
import { fileReader } from './readers.ts';
import { initZstd, zstdCompress } from './zstd.ts';

const hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** Pseudo-random bytes (xorshift32), so that no two chunks are alike. */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A reader over an in-memory directory, counting reads per file. */
function memReader(files: Map<string, Uint8Array>): ArtifactReader & { reads: Map<string, number> } {
  const reads = new Map<string, number>();
  return {
    where: 'memory',
    missingHint: 'rebuild',
    reads,
    async read(f) {
      reads.set(f.file, (reads.get(f.file) ?? 0) + 1);
      return files.get(f.file) ?? null;
    },
  };
}

function chunked(raw: Uint8Array, chunkSize: number, files: Map<string, Uint8Array>): Artifact {
  const chunks: string[] = [];
  for (let o = 0; o < raw.length; o += chunkSize) {
    const c = raw.slice(o, o + chunkSize);
    chunks.push(hex(c));
    files.set(chunkFile(hex(c), 'none'), c);
  }
  return { role: 'disk', sha256: hex(chunkedDigestText(chunkSize, chunks)), size: raw.length, compressedSize: raw.length, compression: 'none', chunkSize, chunks };
}

const read = (d: V86DiskBuffer, start: number, len: number) => new Promise<Uint8Array>((resolve) => d.get(start, len, resolve));

describe('sha256Hex', () => {
  it('matches node:crypto', async () => {
    const b = bytes(1000);
    expect(await sha256Hex(b)).toBe(hex(b));
    expect(await sha256Hex('abc')).toBe(hex('abc'));
  });
});

describe('artifact loader', () => {
  it('loads and verifies plain and zstd artifacts', async () => {
    await initZstd();
    const raw = bytes(5000);
    const files = new Map([['k', raw], ['k.zst', zstdCompress(raw)]]);
    const loader = createArtifactLoader(memReader(files));
    const base = { role: 'kernel', sha256: hex(raw), size: raw.length, compressedSize: raw.length } as const;
    expect(await loader.load({ ...base, file: 'k', compression: 'none' })).toEqual(raw);
    expect(await loader.load({ ...base, file: 'k.zst', compression: 'zstd' })).toEqual(raw);
  });

  it('refuses bytes that do not match their sha256, and missing files', async () => {
    const raw = bytes(100);
    const bad = raw.slice();
    bad[50] ^= 1;
    const loader = createArtifactLoader(memReader(new Map([['k', bad]])));
    const a: Artifact = { role: 'kernel', file: 'k', sha256: hex(raw), size: 100, compressedSize: 100, compression: 'none' };
    await expect(loader.load(a)).rejects.toMatchObject({ code: 'hash-mismatch' });
    await expect(loader.load({ ...a, file: 'gone' })).rejects.toMatchObject({ code: 'missing-artifact', hint: 'rebuild' });
    await expect(verifyStoredFile({ sha256: hex(raw), file: 'k', compression: 'zstd', size: 100 }, raw)).rejects.toMatchObject({ code: 'hash-mismatch' });
  });

  it('reassembles a chunked artifact and refuses a chunk list that does not match its sha256', async () => {
    const files = new Map<string, Uint8Array>();
    const raw = bytes(3000);
    const a = chunked(raw, 1024, files);
    const loader = createArtifactLoader(memReader(files));
    expect(await loader.load(a)).toEqual(raw);
    await expect(loader.load({ ...a, chunks: [...a.chunks!].reverse() })).rejects.toMatchObject({ code: 'bad-image' });
  });

  it('lists each stored file of an image once', () => {
    const files = new Map<string, Uint8Array>();
    const zeros = new Uint8Array(2048);
    const disk = chunked(zeros, 1024, files); // two identical chunks
    const m = { artifacts: [disk, { role: 'bios', file: 'bios.bin', sha256: hex('b'), size: 1, compressedSize: 1, compression: 'none' }] } as unknown as Manifest;
    expect(storedFiles(m).map((f) => f.file)).toEqual([chunkFile(hex(zeros.subarray(0, 1024)), 'none'), 'bios.bin']);
  });
});

describe('lazy disks', () => {
  it('reads across chunk boundaries on demand, keeps writes, and saves them in its state', async () => {
    const files = new Map<string, Uint8Array>();
    const raw = bytes(64 * 1024 + 512, 3); // 64.5 KiB: the last chunk is short
    const a = chunked(raw, 16 * 1024, files);
    const reader = memReader(files);
    const disk = (await createArtifactLoader(reader).openDisk(a)) as V86DiskBuffer;
    expect(disk).toBeInstanceOf(LazyDisk);
    expect(reader.reads.size).toBe(1); // the first chunk is read (and verified) before boot
    expect(disk.get_from_cache(0, 512)).toBeUndefined(); // read, but not yet asked for
    await read(disk, 0, 512);
    expect(disk.get_from_cache(0, 512)).toEqual(raw.subarray(0, 512));
    expect(await read(disk, 16 * 1024 - 256, 512)).toEqual(raw.subarray(16 * 1024 - 256, 16 * 1024 + 256));
    expect(reader.reads.size).toBe(2); // only the chunks touched
    expect(await read(disk, 64 * 1024, 512)).toEqual(raw.subarray(64 * 1024));

    const w = new Uint8Array(512).fill(0xab);
    await new Promise<void>((resolve) => disk.set(1024, w, resolve));
    const after = await read(disk, 768, 1024);
    expect(after.subarray(0, 256)).toEqual(raw.subarray(768, 1024));
    expect(after.subarray(256, 768)).toEqual(w);

    const state = disk.get_state();
    const fresh = new LazyDisk(a.size, a.chunkSize!, (i) => Promise.resolve(raw.slice(i * a.chunkSize!, (i + 1) * a.chunkSize!)), () => undefined);
    fresh.set_state(state);
    expect((await read(fresh, 1024, 512))).toEqual(w);
  });

  it('reports a chunk that fails verification instead of handing it to the guest', async () => {
    let reported: ArtifactError | undefined;
    const disk = new LazyDisk(4096, 1024, () => Promise.reject(new ArtifactError('hash-mismatch', 'bad chunk', 'fetch again')), (e) => (reported = e));
    let answered = false;
    disk.get(0, 512, () => (answered = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(answered).toBe(false);
    expect(reported?.code).toBe('hash-mismatch');
  });

  it("reads a large unchunked disk from the user's own file by range", async () => {
    const raw = bytes(17 << 20, 5); // over the 16 MiB whole-disk limit
    const sha256 = hex(raw);
    const reader = fileReader({ [sha256]: new Blob([raw as Uint8Array<ArrayBuffer>]) });
    const ranges: number[] = [];
    const counting: ArtifactReader = { ...reader, readRange: (f, start, len) => (ranges.push(start), reader.readRange!(f, start, len)) };
    const disk = (await createArtifactLoader(counting).openDisk({ role: 'cdrom', file: 'x.iso', sha256, size: raw.length, compressedSize: raw.length, compression: 'none' })) as V86DiskBuffer;
    expect(disk).toBeInstanceOf(LazyDisk);
    const at = (16 << 20) + 512;
    expect(await read(disk, at, 2048)).toEqual(raw.subarray(at, at + 2048));
    expect(ranges).toEqual([0, 16 << 20]);
  });
});
