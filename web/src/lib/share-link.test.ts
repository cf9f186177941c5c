import { describe, expect, it } from 'vitest';
import { toBase64Url } from './base64url.ts';
import { imageDigest, imageDigestText } from './image-digest.ts';
import { decodeShare, encodeShare, formatScript, inlineBytes, inlineFile, parseScript, type Share, ShareLinkError } from './share-link.ts';

const DIGEST = 'a'.repeat(64);
const SHARE: Share = {
  images: [{ name: 'shell', digest: DIGEST }],
  script: [
    { send: 'echo hi', expect: 'hi' },
    { send: 'uname -r', expect: '6.1', timeout: 5 },
  ],
  memoryMB: 64,
};

async function deflate(text: string): Promise<string> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return toBase64Url(new Uint8Array(await new Response(stream).arrayBuffer()));
}

async function rejection(p: Promise<unknown>): Promise<ShareLinkError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ShareLinkError);
    return e as ShareLinkError;
  }
  throw new Error('expected a rejection');
}

describe('share links', () => {
  it('round-trips images, script and settings', async () => {
    const data = await encodeShare(SHARE);
    expect(data).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await decodeShare(data)).toEqual(SHARE);
  });

  it('stays short', async () => {
    const two: Share = { ...SHARE, images: [SHARE.images[0], { name: 'debian', digest: 'b'.repeat(64) }] };
    expect((await encodeShare(two)).length).toBeLessThan(250);
  });

  it('keeps a manifest url for images from elsewhere', async () => {
    const s: Share = { images: [{ name: 'mine', digest: DIGEST, url: 'https://example.org/img/manifest.json' }], script: [] };
    expect(await decodeShare(await encodeShare(s))).toEqual(s);
  });

  it('refuses a cut-off or garbled link with a hint', async () => {
    const data = await encodeShare(SHARE);
    const e = await rejection(decodeShare(data.slice(0, data.length - 9)));
    expect(e.message).toMatch(/damaged/);
    expect(e.hint).toMatch(/ask for the link again/);
    expect((await rejection(decodeShare('not*base64'))).message).toMatch(/characters/);
    expect((await rejection(decodeShare(''))).message).toMatch(/empty/);
  });

  it('refuses well-formed data with bad contents', async () => {
    const bad = async (wire: unknown) => (await rejection(decodeShare(await deflate(JSON.stringify(wire))))).message;
    expect(await bad({ v: 1, i: [['shell', 'xyz']], s: [] })).toMatch(/hash of image shell/);
    expect(await bad({ v: 1, i: [], s: [] })).toMatch(/no image/);
    expect(await bad({ v: 1, i: [['Shell!', DIGEST]], s: [] })).toMatch(/image name/);
    expect(await bad({ v: 1, i: [['x', DIGEST, 'javascript:alert(1)']], s: [] })).toMatch(/address/);
    expect(await bad({ v: 1, i: [['x', DIGEST]], s: [['ls', 'x', -1]] })).toMatch(/timeout/);
    expect(await bad({ v: 1, i: [['x', DIGEST]], s: [], m: 1e9 })).toMatch(/memory/);
    expect(await bad({ v: 2, i: [], s: [] })).toMatch(/newer version/);
    expect(await bad([1, 2])).toMatch(/damaged/);
  });

  it('refuses a decompression bomb', async () => {
    const huge = await deflate(JSON.stringify({ v: 1, i: [['x', DIGEST]], s: [[' '.repeat(200_000), 'x']] }));
    expect((await rejection(decodeShare(huge))).message).toMatch(/more data/);
  });
});

describe('demo script text', () => {
  it('reads "> send" lines each followed by the text to expect', () => {
    expect(parseScript('> echo hi\nhi\n\n> ls /\nbin\n')).toEqual([
      { send: 'echo hi', expect: 'hi' },
      { send: 'ls /', expect: 'bin' },
    ]);
    expect(parseScript(formatScript(SHARE.script.map(({ send, expect }) => ({ send, expect }))))).toEqual([
      { send: 'echo hi', expect: 'hi' },
      { send: 'uname -r', expect: '6.1' },
    ]);
  });
});

describe('imageDigest', () => {
  const artifacts = [
    { role: 'kernel', sha256: '1'.repeat(64) },
    { role: 'bios', sha256: '2'.repeat(64) },
  ] as const;
  it('does not depend on artifact order', async () => {
    const a = await imageDigest({ artifacts: [...artifacts] as never });
    const b = await imageDigest({ artifacts: [...artifacts].reverse() as never });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(imageDigestText({ artifacts: [...artifacts] as never })).toBe(`whittle-image-v1\nbios ${'2'.repeat(64)}\nkernel ${'1'.repeat(64)}\n`);
  });
});

describe('share links with files', () => {
  const csv = new TextEncoder().encode('id,name\n1,ada\n2,grace\n');
  const remote = { path: 'data/big.csv', url: 'https://example.org/big.csv', sha256: 'c'.repeat(64), size: 123_456 };

  it('carries small files inline and larger ones by URL, sha256 and size', async () => {
    const s: Share = { ...SHARE, files: [inlineFile('x.csv', csv), remote] };
    const back = await decodeShare(await encodeShare(s));
    expect(back).toEqual(s);
    expect(inlineBytes(back.files![0])).toEqual(csv);
  });

  it('refuses to make a link its files make too long, saying what to do', async () => {
    // xorshift32: bytes deflate cannot shrink, so 20 kB cannot fit in 16,000 characters.
    let x = 2463534242;
    const noise = Uint8Array.from({ length: 20_000 }, () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x & 0xff));
    const e = await rejection(encodeShare({ ...SHARE, files: [inlineFile('noise.bin', noise)] }));
    expect(e.message).toMatch(/more than a share link can/);
    expect(e.hint).toMatch(/by URL and sha256/);
  });

  it('refuses file entries that are unsafe or incomplete, naming the file', async () => {
    const bad = async (f: unknown[]) => (await rejection(decodeShare(await deflate(JSON.stringify({ v: 1, i: [['shell', DIGEST]], s: [], f }))))).message;
    expect(await bad([['../etc/passwd', 'aGk']])).toMatch(/climb out/);
    expect(await bad([['/etc/passwd', 'aGk']])).toMatch(/starts with/);
    expect(await bad([['x', 'not base64!']])).toMatch(/data of file x is not base64url/);
    expect(await bad([['x', 'javascript:alert(1)', 'c'.repeat(64), 3]])).toMatch(/address of file x/);
    expect(await bad([['x', 'https://example.org/x', 'nothex', 3]])).toMatch(/without its sha256/);
    expect(await bad([['x', 'https://example.org/x', 'c'.repeat(64), 2 ** 40]])).toMatch(/larger than the host share/);
    expect(await bad([['x', 'aGk'], ['x', 'aGk']])).toMatch(/names a file twice/);
    expect(await bad([['x']])).toMatch(/file x needs either its data or a URL/);
    expect(await bad([['x', 'a', 'b', 1, 'extra']])).toMatch(/file entry is malformed/);
    expect(await bad(Array.from({ length: 17 }, (_, i) => [`f${i}`, 'aGk']))).toMatch(/more than 16 files/);
  });
});
