import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ArchiveError } from './errors.ts';
import { checkAgainstRelease, checkRelease, loadDebianKeys, parseRelease, sha256Hex, verifyInRelease } from './release.ts';
import { clearsign, makeKey } from './testkit.ts';

// The real bookworm InRelease, fetched once from a Debian mirror (Date: Sat, 11 Jul 2026 10:16:37 UTC).
const fixture = () => readFile(new URL('./fixtures/bookworm-InRelease', import.meta.url));
const signedAt = new Date('2026-07-11T10:20:00Z'); // keys are checked at this time, so the test never expires

async function rejection(p: Promise<unknown>): Promise<ArchiveError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ArchiveError) return e;
    throw e;
  }
  throw new Error('expected an ArchiveError');
}

/** A copy of the InRelease with one character of its signed text changed. */
function tamper(data: Buffer, find: string, replace: string): Buffer {
  const text = data.toString('latin1');
  const at = text.indexOf(find);
  expect(at).toBeGreaterThan(0);
  expect(replace.length).toBe(find.length);
  return Buffer.from(text.slice(0, at) + replace + text.slice(at + find.length), 'latin1');
}

describe('verifyInRelease with Debian\'s keys (real bookworm InRelease)', () => {
  it('verifies and returns the signed text', async () => {
    const keys = await loadDebianKeys();
    expect(keys.length).toBe(6);
    const { text, signers } = await verifyInRelease(await fixture(), keys, 'InRelease', { date: signedAt });
    // bookworm automatic, trixie automatic, bookworm stable release key
    expect(signers.sort()).toEqual([
      '04B54C3CDCA79751B16BC6B5225629DF75B188BD',
      '4D64FEC119C2029067D6E791F8D2585B8783D481',
      'B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8',
    ]);
    expect(text.startsWith('Origin: Debian\n')).toBe(true);
    expect(text).not.toContain('PGP');
    const release = parseRelease(text);
    expect(release).toMatchObject({ origin: 'Debian', codename: 'bookworm', suite: 'oldstable', version: '12.15', date: 'Sat, 11 Jul 2026 10:16:37 UTC' });
    expect(release.dateParsed.toISOString()).toBe('2026-07-11T10:16:37.000Z');
    expect(release.architectures).toContain('i386');
    expect(release.components).toEqual(['main', 'contrib', 'non-free-firmware', 'non-free']);
    expect(release.files.get('main/binary-i386/Packages.xz')).toEqual({
      size: 8681800,
      sha256: '900739f3ad35b689d23f4a97ee2dc7943bebb3763c7c41f9a03072d639444e4d',
    });
    expect(release.files.get('main/binary-i386/Packages')?.size).toBe(49325351);
    checkRelease(release, 'bookworm', 'InRelease', signedAt);
  });

  it('refuses a flipped byte in the signed text', async () => {
    const keys = await loadDebianKeys();
    const data = await fixture();
    // One hex digit of Packages.xz's hash: exactly what an attacker would want to change.
    const bad = tamper(data, '900739f3ad35b689', '900739f3ad35b688');
    const e = await rejection(verifyInRelease(bad, keys, 'http://mirror.invalid/debian/dists/bookworm/InRelease', { date: signedAt }));
    expect(e.message).toMatch(/^http:\/\/mirror\.invalid\/debian\/dists\/bookworm\/InRelease: bad OpenPGP signature/);
    expect(e.message).toMatch(/signed text was altered/);
    expect(e.hint).toMatch(/mirror/);
    // A flipped bit rather than a plausible edit.
    const at = data.indexOf('Codename: bookworm');
    const flipped = Buffer.from(data);
    flipped[at + 12] ^= 0x01;
    await expect(verifyInRelease(flipped, keys, 'InRelease', { date: signedAt })).rejects.toThrow(/bad OpenPGP signature/);
  });

  it('uses only the signed text: lines around the signed message are ignored', async () => {
    const keys = await loadDebianKeys();
    const data = await fixture();
    const wrapped = Buffer.concat([Buffer.from('Codename: evil\nSHA256:\n x 1 y\n\n'), data, Buffer.from('\nEvil: after\n')]);
    const { text } = await verifyInRelease(wrapped, keys, 'InRelease', { date: signedAt });
    expect(text).not.toContain('evil');
    expect(text).not.toContain('Evil');
    expect(parseRelease(text).codename).toBe('bookworm');
  });

  it('refuses a file signed by an untrusted key, and one not signed at all', async () => {
    const debian = await loadDebianKeys();
    const key = await makeKey();
    const forged = await clearsign('Origin: Debian\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\n', key.privateKey);
    const e = await rejection(verifyInRelease(forged, debian, 'InRelease'));
    expect(e.message).toMatch(/no signature by a trusted Debian archive key \(signed by: [0-9A-F]{16}\)/);
    // The same file verifies against a keyring holding the test key.
    expect((await verifyInRelease(forged, [key.publicKey], 'InRelease')).text).toContain('Codename: bookworm');
    await expect(verifyInRelease('Origin: Debian\n', debian, 'Release')).rejects.toThrow(/Release is not an OpenPGP clearsigned file/);
  });
});

describe('parseRelease and checks', () => {
  const text = [
    'Origin: Test',
    'Codename: bookworm',
    'Suite: stable',
    'Date: Sat, 11 Jul 2026 10:16:37 UTC',
    'Valid-Until: Sat, 18 Jul 2026 10:16:37 UTC',
    'SHA256:',
    ` ${sha256Hex(Buffer.from('abc'))}        3 main/binary-i386/Packages`,
    '',
  ].join('\n');

  it('checks the suite and Valid-Until', () => {
    const release = parseRelease(text);
    expect(() => checkRelease(release, 'bookworm', 'x', new Date('2026-07-12'))).not.toThrow();
    expect(() => checkRelease(release, 'stable', 'x', new Date('2026-07-12'))).not.toThrow();
    expect(() => checkRelease(release, 'trixie', 'x', new Date('2026-07-12'))).toThrow(/x is for bookworm, not trixie/);
    expect(() => checkRelease(release, 'bookworm', 'x', new Date('2026-08-01'))).toThrow(/expired/);
  });

  it('checks index files by size and SHA256, naming the file', () => {
    const release = parseRelease(text);
    const path = 'main/binary-i386/Packages';
    expect(() => checkAgainstRelease(release, path, Buffer.from('abc'), 'f', 'h')).not.toThrow();
    expect(() => checkAgainstRelease(release, path, Buffer.from('abcd'), 'f', 'h')).toThrow(/f has 4 bytes, but the signed Release says .* has 3/);
    expect(() => checkAgainstRelease(release, path, Buffer.from('abd'), 'f', 'h')).toThrow(/f has SHA256 [0-9a-f]{64}, but the signed Release says/);
    expect(() => checkAgainstRelease(release, 'main/binary-amd64/Packages', Buffer.from('abc'), 'f', 'h')).toThrow(/does not list/);
  });

  it('rejects a Release without a Date or with a malformed hash line', () => {
    expect(() => parseRelease('Origin: x\n')).toThrow(/Date/);
    expect(() => parseRelease('Date: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n zz 3 x\n')).toThrow(/malformed/);
  });
});
