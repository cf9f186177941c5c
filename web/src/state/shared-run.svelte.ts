// Opening a share link: decode and check it, find each pinned image (served or stored, by digest),
// store what is missing (verified) — or, for an image with a chunked disk (the twin), boot it streaming,
// its chunks fetched as the guest reads them and kept in this browser — fetch and verify the files it
// brings, boot, put the files into each
// machine's /mnt/host, and replay the demo script step by step with the machine's own runner (the
// `run-script` command: each line after the previous answer and the prompt).

import type { Manifest } from '../../../images/manifest.ts';
import type { ArtifactSource, MachineEvents } from '../../../worker/protocol.ts';
import { sha256Hex } from '../../../worker/artifacts.ts';
import { SHARE_MOUNT } from '../../../worker/share-path.ts';
import { fetchManifest } from '../lib/catalog.ts';
import { imageDigest } from '../lib/image-digest.ts';
import { decodeShare, inlineBytes, type Share, type SharedFile, type SharedImage } from '../lib/share-link.ts';
import { ExpectedError, fetchOrFail, isAbort, toUserError, type UserError } from '../lib/user-error.ts';
import { putFile } from './host-files.svelte.ts';
import { type ImageEntry, type Library, streams } from './library.svelte.ts';
import { MachineSession } from './machine-session.svelte.ts';
import { registerActivity, takeOver } from './activity.ts';

/** A step not typed yet, or as the machine's runner last reported it (`script-step`). */
export type StepState = 'waiting' | MachineEvents['script-step']['state'];

export class SharedLane {
  readonly session: MachineSession;
  steps = $state<StepState[]>([]);
  /** The link's files put into this machine's /mnt/host so far. */
  filesPut = $state(0);
  error = $state<UserError | null>(null);
  /** Where the machine reads its image: the store once stored, or streamed from its server. */
  source: ArtifactSource = { from: 'store' };
  constructor(
    readonly entry: ImageEntry,
    readonly manifest: Manifest,
    stepCount: number,
  ) {
    this.session = new MachineSession(entry.name);
    this.steps = Array.from({ length: stepCount }, () => 'waiting');
  }
}

/** The shared demo being shown, so another activity can stop its machines. */
let activeRun: SharedRun | undefined;
registerActivity('share', () => activeRun?.cancel());

export type Stage = 'decoding' | 'finding' | 'storing' | 'files' | 'booting' | 'replaying' | 'done' | 'failed';

const READY_TIMEOUT_MS = 300_000;

export class SharedRun {
  stage = $state<Stage>('decoding');
  share = $state.raw<Share | null>(null);
  lanes = $state<SharedLane[]>([]);
  error = $state<UserError | null>(null);
  readonly #abort = new AbortController();
  /** The link's files, fetched and verified once for every machine. */
  #files: { path: string; blob: Blob }[] = [];

