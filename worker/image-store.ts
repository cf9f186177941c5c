// The browser's content-addressed image store (IndexedDB via idb-keyval): artifacts keyed by the
// sha256 of their raw bytes, image manifests by name, saved machine states with small metadata.
// The page writes it (library, import); the machine worker reads it. No DOM: works in both.
//
// One database, one object store, namespaced keys (`artifact:<sha256>`, `manifest:<name>`,
// `partial:<name>`, `state:<id>`, `state-meta:<id>`), so every change that must land whole is one
// transaction: a state with its metadata, an image's deletion, and an image's manifest — written last,
// in the transaction that checks all its files are there, as the record that the image is complete.
// A `partial:` manifest is an image streamed from the network whose files are kept as they are read
// (keepingReader): it keeps those files from being collected, and never counts as stored.

import { createStore, promisifyRequest, setMany } from 'idb-keyval';
import type { UseStore } from 'idb-keyval';
import type { Manifest } from '../images/manifest.ts';
import type { ArtifactReader, StoredFile } from './artifacts.ts';
import { storedFiles } from './artifacts.ts';
import { MachineFailure, toMachineError } from './errors.ts';
import type { MachineError } from './protocol.ts';

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

export const DATABASE = 'whittle';
export const OBJECT_STORE = 'records';

const ARTIFACT = 'artifact:';
const MANIFEST = 'manifest:';
const PARTIAL = 'partial:';
const STATE = 'state:';
const STATE_META = 'state-meta:';

/** Every key with a prefix (keys are strings; U+FFFF sorts after any character a key holds). */
const prefixed = (prefix: string) => IDBKeyRange.bound(prefix, `${prefix}\uffff`);

const QUOTA_HINT = "Delete images or saved states you no longer need in the Library, or allow this site more storage (the browser's site settings; persistent storage also protects it from eviction).";

/** Runs an IndexedDB operation, turning its failures into `storage` errors a user can act on. */
async function guarded<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof MachineFailure) throw e;
    // By name, or by the legacy DOMException code 22 (QUOTA_EXCEEDED_ERR) older engines set: never by the message text.
    const name = (e as { name?: string })?.name ?? '';
    if (name === 'QuotaExceededError' || (e instanceof DOMException && e.code === DOMException.QUOTA_EXCEEDED_ERR)) {
      throw new MachineFailure('storage', `Not enough storage to ${what}: the browser's storage for this site is full.`, QUOTA_HINT, { cause: e });
    }
    throw new MachineFailure('storage', `Could not ${what}: ${(e as Error)?.message ?? String(e)}`, "Reload the page; if it persists, clear this site's storage in the browser settings.", { cause: e });
  }
}

async function asBytes(v: unknown): Promise<Uint8Array | undefined> {
  if (v === undefined) return undefined;
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (typeof Blob !== 'undefined' && v instanceof Blob) return new Uint8Array(await v.arrayBuffer());
  throw new MachineFailure('storage', 'A stored artifact has an unexpected format.', 'Delete the image and store it again.');
}

const unique = (files: readonly StoredFile[]) => [...new Map(files.map((f) => [f.sha256, f])).values()];

/** The image's files not in the store, read inside the transaction `s` belongs to. */
async function missingIn(s: IDBObjectStore, m: Manifest): Promise<StoredFile[]> {
  const have = new Set(await promisifyRequest(s.getAllKeys(prefixed(ARTIFACT))));
  return unique(storedFiles(m)).filter((f) => !have.has(ARTIFACT + f.sha256));
}

// ---- coordination between the page's tabs and workers ----
// Stores hold a shared lock for their whole run; collecting orphans needs it exclusively and skips when
// a store is in flight (its artifacts have no manifest yet, by design). A killed tab's locks are released
// by the browser, so a store that died never blocks collection. The Web Locks API exists in windows and
// workers; where it does not (Node, in tests) one JavaScript realm is all there is, and a count does.

const LOCK = 'whittle-image-store';
let localWriters = 0;

function locks(): LockManager | undefined {
  return typeof navigator !== 'undefined' ? navigator.locks : undefined;
}

async function shared<T>(fn: () => Promise<T>): Promise<T> {
  const l = locks();
  if (l) return l.request(LOCK, { mode: 'shared' }, fn);
  localWriters++;
  try {
    return await fn();
  } finally {
    localWriters--;
  }
}

/** Runs `fn` holding the store exclusively; `ifAvailable`: skips it (undefined) when anyone holds it. */
async function exclusive<T>(ifAvailable: boolean, fn: () => Promise<T>): Promise<T | undefined> {
  const l = locks();
  if (l) return l.request(LOCK, { mode: 'exclusive', ifAvailable }, (lock) => (lock ? fn() : undefined));
  if (ifAvailable && localWriters > 0) return undefined;
  return fn();
}

