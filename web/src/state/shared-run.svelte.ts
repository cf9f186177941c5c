// Opening a share link: decode and check it, find each pinned image (served or stored, by digest),
// store what is missing (verified), boot, and replay the demo script step by step with the machine's
// own runner (the `run-script` command: each line after the previous answer and the prompt).

import type { Manifest } from '../../../images/manifest.ts';
import type { MachineEvents } from '../../../worker/protocol.ts';
import { fetchManifest } from '../lib/catalog.ts';
import { imageDigest } from '../lib/image-digest.ts';
import { decodeShare, type Share, type SharedImage } from '../lib/share-link.ts';
import { ExpectedError, isAbort, toUserError, type UserError } from '../lib/user-error.ts';
import type { ImageEntry, Library } from './library.svelte.ts';
import { MachineSession } from './machine-session.svelte.ts';
import { registerActivity, takeOver } from './activity.ts';

/** A step not typed yet, or as the machine's runner last reported it (`script-step`). */
export type StepState = 'waiting' | MachineEvents['script-step']['state'];

export class SharedLane {
  readonly session: MachineSession;
  steps = $state<StepState[]>([]);
  error = $state<UserError | null>(null);
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

export type Stage = 'decoding' | 'finding' | 'storing' | 'booting' | 'replaying' | 'done' | 'failed';

const READY_TIMEOUT_MS = 300_000;

export class SharedRun {
  stage = $state<Stage>('decoding');
  share = $state.raw<Share | null>(null);
  lanes = $state<SharedLane[]>([]);
  error = $state<UserError | null>(null);
  readonly #abort = new AbortController();

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
      for (const lane of this.lanes) await this.#ensureStored(lane, library, signal);
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

  async #ensureStored(lane: SharedLane, library: Library, signal: AbortSignal): Promise<void> {
    const e = lane.entry;
    if (e.stored === 'yes' || (e.storedManifest && lane.manifest === e.storedManifest)) return;
    if (!e.manifestUrl) return;
    const ok = await library.store(e);
    signal.throwIfAborted();
    if (!ok) throw new ExpectedError(e.error?.message ?? `Storing ${e.name} failed.`, e.error?.hint);
  }

  async #bootAndReplay(lane: SharedLane, signal: AbortSignal): Promise<void> {
    const share = this.share!;
    const s = lane.session;
    try {
      await s.boot({ manifest: lane.manifest, source: { from: 'store' }, ...(share.memoryMB ? { memoryMB: share.memoryMB } : {}) });
      await s.whenReady(READY_TIMEOUT_MS, signal);
      this.stage = 'replaying';
      const result = await s.runScript(share.script, { signal, onStep: ({ step, state }) => (lane.steps[step] = state) });
      if (!result.ok) throw new ExpectedError(result.message ?? 'The demo script failed.', 'The guest may be slower than expected: open the link again, or check the script.');
    } catch (e) {
      if (isAbort(e)) return;
      lane.error = s.error ?? toUserError(e, `Running ${lane.entry.name}`);
    }
  }

  cancel(): void {
    this.#abort.abort();
    for (const l of this.lanes) l.session.dispose();
  }
}
