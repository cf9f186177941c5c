// The browser's content-addressed image store (IndexedDB via idb-keyval): artifacts keyed by the
// sha256 of their raw bytes, image manifests by name, saved machine states with small metadata.
// The page writes it (library, import); the machine worker reads it. No DOM: works in both.

import { clear, createStore, del, delMany, get, keys, promisifyRequest, set, values } from 'idb-keyval';
import type { UseStore } from 'idb-keyval';
import type { Manifest } from '../images/manifest.ts';
import type { ArtifactReader, StoredFile } from './artifacts.ts';
import { storedFiles } from './artifacts.ts';
import { MachineFailure } from './errors.ts';

/** What is known about a saved state without reading its bytes. */
export interface SavedStateMeta {
  id: string;
  /** Image name and the sha256 of each of its artifacts: the state restores only on these. */
  image: string;
  artifacts: string[];
  memoryMB: number;
  label?: string;
  /** ms since the epoch. */
  createdAt: number;
  /** Compressed bytes stored. */
  size: number;
  /** Bytes before compression. */
  rawSize: number;
}

export interface StorageUsage {
  /** Bytes this origin uses (all storage, as the browser estimates it). */
  usage: number;
  quota: number;
  /** Whether the browser promised not to evict this origin's data. */
  persisted: boolean;
}

// idb-keyval opens one object store per database, so each kind of record gets its own database.
let stores: { artifacts: UseStore; images: UseStore; states: UseStore; stateMeta: UseStore } | undefined;

function db() {
  if (typeof indexedDB === 'undefined') {
    throw new MachineFailure('storage', 'This environment has no IndexedDB, so images cannot be stored here.', 'Use a current browser; in Node, boot images from a directory.');
  }
  stores ??= {
    artifacts: createStore('whittle-artifacts', 'artifacts'),
    images: createStore('whittle-images', 'images'),
    states: createStore('whittle-states', 'states'),
    stateMeta: createStore('whittle-state-meta', 'meta'),
  };
  return stores;
}

const QUOTA_HINT = 'Free space: delete images or saved states you no longer need, or allow this site persistent storage in the browser.';

/** Runs an IndexedDB operation, turning its failures into `storage` errors a user can act on. */
async function guarded<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof MachineFailure) throw e;
    const name = (e as { name?: string })?.name ?? '';
    if (name === 'QuotaExceededError' || /quota/i.test(String((e as Error)?.message))) {
      throw new MachineFailure('storage', `Not enough storage to ${what}: the browser's quota for this site is full.`, QUOTA_HINT, { cause: e });
    }
    throw new MachineFailure('storage', `Could not ${what}: ${(e as Error)?.message ?? String(e)}`, 'Reload the page; if it persists, clear this site\'s storage in the browser settings.', { cause: e });
  }
}

async function asBytes(v: unknown): Promise<Uint8Array | undefined> {
  if (v === undefined) return undefined;
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (typeof Blob !== 'undefined' && v instanceof Blob) return new Uint8Array(await v.arrayBuffer());
  throw new MachineFailure('storage', 'A stored artifact has an unexpected format.', 'Delete the image and store it again.');
}

// ---- artifacts ----

/** Stores one artifact (or chunk) as served — maybe compressed — under the sha256 of its raw bytes. */
export function putArtifact(sha256: string, bytes: Uint8Array | Blob): Promise<void> {
  return guarded(`store artifact ${sha256.slice(0, 12)}…`, () => set(sha256, bytes, db().artifacts));
}

export async function hasArtifact(sha256: string): Promise<boolean> {
  return guarded('read the image store', async () => (await db().artifacts('readonly', (s) => promisifyRequest(s.count(sha256)))) > 0);
}

export function getArtifact(sha256: string): Promise<Uint8Array | undefined> {
  return guarded(`read artifact ${sha256.slice(0, 12)}…`, async () => asBytes(await get(sha256, db().artifacts)));
}

