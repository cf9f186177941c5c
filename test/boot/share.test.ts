// The host share (worker/share.ts) end to end in Node: files put through the protocol, read by the
// guest at /mnt/host, changed and written there by the guest, read back and packed as a tar.

import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../images/manifest.ts';
import { readTar } from '../../images/archive/tar.ts';
import { MachineRequestError } from '../../worker/bridge.ts';
import { NodeMachine, bootImage, loadManifest } from '../../worker/node/host.ts';
import { PUT_CHUNK } from '../../worker/share.ts';

const SHELL = resolve(process.env.WHITTLE_SHELL_IMAGE ?? 'images/dist/shell');
const READY_MS = 120_000;

let manifest: Manifest;
const machines: NodeMachine[] = [];

const line = (text: string) => new RegExp(`\\r?\\n${text}\\r?\\n`);
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
/** Bytes no guest command could guess: a counter run through a multiplier. */
const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7 + (i >> 9)) & 0xff);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MachineRequestError) return e.error.code;
    throw e;
  }
  return 'resolved';
}

beforeAll(async () => {
  manifest = await loadManifest(SHELL);
});

afterAll(async () => {
  await Promise.all(machines.map((m) => m.stop()));
});

describe('host share: the host side', () => {
  it('puts a large file in chunks with progress, lists it, reads it back, packs a tar, refuses bad names, keeps files over a reset', async () => {
    // `share: true` gives any image v86's 9p device; this part needs no mount in the guest.
    const m = await bootImage(SHELL, { share: true });
    machines.push(m);
    await m.ready(READY_MS);
    let changes = 0;
    m.on('share-changed', () => changes++);

    const big = pattern(2 * PUT_CHUNK + 12_345, 1);
    const progress: number[] = [];
    await m.putFile('data/big.bin', big, { mtime: 1_700_000_000_000, onProgress: (p) => progress.push(p.done) });
    expect(progress).toEqual([0, PUT_CHUNK, 2 * PUT_CHUNK, big.length]);
    await m.putFile('note.txt', new TextEncoder().encode('first\n'));
    await m.putFile('note.txt', new TextEncoder().encode('second\n')); // replaces

    const list = await m.listShare();
    expect(list.entries.map(({ path, kind, size }) => [path, kind, size])).toEqual([
      ['data', 'dir', 0],
      ['data/big.bin', 'file', big.length],
      ['note.txt', 'file', 7],
    ]);
    expect(list.entries[1].mtime).toBe(1_700_000_000_000);
    expect(list.usedBytes).toBe(big.length + 7);
    expect(md5(await m.readFile('data/big.bin'))).toBe(md5(big));
    expect(new TextDecoder().decode(await m.readFile('note.txt'))).toBe('second\n');
    await expect.poll(() => changes).toBeGreaterThan(0);

    const tar = await readTar(await m.shareArchive());
    expect(tar.map((e) => [e.path, e.type, e.size])).toEqual([
      ['data', 'dir', 0],
      ['data/big.bin', 'file', big.length],
      ['note.txt', 'file', 7],
    ]);
    expect(md5(tar[1].data!)).toBe(md5(big));
    expect(tar[1].mtime).toBe(1_700_000_000);

    for (const bad of ['../escape', '/etc/passwd', 'a//b', '', 'data/big.bin/inside']) expect(await code(m.putFile(bad, new Uint8Array(1))), bad).toBe('bad-path');
    expect(await code(m.readFile('data'))).toBe('bad-path');
    expect(await code(m.readFile('missing.txt'))).toBe('file-not-found');
    // Nothing of the refused puts landed.
    expect((await m.listShare()).entries).toHaveLength(3);

    await m.reset();
    await m.ready(READY_MS);
    expect(md5(await m.readFile('data/big.bin'))).toBe(md5(big));
  });

  it('says so when the machine has no share', async () => {
    const m = await bootImage(SHELL, { share: false });
    machines.push(m);
    await m.ready(READY_MS);
    const e = await m.listShare().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MachineRequestError);
    expect((e as MachineRequestError).error).toMatchObject({ code: 'no-share', message: expect.stringContaining('without a host share') });
  });
});

describe('host share: the guest side', () => {
  it('the guest reads a put file at /mnt/host, changes it, writes one; the host reads both back; a saved state keeps them', async () => {
    expect(manifest.share, `${SHELL} was built without "share": rebuild it (npm run images -- build shell)`).toBe(true);
    const m = await bootImage(SHELL);
    machines.push(m);
    await m.ready(READY_MS);

    const input = pattern(300_000, 2);
    await m.putFile('in.bin', input);
    await m.putFile('words.txt', new TextEncoder().encode('alpha\nbeta\ngamma\n'));
    // The guest's checksum of the bytes it reads through 9p: the hash is nowhere in the typed line.
    m.type('md5sum /mnt/host/in.bin');
    await m.waitFor(new RegExp(`${md5(input)}\\s+/mnt/host/in.bin`), 30_000);

    // sed -i writes a temporary file and renames it over the original: create, write and rename.
    m.type("sed -i 's/beta/BETA/' /mnt/host/words.txt && mkdir /mnt/host/out && seq 1 2500 > /mnt/host/out/seq.txt && echo wrote-$((2500*2))");
    await m.waitFor(line('wrote-5000'), 30_000);

    expect(new TextDecoder().decode(await m.readFile('words.txt'))).toBe('alpha\nBETA\ngamma\n');
    const seq = Array.from({ length: 2500 }, (_, i) => `${i + 1}\n`).join('');
    expect(new TextDecoder().decode(await m.readFile('out/seq.txt'))).toBe(seq);
    const paths = (await m.listShare()).entries.map((e) => e.path);
    expect(paths).toEqual(['in.bin', 'out', 'out/seq.txt', 'words.txt']);

    // A saved state holds the share: restored, the guest and the host see the same files.
    const state = await m.saveState();
    await m.stop();
    const back = new NodeMachine(SHELL, manifest);
    machines.push(back);
    await back.restore(state);
    expect(new TextDecoder().decode(await back.readFile('out/seq.txt'))).toBe(seq);
    back.type('wc -l < /mnt/host/out/seq.txt');
    await back.waitFor(line('2500'), 30_000);
  });
});
