// The manifest schema as the page meets a manifest from another site: everything it names is refused
// unless it is what this build knows how to read, with the path of the bad field in the message.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Manifest, ManifestError, MAX_ARTIFACT_BYTES, MAX_PACKAGES, MAX_STEPS, validateManifest } from './manifest.ts';

const sha = (c: string) => c.repeat(64);

const good: Manifest = {
  schema: 1,
  name: 'shell',
  title: 'Busybox shell',
  description: 'test',
  kind: 'appliance',
  artifacts: [
    { role: 'bios', file: 'bios.bin.zst', sha256: sha('a'), size: 131072, compressedSize: 70254, compression: 'zstd' },
    { role: 'kernel', file: 'bzImage.zst', sha256: sha('b'), size: 1053184, compressedSize: 939147, compression: 'zstd' },
    { role: 'disk', sha256: sha('c'), size: 3 << 20, compressedSize: 4096, compression: 'zstd', chunkSize: 1 << 20, chunks: [sha('d'), sha('e'), sha('d')] },
  ],
  cmdline: 'console=ttyS0 quiet',
  memoryMB: 128,
  readyMarker: 'shell:~# ',
  smoke: [{ send: 'echo $((6*7))', expect: '42' }],
  packages: [{ name: 'busybox-static', version: '1:1.35.0-4+b3', size: 1000, share: 0.5, files: 3 }],
  fileCount: 281,
  rootfsSize: 2000,
  kernel: { source: 'linux-source-6.1', version: '6.1.176', configHash: sha('f'), config: 'kernel.config', stock: false },
  inspect: { files: 'files.json', builderFiles: 4 },
};

/** `good` with one artifact (by index) changed. */
const withArtifact = (i: number, change: Record<string, unknown>) => ({ ...good, artifacts: good.artifacts.map((a, j) => (j === i ? { ...a, ...change } : a)) });