/** Which of an image's stored files are missing (empty when the image is ready to boot offline). */
export async function missingFiles(m: Manifest): Promise<StoredFile[]> {
  const have = new Set(await guarded('read the image store', () => keys<string>(db().artifacts)));
  return storedFiles(m).filter((f) => !have.has(f.sha256));
}

// ---- images ----

export function putManifest(m: Manifest): Promise<void> {
  return guarded(`store image ${m.name}`, () => set(m.name, m, db().images));
}

export function getManifest(name: string): Promise<Manifest | undefined> {
  return guarded(`read image ${name}`, () => get<Manifest>(name, db().images));
}

export function listImages(): Promise<Manifest[]> {
  return guarded('list stored images', () => values<Manifest>(db().images));
}

/**
 * Deletes an image: its manifest, its saved states, and every artifact no other stored image uses.
 */
export async function deleteImage(name: string): Promise<void> {
  await guarded(`delete image ${name}`, async () => {
    const all = await values<Manifest>(db().images);
    const target = all.find((m) => m.name === name);
    if (!target) return;
    const keep = new Set(all.filter((m) => m.name !== name).flatMap((m) => storedFiles(m).map((f) => f.sha256)));
    await delMany(storedFiles(target).map((f) => f.sha256).filter((sha) => !keep.has(sha)), db().artifacts);
    for (const s of await listStates()) if (s.image === name) await deleteState(s.id);
    await del(name, db().images);
  });
}

// ---- saved states ----

export async function putState(meta: SavedStateMeta, bytes: Uint8Array): Promise<void> {
  await guarded('save the machine state', async () => {
    await set(meta.id, bytes, db().states);
    await set(meta.id, meta, db().stateMeta);
  });
}

export function getState(id: string): Promise<Uint8Array | undefined> {
  return guarded('read a saved state', async () => asBytes(await get(id, db().states)));
}

export function getStateMeta(id: string): Promise<SavedStateMeta | undefined> {
  return guarded('read a saved state', () => get<SavedStateMeta>(id, db().stateMeta));
}

/** Saved states, newest first; `image` filters by image name. */
export async function listStates(image?: string): Promise<SavedStateMeta[]> {
  const all = await guarded('list saved states', () => values<SavedStateMeta>(db().stateMeta));
  return all.filter((s) => image === undefined || s.image === image).sort((a, b) => b.createdAt - a.createdAt);
}

export async function deleteState(id: string): Promise<void> {
  await guarded('delete a saved state', async () => {
    await del(id, db().states);
    await del(id, db().stateMeta);
  });
}

// ---- the origin's storage ----

export async function usage(): Promise<StorageUsage> {
  const storage = typeof navigator !== 'undefined' ? navigator.storage : undefined;
  if (!storage?.estimate) return { usage: 0, quota: 0, persisted: false };
  const [est, persisted] = await Promise.all([storage.estimate(), storage.persisted?.() ?? Promise.resolve(false)]);
  return { usage: est.usage ?? 0, quota: est.quota ?? 0, persisted };
}

/** Asks the browser not to evict stored images under storage pressure; returns whether it agreed. */
export async function requestPersistence(): Promise<boolean> {
  // persist() exists in windows only (not in workers): the page calls this.
  const storage = (typeof navigator !== 'undefined' ? navigator.storage : undefined) as (StorageManager & { persist?: () => Promise<boolean> }) | undefined;
  return (await storage?.persist?.()) ?? false;
}

/** Deletes everything Whittle stored in this browser. */
export async function clearAll(): Promise<void> {
  await guarded('clear the image store', async () => {
    const s = db();
    await Promise.all([clear(s.artifacts), clear(s.images), clear(s.states), clear(s.stateMeta)]);
  });
}

/** The machine worker's reader for images stored in this browser. */
export const storeReader: ArtifactReader = {
  where: "this browser's image store",
  missingHint: 'Store the image again from the library (it was deleted, or the browser evicted it).',
  async read(f) {
    return (await getArtifact(f.sha256)) ?? null;
  },
};
