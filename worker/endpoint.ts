// The worker side of the protocol: validates each message, runs it on the worker's machine, and
// posts events (byte arrays transferred). Shared by the browser worker (main.ts) and the Node thread.

import type { Manifest } from '../images/manifest.ts';
import type { ArtifactReader } from './artifacts.ts';
import { createArtifactLoader } from './artifacts.ts';
import { MachineFailure, toMachineError } from './errors.ts';
import { Machine } from './machine.ts';
import type { MachineEnv } from './machine.ts';
import { PROTOCOL_VERSION, eventMessage, eventTransferables, isMachineError, validateCommand } from './protocol.ts';
import type { ArtifactSource, Command, EventMessage, EventName, MachineEvents } from './protocol.ts';
import { CanvasScreen } from './screen.ts';

export interface EndpointEnv extends Omit<MachineEnv, 'emit'> {
  /** Sends one event to the page (or Node host), transferring the listed buffers. */
  post(msg: EventMessage, transfer: Transferable[]): void;
  /**
   * Where a source's files are read from; throws a MachineFailure for sources this environment lacks.
   * `boot` is the image being booted and the machine's event channel (a keeping reader reports there).
   */
  reader(source: ArtifactSource, boot: { manifest: Manifest; emit: MachineEnv['emit'] }): ArtifactReader;
}

export class MachineEndpoint {
  #machine: Machine | undefined;
  readonly #screen: CanvasScreen;

  constructor(private readonly env: EndpointEnv) {
    this.#screen = new CanvasScreen((mode) => this.#emit('screen-mode', mode));
    this.#emit('hello', { version: PROTOCOL_VERSION });
  }

  #emit = <K extends EventName>(event: K, data: MachineEvents[K]): void => {
    const msg = eventMessage(event, data);
    this.env.post(msg, eventTransferables(msg));
  };

  /** Handles one message from the other side; never throws. */
  receive(raw: unknown): void {
    const cmd = validateCommand(raw);
    if (isMachineError(cmd)) {
      this.#emit('error', cmd);
      return;
    }
    this.#handle(cmd).catch((e: unknown) => this.#emit('error', toMachineError(e, 'internal', 'id' in cmd ? cmd.id : undefined)));
  }

  /** An uncaught error in the worker: it can only have come from the emulator. */
  fatal(e: unknown): void {
    if (this.#machine && this.#machine.status !== 'stopped') this.#machine.crash(e);
    else this.#emit('error', toMachineError(e, 'internal'));
  }

  #current(): Machine {
    const m = this.#machine;
    if (!m || m.status === 'stopped' || m.status === 'idle') throw new MachineFailure('not-running', 'No machine is running.', 'Boot an image first.');
    return m;
  }

  /**
   * Answers a boot once it ran or ended. Stopped while loading (by a stop command, a new boot, or a
   * failure already reported): the boot is answered all the same.
   */
  #answerBoot(machine: Machine, id: number): void {
    if (machine.status === 'stopped') this.#emit('error', { ...(machine.failure ?? { code: 'not-running', message: 'The machine was stopped before it started.', hint: 'Boot it again.' }), id });
    else this.#emit('done', { id });
  }

  async #handle(cmd: Command): Promise<void> {
    switch (cmd.type) {
      case 'boot': {
        // A saved state of the machine that runs goes into its emulator: no new instance to start.
        if (this.#machine?.canRestoreInPlace(cmd.options)) {
          const machine = this.#machine;
          await machine.restoreInPlace(cmd.options);
          this.#answerBoot(machine, cmd.id);
          return;
        }
        await this.#machine?.stop();
        const emit = this.#emit;
        const reader = this.env.reader(cmd.options.source, { manifest: cmd.options.manifest, emit });
        const machine = new Machine({ ...this.env, emit }, createArtifactLoader(reader), cmd.options, this.#screen);
        this.#machine = machine;
        try {
          await machine.start();
        } catch (e) {
          if (machine.status !== 'stopped') {
            this.#emit('error', toMachineError(e, 'internal', cmd.id));
            await machine.stop();
            return;
          }
        }
        this.#answerBoot(machine, cmd.id);
        return;
      }
      case 'serial-in':
        this.#current().sendSerial(cmd.bytes, cmd.port);
        return;
      case 'keyboard':
        this.#current().keyboard(cmd);
        return;
      case 'screen':
        this.#screen.setCanvas(cmd.canvas);
        return;
      case 'screen-text':
        this.#emit('screen-text', { id: cmd.id, lines: this.#screen.textLines() });
        break;
      case 'pause':
        await this.#current().pause();
        break;
      case 'resume':
        await this.#current().resume();
        break;
      case 'reset':
        await this.#current().reset();
        break;
      case 'stop':
        if (this.#machine && this.#machine.status !== 'stopped') await this.#machine.stop();
        else this.#emit('state', { status: 'stopped' });
        this.#machine = undefined;
        break;
      case 'save-state': {
        const { meta: _meta, ...saved } = await this.#current().saveState(cmd);
        this.#emit('state-saved', { ...saved, id: cmd.id });
        break;
      }
      case 'run-script': {
        const r = await this.#current().runScript(cmd.steps, (step, state) => this.#emit('script-step', { id: cmd.id, step, state }));
        this.#emit('script-done', { id: cmd.id, ...r });
        break;
      }
      case 'share-put':
        await this.#current()
          .share()
          .put(cmd.path, cmd.data, { ...(cmd.mtime !== undefined ? { mtime: cmd.mtime } : {}), onProgress: (done, total) => this.#emit('share-progress', { id: cmd.id, path: cmd.path, done, total }) });
        break;
      case 'share-list':
        this.#emit('share-list', { id: cmd.id, ...this.#current().share().list() });
        break;
      case 'share-read':
        this.#emit('share-file', { id: cmd.id, path: cmd.path, ...(await this.#current().share().read(cmd.path)) });
        break;
      case 'share-archive':
        this.#emit('share-file', { id: cmd.id, path: '', bytes: await this.#current().share().archive(), mtime: Date.now() });
        break;
      case 'http-get': {
        const t = performance.now();
        const r = await this.#current().http({ port: cmd.port ?? 80, path: cmd.path, method: cmd.method ?? 'GET', ...(cmd.headers ? { headers: cmd.headers } : {}) });
        this.#emit('http-response', { id: cmd.id, ms: Math.round(performance.now() - t), ...r });
        break;
      }
    }
    this.#emit('done', { id: cmd.id });
  }
}
