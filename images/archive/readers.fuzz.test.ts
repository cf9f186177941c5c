// Fuzzing the .deb readers (ar, tar, deb): on any bytes they return entries that lie inside the input,
// or throw their own error (ar/tar: an Error naming the archive; deb: an ArchiveError), quickly.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ, FUZZ_TEST_TIMEOUT_MS, fuzzBytes, returnsOrThrowsTyped } from '../fuzzkit.ts';
import { readAr } from './ar.ts';
import { readDeb } from './deb.ts';
import { ArchiveError } from './errors.ts';
import { readTar } from './tar.ts';
import { makeAr, makeDeb, makeTar } from './testkit.ts';

/** The readers' own errors: plain Errors that name the archive they read (not a TypeError from deep inside). */
const ownError = (source: string) => (e: unknown) => e instanceof Error && e.constructor === Error && e.message.includes(source);

const files = [
  { path: './', type: 'dir' as const },
  { path: './usr/bin/hello', data: '#!/bin/sh\necho hello\n', mode: 0o755 },
  { path: './usr/share/doc/hello/a-rather-long-directory-name-to-need-a-pax-or-gnu-header/and-a-long-file-name-too.txt', data: 'x'.repeat(700) },
  { path: './usr/bin/hi', type: 'symlink' as const, linkTarget: 'hello' },
  { path: './usr/bin/hey', type: 'hardlink' as const, linkTarget: './usr/bin/hello' },
];

/** An ar archive from raw header names and bodies (makeAr writes only GNU short names). */
function arOf(members: [name: string, body: string][]): Uint8Array {
  const field = (s: string, len: number) => s.padEnd(len, ' ');
  const parts = members.map(([name, body]) => field(name, 16) + field('0', 12) + field('0', 6) + field('0', 6) + field('100644', 8) + field(String(body.length), 10) + '`\n' + body + (body.length % 2 ? '\n' : ''));
  return Buffer.from('!<arch>\n' + parts.join(''), 'latin1');
}

/** A number field as a hostile writer might fill it: digits, too many, signs, exponents, other bases. */
const numberField = fc.oneof(fc.nat({ max: 400 }).map(String), fc.constantFrom('', '-1', '1e3', '0x10', ' 7', '99999999999', 'abc', '9', '+4'));

/** ar archives built member by member from hostile header fields: reaches the name and size handling. */
const structuredAr = fc
  .array(
    fc.record({
      name: fc.oneof(fc.constantFrom('//', '/', '/SYM64/', 'debian-binary', 'a/'), numberField.map((n) => `#1/${n}`), numberField.map((n) => `/${n}`), fc.string({ maxLength: 16 })),
      size: fc.option(numberField, { nil: undefined }),
      mode: fc.constantFrom('100644', '', '9', 'zz', '-1', '777'),
      mtime: numberField,
      body: fc.string({ maxLength: 40 }),
    }),
    { maxLength: 4 },
  )
  .map((members) =>
    Buffer.from(
      '!<arch>\n' +
        members
          .map((m) => {
            const f = (x: string, len: number) => x.padEnd(len, ' ').slice(0, len);
            return f(m.name, 16) + f(m.mtime, 12) + f('0', 6) + f('0', 6) + f(m.mode, 8) + f(m.size ?? String(m.body.length), 10) + '`\n' + m.body + (m.body.length % 2 ? '\n' : '');
          })
          .join(''),
      'latin1',
    ),
  );

/** Well-formed tars (valid checksums) with hostile names, link targets and entry types. */
const hostileName = fc.oneof(fc.constantFrom('../x', '/etc/passwd', 'a/../../b', '.', './', '', 'a//b/', '..'), fc.string({ maxLength: 120 }));
const structuredTar = fc
  .array(
    fc.record({
      name: hostileName,
      type: fc.constantFrom('file', 'directory', 'symlink', 'link', 'character-device', 'fifo', 'contiguous-file'),
      linkname: hostileName,
      body: fc.string({ maxLength: 30 }),
    }),
    { maxLength: 4 },
  )
  .map(async (entries) => {
    const pack = tarStream.pack();
    const chunks: Buffer[] = [];
    const done = (async () => {
      for await (const c of pack) chunks.push(c as Buffer);
    })();
    for (const e of entries) {
      const data = Buffer.from(e.body);
      const file = e.type === 'file' || e.type === 'contiguous-file';
      const header = { name: e.name || 'x', type: e.type as 'file', linkname: e.linkname, size: file ? data.length : 0 };
      if (file) pack.entry(header, data);
      else pack.entry(header);
    }
    pack.finalize();
    await done;
    return new Uint8Array(Buffer.concat(chunks));
  });

let tars: Uint8Array[];
let ars: Uint8Array[];
let debs: Uint8Array[];
let dir: string;

beforeAll(async () => {
  tars = [await makeTar(files), await makeTar([{ path: 'a', data: 'b' }])];
  ars = [
    makeAr([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'odd', data: Buffer.from('abc') }]),
    // GNU long names ("//" table) and a BSD "#1/len" name.
    arOf([
      ['//', 'long-name-1/\n'],
      ['/0', 'hi'],
      ['#1/4', 'namedata'],
    ]),
  ];
  debs = [
    await makeDeb({ control: { Package: 'hello', Version: '1.0-1', Description: 'hi\n more' }, files, compression: 'none' }),
    await makeDeb({ control: { Package: 'hello', Version: '1.0-1' }, files: files.slice(0, 2), compression: 'gz' }),
  ];
  dir = await mkdtemp(join(tmpdir(), 'whittle-fuzz-deb-'));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('fuzzing the archive readers', () => {
  it(
    'readAr returns members inside the archive, or its own error',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fuzzBytes(ars), structuredAr), async (bytes) => {
          await returnsOrThrowsTyped(() => readAr(bytes, 'fuzz.ar'), ownError('fuzz.ar'), (members) => {
            for (const { member, data } of members) {
              expect(Number.isSafeInteger(member.offset) && Number.isSafeInteger(member.size), JSON.stringify(member)).toBe(true);
              expect(member.size).toBeGreaterThanOrEqual(0);
              expect(member.offset + member.size).toBeLessThanOrEqual(bytes.length);
              expect(data.length).toBe(member.size);
              for (const n of [member.mtime, member.uid, member.gid, member.mode]) expect(Number.isSafeInteger(n), JSON.stringify(member)).toBe(true);
            }
          });
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'readTar returns normalized entries, or its own error',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fuzzBytes(tars), structuredTar), async (made) => {
          const bytes = await made;
          await returnsOrThrowsTyped(() => readTar(bytes, { source: 'fuzz.tar' }), ownError('fuzz.tar'), (entries) => {
            for (const e of entries) {
              expect(e.path.split('/')).not.toContain('..');
              expect(e.path.startsWith('/')).toBe(false);
              if (e.data) expect(e.data.length).toBe(e.size);
            }
          });
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'readDeb returns a package, or an ArchiveError with a hint',
    async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fuzzBytes(debs), async (bytes) => {
          const path = join(dir, `${n++}.deb`);
          await writeFile(path, bytes);
          await returnsOrThrowsTyped(() => readDeb(path), (e) => e instanceof ArchiveError && e.message.includes(path));
          await rm(path);
        }),
        FUZZ,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