// ---- the four databases of earlier versions, moved into the one on first open ----

const LEGACY = {
  artifacts: { db: 'whittle-artifacts', store: 'artifacts' },
  images: { db: 'whittle-images', store: 'images' },
  states: { db: 'whittle-states', store: 'states' },
  stateMeta: { db: 'whittle-state-meta', store: 'meta' },
} as const;

/**
 * An open waits behind a pending deletion, and a deletion waits until every connection closes; a tab
 * still running an earlier version keeps its databases open for good. So a legacy database that does not
 * open within this long counts as absent (deleting is the move's last step: its records were moved);
 * were it merely slow, the move runs on the next open.
 */
const LEGACY_OPEN_MS = 3000;

/** Opens a database only if it exists: opening creates it, unless the upgrade is aborted. */
function openIfExists(name: string): Promise<IDBDatabase | undefined> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name);
    let absent = false;
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      resolve(undefined);
    }, LEGACY_OPEN_MS);
    req.addEventListener('success', () => {
      clearTimeout(timer);
      if (late) req.result.close();
    });
    req.addEventListener('error', () => clearTimeout(timer));
    req.onupgradeneeded = (e) => {
      if (e.oldVersion !== 0) return;
      absent = true;
      req.transaction?.abort();
    };
    req.onsuccess = () => {
      // Another tab deleting it after moving it: let go, so the deletion is not blocked.
      req.result.onversionchange = () => req.result.close();
      resolve(req.result);
    };
    req.onerror = (e) => {
      if (!absent) return reject(req.error);
      e.preventDefault();
      resolve(undefined);
    };
  });
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    // Someone (an old tab) still has it open: the deletion completes when they close it.
    req.onblocked = () => resolve();
    req.onerror = () => reject(req.error);
  });
}

async function openLegacy(): Promise<Record<keyof typeof LEGACY, IDBDatabase | undefined>> {
  const [artifacts, images, states, stateMeta] = await Promise.all([LEGACY.artifacts, LEGACY.images, LEGACY.states, LEGACY.stateMeta].map((l) => openIfExists(l.db)));
  return { artifacts, images, states, stateMeta };
}

/** One request in its own transaction on a legacy database. */
function legacy<T>(db: IDBDatabase, store: string, mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return promisifyRequest(op(db.transaction(store, mode).objectStore(store)));
}

/** Artifacts moved per transaction: bounds memory (a chunk is 1–4 MB, a whole artifact a few MB). */
const MOVE_BATCH = 16;

/**
 * The content-addressed store. `use` is idb-keyval's store callback; the default opens this origin's
 * one database (tests pass their own, e.g. one that fails).
 */
export class ImageStore {
  #use: UseStore | undefined;
  #ready: Promise<void> | undefined;

  constructor(use?: UseStore) {
    this.#use = use;
  }

