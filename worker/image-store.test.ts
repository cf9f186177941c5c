import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { createStore, set, type UseStore } from 'idb-keyval';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '../images/manifest.ts';
import { storedFiles } from './artifacts.ts';
import { DATABASE, ImageStore, imageStore as store, type SavedStateMeta, storeReader } from './image-store.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const bytes = (s: string) => new TextEncoder().encode(s);

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

async function put(m: Manifest, contents: Record<string, string>): Promise<void> {
  for (const a of m.artifacts) await store.putArtifact(a.sha256, bytes(contents[a.role]));
  expect(await store.completeImage(m)).toEqual([]);
}

const state = (id: string, img: string, createdAt: number): SavedStateMeta => ({ id, image: img, artifacts: [], memoryMB: 128, createdAt, size: 3, rawSize: 9 });

/** Every key in the one database, sorted: what a test expects is all there is. */
async function allKeys(): Promise<string[]> {
  return (await createStore(DATABASE, 'records')('readonly', (s) => new Promise<IDBValidKey[]>((ok) => (s.getAllKeys().onsuccess = (e) => ok((e.target as IDBRequest<IDBValidKey[]>).result))))).map(String).sort();
}

/** Makes the n-th call (from now) of an IDBObjectStore method throw, as a failing write would. */
function failNth(method: 'put' | 'delete', n: number): () => void {
  const original = IDBObjectStore.prototype[method] as (...a: unknown[]) => IDBRequest;
  let calls = 0;
  IDBObjectStore.prototype[method] = function (this: IDBObjectStore, ...args: unknown[]) {
    if (++calls === n) throw new DOMException('Simulated failure', 'UnknownError');
    return original.apply(this, args);
  } as never;
  return () => {
    IDBObjectStore.prototype[method] = original as never;
  };
}

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});
beforeEach(() => store.clearAll());

