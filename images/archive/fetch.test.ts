import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveError } from './errors.ts';
import { fetchDebs, type DebRef } from './fetch.ts';
import { progressReporter, type FetchProgress } from './progress.ts';
import { flipByte, makeDeb, serveFiles, tempDir, type FileServer } from './testkit.ts';
import { sha256Hex } from '../hash.ts';

let servers: FileServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** A pool of .debs (with enough random bytes that a resumed download is visibly partial). */
async function pool(names: string[]) {
  const files = new Map<string, Uint8Array>();
  const refs: DebRef[] = [];
  for (const name of names) {
    const deb = await makeDeb({
      control: { Package: name, Version: '1.0', Architecture: 'i386' },
      files: [{ path: `./usr/share/${name}/blob`, data: sha256Hex(name).repeat(400) }],
      compression: 'none',
    });
    const filename = `pool/main/${name[0]}/${name}/${name}_1.0_i386.deb`;
    files.set(filename, deb);
    refs.push({ name, version: '1.0', filename, size: deb.length, sha256: sha256Hex(deb) });
  }
  return { files, refs };
}

async function setup(names = ['alpha', 'beta', 'gamma'], serverOptions: Parameters<typeof serveFiles>[1] = {}) {
  const { files, refs } = await pool(names);
  const server = await serveFiles(files, serverOptions);
  servers.push(server);
  const cacheDir = await tempDir();
  const events: FetchProgress[] = [];
  const fetch = (entries: DebRef[] = refs, extra: Partial<Parameters<typeof fetchDebs>[1]> = {}) =>
    fetchDebs(entries, { mirror: server.url, cacheDir, onProgress: (p) => events.push(p), ...extra });
  return { files, refs, server, cacheDir, events, fetch, debs: join(cacheDir, 'debs') };
}

async function rejection(p: Promise<unknown>): Promise<ArchiveError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ArchiveError) return e;
    throw e;
  }
  throw new Error('expected an ArchiveError');
}