  /** The store, once records of earlier versions have been moved into it. */
  async #store(): Promise<UseStore> {
    if (typeof indexedDB === 'undefined') {
      throw new MachineFailure('storage', 'This environment has no IndexedDB, so images cannot be stored here.', 'Use a current browser; in Node, boot images from a directory.');
    }
    this.#use ??= createStore(DATABASE, OBJECT_STORE);
    this.#ready ??= guarded('move images stored by an earlier version of Whittle', () => this.#migrate(this.#use!)).then(
      () => undefined,
      (e: unknown) => {
        this.#ready = undefined; // try again on the next use
        throw e;
      },
    );
    await this.#ready;
    return this.#use;
  }

  /**
   * Moves the four databases of earlier versions into this one, then deletes them. Restartable: each
   * batch is written here before it is deleted there, and manifests move last, only when complete.
   * Holds the store exclusively only when there is something to move, so an ordinary open never waits
   * for a store in flight.
   */
  async #migrate(use: UseStore): Promise<void> {
    const probe = await openLegacy();
    for (const db of Object.values(probe)) db?.close();
    if (Object.values(probe).some(Boolean)) await exclusive(false, () => this.#move(use));
  }

  async #move(use: UseStore): Promise<void> {
    const open = await openLegacy(); // again: another tab may have moved them while this one waited
    const found = (Object.keys(open) as (keyof typeof open)[]).filter((k) => open[k]);
    if (found.length === 0) return;
    const has = (k: keyof typeof LEGACY) => open[k]?.objectStoreNames.contains(LEGACY[k].store) ?? false;
    if (has('artifacts')) {
      const db = open.artifacts!;
      const { store } = LEGACY.artifacts;
      const keys = await legacy(db, store, 'readonly', (s) => s.getAllKeys());
      for (let i = 0; i < keys.length; i += MOVE_BATCH) {
        const batch = keys.slice(i, i + MOVE_BATCH);
        const tx = db.transaction(store, 'readonly').objectStore(store);
        const values = await Promise.all(batch.map((k) => promisifyRequest(tx.get(k))));
        await setMany(batch.map((k, j) => [ARTIFACT + String(k), values[j]]), use);
        // Deleted as moved, so moving never needs twice the space.
        const del = db.transaction(store, 'readwrite');
        for (const k of batch) del.objectStore(store).delete(k);
        await promisifyRequest(del);
      }
    }
    if (has('stateMeta')) {
      const metaDb = open.stateMeta!;
      const metas = await legacy<SavedStateMeta[]>(metaDb, LEGACY.stateMeta.store, 'readonly', (s) => s.getAll());
      for (const meta of metas) {
        const bytes = has('states') ? await legacy(open.states!, LEGACY.states.store, 'readonly', (s) => s.get(meta.id)) : undefined;
        // Earlier versions wrote a state and its metadata one after the other: keep only whole pairs.
        if (bytes !== undefined) await setMany([[STATE + meta.id, bytes], [STATE_META + meta.id, meta]], use);
      }
    }
    if (has('images')) {
      const manifests = await legacy<Manifest[]>(open.images!, LEGACY.images.store, 'readonly', (s) => s.getAll());
      await use('readwrite', async (s) => {
        for (const m of manifests) {
          // A manifest now means a complete image; an incomplete one (evicted, half deleted) is dropped
          // and its artifacts are collected as orphans.
          if ((await missingIn(s, m)).length === 0) s.put(m, MANIFEST + m.name);
          else console.warn(`image store: not moving ${m.name}, some of its files are gone; store it again.`);
        }
        return promisifyRequest(s.transaction);
      });
    }
    for (const k of found) {
      open[k]!.close();
      await deleteDatabase(LEGACY[k].db);
    }
  }

  /**
   * One transaction. If `fn` throws after issuing some requests, the transaction is aborted, so none of
   * them land (left alone, IndexedDB would commit the requests already made).
   */
  async #op<T>(what: string, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => T | PromiseLike<T>): Promise<T> {
    return guarded(what, async () =>
      (await this.#store())(mode, async (s) => {
        try {
          return await fn(s);
        } catch (e) {
          try {
            s.transaction.abort();
          } catch {
            // already finished or aborted
          }
          throw e;
        }
      }),
    );
  }

  // ---- artifacts ----

  /** Stores one artifact (or chunk) as served — maybe compressed — under the sha256 of its raw bytes. */
  putArtifact(sha256: string, bytes: Uint8Array | Blob): Promise<void> {
    return this.#op(`store artifact ${sha256.slice(0, 12)}…`, 'readwrite', (s) => {
      s.put(bytes, ARTIFACT + sha256);
      return promisifyRequest(s.transaction);
    });
  }

  async hasArtifact(sha256: string): Promise<boolean> {
    return (await this.#op('read the image store', 'readonly', (s) => promisifyRequest(s.count(ARTIFACT + sha256)))) > 0;
  }

  async getArtifact(sha256: string): Promise<Uint8Array | undefined> {
    return asBytes(await this.#op(`read artifact ${sha256.slice(0, 12)}…`, 'readonly', (s) => promisifyRequest(s.get(ARTIFACT + sha256))));
  }

  /** Which of an image's stored files are missing (empty when the image is ready to boot offline). */
  missingFiles(m: Manifest): Promise<StoredFile[]> {
    return this.#op('read the image store', 'readonly', (s) => missingIn(s, m));
  }

  // ---- images ----

  /**
   * Records an image as stored: writes its manifest in the transaction that checks every file it names
   * is in the store. Returns the files still missing — then nothing was written.
   */
  completeImage(m: Manifest): Promise<StoredFile[]> {
    return this.#op(`store image ${m.name}`, 'readwrite', async (s) => {
      const missing = await missingIn(s, m);
      if (missing.length === 0) {
        s.put(m, MANIFEST + m.name);
        s.delete(PARTIAL + m.name); // complete now: its kept files are the image's
      }
      await promisifyRequest(s.transaction);
      return missing;
    });
  }

  getManifest(name: string): Promise<Manifest | undefined> {
    return this.#op(`read image ${name}`, 'readonly', (s) => promisifyRequest<Manifest | undefined>(s.get(MANIFEST + name)));
  }

  /** The images stored completely in this browser. */
  listImages(): Promise<Manifest[]> {
    return this.#op('list stored images', 'readonly', (s) => promisifyRequest<Manifest[]>(s.getAll(prefixed(MANIFEST))));
  }

  /**
   * Records that files of `m` are about to be kept as a boot streams them (written before the first
   * one, so collecting orphans leaves them alone). Replaces an earlier build's record of that name.
   */
  keepPartial(m: Manifest): Promise<void> {
    return this.#op(`keep files of ${m.name}`, 'readwrite', (s) => {
      s.put(m, PARTIAL + m.name);
      return promisifyRequest(s.transaction);
    });
  }

  /** Images streamed with their files kept as read (`keepPartial`): some of their files may be here, never as a stored image. */
  listPartial(): Promise<Manifest[]> {
    return this.#op('list partly kept images', 'readonly', (s) => promisifyRequest<Manifest[]>(s.getAll(prefixed(PARTIAL))));
  }

  /**
   * Deletes an image in one transaction: its manifest, the files kept of it while streaming, its saved
   * states, and every artifact no other stored or kept image or saved state uses.
   */
  deleteImage(name: string): Promise<void> {
    return this.#op(`delete image ${name}`, 'readwrite', async (s) => {
      const manifests = await promisifyRequest<Manifest[]>(s.getAll(prefixed(MANIFEST)));
      const partials = await promisifyRequest<Manifest[]>(s.getAll(prefixed(PARTIAL)));
      const metas = await promisifyRequest<SavedStateMeta[]>(s.getAll(prefixed(STATE_META)));
      const targets = [...manifests, ...partials].filter((m) => m.name === name);
      if (targets.length === 0) return;
      const states = metas.filter((st) => st.image === name);
      const others = [...manifests, ...partials].filter((m) => m.name !== name);
      const keep = new Set([...others.flatMap((m) => storedFiles(m).map((f) => f.sha256)), ...metas.filter((st) => st.image !== name).flatMap((st) => st.artifacts)]);
      for (const f of targets.flatMap(storedFiles)) if (!keep.has(f.sha256)) s.delete(ARTIFACT + f.sha256);
      for (const st of states) {
        s.delete(STATE + st.id);
        s.delete(STATE_META + st.id);
      }
      s.delete(MANIFEST + name);
      s.delete(PARTIAL + name);
      await promisifyRequest(s.transaction);
    });
  }

  // ---- saved states ----

  /** Stores a state and its metadata together (one transaction). */
  putState(meta: SavedStateMeta, bytes: Uint8Array): Promise<void> {
    return this.#op('save the machine state', 'readwrite', (s) => {
      s.put(bytes, STATE + meta.id);
      s.put(meta, STATE_META + meta.id);
      return promisifyRequest(s.transaction);
    });
  }

  async getState(id: string): Promise<Uint8Array | undefined> {
    return asBytes(await this.#op('read a saved state', 'readonly', (s) => promisifyRequest(s.get(STATE + id))));
  }

  getStateMeta(id: string): Promise<SavedStateMeta | undefined> {
    return this.#op('read a saved state', 'readonly', (s) => promisifyRequest<SavedStateMeta | undefined>(s.get(STATE_META + id)));
  }

  /** Saved states, newest first; `image` filters by image name. */
  async listStates(image?: string): Promise<SavedStateMeta[]> {
    const all = await this.#op('list saved states', 'readonly', (s) => promisifyRequest<SavedStateMeta[]>(s.getAll(prefixed(STATE_META))));
    return all.filter((s) => image === undefined || s.image === image).sort((a, b) => b.createdAt - a.createdAt);
  }

  deleteState(id: string): Promise<void> {
    return this.#op('delete a saved state', 'readwrite', (s) => {
      s.delete(STATE + id);
      s.delete(STATE_META + id);
      return promisifyRequest(s.transaction);
    });
  }

  // ---- writing whole images, and what is left when that fails ----

  /**
   * Runs a store or import (`fn` writes artifacts, then `completeImage`) so that collecting orphans
   * waits until it ends; when it fails, collects what it left behind.
   */
  async writing<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await shared(fn);
    } catch (e) {
      await this.collectOrphans().catch((gc: unknown) => console.warn('image store: collecting orphans failed:', gc));
      throw e;
    }
  }

  /**
   * Deletes records nothing refers to: artifacts no stored or partly kept manifest or saved state
   * names (left by a store that failed or was killed) and half states. Skipped (undefined) while a store is in flight;
   * else the number of records deleted.
   */
  async collectOrphans(): Promise<number | undefined> {
    // Opened first: moving an earlier version's databases takes the same lock, which is not reentrant.
    await guarded('read the image store', () => this.#store());
    return exclusive(true, () =>
      this.#op('collect unused files in the image store', 'readwrite', async (s) => {
        const keys = (await promisifyRequest(s.getAllKeys())).map(String);
        const manifests = [...(await promisifyRequest<Manifest[]>(s.getAll(prefixed(MANIFEST)))), ...(await promisifyRequest<Manifest[]>(s.getAll(prefixed(PARTIAL))))];
        const metas = await promisifyRequest<SavedStateMeta[]>(s.getAll(prefixed(STATE_META)));
        const used = new Set([...manifests.flatMap((m) => storedFiles(m).map((f) => f.sha256)), ...metas.flatMap((st) => st.artifacts)]);
        const withMeta = new Set(metas.map((st) => st.id));
        const withBytes = new Set(keys.filter((k) => k.startsWith(STATE)).map((k) => k.slice(STATE.length)));
        const orphans = keys.filter(
          (k) =>
            (k.startsWith(ARTIFACT) && !used.has(k.slice(ARTIFACT.length))) ||
            (k.startsWith(STATE) && !withMeta.has(k.slice(STATE.length))) ||
            (k.startsWith(STATE_META) && !withBytes.has(k.slice(STATE_META.length))),
        );
        for (const k of orphans) s.delete(k);
        await promisifyRequest(s.transaction);
        return orphans.length;
      }),
    );
  }

  /** Deletes everything Whittle stored in this browser. */
  clearAll(): Promise<void> {
    return this.#op('clear the image store', 'readwrite', (s) => {
      s.clear();
      return promisifyRequest(s.transaction);
    });
  }
}