describe('image store', () => {
  it('keeps artifacts by sha256 and images by name, and tells what is missing', async () => {
    const files = { bios: 'B', kernel: 'K1' };
    const m = image('shell', files);
    expect(await store.missingFiles(m)).toHaveLength(2);
    await put(m, files);
    expect(await store.missingFiles(m)).toEqual([]);
    expect(await store.hasArtifact(sha('K1'))).toBe(true);
    expect(await store.hasArtifact(sha('nope'))).toBe(false);
    expect(new TextDecoder().decode(await store.getArtifact(sha('K1')))).toBe('K1');
    expect(await store.getManifest('shell')).toEqual(m);
    expect((await store.listImages()).map((i) => i.name)).toEqual(['shell']);
    // The machine worker reads through the same store.
    expect(await storeReader.read(storedFiles(m)[1])).toEqual(bytes('K1'));
    // One database, namespaced keys.
    expect(await allKeys()).toEqual([`artifact:${sha('B')}`, `artifact:${sha('K1')}`, 'manifest:shell'].sort());
  });

  it('records an image as stored only when all its files are there', async () => {
    const m = image('shell', { bios: 'B', kernel: 'K1' });
    await store.putArtifact(sha('B'), bytes('B'));
    const missing = await store.completeImage(m);
    expect(missing.map((f) => f.sha256)).toEqual([sha('K1')]);
    expect(await store.listImages()).toEqual([]);
    expect(await store.getManifest('shell')).toBeUndefined();
  });

  it('deletes an image with its saved states, keeping artifacts another image or state uses', async () => {
    const a = image('a', { bios: 'B', kernel: 'KA', initrd: 'IA' });
    const b = image('b', { bios: 'B', kernel: 'KB' });
    await put(a, { bios: 'B', kernel: 'KA', initrd: 'IA' });
    await put(b, { bios: 'B', kernel: 'KB' });
    await store.putState(state('s1', 'a', 1), new Uint8Array([1, 2, 3]));
    // A state of b that was saved while b booted a's initrd (as an imported image may borrow files).
    await store.putState({ ...state('s2', 'b', 2), artifacts: [sha('IA')] }, new Uint8Array([4]));
    await store.deleteImage('a');
    expect(await store.hasArtifact(sha('KA'))).toBe(false);
    expect(await store.hasArtifact(sha('B'))).toBe(true); // b still needs it
    expect(await store.hasArtifact(sha('IA'))).toBe(true); // s2 names it
    expect(await store.getManifest('a')).toBeUndefined();
    expect((await store.listStates()).map((s) => s.id)).toEqual(['s2']);
    expect(await store.getState('s1')).toBeUndefined();
  });

  it('deletes an image all at once or not at all', async () => {
    const a = image('a', { bios: 'B', kernel: 'KA' });
    await put(a, { bios: 'B', kernel: 'KA' });
    await store.putState(state('s1', 'a', 1), new Uint8Array([1]));
    const before = await allKeys();
    restore = failNth('delete', 3);
    await expect(store.deleteImage('a')).rejects.toMatchObject({ code: 'storage' });
    restore();
    expect(await store.getManifest('a')).toEqual(a);
    expect(await store.missingFiles(a)).toEqual([]);
    expect((await store.listStates()).map((s) => s.id)).toEqual(['s1']);
    expect(await allKeys()).toEqual(before);
  });

  it('saves a state and its metadata together, or neither', async () => {
    restore = failNth('put', 2);
    await expect(store.putState(state('s1', 'shell', 1), new Uint8Array([1]))).rejects.toMatchObject({ code: 'storage' });
    restore();
    expect(await store.getState('s1')).toBeUndefined();
    expect(await store.getStateMeta('s1')).toBeUndefined();
    expect(await allKeys()).toEqual([]);
  });

  it('lists saved states newest first, by image, and deletes them', async () => {
    await store.putState(state('old', 'shell', 1), new Uint8Array([1]));
    await store.putState(state('new', 'shell', 5), new Uint8Array([2]));
    await store.putState(state('other', 'sqlite', 3), new Uint8Array([3]));
    expect((await store.listStates()).map((s) => s.id)).toEqual(['new', 'other', 'old']);
    expect((await store.listStates('shell')).map((s) => s.id)).toEqual(['new', 'old']);
    expect(await store.getState('new')).toEqual(new Uint8Array([2]));
    expect(await store.getStateMeta('new')).toMatchObject({ image: 'shell', createdAt: 5 });
    await store.deleteState('new');
    expect((await store.listStates('shell')).map((s) => s.id)).toEqual(['old']);
    expect(await allKeys()).toEqual(['state-meta:old', 'state-meta:other', 'state:old', 'state:other']);
  });

  it('collects artifacts no manifest or state names, and half states, but not while a store is in flight', async () => {
    const m = image('shell', { bios: 'B', kernel: 'K1' });
    await put(m, { bios: 'B', kernel: 'K1' });
    await store.putArtifact(sha('left'), bytes('left')); // a store that died before its manifest
    await store.putState(state('s1', 'shell', 1), new Uint8Array([1]));
    await set('state:half', new Uint8Array([9]), createStore(DATABASE, 'records'));
    let during: number | undefined = -1;
    await store.writing(async () => {
      await store.putArtifact(sha('new'), bytes('new'));
      during = await store.collectOrphans();
    });
    expect(during).toBeUndefined();
    expect(await store.hasArtifact(sha('new'))).toBe(true);
    expect(await store.collectOrphans()).toBe(3);
    expect(await allKeys()).toEqual([`artifact:${sha('B')}`, `artifact:${sha('K1')}`, 'manifest:shell', 'state-meta:s1', 'state:s1'].sort());
  });

  it('collects what a failed store wrote', async () => {
    const m = image('shell', { bios: 'B', kernel: 'K1' });
    const failure = new Error('download failed');
    await expect(
      store.writing(async () => {
        await store.putArtifact(sha('B'), bytes('B'));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await store.missingFiles(m)).toHaveLength(2);
    expect(await allKeys()).toEqual([]);
  });

  it('turns a full quota into a storage error that says what to do', async () => {
    const real = createStore(DATABASE, 'records');
    // A store whose writes fail as a full browser's do: the transaction aborts with QuotaExceededError.
    const full: UseStore = (mode, callback) => (mode === 'readonly' ? real(mode, callback) : Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError')));
    const s = new ImageStore(full);
    const quota = { code: 'storage', message: expect.stringMatching(/storage for this site is full/), hint: expect.stringMatching(/Delete images or saved states .* in the Library, or allow this site more storage/) };
    await expect(s.putArtifact(sha('x'), new Uint8Array(8))).rejects.toMatchObject({ ...quota, message: expect.stringMatching(/^Not enough storage to store artifact/) });
    await expect(s.putState(state('s', 'shell', 1), new Uint8Array(8))).rejects.toMatchObject({ ...quota, message: expect.stringMatching(/^Not enough storage to save the machine state/) });
    await expect(s.completeImage(image('shell', {}))).rejects.toMatchObject(quota);
    expect(await s.listImages()).toEqual([]); // reads still work
  });
});

describe('stores of earlier versions (four databases)', () => {
  /** Writes records as an earlier version did, one database per kind, and closes it (its tab is gone). */
  async function putLegacy(db: string, storeName: string, records: Record<string, unknown>): Promise<void> {
    const open = indexedDB.open(db);
    open.onupgradeneeded = () => open.result.createObjectStore(storeName);
    const conn = await new Promise<IDBDatabase>((ok, fail) => {
      open.onsuccess = () => ok(open.result);
      open.onerror = () => fail(open.error);
    });
    const tx = conn.transaction(storeName, 'readwrite');
    for (const [k, v] of Object.entries(records)) tx.objectStore(storeName).put(v, k);
    await new Promise((ok) => (tx.oncomplete = ok));
    conn.close();
  }

  async function databases(): Promise<string[]> {
    return (await indexedDB.databases()).map((d) => d.name ?? '').sort();
  }

  it('are moved into the one database on first open, then deleted', async () => {
    const shell = image('shell', { bios: 'B', kernel: 'K1' });
    const broken = image('broken', { bios: 'B', kernel: 'GONE' }); // its kernel was evicted
    await putLegacy('whittle-artifacts', 'artifacts', Object.fromEntries(['B', 'K1', 'stray'].map((c) => [sha(c), bytes(c)])));
    await putLegacy('whittle-images', 'images', { shell, broken });
    await putLegacy('whittle-states', 'states', { s1: new Uint8Array([1, 2]) });
    // Earlier versions wrote a state's bytes, then its metadata: "half" lost its bytes.
    await putLegacy('whittle-state-meta', 'meta', { s1: state('s1', 'shell', 1), half: state('half', 'shell', 2) });
    expect(await databases()).toEqual(expect.arrayContaining(['whittle-artifacts', 'whittle-images', 'whittle-state-meta', 'whittle-states']));

    const opened = new ImageStore(); // a new page load
    expect((await opened.listImages()).map((m) => m.name)).toEqual(['shell']);
    expect(await opened.getArtifact(sha('K1'))).toEqual(bytes('K1'));
    expect(await opened.getState('s1')).toEqual(new Uint8Array([1, 2]));
    expect((await opened.listStates()).map((s) => s.id)).toEqual(['s1']);
    expect(await databases()).toEqual([DATABASE]);
    // The broken image's and the stray artifacts are orphans now.
    expect(await opened.collectOrphans()).toBe(1);
    expect(await allKeys()).toEqual([`artifact:${sha('B')}`, `artifact:${sha('K1')}`, 'manifest:shell', 'state-meta:s1', 'state:s1'].sort());
  });

  it('leave nothing behind when there was nothing to move', async () => {
    const opened = new ImageStore();
    expect(await opened.listImages()).toEqual([]);
    expect(await databases()).toEqual([DATABASE]);
  });
});