describe('fetchDebs', () => {
  it('downloads into the content-addressed cache, verified, in input order', async () => {
    const { refs, files, fetch, debs, events, server } = await setup();
    const got = await fetch();
    expect(got.map((g) => g.entry.name)).toEqual(['alpha', 'beta', 'gamma']);
    for (const g of got) {
      expect(g.path).toBe(join(debs, `${g.entry.sha256}.deb`));
      expect(g.downloaded).toBe(true);
      expect(await readFile(g.path)).toEqual(Buffer.from(files.get(g.entry.filename)!));
    }
    expect((await readdir(debs)).sort()).toEqual(refs.map((r) => `${r.sha256}.deb`).sort());
    const total = refs.reduce((s, r) => s + r.size, 0);
    expect(events[0]).toMatchObject({ event: 'start', filesTotal: 3, bytesTotal: total, cachedFiles: 0 });
    expect(events.filter((e) => e.event === 'file-done').map((e) => e.package).sort()).toEqual(['alpha 1.0', 'beta 1.0', 'gamma 1.0']);
    expect(events.at(-1)).toMatchObject({ event: 'finish', filesDone: 3, bytesDone: total });

    // Second time: verified from the cache, nothing requested.
    server.requests.length = 0;
    events.length = 0;
    const again = await fetch();
    expect(again.every((g) => !g.downloaded)).toBe(true);
    expect(server.requests).toEqual([]);
    expect(events[0]).toMatchObject({ event: 'start', filesTotal: 0, cachedFiles: 3 });
  });

  it('catches a flipped byte in a cached .deb, naming the package and the file', async () => {
    const { refs, fetch, debs, server } = await setup();
    await fetch();
    const path = join(debs, `${refs[1].sha256}.deb`);
    await writeFile(path, flipByte(await readFile(path), 200));
    server.requests.length = 0;
    const e = await rejection(fetch());
    expect(e.message).toBe(`Cached .deb of beta 1.0 at ${path} has SHA256 ${sha256Hex(await readFile(path))}, expected ${refs[1].sha256}`);
    expect(e.hint).toContain(`rm '${path}'`);
    expect(server.requests).toEqual([]); // not silently replaced
  });

  it('catches a truncated cached .deb', async () => {
    const { refs, fetch, debs } = await setup(['alpha']);
    await fetch();
    const path = join(debs, `${refs[0].sha256}.deb`);
    await writeFile(path, (await readFile(path)).subarray(0, 100));
    await expect(fetch()).rejects.toThrow(`Cached .deb of alpha 1.0 at ${path} has 100 bytes, expected ${refs[0].size}`);
  });

  it('refuses a download that does not match, leaving nothing in the cache', async () => {
    const { refs, files, fetch, debs } = await setup(['alpha', 'beta']);
    files.set(refs[0].filename, flipByte(files.get(refs[0].filename)!, 300));
    const e = await rejection(fetch());
    expect(e.message).toMatch(/^Downloaded \.deb of alpha 1\.0 from http:\/\/127\.0\.0\.1:\d+\/debian\/pool\/main\/a\/alpha\/alpha_1\.0_i386\.deb does not match the archive/);
    expect(e.hint).toMatch(/mirror/);
    expect(await readdir(debs)).not.toContain(`${refs[0].sha256}.deb`);
    expect((await readdir(debs)).filter((n) => n.includes(refs[0].sha256))).toEqual([]);
  });

  it('resumes a partial download with an HTTP Range request', async () => {
    const { refs, files, fetch, debs, server } = await setup(['alpha']);
    const deb = files.get(refs[0].filename)!;
    await mkdir(debs, { recursive: true });
    await writeFile(join(debs, `${refs[0].sha256}.deb.part`), deb.subarray(0, 5000));
    const [got] = await fetch();
    expect(server.requests).toEqual([`GET /${refs[0].filename} Range: bytes=5000-`]);
    expect(await readFile(got.path)).toEqual(Buffer.from(deb));
    expect(await readdir(debs)).toEqual([`${refs[0].sha256}.deb`]);
  });

  it('resumes by itself when the connection breaks', async () => {
    const { refs, files, fetch, server } = await setup(['alpha'], { cutAfter: 3000 });
    const [got] = await fetch();
    expect(server.requests).toEqual([`GET /${refs[0].filename}`, `GET /${refs[0].filename} Range: bytes=3000-`]);
    expect(await readFile(got.path)).toEqual(Buffer.from(files.get(refs[0].filename)!));
  });

  it('starts over when the server ignores Range', async () => {
    const { refs, files, fetch, debs } = await setup(['alpha'], { ranges: false });
    const deb = files.get(refs[0].filename)!;
    await mkdir(debs, { recursive: true });
    await writeFile(join(debs, `${refs[0].sha256}.deb.part`), deb.subarray(0, 5000));
    const [got] = await fetch();
    expect(await readFile(got.path)).toEqual(Buffer.from(deb));
  });

  it('names the URL of a .deb the mirror does not have', async () => {
    const { refs, fetch } = await setup(['alpha']);
    const gone = { ...refs[0], filename: 'pool/main/a/alpha/alpha_0.9_i386.deb' };
    const e = await rejection(fetch([gone]));
    expect(e.message).toMatch(/Not found on the mirror: .*alpha_0\.9_i386\.deb \(HTTP 404\)/);
    expect(e.hint).toMatch(/pool/);
  });

  it('downloads a .deb listed twice once', async () => {
    const { refs, fetch, server } = await setup(['alpha']);
    const got = await fetch([refs[0], { ...refs[0] }]);
    expect(got.map((g) => g.path)).toEqual([got[0].path, got[0].path]);
    expect(server.requests).toHaveLength(1);
  });

  it('refuses unsafe pool paths and malformed hashes before any request', async () => {
    const { refs, fetch, server } = await setup(['alpha']);
    await expect(fetch([{ ...refs[0], filename: 'pool/../../etc/passwd' }])).rejects.toThrow(/unsafe pool path/);
    await expect(fetch([{ ...refs[0], sha256: 'ABC' }])).rejects.toThrow(/not 64 lowercase hex/);
    expect(server.requests).toEqual([]);
  });

  it('stops when aborted', async () => {
    const { fetch } = await setup(['alpha']);
    await expect(fetch(undefined, { signal: AbortSignal.abort() })).rejects.toThrow(/abort/i);
  });
});

describe('progressReporter', () => {
  function sink(isTTY: boolean) {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    }) as unknown as NodeJS.WriteStream;
    Object.assign(stream, { isTTY, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    return { stream, chunks };
  }
  const base = { filesDone: 0, filesTotal: 2, bytesDone: 0, bytesTotal: 2_000_000, cachedFiles: 1 };

  it('writes plain lines when not on a terminal', () => {
    const { stream, chunks } = sink(false);
    const r = progressReporter(stream);
    r.onProgress({ ...base, event: 'start' });
    r.onProgress({ ...base, event: 'data', package: 'a 1', bytesDone: 10 });
    r.onProgress({ ...base, event: 'file-done', package: 'a 1', filesDone: 1, bytesDone: 1_000_000 });
    r.stop();
    expect(chunks).toEqual(['fetch: 2 packages to download (2.00 MB), 1 in the cache\n', 'fetch: a 1 [1/2]\n']);
  });

  it('draws a bar on a terminal', () => {
    const { stream, chunks } = sink(true);
    const r = progressReporter(stream);
    r.onProgress({ ...base, event: 'start' });
    r.onProgress({ ...base, event: 'file-done', package: 'a 1', filesDone: 1, bytesDone: 1_000_000 });
    r.onProgress({ ...base, event: 'finish', filesDone: 2, bytesDone: 2_000_000 });
    r.stop();
    expect(chunks.join('')).toMatch(/fetch \[.*\] 100% \| 2\.00 MB\/2\.00 MB \| 2\/2 debs/);
  });
});
