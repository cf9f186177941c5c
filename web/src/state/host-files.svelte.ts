// The Files panel's state: a machine's host share (the guest's /mnt/host) as the page sees it — its
// list, the files being put with their progress, and downloads of one file or all of them as a tar.

import type { ShareEntry } from '../../../worker/protocol.ts';
import { SHARE_MOUNT, sharePathProblem } from '../../../worker/share-path.ts';
import { saveBlob } from '../lib/save-file.ts';
import { ExpectedError, toUserError, type UserError } from '../lib/user-error.ts';
import type { MachineSession } from './machine-session.svelte.ts';

export interface Upload {
  id: number;
  path: string;
  done: number;
  total: number;
}

/** Whether a session's machine was booted with a host share. */
export function hasShare(session: MachineSession): boolean {
  const r = session.request;
  return Boolean(r && (r.share ?? r.manifest.share));
}

/** Puts one file into a running machine's share; `onProgress` sees the bytes read so far. */
export async function putFile(session: MachineSession, path: string, data: Blob, opts: { mtime?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<void> {
  const problem = sharePathProblem(path);
  if (problem) throw new ExpectedError(`Not a file name for ${SHARE_MOUNT}: ${problem}.`, 'Rename the file and put it again.');
  await session.command(
    { type: 'share-put', path, data, ...(opts.mtime !== undefined ? { mtime: opts.mtime } : {}) },
    { onProgress: (p) => opts.onProgress?.(p.done, p.total) },
  );
}

export class HostFiles {
  entries = $state<ShareEntry[]>([]);
  usedBytes = $state(0);
  limitBytes = $state(0);
  truncated = $state(false);
  /** Listed at least once since the machine booted. */
  listed = $state(false);
  uploads = $state<Upload[]>([]);
  error = $state<UserError | null>(null);
  #listing: Promise<void> | undefined;
  #again = false;
  #uploadId = 0;

  constructor(readonly session: MachineSession) {}

  get available(): boolean {
    return hasShare(this.session);
  }

  get live(): boolean {
    return this.session.status === 'running' || this.session.status === 'paused';
  }

  /** Lists the share again (a request while one runs is folded into one more after it). */
  refresh(): Promise<void> {
    if (this.#listing) {
      this.#again = true;
      return this.#listing;
    }
    this.#listing = (async () => {
      do {
        this.#again = false;
        try {
          const l = await this.session.command({ type: 'share-list' });
          this.entries = l.entries;
          this.usedBytes = l.usedBytes;
          this.limitBytes = l.limitBytes;
          this.truncated = l.truncated;
          this.listed = true;
        } catch (e) {
          // A machine stopping or rebooting meanwhile is not an error of the list.
          if (this.live) this.error = toUserError(e, 'Listing the files');
        }
      } while (this.#again);
    })().finally(() => (this.#listing = undefined));
    return this.#listing;
  }

  /** Puts files (dropped or picked) into the share, one after another, with their progress; folders are refused. */
  async put(files: readonly File[], folders: readonly string[] = []): Promise<void> {
    this.error = null;
    if (!this.live) {
      this.error = { message: 'The machine is not running.', hint: 'Boot it first, then drop the files again.' };
      return;
    }
    if (!this.available) {
      const appliance = this.session.request?.manifest.kind === 'appliance';
      this.error = {
        message: `${this.session.label} was booted without a host share: files cannot be put into it.`,
        hint: appliance ? 'Its image was built without one (its recipe has no "share": true).' : 'Boot it again with a host share (the Files panel), then mount it in the guest.',
      };
      return;
    }
    if (folders.length) this.error = { message: `Folders cannot be put into the share (${folders.join(', ')}).`, hint: 'Drop the files inside them instead, or a .tar of the folder.' };
    for (const file of files) {
      const id = ++this.#uploadId;
      this.uploads.push({ id, path: file.name, done: 0, total: file.size });
      try {
        await putFile(this.session, file.name, file, {
          mtime: file.lastModified,
          onProgress: (done, total) => {
            const u = this.uploads.find((x) => x.id === id);
            if (u) Object.assign(u, { done, total });
          },
        });
      } catch (e) {
        this.error = toUserError(e, `Putting ${file.name}`);
      } finally {
        this.uploads = this.uploads.filter((u) => u.id !== id);
      }
    }
    await this.refresh();
  }

  /** Downloads one file as the guest left it. */
  async download(path: string): Promise<void> {
    this.error = null;
    try {
      const f = await this.session.command({ type: 'share-read', path });
      saveBlob(new Blob([f.bytes as Uint8Array<ArrayBuffer>]), path.slice(path.lastIndexOf('/') + 1));
    } catch (e) {
      this.error = toUserError(e, `Downloading ${path}`);
      void this.refresh();
    }
  }

  /** Downloads the whole share as `<image>-mnt-host.tar`. */
  async downloadAll(): Promise<void> {
    this.error = null;
    try {
      const f = await this.session.command({ type: 'share-archive' });
      saveBlob(new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type: 'application/x-tar' }), `${this.session.label}-mnt-host.tar`);
    } catch (e) {
      this.error = toUserError(e, 'Downloading the files');
    }
  }

  /** Boots the same image again with a host share (the twin's fstab mounts it; an import mounts it by hand). */
  async bootWithShare(): Promise<void> {
    const req = this.session.request;
    if (!req) return;
    const { restoreStateId: _restored, ...again } = req;
    await this.session.boot({ ...again, share: true }).catch(() => undefined); // shown via the session's error
  }

  /** Forgets the last machine's list (a new boot starts with its own share). */
  clear(): void {
    this.entries = [];
    this.usedBytes = 0;
    this.truncated = false;
    this.listed = false;
    this.error = null;
  }
}
