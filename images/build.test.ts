// The whole builder pipeline against a fake, signed archive served on 127.0.0.1: reproducible output,
// and tampering (InRelease, Packages.xz, a cached .deb) refused with images/dist left as it was.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flipByte, makeFakeArchive, serveFiles, tempDir, type FakeArchive, type FileServer } from './archive/testkit.ts';
import { appliancePins, bootMethod, build, type BuildOptions } from './build.ts';
import { readCpio } from './cpio.ts';
import { zstdDecompress } from './archive/index.ts';
import type { Manifest } from './manifest.ts';
import type { Recipe } from './recipe.ts';
import { sha256Hex } from './hash.ts';
import { recordExpected, verifyImage } from './verify.ts';

const APPLETS = ['[', '[[', 'cat', 'echo', 'hostname', 'ip', 'ls', 'mkdir', 'mount', 'setsid', 'sh', 'sleep', 'cttyhack'].sort();
const fakeBusybox = `\x7fnot-really-elf busybox\0${APPLETS.join('\0')}\0\0`;

let archive: FakeArchive;
let server: FileServer;
let work: string;

const silent = { stage() {}, info() {}, progress() {} };

async function options(name: string, extra: Partial<BuildOptions> = {}): Promise<BuildOptions> {
  return {
    cacheDir: join(work, 'cache'),
    distDir: join(work, 'dist'),
    recipesDir: join(work, 'recipes'),
    mirror: () => server.url,
    log: silent,
    archiveKeys: [archive.publicKey],
    ...extra,
  };
}

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) out[f] = sha256Hex(readFileSync(join(dir, f)));
  return out;
}

