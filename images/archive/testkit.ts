// Offline fixtures for tests of the archive stages (and the builder's): .debs, tars, a signed fake
// archive, and a local HTTP server on 127.0.0.1 that serves them with Range support.
import { createServer, type Server } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { xz } from '@napi-rs/lzma';
import * as openpgp from 'openpgp';
import tarStream from 'tar-stream';
import { initZstd, zstdCompress } from '../zstd.ts';
import { sha256Hex } from './release.ts';

export interface TarSpec {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  data?: Uint8Array | string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkTarget?: string;
}

/** A tar made with tar-stream's packer (ustar; pax headers for long names). */
export async function makeTar(entries: TarSpec[]): Promise<Uint8Array> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : Buffer.from(e.data ?? new Uint8Array());
    const header = {
      name: e.path,
      type: type === 'dir' ? 'directory' : type === 'hardlink' ? 'link' : type,
      mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: new Date((e.mtime ?? 1_700_000_000) * 1000),
      linkname: e.linkTarget,
      size: type === 'file' ? data.length : 0,
    } as const;
    if (type === 'file') pack.entry(header, data);
    else pack.entry(header);
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** An ar archive (as dpkg-deb writes them: GNU-style names ending in `/`, even padding with `\n`). */
export function makeAr(members: { name: string; data: Uint8Array }[]): Uint8Array {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const m of members) {
    const field = (s: string, len: number) => s.padEnd(len, ' ').slice(0, len);
    const header = field(`${m.name}/`, 16) + field('1700000000', 12) + field('0', 6) + field('0', 6) + field('100644', 8) + field(String(m.data.length), 10) + '`\n';
    parts.push(Buffer.from(header, 'latin1'), Buffer.from(m.data));
    if (m.data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

export type Compression = 'xz' | 'zst' | 'gz' | 'none';

export async function compress(data: Uint8Array, how: Compression): Promise<Uint8Array> {
  if (how === 'xz') return xz.compress(data);
  if (how === 'gz') return promisify(gzip)(data);
  if (how === 'zst') {
    await initZstd();
    return zstdCompress(data, 3);
  }
  return data;
}

/** A .deb: control fields (Package, Version, Architecture filled in if missing) and data.tar entries. */
export async function makeDeb(options: {
  control: Record<string, string>;
  files?: TarSpec[];
  compression?: Compression;
  controlFiles?: Record<string, string>;
}): Promise<Uint8Array> {
  const how = options.compression ?? 'xz';
  const control = Object.entries(options.control).map(([k, v]) => `${k}: ${v}\n`).join('');
  const controlTar = await makeTar([
    { path: './', type: 'dir' },
    { path: './control', data: control },
    ...Object.entries(options.controlFiles ?? {}).map(([path, data]) => ({ path: `./${path}`, data })),
  ]);
  const dataTar = await makeTar([{ path: './', type: 'dir' }, ...(options.files ?? [])]);
  const suffix = how === 'none' ? '' : `.${how}`;
  return makeAr([
    { name: 'debian-binary', data: Buffer.from('2.0\n') },
    { name: `control.tar${suffix}`, data: await compress(controlTar, how) },
    { name: `data.tar${suffix}`, data: await compress(dataTar, how) },
  ]);
}

export interface FakePackage {
  name: string;
  version: string;
  architecture?: string;
  /** Extra Packages fields (Depends, Provides, Pre-Depends, Essential, ...). */
  fields?: Record<string, string>;
  files?: TarSpec[];
}

export interface FakeArchive {
  /** Files by path relative to the mirror root (`dists/...`, `pool/...`); mutate to tamper. */
  files: Map<string, Uint8Array>;
  /** The key that signed InRelease: pass it as `keys` to openArchive/verifyInRelease. */
  publicKey: openpgp.PublicKey;
  privateKey: openpgp.PrivateKey;
  /** The Packages text. */
  packagesText: string;
}

/** A throwaway OpenPGP signing key (ed25519). */
export async function makeKey(): Promise<{ publicKey: openpgp.PublicKey; privateKey: openpgp.PrivateKey }> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: 'Whittle test archive' }],
    format: 'object',
  });
  return { privateKey, publicKey };
}

/** Clearsigns `text` (an InRelease). */
export async function clearsign(text: string, privateKey: openpgp.PrivateKey): Promise<string> {
  const message = await openpgp.createCleartextMessage({ text });
  return openpgp.sign({ message, signingKeys: privateKey, format: 'armored' }) as Promise<string>;
}

/**
 * A small signed archive for `suite`/`arch`: one .deb per package in the pool, Packages(.xz) and an
 * InRelease listing their sizes and SHA256 sums, signed by a fresh key (or `key`).
 */
