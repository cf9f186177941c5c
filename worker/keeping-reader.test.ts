// A disk streamed from the network with its files kept as they verify (image-store.ts keepingReader):
// a later boot reads them from the store; the image is recorded as partly kept, never as stored; damaged
// bytes are never kept; a full quota stops keeping and the boot goes on streaming.
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkFile, chunkedDigestText } from '../images/manifest.ts';
import type { Artifact, Manifest } from '../images/manifest.ts';
import { createArtifactLoader } from './artifacts.ts';
import type { ArtifactReader, V86DiskBuffer } from './artifacts.ts';
import { imageStore as store, keepingReader, type KeepReport } from './image-store.ts';

const hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const CHUNK = 4096;

/** Four distinct chunks of a disk, as served files, plus its manifest. */
function twin(): { m: Manifest; files: Map<string, Uint8Array>; raw: Uint8Array } {
  const raw = new Uint8Array(4 * CHUNK).map((_, i) => (i * 7 + (i >> 12) * 13) & 0xff);
  const files = new Map<string, Uint8Array>();
  const chunks: string[] = [];
  for (let o = 0; o < raw.length; o += CHUNK) {
    const c = raw.slice(o, o + CHUNK);
    chunks.push(hex(c));
    files.set(chunkFile(hex(c), 'none'), c);
  }
  const disk: Artifact = { role: 'disk', sha256: hex(chunkedDigestText(CHUNK, chunks)), size: raw.length, compressedSize: raw.length, compression: 'none', chunkSize: CHUNK, chunks };
  const m = { schema: 1, name: 'twin', title: 'twin', description: '', kind: 'distro', artifacts: [disk], memoryMB: 128, readyMarker: '# ', smoke: [], packages: [], fileCount: 0, rootfsSize: 0 } as Manifest;
  return { m, files, raw };
}

/** The network: serves `files`, counting fetches per file. */
function network(files: Map<string, Uint8Array>): ArtifactReader & { fetches: string[] } {
  const fetches: string[] = [];
  return {
    where: 'http://lab/images/twin/',
    missingHint: 'check the server',
    fetches,
    async read(f) {
      fetches.push(f.file);
      const b = files.get(f.file);
      return b ? b.slice() : null;
    },
  };
}

const read = (d: V86DiskBuffer, start: number, len: number) => new Promise<Uint8Array>((resolve) => d.get(start, len, resolve));

/** Waits until the reader's last report says `n` files were kept (writes run after the reads). */
async function keptAtLeast(reports: KeepReport[], n: number): Promise<KeepReport> {
  for (let i = 0; i < 200; i++) {
    const last = reports.at(-1);
    if (last && (last.kept >= n || last.error)) return last;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never kept ${n} files: ${JSON.stringify(reports.at(-1))}`);
}

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});
beforeEach(() => store.clearAll());

describe('keeping reader', () => {
  it('keeps what a boot read, so the next boot reads it from the store; the image counts as partly kept, not stored', async () => {
    const { m, files, raw } = twin();
    const net = network(files);
    const reports: KeepReport[] = [];
    const disk = (await createArtifactLoader(keepingReader(net, m, (r) => reports.push(r))).openDisk(m.artifacts[0])) as V86DiskBuffer;
    expect(await read(disk, 2 * CHUNK, 512)).toEqual(raw.subarray(2 * CHUNK, 2 * CHUNK + 512));
    expect(net.fetches).toHaveLength(2); // chunk 0 (read before boot) and chunk 2: not the whole disk
    expect(await keptAtLeast(reports, 2)).toMatchObject({ fetched: 2, kept: 2, fromStore: 0, keptBytes: 2 * CHUNK });

    expect(await store.listImages()).toEqual([]); // never "stored"
    expect((await store.listPartial()).map((x) => x.name)).toEqual(['twin']);
    expect(await store.missingFiles(m)).toHaveLength(2);
    expect(await store.collectOrphans()).toBe(0); // kept files are not orphans

    // The next boot: the two kept chunks come from the store, only the new one from the network.
    const net2 = network(files);
    const reports2: KeepReport[] = [];
    const disk2 = (await createArtifactLoader(keepingReader(net2, m, (r) => reports2.push(r))).openDisk(m.artifacts[0])) as V86DiskBuffer;
    expect(await read(disk2, 2 * CHUNK, 512)).toEqual(raw.subarray(2 * CHUNK, 2 * CHUNK + 512));
    expect(await read(disk2, 3 * CHUNK, 512)).toEqual(raw.subarray(3 * CHUNK, 3 * CHUNK + 512));
    expect(net2.fetches).toEqual([chunkFile(m.artifacts[0].chunks![3], 'none')]);
    expect(await keptAtLeast(reports2, 1)).toMatchObject({ fromStore: 2, fetched: 1, kept: 1 });

    // Storing the rest makes it a stored image, and the partial record goes.
    await store.putArtifact(m.artifacts[0].chunks![1], files.get(chunkFile(m.artifacts[0].chunks![1], 'none'))!);
    expect(await store.completeImage(m)).toEqual([]);
    expect(await store.listPartial()).toEqual([]);
    expect((await store.listImages()).map((x) => x.name)).toEqual(['twin']);
  });

  it('deleting the image deletes its kept files and record; without a record they are orphans', async () => {
    const { m, files } = twin();
    const reports: KeepReport[] = [];
    await createArtifactLoader(keepingReader(network(files), m, (r) => reports.push(r))).openDisk(m.artifacts[0]);
    await keptAtLeast(reports, 1);
    await store.deleteImage('twin');
    expect(await store.listPartial()).toEqual([]);
    expect(await store.missingFiles(m)).toHaveLength(4);
  });

  it('never keeps bytes that fail verification', async () => {
    const { m, files } = twin();
    const first = chunkFile(m.artifacts[0].chunks![0], 'none');
    files.set(first, new Uint8Array(CHUNK)); // damaged on the server
    const reports: KeepReport[] = [];
    await expect(createArtifactLoader(keepingReader(network(files), m, (r) => reports.push(r))).openDisk(m.artifacts[0])).rejects.toMatchObject({ code: 'hash-mismatch' });
    await new Promise((r) => setTimeout(r, 50));
    expect(reports.at(-1)).toMatchObject({ fetched: 1, kept: 0 });
    expect(await store.missingFiles(m)).toHaveLength(4);
  });

  it('a full quota stops keeping, says why, and the disk goes on streaming', async () => {
    const { m, files, raw } = twin();
    const original = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (String(key).startsWith('artifact:')) throw new DOMException('quota', 'QuotaExceededError');
      return original.call(this, value, key);
    } as never;
    restore = () => (IDBObjectStore.prototype.put = original);
    const net = network(files);
    const reports: KeepReport[] = [];
    const disk = (await createArtifactLoader(keepingReader(net, m, (r) => reports.push(r))).openDisk(m.artifacts[0])) as V86DiskBuffer;
    const stopped = await keptAtLeast(reports, 1);
    expect(stopped.kept).toBe(0);
    expect(stopped.error).toMatchObject({ code: 'storage' });
    expect(stopped.error!.message).toMatch(/storage for this site is full/);
    expect(await read(disk, 3 * CHUNK, 512)).toEqual(raw.subarray(3 * CHUNK, 3 * CHUNK + 512));
    expect(net.fetches).toHaveLength(2);
    expect(reports.at(-1)).toMatchObject({ fetched: 2, kept: 0 });
    expect(reports.every((r) => r.kept === 0)).toBe(true);
    expect(await store.missingFiles(m)).toHaveLength(4);
  });
});
