// The twin's disk is read by one code path wherever it runs. The Node thread (worker/node/thread.ts) and
// the page's Web Worker (worker/main.ts) both hand v86 what MachineEndpoint builds —
// createArtifactLoader(reader).openDisk — and differ only in the reader: a directory in Node, HTTP
// (an image opened from the catalog) or IndexedDB (a stored image) in the page. So this test opens the
// built debian disk through each of the three readers and checks that each gives the same LazyDisk
// (same class, size, chunking), answers the same IDE reads with the same bytes, fetches the same chunk
// files in the same order (one fetch per cache miss, none for hits) and verifies every chunk it fetches
// (a damaged chunk is refused through each). A Node-only difference in any of them fails here.
//
// Needs images/dist/debian (npm run images -- build debian); reads ~10 of its chunks, boots nothing.

import 'fake-indexeddb/auto';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact, Manifest } from '../../images/manifest.ts';
import { createArtifactLoader, LazyDisk, storedFiles } from '../../worker/artifacts.ts';
import type { ArtifactError, ArtifactReader, StoredFile, V86DiskBuffer } from '../../worker/artifacts.ts';
import { imageStore, storeReader } from '../../worker/image-store.ts';
import { loadManifest } from '../../worker/node/host.ts';
import { pathReader } from '../../worker/node/path-reader.ts';
import { urlReader } from '../../worker/readers.ts';

const DIR = fileURLToPath(new URL('../../images/dist/debian/', import.meta.url));

/** Records which stored files a reader was asked for, in order. */
function recording(base: ArtifactReader): { reader: ArtifactReader; files: string[] } {
  const files: string[] = [];
  return {
    files,
    reader: {
      where: base.where,
      missingHint: base.missingHint,
      read(f: StoredFile, signal?: AbortSignal) {
        files.push(f.file);
        return base.read(f, signal);
      },
    },
  };
}

const get = (disk: V86DiskBuffer, start: number, len: number) => new Promise<Uint8Array>((resolve) => disk.get(start, len, resolve));

describe("the twin's disk, read in Node and in the page", () => {
  let manifest: Manifest;
  let disk: Artifact;
  let server: Server;
  let baseUrl: string;
  /** Chunk files the test reads (stored in the fake IndexedDB as the page stores them: as served). */
  let wanted: StoredFile[];
  /** IDE reads: [byte offset, length], multiples of 512 as v86's IDE asks. */
  let reads: [number, number][];

  beforeAll(async () => {
    if (!existsSync(join(DIR, 'manifest.json'))) throw new Error(`This test needs the built twin (${DIR} has no manifest.json). Build it: npm run images -- build debian`);
    manifest = await loadManifest(DIR);
    disk = manifest.artifacts.find((a) => a.role === 'disk')!;
    expect(disk.chunks?.length).toBeGreaterThan(2);
    const size = disk.chunkSize!;
    const lastChunk = disk.chunks!.length - 1;
    reads = [
      [0, 4096], // the file system's superblock: chunk 0, read when the disk is opened
      [5 * size + 4096, 64 * 1024], // chunk 5
      [5 * size + 8192, 4096], // chunk 5 again: a cache hit
      [11 * size - 1024, 2048], // across the boundary of chunks 10 and 11
      [lastChunk * size, 512], // the last chunk
      [300 * size, 128 * 1024], // chunk 300
    ];
    const indexes = [0, 5, 10, 11, lastChunk, 300];
    const byHash = new Map(storedFiles(manifest).map((f) => [f.sha256, f]));
    wanted = indexes.map((i) => byHash.get(disk.chunks![i])!);
    // HTTP as the lab serves images (vite.config.ts: the image folder at /images/<name>/).
    server = createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/images\/debian\//, '');
      const file = join(DIR, rel);
      void stat(file).then(
        (s) => {
          res.setHeader('Content-Length', String(s.size));
          createReadStream(file).pipe(res);
        },
        () => {
          res.statusCode = 404;
          res.end();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/images/debian/`;
    // The page stores each file as served (maybe compressed) under its raw sha256 (web/src/lib/fetch-files.ts).
    const node = pathReader(DIR);
    for (const f of wanted) await imageStore.putArtifact(f.sha256, (await node.read(f))!);
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  const sources = () => ({ 'Node (directory)': pathReader(DIR), 'page (HTTP)': urlReader(baseUrl), 'page (IndexedDB)': storeReader });

  it('opens the same LazyDisk through each reader and reads the same chunks for the same IDE reads', async () => {
    const seen: Record<string, { files: string[]; bytes: Uint8Array[]; shape: unknown }> = {};
    for (const [name, base] of Object.entries(sources())) {
      const { reader, files } = recording(base);
      const opened = await createArtifactLoader(reader).openDisk(disk);
      expect(opened, name).toBeInstanceOf(LazyDisk);
      const lazy = opened as LazyDisk;
      const bytes: Uint8Array[] = [];
      for (const [start, len] of reads) bytes.push(await get(lazy, start, len));
      seen[name] = { files, bytes, shape: { byteLength: lazy.byteLength, chunkSize: lazy.chunkSize } };
    }
    const [first, ...rest] = Object.values(seen);
    // One fetch per chunk, in the order the reads missed the cache; the repeated chunk 5 is not fetched twice.
    expect(first.files).toEqual(wanted.map((f) => f.file));
    expect(first.shape).toEqual({ byteLength: disk.size, chunkSize: disk.chunkSize });
    for (const other of rest) {
      expect(other.files).toEqual(first.files);
      expect(other.shape).toEqual(first.shape);
      expect(other.bytes).toEqual(first.bytes);
    }
    // And the bytes are the disk's: the twin's root is ext4 on the whole disk (magic EF53 at byte 1080).
    expect([...first.bytes[0].subarray(1080, 1082)]).toEqual([0x53, 0xef]);
  });

  it('verifies every chunk it fetches, through each reader', async () => {
    for (const [name, base] of Object.entries(sources())) {
      // Chunk 5 arrives damaged (one byte flipped in the stored, compressed file).
      const damaged: ArtifactReader = {
        where: base.where,
        missingHint: base.missingHint,
        async read(f, signal) {
          const bytes = await base.read(f, signal);
          if (bytes && f.sha256 === disk.chunks![5]) bytes[bytes.length >> 1] ^= 0xff;
          return bytes;
        },
      };
      const loader = createArtifactLoader(damaged);
      const failure = new Promise<ArtifactError>((resolve) => (loader.onDiskError = resolve));
      const lazy = await loader.openDisk(disk);
      (lazy as LazyDisk).get(5 * disk.chunkSize!, 512, () => expect.fail(`${name}: a damaged chunk was handed to the IDE`));
      expect((await failure).code, name).toBe('hash-mismatch');
    }
  });
});
