// The error type of the archive stages: the builder's BuildError (what went wrong plus a hint of what
// to do), named so callers and tests can tell an archive failure apart.
import type { HintedErrorOptions } from '../hinted-error.ts';
import { BuildError } from '../log.ts';

/** An expected failure (bad mirror, tampered file, unsatisfiable dependency) with a hint for the user. */
export class ArchiveError extends BuildError {
  declare readonly code: 'archive' | 'http';
  override name = 'ArchiveError';
  constructor(message: string, options: HintedErrorOptions & { code?: 'http' } = {}) {
    super(message, { ...options, code: options.code ?? 'archive' });
  }
}

/** Throws an `ArchiveError`; reads like a statement at the call site. */
export function fail(message: string, options: HintedErrorOptions = {}): never {
  throw new ArchiveError(message, options);
}

/** An HTTP answer other than 200/206, with its status (404 is how a mirror says "not here"). */
export class HttpError extends ArchiveError {
  declare readonly code: 'http';
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    options: { hint?: string } = {},
  ) {
    super(message, { ...options, code: 'http' });
  }
}
