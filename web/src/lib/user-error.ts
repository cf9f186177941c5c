// The two kinds of error the page shows: expected ones (with what to do) and unexpected ones (short,
// details in the console). AbortError means the user cancelled: nothing to show. Every error the
// project throws is a HintedError (images/hinted-error.ts), recognised here by class, never by text.

import { HintedError } from '../../../images/hinted-error.ts';
import { ManifestError } from '../../../images/manifest.ts';

export interface UserError {
  message: string;
  /** What the user can do about it. */
  hint?: string;
  /** True for errors we did not expect (a bug, a crash): details are in the console. */
  unexpected?: boolean;
}

/** `download-failed`: a request did not reach the server (offline, server gone, CORS). */
export type ExpectedErrorCode = 'expected' | 'download-failed';

/** An expected error with a message a user can act on. */
export class ExpectedError extends HintedError<ExpectedErrorCode> {
  constructor(message: string, hint?: string, options?: ErrorOptions & { code?: ExpectedErrorCode }) {
    super(options?.code ?? 'expected', message, { ...(hint === undefined ? {} : { hint }), ...(options?.cause === undefined ? {} : { cause: options.cause }) });
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

const OFFLINE_HINT = 'Check your connection and that the app is still being served, then try again. Stored images work offline.';

/**
 * `fetch`, with a request that never reached a server (fetch rejects with a TypeError whose text
 * differs by browser: "Failed to fetch", "NetworkError when…", "Load failed") turned into an
 * ExpectedError with code `download-failed`. A cancellation stays an AbortError.
 */
export async function fetchOrFail(url: URL | string, init: RequestInit = {}, hint = OFFLINE_HINT): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    if (init.signal?.aborted || isAbort(e)) throw e;
    throw new ExpectedError(`Could not download ${String(url)}: the network request failed.`, hint, { cause: e, code: 'download-failed' });
  }
}

/** Turns anything thrown into what the page shows; null for a cancellation. `doing` names the action. */
export function toUserError(e: unknown, doing: string): UserError | null {
  if (isAbort(e)) return null;
  // A manifest check names the first problem but not what the user was doing, nor (for a served
  // image) what to do.
  if (e instanceof ManifestError && !e.hint) {
    return { message: `${doing}: ${e.message}.`, hint: 'The image was built by another version of Whittle: rebuild it with `npm run images`.' };
  }
  // Ours, from any layer (a bad link, a hash mismatch, a full store): already written for users.
  if (e instanceof HintedError) return { message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  if (e instanceof DOMException && e.name === 'QuotaExceededError') {
    return {
      message: `${doing}: this browser's storage for the site is full.`,
      hint: 'Delete images you no longer need from the library, or allow the site more storage in the browser settings.',
    };
  }
  console.error(`${doing}:`, e);
  const text = e instanceof Error ? e.message : String(e);
  return { message: `${doing} failed unexpectedly: ${text}`, hint: 'Details are in the browser console.', unexpected: true };
}
