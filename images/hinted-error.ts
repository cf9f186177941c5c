// The one error shape every layer throws: what went wrong (`message`), a `code` callers tell errors
// apart by (never the message text), what the user can do about it (`hint`), and the cause kept.
// The boundary (builder CLI, compare CLI, bench, page, worker's error events) formats it; everything
// below throws a subclass, which narrows `code` to its own union. No Node or DOM imports: the bottom
// layer, importable by worker/ and web/.

export interface HintedErrorOptions {
  /** What the user can do about it: a command to run, a setting to change. */
  hint?: string;
  cause?: unknown;
}

export class HintedError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly hint?: string;
  constructor(code: Code, message: string, options: HintedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
  }
}