beforeAll(async () => {
  archive = await makeFakeArchive([
    { name: 'busybox-static', version: '1:1.35.0-4', files: [{ path: './bin/busybox', data: fakeBusybox, mode: 0o755 }, { path: './usr/share/doc/busybox-static/copyright', data: 'docs' }] },
    { name: 'app', version: '1.0-1', fields: { Depends: 'libfoo1 (>= 1.0) | libbar, debconf (>= 0.5) | debconf-2.0' }, files: [{ path: './usr/bin/app', data: 'app', mode: 0o755 }, { path: './usr/share/man/man1/app.1.gz', data: 'man' }] },
    { name: 'libfoo1', version: '1.2-1', files: [{ path: './usr/share/foo/data', data: 'foo' }] },
    { name: 'debconf', version: '1.5.82', files: [{ path: './usr/share/debconf/x', data: 'x' }] },
    { name: 'seabios', version: '1.16.2-1', architecture: 'all', files: [{ path: './usr/share/seabios/bios.bin', data: 'B'.repeat(4096) }, { path: './usr/share/seabios/vgabios-stdvga.bin', data: 'V'.repeat(1024) }] },
    { name: 'linux-image-686', version: '6.1.99-1', fields: { Depends: 'linux-image-6.1.0-99-686 (= 6.1.99-1)' } },
    { name: 'linux-image-6.1.0-99-686', version: '6.1.99-1', fields: { Depends: 'kmod, linux-base' }, files: [{ path: './boot/vmlinuz-6.1.0-99-686', data: 'HdrS kernel' }, { path: './boot/config-6.1.0-99-686', data: 'CONFIG_X=y\n' }] },
  ]);
  server = await serveFiles(archive.files);
  work = await tempDir('whittle-build-');
  await mkdir(join(work, 'recipes', 'demo'), { recursive: true });
  await writeFile(
    join(work, 'recipes', 'demo', 'recipe.json'),
    JSON.stringify({
      title: 'Demo',
      description: 'a test appliance',
      app: 'app',
      packages: ['busybox-static', 'app'],
      // The rules pipeline (a traced recipe boots its wide tree: test/boot/trace.test.ts).
      trim: 'rules',
      exclude: ['debconf'],
      init: { console: 'app' },
      readyMarker: 'app> ',
      smoke: [{ send: 'x', expect: 'y' }],
      kernel: { kind: 'stock' },
    }),
  );
});

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('build (fake archive, stock kernel)', () => {
  let first: Manifest;

  it('builds an image with a lock, a trimmed initramfs and a manifest', async () => {
    first = await build('demo', await options('demo'));
    const dir = join(work, 'dist', 'demo');
    expect(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))).toEqual(first);
    expect(first.kind).toBe('appliance');
    expect(first.packages.map((p) => p.name)).toEqual(['app', 'busybox-static', 'libfoo1']);
    const lock = JSON.parse(await readFile(join(work, 'recipes', 'demo', 'lock.json'), 'utf8'));
    expect(lock.rootfs.packages.map((p: { name: string }) => p.name)).toEqual(['app', 'busybox-static', 'libfoo1']);
    expect(lock.boot.packages.map((p: { name: string }) => p.name)).toEqual(['linux-image-6.1.0-99-686', 'seabios']);
    const initrd = first.artifacts.find((a) => a.role === 'initrd')!;
    const raw = initrd.compression === 'zstd' ? await zstdDecompress(readFileSync(join(dir, initrd.file!))) : readFileSync(join(dir, initrd.file!));
    expect(sha256Hex(raw)).toBe(initrd.sha256);
    const paths = readCpio(raw).map((e) => e.path);
    expect(paths).toContain('init');
    expect(paths).toContain('dev/console');
    expect(paths).toContain('bin/sh');
    expect(paths).toContain('usr/bin/app');
    expect(paths.some((p) => p.startsWith('usr/share/man') || p.startsWith('usr/share/doc'))).toBe(false);
    expect(paths).toEqual([...paths].sort());
    // The surface of what was packed: the builder's /etc/passwd, /init and the console wrapper (scripts); the fake busybox is no ELF.
    expect(first.surface).toEqual({ setuid: [], setgid: [], loginAccounts: [{ name: 'root', uid: 0, shell: '/bin/sh' }], executables: 2, sharedLibraries: 0 });
  });

  it('rebuilds from the lock to byte-identical artifacts', async () => {
    const before = hashes(join(work, 'dist', 'demo'));
    await build('demo', await options('demo'));
    expect(hashes(join(work, 'dist', 'demo'))).toEqual(before);
  });

  it('refuses a firmware boot whose memory cannot hold the initrd above 64 MiB, naming the fix', async () => {
    const before = hashes(join(work, 'dist', 'demo'));
    const path = join(work, 'recipes', 'demo', 'recipe.json');
    const recipe = await readFile(path, 'utf8');
    await writeFile(path, JSON.stringify({ ...JSON.parse(recipe), memoryMB: 64 }));
    try {
      await expect(build('demo', await options('demo'))).rejects.toMatchObject({
        message: expect.stringMatching(/64 MiB cannot hold its .* initramfs when booted through firmware/),
        hint: expect.stringMatching(/"memoryMB": 66 or more/),
      });
    } finally {
      await writeFile(path, recipe);
    }
    expect(hashes(join(work, 'dist', 'demo'))).toEqual(before);
  });

  it('refuses a flipped byte in a cached .deb and leaves dist as it was', async () => {
    const before = hashes(join(work, 'dist', 'demo'));
    const sha = JSON.parse(await readFile(join(work, 'recipes', 'demo', 'lock.json'), 'utf8')).rootfs.packages[0].sha256;
    const cached = join(work, 'cache', 'debs', `${sha}.deb`);
    expect(existsSync(cached)).toBe(true);
    const good = await readFile(cached);
    await writeFile(cached, flipByte(good, 200));
    await expect(build('demo', await options('demo'))).rejects.toThrow(/app|sha256|SHA256/i);
    expect(hashes(join(work, 'dist', 'demo'))).toEqual(before);
    expect(readdirSync(join(work, 'dist')).filter((f) => f.startsWith('.'))).toEqual([]);
    await writeFile(cached, good);
  });

  it('refuses a tampered InRelease and a tampered Packages.xz when resolving', async () => {
    const before = hashes(join(work, 'dist', 'demo'));
    const inRelease = 'dists/bookworm/InRelease';
    const packagesXz = 'dists/bookworm/main/binary-i386/Packages.xz';
    const goodRelease = archive.files.get(inRelease)!;
    const text = Buffer.from(goodRelease).toString('latin1');
    archive.files.set(inRelease, flipByte(goodRelease, text.indexOf('Label:') + 7));
    await expect(build('demo', await options('demo', { updateLock: true }))).rejects.toThrow(/signature|InRelease/i);
    archive.files.set(inRelease, goodRelease);
    const goodXz = archive.files.get(packagesXz)!;
    archive.files.set(packagesXz, flipByte(goodXz, 40));
    // A fresh cache, so the tampered index is really downloaded.
    await expect(build('demo', await options('demo', { updateLock: true, cacheDir: join(work, 'cache2') }))).rejects.toThrow(/Packages|SHA256|sha256/);
    archive.files.set(packagesXz, goodXz);
    expect(hashes(join(work, 'dist', 'demo'))).toEqual(before);
  });

  it('fails naming the problem when the lock no longer matches the recipe', async () => {
    const path = join(work, 'recipes', 'demo', 'recipe.json');
    const recipe = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...recipe, packages: ['busybox-static'] }));
    await expect(build('demo', await options('demo'))).rejects.toThrow(/lock of demo was made for other packages/);
    await writeFile(path, JSON.stringify(recipe));
  });
});

