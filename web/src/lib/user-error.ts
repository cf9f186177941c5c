// The two kinds of error the page shows: expected ones (with what to do) and unexpected ones (short,
// details in the console). AbortError means the user cancelled: nothing to show.

import { ManifestError } from '../../../images/manifest.ts';
import { ImportError } from './import-detect.ts';
import { ShareLinkError } from './share-link.ts';

export interface UserError {
  message: string;
  /** What the user can do about it. */
  hint?: string;
  /** True for errors we did not expect (a bug, a crash): details are in the console. */
  unexpected?: boolean;
}

/** An expected error with a message a user can act on. */
export class ExpectedError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

/** worker/errors.ts's MachineFailure, recognised by shape (the page imports no value from that module). */
function isMachineFailure(e: unknown): e is Error & { code: string; hint?: string } {
  return e instanceof Error && e.name !== 'Error' && typeof (e as { code?: unknown }).code === 'string' && 'hint' in e;
}

/** Turns anything thrown into what the page shows; null for a cancellation. `doing` names the action. */
export function toUserError(e: unknown, doing: string): UserError | null {
  if (isAbort(e)) return null;
  if (e instanceof ExpectedError || e instanceof ShareLinkError || e instanceof ImportError) {
    return { message: e.message, hint: e.hint };
  }
  // The worker's own failures (hash mismatch, missing artifact, storage): already written for users.
  if (isMachineFailure(e)) return { message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  if (e instanceof ManifestError) {
    return { message: `${doing}: ${e.message}.`, hint: 'The image was built by another version of Whittle: rebuild it with `npm run images`.' };
  }
  if (e instanceof DOMException && e.name === 'QuotaExceededError') {
    return {
      message: `${doing}: this browser's storage for the site is full.`,
      hint: 'Delete images you no longer need from the library, or allow the site more storage in the browser settings.',
    };
  }
  if (e instanceof TypeError && /fetch|network/i.test(e.message)) {
    return {
      message: `${doing}: the download failed (${e.message}).`,
      hint: 'Check your connection and that the app is still being served, then try again. Stored images work offline.',
    };
  }
  console.error(`${doing}:`, e);
  const text = e instanceof Error ? e.message : String(e);
  return { message: `${doing} failed unexpectedly: ${text}`, hint: 'Details are in the browser console.', unexpected: true };
}