export async function makeFakeArchive(
  packages: FakePackage[],
  options: {
    suite?: string;
    arch?: string;
    date?: string;
    key?: Awaited<ReturnType<typeof makeKey>>;
    /** Say `Acquire-By-Hash: yes` and serve Packages.xz under `by-hash/SHA256/<sha256>` too. */
    byHash?: boolean;
  } = {},
): Promise<FakeArchive> {
  const suite = options.suite ?? 'bookworm';
  const arch = options.arch ?? 'i386';
  const key = options.key ?? (await makeKey());
  const files = new Map<string, Uint8Array>();
  const stanzas: string[] = [];
  for (const p of packages) {
    const architecture = p.architecture ?? arch;
    const control = { Package: p.name, Version: p.version, Architecture: architecture, Description: `${p.name} for tests`, ...p.fields };
    const deb = await makeDeb({ control, files: p.files ?? [{ path: `./usr/share/${p.name}/README`, data: `${p.name} ${p.version}\n` }] });
    const filename = `pool/main/${p.name[0]}/${p.name}/${p.name}_${p.version.replace(/^\d+:/, '')}_${architecture}.deb`;
    files.set(filename, deb);
    const fields: Record<string, string> = {
      Package: p.name,
      Version: p.version,
      'Installed-Size': '1',
      Architecture: architecture,
      ...p.fields,
      Description: `${p.name} for tests`,
      Filename: filename,
      Size: String(deb.length),
      SHA256: sha256Hex(deb),
    };
    stanzas.push(Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join(''));
  }
  const packagesText = stanzas.join('\n');
  const plain = Buffer.from(packagesText);
  const packed = await xz.compress(plain);
  const dir = `main/binary-${arch}`;
  files.set(`dists/${suite}/${dir}/Packages.xz`, packed);
  if (options.byHash) files.set(`dists/${suite}/${dir}/by-hash/SHA256/${sha256Hex(packed)}`, packed);
  const line = (data: Uint8Array, path: string) => ` ${sha256Hex(data)} ${String(data.length).padStart(8)} ${path}\n`;
  const release =
    `Origin: Whittle test\nLabel: Whittle test\nSuite: stable\nCodename: ${suite}\n` +
    `Date: ${options.date ?? 'Sat, 11 Jul 2026 10:16:37 UTC'}\nArchitectures: ${arch}\nComponents: main\n` +
    `Description: fake archive for tests\n${options.byHash ? 'Acquire-By-Hash: yes\n' : ''}SHA256:\n` +
    line(plain, `${dir}/Packages`) +
    line(packed, `${dir}/Packages.xz`);
  files.set(`dists/${suite}/InRelease`, Buffer.from(await clearsign(release, key.privateKey)));
  return { files, publicKey: key.publicKey, privateKey: key.privateKey, packagesText };
}

export interface FileServer {
  /** Base URL, e.g. `http://127.0.0.1:41234/debian`. */
  url: string;
  /** Request log: `GET /path` plus ` Range: bytes=n-` when asked. */
  requests: string[];
  close: () => Promise<void>;
}

/**
 * Serves `files` (looked up on every request, so tests can change them) under `/debian/` on
 * 127.0.0.1. Honors `Range: bytes=n-` unless `ranges` is false; `cutAfter` closes the connection
 * 200 ms after sending that many body bytes of the first response per path (to test resuming).
 */
export async function serveFiles(files: Map<string, Uint8Array>, options: { ranges?: boolean; cutAfter?: number } = {}): Promise<FileServer> {
  const requests: string[] = [];
  const cut = new Set<string>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '').replace(/^\/debian\//, '').replace(/\?.*/, ''));
    const range = req.headers.range;
    requests.push(`${req.method} /${path}${range ? ` Range: ${range}` : ''}`);
    const data = files.get(path);
    if (!data) {
      res.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    const m = range && options.ranges !== false ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m) {
      start = Number(m[1]);
      if (start >= data.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${data.length}` }).end();
        return;
      }
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}`, 'Content-Length': data.length - start });
    } else {
      res.writeHead(200, { 'Content-Length': data.length, 'Accept-Ranges': options.ranges === false ? 'none' : 'bytes' });
    }
    const body = Buffer.from(data.subarray(start));
    if (options.cutAfter !== undefined && !cut.has(path)) {
      cut.add(path);
      // Give the client time to store what it got before the connection drops.
      res.write(body.subarray(0, options.cutAfter), () => setTimeout(() => res.destroy(), 200));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no server address');
  return {
    url: `http://127.0.0.1:${address.port}/debian`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A fresh temporary folder. */
export function tempDir(prefix = 'whittle-archive-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A copy of `data` with one bit of the byte at `offset` flipped. */
export function flipByte(data: Uint8Array, offset: number): Uint8Array {
  const copy = Uint8Array.from(data);
  copy[offset] ^= 0x01;
  return copy;
}