  async open(data: string, library: Library): Promise<void> {
    const signal = this.#abort.signal;
    try {
      this.share = await decodeShare(data);
      this.stage = 'finding';
      await library.load();
      const found = [];
      for (const pin of this.share.images) found.push(await this.#find(pin, library));
      signal.throwIfAborted();
      takeOver('share');
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- the one run that owns the machines
      activeRun = this;
      this.lanes = found.map(({ entry, manifest }) => new SharedLane(entry, manifest, this.share!.script.length));
      this.stage = 'storing';
      for (const lane of this.lanes) lane.source = await this.#ensureStored(lane, library, signal);
      const files = this.share.files ?? [];
      if (files.length) {
        const without = this.lanes.find((l) => !l.manifest.share);
        if (without) {
          throw new ExpectedError(
            `The link puts files into ${SHARE_MOUNT}, but ${without.entry.name} has no host share to put them in.`,
            'Ask for a link made with images that have one (their recipe says "share": true).',
          );
        }
        this.stage = 'files';
        this.#files = [];
        for (const f of files) this.#files.push({ path: f.path, blob: await this.#fetchFile(f, signal) });
      }
      this.stage = 'booting';
      await Promise.all(this.lanes.map((lane) => this.#bootAndReplay(lane, signal)));
      this.stage = this.lanes.some((l) => l.error) ? 'failed' : 'done';
    } catch (e) {
      if (isAbort(e)) return;
      this.error = toUserError(e, 'Opening the share link');
      this.stage = 'failed';
    }
  }

  /** The image a pin names, refusing anything whose digest differs. */
  async #find(pin: SharedImage, library: Library): Promise<{ entry: ImageEntry; manifest: Manifest }> {
    const short = (d: string) => `${d.slice(0, 12)}…`;
    const byDigest = library.findByDigest(pin.digest);
    if (byDigest) return { entry: byDigest, manifest: byDigest.manifest };
    const named = library.find(pin.name);
    if (named?.storedManifest && (await imageDigest(named.storedManifest)) === pin.digest) {
      return { entry: named, manifest: named.storedManifest };
    }
    if (pin.url) {
      const served = await fetchManifest(pin.url, this.#abort.signal).catch((e: unknown) => {
        throw new ExpectedError(`The link's image ${pin.name} could not be fetched from ${pin.url}.`, 'Check the address is reachable from this browser (it must allow cross-origin requests).', { cause: e });
      });
      const digest = await imageDigest(served.manifest);
      if (digest !== pin.digest) {
        throw new ExpectedError(
          `The image at ${pin.url} (sha256 ${short(digest)}) is not the one the link pins (${short(pin.digest)}).`,
          'The image was rebuilt or replaced since the link was made: ask for a new link.',
        );
      }
      return { entry: await library.addRemote(served.manifest, served.manifestUrl), manifest: served.manifest };
    }
    if (named) {
      throw new ExpectedError(
        `The link pins ${pin.name} at sha256 ${short(pin.digest)}, but this app has a different build of it (${short(named.digest)}). Refusing to boot something other than what was shared.`,
        'Ask for a new link made with this build, or open the link on the site that made it.',
      );
    }
    throw new ExpectedError(`The link needs the image ${pin.name}, which this app does not serve and this browser does not have.`, 'Open the link on the site that made it, or build the image here (npm run images).');
  }

  /**
   * Where the lane boots from: the store, after storing what is missing; or, for an image with a chunked
   * disk not stored yet, its server, streaming (the disk is not downloaded first: its chunks are fetched
   * as the guest reads them, verified, and kept in this browser for the next boot).
   */
  async #ensureStored(lane: SharedLane, library: Library, signal: AbortSignal): Promise<ArtifactSource> {
    const e = lane.entry;
    if (e.stored === 'yes' || (e.storedManifest && lane.manifest === e.storedManifest)) return { from: 'store' };
    if (!e.manifestUrl) return { from: 'store' };
    if (streams(lane.manifest)) return { from: 'url', baseUrl: e.manifestUrl, keep: true };
    const ok = await library.store(e);
    signal.throwIfAborted();
    if (!ok) throw new ExpectedError(e.error?.message ?? `Storing ${e.name} failed.`, e.error?.hint);
    return { from: 'store' };
  }

  async #bootAndReplay(lane: SharedLane, signal: AbortSignal): Promise<void> {
    const share = this.share!;
    const s = lane.session;
    try {
      await s.boot({ manifest: lane.manifest, source: lane.source, ...(share.memoryMB ? { memoryMB: share.memoryMB } : {}) });
      await s.whenReady(READY_TIMEOUT_MS, signal);
      // In place before the first line is typed: the script may read them.
      for (const f of this.#files) {
        await putFile(s, f.path, f.blob);
        lane.filesPut++;
      }
      this.stage = 'replaying';
      const result = await s.runScript(share.script, { signal, onStep: ({ step, state }) => (lane.steps[step] = state) });
      if (!result.ok) throw new ExpectedError(result.message ?? 'The demo script failed.', 'The guest may be slower than expected: open the link again, or check the script.');
    } catch (e) {
      if (isAbort(e)) return;
      lane.error = s.error ?? toUserError(e, `Running ${lane.entry.name}`);
    }
  }

  /** A file of the link as bytes: its inline data, or fetched from its URL and checked against its size and sha256. */
  async #fetchFile(f: SharedFile, signal: AbortSignal): Promise<Blob> {
    if (f.data !== undefined) return new Blob([inlineBytes(f) as Uint8Array<ArrayBuffer>]);
    const url = f.url!;
    const res = await fetchOrFail(url, { signal }, 'The server must be reachable from this browser and allow cross-origin requests (CORS).');
    if (!res.ok) throw new ExpectedError(`The link's file ${f.path} could not be fetched from ${url} (HTTP ${res.status}).`, 'The file may have moved: ask for a new link.');
    const bytes = new Uint8Array(await res.arrayBuffer());
    const digest = await sha256Hex(bytes);
    if (bytes.length !== f.size || digest !== f.sha256) {
      throw new ExpectedError(
        `The file at ${url} (${bytes.length} bytes, sha256 ${digest.slice(0, 12)}…) is not the one the link pins for ${f.path} (${f.size} bytes, ${f.sha256!.slice(0, 12)}…).`,
        'The file was changed since the link was made: ask for a new link.',
      );
    }
    return new Blob([bytes]);
  }

  cancel(): void {
    this.#abort.abort();
    for (const l of this.lanes) l.session.dispose();
  }
}