/** This origin's image store, shared by the page and the machine worker. */
export const imageStore = new ImageStore();

/** The machine worker's reader for images stored in this browser. */
export const storeReader: ArtifactReader = {
  where: "this browser's image store",
  missingHint: 'Store the image again from the library (it was deleted, or the browser evicted it).',
  async read(f) {
    return (await imageStore.getArtifact(f.sha256)) ?? null;
  },
};

/** What a keeping boot did so far: files fetched from the network, read from this store, kept here. */
export interface KeepReport {
  fetched: number;
  fromStore: number;
  kept: number;
  /** Stored bytes kept (compressed, as fetched). */
  keptBytes: number;
  /** Why keeping stopped (a full quota, most likely): the boot goes on streaming, keeping nothing more. */
  error?: MachineError;
}

/**
 * Reads an image streamed from `network` through this store: a file kept here earlier is read from
 * here; any other is fetched, and once it verified (ArtifactReader.verified) kept here, so a later
 * boot reads it from this browser. The image is recorded as partly kept (`keepPartial`) before its
 * first file is written, and never as stored. When writing fails (the quota is full), keeping stops
 * and `report` says why; reading goes on from the network.
 */
export function keepingReader(network: ArtifactReader, manifest: Manifest, report: (r: KeepReport) => void, store: ImageStore = imageStore): ArtifactReader {
  const r: KeepReport = { fetched: 0, fromStore: 0, kept: 0, keptBytes: 0 };
  /** Fetched and not yet verified: only these are kept. */
  const fetched = new Set<string>();
  let recorded: Promise<void> | undefined;
  /** Writes one after another, so a slow store holds back no more than it must and fails once. */
  let writes = Promise.resolve();
  const stop = (e: unknown) => {
    if (r.error) return;
    r.error = toMachineError(e, 'storage');
    report({ ...r });
  };
  return {
    where: `${network.where} (files already kept in this browser from there)`,
    missingHint: network.missingHint,
    async read(f, signal) {
      if (!r.error) {
        const have = await store.getArtifact(f.sha256).catch((e: unknown) => void stop(e));
        if (have) {
          r.fromStore++;
          report({ ...r });
          return have;
        }
      }
      const bytes = await network.read(f, signal);
      if (bytes) {
        r.fetched++;
        fetched.add(f.sha256);
        report({ ...r });
      }
      return bytes;
    },
    verified(f, stored) {
      if (!fetched.delete(f.sha256) || r.error) return;
      writes = writes
        .then(async () => {
          if (r.error) return;
          await (recorded ??= store.keepPartial(manifest));
          await store.putArtifact(f.sha256, stored);
          r.kept++;
          r.keptBytes += stored.length;
          report({ ...r });
        })
        .catch(stop);
    },
  };
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
