// Kconfig text: parse config fragments and .config files, and find fragment options that did not stick.
// Pure functions (no Node imports), so the unit tests need no kernel tree.

import { HintedError, type HintedErrorOptions } from '../hinted-error.ts';

/** One option a fragment asks for: `CONFIG_X=value`, or `# CONFIG_X is not set` (value `null`). */
export interface ConfigAssignment {
  /** Option name with its prefix, e.g. `CONFIG_SERIAL_8250`. */
  name: string;
  /** `y`, `m`, a number, a quoted string, ...; `null` means "is not set" (`=n` is read the same). */
  value: string | null;
  /** Where it came from, e.g. `base.config:12`, for error messages. */
  origin: string;
}

/** A fragment line that is neither an option, a comment nor blank. */
export class FragmentSyntaxError extends HintedError<'bad-fragment'> {
  constructor(message: string, options: HintedErrorOptions = {}) {
    super('bad-fragment', message, { hint: 'Fix the line in the kernel fragment (the format is in images/kernel/README.md).', ...options });
  }
}

const ASSIGN = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const NOT_SET = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;
// A quoted Kconfig string: backslash escapes allowed, nothing after the closing quote.
const QUOTED = /^"(?:[^"\\]|\\.)*"$/;
const UNQUOTED = /^[A-Za-z0-9_+\-x]+$/;

/**
 * Parses a config fragment (or a recipe's extra lines): `CONFIG_X=y|m|n|<number>|"<string>"`,
 * `# CONFIG_X is not set`, other `#` comments and blank lines. Anything else is an error, so a typo
 * such as `CONFIG_FOO y` or `SERIAL_8250=y` is caught before a kernel is built without it.
 */
export function parseFragment(text: string, source: string): ConfigAssignment[] {
  const out: ConfigAssignment[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    const origin = `${source}:${i + 1}`;
    if (line === '') return;
    const notSet = NOT_SET.exec(line);
    if (notSet) {
      out.push({ name: notSet[1], value: null, origin });
      return;
    }
    if (line.startsWith('#')) {
      // A comment that looks like a mistyped "is not set" would silently do nothing: refuse it.
      if (/^#\s*CONFIG_[A-Za-z0-9_]+\s+is\s+not\s+set/.test(line)) {
        throw new FragmentSyntaxError(`${origin}: write "# CONFIG_X is not set" exactly (one space each): ${line}`);
      }
      return;
    }
    const assign = ASSIGN.exec(line);
    if (!assign) throw new FragmentSyntaxError(`${origin}: not a Kconfig line (CONFIG_X=value or "# CONFIG_X is not set"): ${line}`);
    const [, name, value] = assign;
    if (value === 'n') out.push({ name, value: null, origin });
    else if (QUOTED.test(value) || UNQUOTED.test(value)) out.push({ name, value, origin });
    else throw new FragmentSyntaxError(`${origin}: ${name} has a malformed value (quote strings): ${value}`);
  });
  return out;
}

/** Reads a .config into option → value (`null` for "is not set"). Options the file doesn't name are absent. */
export function parseConfig(text: string): Map<string, string | null> {
  const config = new Map<string, string | null>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const notSet = NOT_SET.exec(line);
    if (notSet) config.set(notSet[1], null);
    const assign = ASSIGN.exec(line);
    if (assign) config.set(assign[1], assign[2] === 'n' ? null : assign[2]);
  }
  return config;
}

/** Later assignments of the same option win, as with `merge_config.sh`; returns the winners in order. */
export function effectiveAssignments(assignments: readonly ConfigAssignment[]): ConfigAssignment[] {
  const last = new Map<string, ConfigAssignment>();
  for (const a of assignments) {
    last.delete(a.name); // keep first-seen order of the final values readable
    last.set(a.name, a);
  }
  return [...last.values()];
}

/** Pairs of assignments where a later one overrides an earlier one with a different value. */
export function overrides(assignments: readonly ConfigAssignment[]): { earlier: ConfigAssignment; later: ConfigAssignment }[] {
  const seen = new Map<string, ConfigAssignment>();
  const out: { earlier: ConfigAssignment; later: ConfigAssignment }[] = [];
  for (const a of assignments) {
    const prev = seen.get(a.name);
    if (prev && prev.value !== a.value) out.push({ earlier: prev, later: a });
    seen.set(a.name, a);
  }
  return out;
}

/** An option the fragments asked for that the final .config does not hold. */
export interface UnmetOption {
  wanted: ConfigAssignment;
  /** Its value in the final .config: `null` = "is not set", `undefined` = not in the file at all. */
  actual: string | null | undefined;
}

/**
 * Compares the fragments' options with the final .config (after olddefconfig). An option asked to be
 * "not set" may also be absent (its dependencies are off, so it is off). Anything else must match
 * exactly: `=m` in a kernel without modules becomes `y` and is reported, as is an option that is
 * absent because it is misspelled or its dependencies are missing.
 */
export function unmetOptions(assignments: readonly ConfigAssignment[], finalConfig: string): UnmetOption[] {
  const config = parseConfig(finalConfig);
  const unmet: UnmetOption[] = [];
  for (const wanted of effectiveAssignments(assignments)) {
    const actual = config.has(wanted.name) ? config.get(wanted.name)! : undefined;
    const holds = wanted.value === null ? actual === null || actual === undefined : actual === wanted.value;
    if (!holds) unmet.push({ wanted, actual });
  }
  return unmet;
}

/** One line per unmet option, e.g. `CONFIG_NE2000=y (base.config:3) ended up not set`. */
export function describeUnmet(u: UnmetOption): string {
  const want = u.wanted.value === null ? `# ${u.wanted.name} is not set` : `${u.wanted.name}=${u.wanted.value}`;
  const got = u.actual === undefined ? 'is not in the final .config (misspelled, or its dependencies are off)' : u.actual === null ? 'ended up not set' : `ended up ${u.actual}`;
  return `${want} (${u.wanted.origin}) ${got}`;
}

/** Renders assignments back as fragment text (used to hand a recipe's extra lines to kconfig). */
export function formatAssignments(assignments: readonly ConfigAssignment[]): string {
  return assignments.map((a) => (a.value === null ? `# ${a.name} is not set` : `${a.name}=${a.value}`)).join('\n') + '\n';
}

/**
 * Applies assignments on top of a .config the way `merge_config.sh -m` does: each named option's old
 * line is dropped and the new line appended (later assignments win). `make olddefconfig` then fills
 * in whatever the new values make visible.
 */
export function mergeConfig(baseConfig: string, assignments: readonly ConfigAssignment[]): string {
  const final = effectiveAssignments(assignments);
  const named = new Set(final.map((a) => a.name));
  const kept = baseConfig.split('\n').filter((raw) => {
    const line = raw.trim();
    const name = NOT_SET.exec(line)?.[1] ?? ASSIGN.exec(line)?.[1];
    return name === undefined || !named.has(name);
  });
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  return `${kept.join('\n')}\n${formatAssignments(final)}`;
}

/** The symbols an expression such as `PCI && (X86_32 || COMPILE_TEST)` mentions. */
export function symbolsIn(expression: string): string[] {
  // Symbols are upper case and may start with a digit (64BIT); y/m/n and quoted strings are not symbols.
  const unquoted = expression.replace(/"[^"]*"/g, '');
  return [...new Set(unquoted.match(/\b[A-Z0-9_]*[A-Z][A-Z0-9_]*\b/g) ?? [])];
}
