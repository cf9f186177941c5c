import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '../images/manifest.ts';
import { storedFiles } from './artifacts.ts';
import {
  clearAll,
  deleteImage,
  deleteState,
  getArtifact,
  getManifest,
  getState,
  hasArtifact,
  listImages,
  listStates,
  missingFiles,
  putArtifact,
  putManifest,
  putState,
  storeReader,
} from './image-store.ts';
import type { SavedStateMeta } from './image-store.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function image(name: string, files: Record<string, string>): Manifest {
  return {
    schema: 1,
    name,
    title: name,
    description: '',
    kind: 'appliance',
    artifacts: Object.entries(files).map(([role, content]) => ({ role, file: `${role}.bin`, sha256: sha(content), size: content.length, compressedSize: content.length, compression: 'none' })) as Manifest['artifacts'],
    memoryMB: 128,
    readyMarker: '# ',
    smoke: [],
    packages: [],
    fileCount: 0,
    rootfsSize: 0,
  };
}

async function store(m: Manifest, contents: Record<string, string>): Promise<void> {
  for (const a of m.artifacts) await putArtifact(a.sha256, new TextEncoder().encode(contents[a.role]));
  await putManifest(m);
}

const state = (id: string, img: string, createdAt: number): SavedStateMeta => ({ id, image: img, artifacts: [], memoryMB: 128, createdAt, size: 3, rawSize: 9 });

beforeEach(() => clearAll());

describe('image store', () => {
  it('keeps artifacts by sha256 and images by name, and tells what is missing', async () => {
    const files = { bios: 'B', kernel: 'K1' };
    const m = image('shell', files);
    expect(await missingFiles(m)).toHaveLength(2);
    await store(m, files);
    expect(await missingFiles(m)).toEqual([]);
    expect(await hasArtifact(sha('K1'))).toBe(true);
    expect(await hasArtifact(sha('nope'))).toBe(false);
    expect(new TextDecoder().decode(await getArtifact(sha('K1')))).toBe('K1');
    expect(await getManifest('shell')).toEqual(m);
    expect((await listImages()).map((i) => i.name)).toEqual(['shell']);
    // The machine worker reads through the same store.
    expect(await storeReader.read(storedFiles(m)[1])).toEqual(new TextEncoder().encode('K1'));
  });

  it('deletes an image with its saved states, keeping artifacts another image shares', async () => {
    const a = image('a', { bios: 'B', kernel: 'KA' });
    const b = image('b', { bios: 'B', kernel: 'KB' });
    await store(a, { bios: 'B', kernel: 'KA' });
    await store(b, { bios: 'B', kernel: 'KB' });
    await putState(state('s1', 'a', 1), new Uint8Array([1, 2, 3]));
    await putState(state('s2', 'b', 2), new Uint8Array([4]));
    await deleteImage('a');
    expect(await hasArtifact(sha('KA'))).toBe(false);
    expect(await hasArtifact(sha('B'))).toBe(true); // b still needs it
    expect(await getManifest('a')).toBeUndefined();
    expect((await listStates()).map((s) => s.id)).toEqual(['s2']);
    expect(await getState('s1')).toBeUndefined();
  });

  it('lists saved states newest first, by image, and deletes them', async () => {
    await putState(state('old', 'shell', 1), new Uint8Array([1]));
    await putState(state('new', 'shell', 5), new Uint8Array([2]));
    await putState(state('other', 'sqlite', 3), new Uint8Array([3]));
    expect((await listStates()).map((s) => s.id)).toEqual(['new', 'other', 'old']);
    expect((await listStates('shell')).map((s) => s.id)).toEqual(['new', 'old']);
    expect(await getState('new')).toEqual(new Uint8Array([2]));
    await deleteState('new');
    expect((await listStates('shell')).map((s) => s.id)).toEqual(['old']);
  });

  it('turns a full quota into a storage error with a hint', async () => {
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function () {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
    try {
      await expect(putArtifact(sha('x'), new Uint8Array(8))).rejects.toMatchObject({ code: 'storage', message: expect.stringContaining('quota'), hint: expect.stringContaining('delete') });
    } finally {
      IDBObjectStore.prototype.put = put;
    }
  });
});