function refusal(value: unknown): string {
  try {
    validateManifest(value);
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(value).slice(0, 200)}`);
}

describe('validateManifest', () => {
  it('accepts a well-formed manifest and returns its data', () => {
    expect(validateManifest(structuredClone(good))).toEqual(good);
  });

  it('accepts every manifest the builder wrote to images/dist', () => {
    const dist = join(import.meta.dirname, 'dist');
    const names = existsSync(dist) ? readdirSync(dist).filter((n) => existsSync(join(dist, n, 'manifest.json'))) : [];
    for (const n of names) validateManifest(JSON.parse(readFileSync(join(dist, n, 'manifest.json'), 'utf8')));
  });

  it('refuses unknown artifact roles, compressions and fields instead of dropping them', () => {
    expect(refusal(withArtifact(0, { role: 'firmware' }))).toMatch(/artifacts\.0\.role: must be one of bios, vgabios, kernel, vmlinux, initrd, disk, cdrom/);
    expect(refusal(withArtifact(1, { compression: 'gzip' }))).toMatch(/artifacts\.1\.compression: must be "none" or "zstd"/);
    expect(refusal(withArtifact(1, { url: 'https://elsewhere.example/bzImage' }))).toMatch(/artifacts\.1\.url: is not a known field/);
    expect(refusal({ ...good, kind: 'container' })).toMatch(/kind: must be/);
    expect(refusal({ ...good, artifacts: [...good.artifacts, good.artifacts[1]] })).toMatch(/a role appears twice/);
  });

  it('refuses artifact paths that leave the image folder or name another site', () => {
    for (const file of ['../secret', 'a/../../b', '/etc/passwd', 'a\\..\\b', 'https://evil.example/x', '//evil.example/x', 'C:x', '%2e%2e/x', 'a/%2E./b', 'a//b', './x', 'a\nb', '', 'x?y', '#x', ' x', 'x ']) {
      expect(refusal(withArtifact(0, { file })), file).toMatch(/artifacts\.0\.file: must be a relative path/);
    }
    expect(refusal({ ...good, kernel: { ...good.kernel, config: '../../.ssh/id_rsa' } })).toMatch(/kernel\.config: must be a relative path/);
    // An imported file keeps its own name where that cannot leave the folder.
    for (const file of ['disk 1 (copy).img', 'chunks/a:b', '..hidden', 'a b']) expect(validateManifest(withArtifact(0, { file })).artifacts[0].file).toBe(file);
    expect(refusal({ ...good, inspect: { files: '/etc/shadow' } })).toMatch(/inspect\.files: must be a relative path/);
  });

  it('refuses negative, fractional and absurd sizes and counts', () => {
    expect(refusal(withArtifact(0, { size: -1 }))).toMatch(/artifacts\.0\.size: must be a byte count, not negative/);
    expect(refusal(withArtifact(0, { size: 1.5 }))).toMatch(/artifacts\.0\.size: must be a whole byte count/);
    expect(refusal(withArtifact(0, { size: MAX_ARTIFACT_BYTES + 1 }))).toMatch(/artifacts\.0\.size: must be at most/);
    expect(refusal(withArtifact(0, { compressedSize: Infinity }))).toMatch(/artifacts\.0\.compressedSize/);
    expect(refusal(withArtifact(0, { size: '10' }))).toMatch(/artifacts\.0\.size: must be a byte count/);
    expect(refusal({ ...good, fileCount: -3 })).toMatch(/fileCount/);
    expect(refusal({ ...good, rootfsSize: 2 ** 60 })).toMatch(/rootfsSize: must be at most/);
    expect(refusal({ ...good, packages: [{ ...good.packages[0], share: 7 }] })).toMatch(/packages\.0\.share/);
    expect(refusal({ ...good, packages: new Array(MAX_PACKAGES + 1).fill(good.packages[0]) })).toMatch(/more than 100000 packages/);
    expect(refusal({ ...good, smoke: new Array(MAX_STEPS + 1).fill(good.smoke[0]) })).toMatch(/smoke: must have at most 100 steps/);
    expect(refusal({ ...good, smoke: [{ send: 'x', expect: 'y', timeout: 1e9 }] })).toMatch(/smoke\.0\.timeout: must be at most 3600 seconds/);
  });

  it('refuses chunk lists that do not fit the artifact', () => {
    expect(refusal(withArtifact(2, { chunks: [sha('d')] }))).toMatch(/artifacts\.2: has 1 chunks, but 3145728 bytes in chunks of 1048576 make 3/);
    expect(refusal(withArtifact(2, { chunkSize: 0 }))).toMatch(/artifacts\.2\.chunkSize/);
    expect(refusal(withArtifact(2, { chunkSize: 1000 }))).toMatch(/chunkSize: must be a multiple of 512/);
    expect(refusal(withArtifact(2, { chunkSize: 2 ** 30 }))).toMatch(/chunkSize: must be at most/);
    expect(refusal(withArtifact(2, { chunkSize: undefined }))).toMatch(/needs both chunkSize and chunks/);
    expect(refusal(withArtifact(2, { chunks: [sha('d'), 'zz', sha('d')] }))).toMatch(/artifacts\.2\.chunks\.1: must be a sha256/);
  });

  it('refuses bad sha256 strings and absurd memory', () => {
    for (const bad of [sha('A'), 'a'.repeat(63), `${sha('a')}\n`, 42]) expect(refusal(withArtifact(1, { sha256: bad }))).toMatch(/artifacts\.1\.sha256: must be a sha256/);
    expect(refusal({ ...good, lockHash: 'x' })).toMatch(/lockHash: must be a sha256/);
    for (const memoryMB of [8, 1e6, 64.5]) expect(refusal({ ...good, memoryMB })).toMatch(/memoryMB: must be/);
  });

  it('refuses what cannot boot, other schemas and non-objects', () => {
    expect(refusal({ ...good, artifacts: [good.artifacts[0]] })).toMatch(/nothing to boot/);
    expect(refusal({ ...good, artifacts: [] })).toMatch(/artifacts: no artifacts/);
    expect(refusal({ ...good, schema: 2 })).toMatch(/schema: is 2 \(this build reads 1\)/);
    expect(refusal({ ...good, name: '../x' })).toMatch(/name: must be 1–64 lowercase/);
    expect(refusal({ ...good, title: undefined })).toMatch(/title: is required/);
    for (const x of [null, 42, 'manifest', []]) refusal(x);
    // Found by schemas.fuzz.test.ts: the old hand-written check threw a TypeError here, not a ManifestError.
    for (const artifacts of [[null], [7], [[]]]) expect(refusal({ ...good, artifacts })).toMatch(/artifacts\.0/);
  });
});
