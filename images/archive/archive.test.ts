import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openArchive } from './archive.ts';
import { ArchiveError } from './errors.ts';
import { flipByte, makeFakeArchive, serveFiles, tempDir, type FakePackage, type FileServer } from './testkit.ts';

const packages: FakePackage[] = [
  { name: 'app', version: '1.0-1', fields: { Depends: 'libfoo (>= 1)' } },
  { name: 'libfoo', version: '1.2-1', fields: { Provides: 'foo-api (= 1)' } },
];

let servers: FileServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function setup(options: Parameters<typeof makeFakeArchive>[1] = {}) {
  const archive = await makeFakeArchive(packages, options);
  const server = await serveFiles(archive.files);
  servers.push(server);
  const cacheDir = await tempDir();
  const open = (extra: Parameters<typeof openArchive>[0] = {}) =>
    openArchive({ mirror: server.url, cacheDir, keys: [archive.publicKey], ...extra });
  return { archive, server, cacheDir, open };
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

const PACKAGES_XZ = 'dists/bookworm/main/binary-i386/Packages.xz';
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('openArchive', () => {
  it('reads a signed archive and caches the verified files', async () => {
    const { archive, server, cacheDir, open } = await setup();
    const a = await open();
    expect(a.mirror).toBe(server.url);
    expect(a.release.codename).toBe('bookworm');
    expect(a.signers).toEqual([archive.publicKey.getFingerprint().toUpperCase()]);
    expect(a.packages.names()).toEqual(['app', 'libfoo']);
    expect(a.packages.providers('foo-api')[0].version).toBe('1');
    expect(a.files.inRelease).toBe(join(cacheDir, 'archive/bookworm/InRelease'));
    expect(a.files.packages).toMatch(/archive\/bookworm\/main\/binary-i386\/Packages-[0-9a-f]{64}$/);
    expect(await readFile(a.files.packages, 'utf8')).toBe(archive.packagesText);
    expect(server.requests).toEqual(['GET /dists/bookworm/InRelease', `GET /${PACKAGES_XZ}`]);

    // Next time only InRelease is fetched: the cached Packages is what the Release names.
    server.requests.length = 0;
    expect((await open()).packages.size).toBe(2);
    expect(server.requests).toEqual(['GET /dists/bookworm/InRelease']);
  });

  it('fetches Packages.xz by hash when the archive offers it, and falls back to the name', async () => {
    const { server, open } = await setup({ byHash: true });
    await open();
    expect(server.requests[1]).toMatch(/^GET \/dists\/bookworm\/main\/binary-i386\/by-hash\/SHA256\/[0-9a-f]{64}$/);
    const second = await setup({ byHash: true });
    for (const path of second.archive.files.keys()) if (path.includes('by-hash')) second.archive.files.delete(path);
    await second.open();
    expect(second.server.requests.slice(1)).toEqual([expect.stringContaining('by-hash'), `GET /${PACKAGES_XZ}`]);
  });

  it('refuses a Packages.xz with a flipped byte, and caches nothing from it', async () => {
    const { archive, server, cacheDir, open } = await setup();
    archive.files.set(PACKAGES_XZ, flipByte(archive.files.get(PACKAGES_XZ)!, 100));
    const e = await rejection(open());
    expect(e.message).toMatch(
      new RegExp(`^${escape(`${server.url}/${PACKAGES_XZ}`)} has SHA256 [0-9a-f]{64}, but the signed Release says main/binary-i386/Packages\\.xz has [0-9a-f]{64}$`),
    );
    expect(e.hint).toMatch(/tampered/);
    expect(await readdir(join(cacheDir, 'archive/bookworm'))).toEqual(['InRelease']);
  });

  it('refuses an InRelease whose signed text was altered, keeping the cached one', async () => {
    const { archive, server, cacheDir, open } = await setup();
    await open();
    const good = await readFile(join(cacheDir, 'archive/bookworm/InRelease'));
    const inRelease = archive.files.get('dists/bookworm/InRelease')!;
    const at = Buffer.from(inRelease).indexOf('Codename: bookworm') + 10;
    archive.files.set('dists/bookworm/InRelease', flipByte(inRelease, at));
    const e = await rejection(open());
    expect(e.message).toMatch(new RegExp(`^${escape(server.url)}/dists/bookworm/InRelease: bad OpenPGP signature`));
    expect(await readFile(join(cacheDir, 'archive/bookworm/InRelease'))).toEqual(good);
  });

  it('catches a flipped byte in the cached Packages, naming the file and how to recover', async () => {
    const { open } = await setup();
    const { files } = await open();
    await writeFile(files.packages, flipByte(await readFile(files.packages), 10));
    const e = await rejection(open());
    expect(e.message).toMatch(new RegExp(`^Cached file ${escape(files.packages)} has SHA256 [0-9a-f]{64}, but the signed Release says main/binary-i386/Packages has`));
    expect(e.hint).toContain(`rm '${files.packages}'`);
  });

  it('works offline from the cache, re-verifying it', async () => {
    const { server, cacheDir, open, archive } = await setup();
    await expect(open({ offline: true })).rejects.toThrow(/No cached InRelease/);
    await open();
    await server.close();
    const a = await openArchive({ mirror: 'http://127.0.0.1:9/unused', cacheDir, keys: [archive.publicKey], offline: true });
    expect(a.packages.get('app')?.version).toBe('1.0-1');
    const inRelease = join(cacheDir, 'archive/bookworm/InRelease');
    const text = await readFile(inRelease);
    await writeFile(inRelease, flipByte(text, text.indexOf('Codename: bookworm') + 10));
    const e = await rejection(openArchive({ mirror: 'http://127.0.0.1:9/unused', cacheDir, keys: [archive.publicKey], offline: true }));
    expect(e.message).toMatch(new RegExp(`^Cached file ${escape(inRelease)}: bad OpenPGP signature`));
    expect(e.hint).toContain(`rm '${inRelease}'`);
  });

  it('refuses an archive signed by another key, or for another suite', async () => {
    const { open } = await setup();
    const other = await makeFakeArchive(packages);
    await expect(open({ keys: [other.publicKey] })).rejects.toThrow(/no signature by a trusted Debian archive key/);
    const trixie = await setup({ suite: 'trixie' });
    trixie.archive.files.set('dists/bookworm/InRelease', trixie.archive.files.get('dists/trixie/InRelease')!);
    await expect(trixie.open()).rejects.toThrow(/is for trixie, not bookworm/);
  });

  it('says which architectures exist when the Release lacks the one asked for', async () => {
    const { open } = await setup();
    const e = await rejection(open({ arch: 'amd64' }));
    expect(e.message).toMatch(/does not list main\/binary-amd64\/Packages/);
    expect(e.hint).toMatch(/Architectures: i386/);
  });

  it('names the URL when the mirror cannot be reached or lacks the suite', async () => {
    const { open } = await setup();
    await expect(open({ suite: 'bullseye' })).rejects.toThrow(/Not found on the mirror: .*dists\/bullseye\/InRelease \(HTTP 404\)/);
    await expect(open({ mirror: 'http://127.0.0.1:9/debian' })).rejects.toThrow(/Cannot reach http:\/\/127\.0\.0\.1:9\/debian\/dists\/bookworm\/InRelease/);
  });
});
