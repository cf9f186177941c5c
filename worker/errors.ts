// Errors that become typed `error` events: what happened, what the user can do, and the cause kept.

import { HintedError } from '../images/hinted-error.ts';
import type { MachineError, MachineErrorCode } from './protocol.ts';

export class MachineFailure extends HintedError<MachineErrorCode> {
  constructor(code: MachineErrorCode, message: string, hint?: string, options?: ErrorOptions) {
    super(code, message, { ...(hint === undefined ? {} : { hint }), ...(options?.cause === undefined ? {} : { cause: options.cause }) });
    this.name = 'MachineFailure';
  }
}

/**
 * A wait that ran out of time (for console text, the prompt, a phase): `guest-unresponsive`, told
 * apart from a halted or silent guest by its class, so a caller can suggest a longer time limit.
 */
export class WaitTimedOut extends MachineFailure {
  constructor(message: string, hint?: string) {
    super('guest-unresponsive', message, hint);
    this.name = 'WaitTimedOut';
  }
}

export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

function detailOf(e: unknown): string | undefined {
  if (!(e instanceof Error)) return e === undefined ? undefined : String(e);
  const cause = e.cause === undefined ? '' : `\ncaused by: ${detailOf(e.cause)}`;
  return `${e.stack ?? `${e.name}: ${e.message}`}${cause}`;
}

/** Turns anything thrown into an error event; unexpected errors keep their details for the console. */
export function toMachineError(e: unknown, fallback: MachineErrorCode = 'internal', id?: number): MachineError {
  const withId = id === undefined ? {} : { id };
  if (e instanceof MachineFailure) {
    return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}), ...withId, ...(e.cause === undefined ? {} : { detail: detailOf(e.cause) }) };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: fallback, message: `Unexpected error: ${message}`, hint: 'Restart the machine; if it happens again, report it with the details from the console.', detail: detailOf(e), ...withId };
}
