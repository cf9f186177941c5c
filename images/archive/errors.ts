// The one error type of the archive stages: what went wrong plus a hint of what to do (mkosi's `die`).

/** An expected failure (bad mirror, tampered file, unsatisfiable dependency) with a hint for the user. */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
  readonly hint: string | undefined;
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options.hint;
  }
}

/** Throws an `ArchiveError`; reads like a statement at the call site. */
export function fail(message: string, options: { hint?: string; cause?: unknown } = {}): never {
  throw new ArchiveError(message, options);
}

/** An HTTP answer other than 200/206, with its status (404 is how a mirror says "not here"). */
export class HttpError extends ArchiveError {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    options: { hint?: string } = {},
  ) {
    super(message, options);
  }
}
