// The library: every image the app serves plus those stored in this browser (imported ones too), with
// whether each is stored, and the work of storing and deleting them.

import { type Manifest, validateManifest } from '../../../images/manifest.ts';
import { storedFiles } from '../../../worker/artifacts.ts';
import { imageStore, type StorageUsage, usage } from '../../../worker/image-store.ts';
import { fetchCatalog } from '../lib/catalog.ts';
import { type StoreProgress, storeImage } from '../lib/fetch-files.ts';
import { imageDigest } from '../lib/image-digest.ts';
import { ExpectedError, toUserError, type UserError } from '../lib/user-error.ts';

export type StoredState = 'no' | 'partial' | 'yes';

/** An image with a chunked artifact (a disk read on demand): it can boot while its chunks stream in. */
export function streams(m: Manifest): boolean {
  return m.artifacts.some((a) => a.chunks !== undefined);
}

export class ImageEntry {
  /** The manifest to show and boot: the served one if there is one, else the stored one. */
  manifest = $state.raw<Manifest>() as Manifest;
  /** Where the served manifest is (artifacts are relative to it); undefined for stored-only images. */
  manifestUrl = $state<string | undefined>();
  /** The stored manifest, if any (may differ from the served one after a rebuild). */
  storedManifest = $state.raw<Manifest | undefined>();
  digest = $state('');
  stored = $state<StoredState>('no');
  progress = $state<StoreProgress | null>(null);
  error = $state<UserError | null>(null);
  #abort: AbortController | undefined;

  constructor(manifest: Manifest, manifestUrl: string | undefined) {
    this.manifest = manifest;
    this.manifestUrl = manifestUrl;
  }

  get name(): string {
    return this.manifest.name;
  }

  get busy(): boolean {
    return this.progress !== null;
  }

  /**
   * Boots from the store when complete there, else straight from the server: an image with a chunked
   * disk streams it, keeping what it reads in this browser as it goes (see `streams`).
   */
  get bootSource(): { manifest: Manifest; source: { from: 'store' } | { from: 'url'; baseUrl: string; keep?: boolean } } | undefined {
    if (this.stored === 'yes') return { manifest: this.manifest, source: { from: 'store' } };
    if (this.storedManifest && !this.manifestUrl) return { manifest: this.storedManifest, source: { from: 'store' } };
    if (this.manifestUrl) return { manifest: this.manifest, source: { from: 'url', baseUrl: this.manifestUrl, ...(this.streams ? { keep: true } : {}) } };
    return undefined;
  }

  /**
   * Whether the image boots without being stored first: its disk is read on demand by chunk (the twin),
   * each chunk verified and kept in this browser as it arrives. Small images are stored whole.
   */
  get streams(): boolean {
    return streams(this.manifest);
  }

  cancel(): void {
    this.#abort?.abort();
  }

  /** @internal used by Library */
  begin(): AbortSignal {
    this.#abort = new AbortController();
    return this.#abort.signal;
  }
}

export class Library {
  entries = $state<ImageEntry[]>([]);
  loaded = $state(false);
  /** The served catalog could not be read (offline, or the server is gone). */
  catalogError = $state<UserError | null>(null);
  /** Manifests in the catalog that could not be read. */
  problems = $state<{ name: string; message: string }[]>([]);
  usage = $state<StorageUsage | null>(null);
  error = $state<UserError | null>(null);
  #loading: Promise<void> | undefined;
  /** Names of images some of whose files were kept while they streamed (never stored as a whole). */
  #partly = new Set<string>();

  /**
   * Loads once; later calls wait for the same load. `reload()` reads everything again. The first load
   * also collects what a store killed with its tab left behind (artifacts no manifest names).
   */
  load(): Promise<void> {
    this.#loading ??= imageStore
      .collectOrphans()
      .catch((e: unknown) => console.warn('image store: collecting orphans failed:', e))
      .then(() => this.reload());
    return this.#loading;
  }