describe('verify (fake archive, stock kernel)', () => {
  it('passes against the expected.json recorded from the same build, and names an artifact that differs', async () => {
    const manifest = await build('demo', await options('demo'));
    const path = await recordExpected('demo', manifest, join(work, 'recipes'));
    expect(path).toBe(join(work, 'recipes', 'demo', 'expected.json'));
    const expected = JSON.parse(await readFile(path, 'utf8'));
    expect(expected.toolchain).toEqual([]); // Debian's stock kernel: nothing compiled here
    expect(expected.artifacts.map((a: { role: string }) => a.role)).toEqual(['bios', 'vgabios', 'kernel', 'initrd']);
    const before = hashes(join(work, 'dist', 'demo'));
    expect((await verifyImage('demo', await options('demo'))).kind).toBe('identical');
    const initrd = expected.artifacts[3];
    await writeFile(path, JSON.stringify({ ...expected, artifacts: [...expected.artifacts.slice(0, 3), { ...initrd, sha256: '0'.repeat(64) }] }));
    const verdict = await verifyImage('demo', await options('demo'));
    expect(verdict).toMatchObject({ kind: 'different', artifact: 'initrd' });
    expect(verdict.message).toBe(`demo: initrd (${initrd.file}) differs: it has sha256 ${initrd.sha256}, ${initrd.size} bytes; expected ${'0'.repeat(64)}, ${initrd.size} bytes`);
    // verify builds into a temporary folder: images/dist is left alone.
    expect(hashes(join(work, 'dist', 'demo'))).toEqual(before);
    await rm(path);
    await expect(verifyImage('demo', await options('demo'))).rejects.toThrow(/expected\.json does not exist/);
  });
});

describe('build debian (the twin, through the same pipeline)', () => {
  it('stops at its pins stage when no appliance lock pins seabios, leaving dist alone', async () => {
    await mkdir(join(work, 'no-recipes'), { recursive: true });
    await expect(build('debian', await options('debian', { recipesDir: join(work, 'no-recipes') }))).rejects.toThrow('No appliance lock pins seabios yet');
    expect(readdirSync(join(work, 'dist')).filter((f) => f.includes('debian'))).toEqual([]);
  });
});

describe('appliancePins (the twin\'s versions)', () => {
  it('takes every locked version and seabios, and refuses two locks that disagree', async () => {
    const lockText = await readFile(join(work, 'recipes', 'demo', 'lock.json'), 'utf8');
    const pins = await appliancePins(join(work, 'recipes'));
    expect(pins.pins).toMatchObject({ app: '1.0-1', 'busybox-static': '1:1.35.0-4', seabios: '1.16.2-1' });
    expect(pins.seabios?.name).toBe('seabios');
    await mkdir(join(work, 'recipes', 'other'), { recursive: true });
    await writeFile(join(work, 'recipes', 'other', 'recipe.json'), await readFile(join(work, 'recipes', 'demo', 'recipe.json')));
    await writeFile(join(work, 'recipes', 'other', 'lock.json'), lockText.replace('"version": "1.16.2-1"', '"version": "1.16.3-1"'));
    await expect(appliancePins(join(work, 'recipes'))).rejects.toThrow('The appliance locks disagree on seabios: 1.16.2-1 and 1.16.3-1');
    await rm(join(work, 'recipes', 'other'), { recursive: true });
  });
});

describe('bootMethod', () => {
  const recipe = (kernel: Partial<Recipe['kernel']>) => ({ name: 'r', kernel: { kind: 'tailored' as const, fragments: [], config: [], cmdline: '', ...kernel } });
  it('enters a tailored kernel directly unless the recipe asks for firmware', () => {
    expect(bootMethod(recipe({}))).toBe('direct');
    expect(bootMethod(recipe({ boot: 'firmware' }))).toBe('firmware');
  });
  it("boots Debian's stock kernel through firmware, and refuses to enter it directly", () => {
    expect(bootMethod(recipe({ kind: 'stock' }))).toBe('firmware');
    expect(() => bootMethod(recipe({ kind: 'stock', boot: 'direct' }))).toThrow(/stock kernel boots through firmware only/);
  });
});