  async reload(): Promise<void> {
    const [served, stored, partial] = await Promise.allSettled([fetchCatalog(), imageStore.listImages(), imageStore.listPartial()]);
    this.#partly = new Set(partial.status === 'fulfilled' ? partial.value.map((m) => m.name) : []);
    const entries = new Map<string, ImageEntry>();
    if (served.status === 'fulfilled') {
      this.catalogError = null;
      this.problems = served.value.problems;
      for (const s of served.value.images) entries.set(s.manifest.name, new ImageEntry(s.manifest, s.manifestUrl));
    } else {
      console.warn('image catalog:', served.reason);
      this.catalogError = {
        message: 'The list of images this app serves could not be loaded, so only images stored in this browser are shown.',
        hint: 'If you are offline, stored images still boot. Otherwise check that the app is being served and reload.',
      };
    }
    if (stored.status === 'fulfilled') {
      for (const m of stored.value) {
        const e = entries.get(m.name);
        if (e) e.storedManifest = m;
        else {
          const only = new ImageEntry(m, undefined);
          only.storedManifest = m;
          entries.set(m.name, only);
        }
      }
    } else {
      this.error = toUserError(stored.reason, 'Reading the images stored in this browser');
    }
    const list = [...entries.values()].sort(byKindThenName);
    await Promise.all(list.map((e) => this.#refresh(e)));
    this.entries = list;
    this.loaded = true;
    void this.refreshUsage();
  }

  /** Reads again whether an image is stored, or partly (after a boot kept some of its files). */
  async recheck(e: ImageEntry): Promise<void> {
    this.#partly = new Set((await imageStore.listPartial().catch(() => [])).map((m) => m.name));
    await this.#refresh(e);
    void this.refreshUsage();
  }

  find(name: string): ImageEntry | undefined {
    return this.entries.find((e) => e.name === name);
  }

  /** Finds an image by the digest a share link pins. */
  findByDigest(digest: string): ImageEntry | undefined {
    return this.entries.find((e) => e.digest === digest);
  }

  async #refresh(e: ImageEntry): Promise<void> {
    e.digest = await imageDigest(e.manifest);
    if (!e.storedManifest && !this.#partly.has(e.name)) {
      e.stored = 'no';
      return;
    }
    try {
      const missing = (await imageStore.missingFiles(e.manifest)).length;
      // Stored only with a stored manifest (written last, when every file is there): files kept while
      // streaming make an image partly stored at most, even all of them.
      e.stored = missing === 0 && e.storedManifest ? 'yes' : missing < storedFiles(e.manifest).length ? 'partial' : 'no';
    } catch (err) {
      e.error = toUserError(err, `Checking whether ${e.name} is stored`);
    }
  }

  async refreshUsage(): Promise<void> {
    this.usage = await usage().catch(() => null);
  }

  /** Fetches, verifies and stores an image. Resolves true when it is stored. */
  async store(e: ImageEntry): Promise<boolean> {
    if (e.busy) return false;
    if (!e.manifestUrl) {
      e.error = { message: `${e.name} is not served by this app, so it cannot be fetched again.`, hint: 'Import its files again.' };
      return false;
    }
    e.error = null;
    const signal = e.begin();
    e.progress = { filesDone: 0, files: 0, bytesDone: 0, bytes: 0, stage: 'download' };
    try {
      await storeImage(e.manifest, e.manifestUrl, (p) => {
        e.progress = p;
      }, signal);
      e.storedManifest = e.manifest;
      e.stored = 'yes';
      return true;
    } catch (err) {
      e.error = toUserError(err, `Storing ${e.name}`);
      await this.#refresh(e);
      return false;
    } finally {
      e.progress = null;
      void this.refreshUsage();
    }
  }

  async remove(e: ImageEntry): Promise<void> {
    e.error = null;
    try {
      await imageStore.deleteImage(e.name);
      this.#partly.delete(e.name);
      if (!e.manifestUrl) this.entries = this.entries.filter((x) => x !== e);
      e.storedManifest = undefined;
      e.stored = 'no';
    } catch (err) {
      e.error = toUserError(err, `Deleting ${e.name}`);
    }
    void this.refreshUsage();
  }

  /** Adds an image served elsewhere (a share link's manifest URL), so it can be stored and booted. */
  async addRemote(m: Manifest, manifestUrl: string): Promise<ImageEntry> {
    const e = new ImageEntry(m, manifestUrl);
    e.storedManifest = (await imageStore.listImages().catch(() => [])).find((x) => x.name === m.name);
    await this.#refresh(e);
    this.entries = [...this.entries.filter((x) => x.name !== m.name), e].sort(byKindThenName);
    return e;
  }

  /**
   * Changes an imported image's ready text or memory (its stored manifest, so it stays with the
   * import). Served images carry theirs from the build.
   */
  async updateImport(e: ImageEntry, patch: Partial<Pick<Manifest, 'readyMarker' | 'memoryMB'>>): Promise<void> {
    const m = e.storedManifest;
    if (!m || e.manifestUrl) throw new ExpectedError(`${e.name} is not an image imported into this browser.`, 'Only imported images can be changed here.');
    const updated = validateManifest({ ...m, ...patch });
    const missing = await imageStore.completeImage(updated);
    if (missing.length) throw new ExpectedError(`${missing.length} of ${storedFiles(m).length} files of ${e.name} are no longer stored, so the change was not saved.`, 'Import the image again.');
    await this.added(updated);
  }

  /** Adds (or replaces) an image just imported into the store. */
  async added(m: Manifest): Promise<ImageEntry> {
    const e = new ImageEntry(m, undefined);
    e.storedManifest = m;
    await this.#refresh(e);
    this.entries = [...this.entries.filter((x) => x.name !== m.name), e].sort(byKindThenName);
    void this.refreshUsage();
    return e;
  }
}

const KIND_ORDER = { appliance: 0, distro: 1, imported: 2 } as const;

function byKindThenName(a: ImageEntry, b: ImageEntry): number {
  return KIND_ORDER[a.manifest.kind] - KIND_ORDER[b.manifest.kind] || a.name.localeCompare(b.name);
}

export const library = new Library();
