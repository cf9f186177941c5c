// deb822 paragraphs (Packages, Release, control files, apt .sources): "Field: value" lines, continuation
// lines start with a space or tab, blank lines separate paragraphs (Debian Policy §5.1).

export type Paragraph = Record<string, string>;

export interface ParseOptions {
  /** Skip lines starting with `#` (allowed in apt .sources files, not in archive indices). */
  comments?: boolean;
}

/**
 * Parses every paragraph. A multi-line field's value is its first line, then each continuation line
 * without its first whitespace character, joined by `\n` (so ` .` stays `.` as in a Description).
 * Throws on a line that is neither a field nor a continuation, naming its line number.
 */
export function parseParagraphs(text: string, options: ParseOptions = {}): Paragraph[] {
  const paragraphs: Paragraph[] = [];
  for (const p of iterateParagraphs(text, options)) paragraphs.push(p);
  return paragraphs;
}

/** Like `parseParagraphs`, one paragraph at a time (the i386 Packages file is ~50 MB). */
export function* iterateParagraphs(text: string, options: ParseOptions = {}): Generator<Paragraph> {
  let current: Paragraph | undefined;
  let lastKey: string | undefined;
  let lineNo = 0;
  let pos = 0;
  const end = text.length;
  while (pos <= end) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = end;
    let line = text.slice(pos, nl);
    pos = nl + 1;
    lineNo++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (options.comments && line.startsWith('#')) continue;
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      // Continuation line, or a blank line made of whitespace (a paragraph separator).
      if (line.trim() === '') {
        if (current) yield current;
        current = undefined;
        lastKey = undefined;
        continue;
      }
      if (!current || lastKey === undefined) throw new Error(`deb822 line ${lineNo}: continuation line outside a field`);
      const before = current[lastKey];
      current[lastKey] = before === '' ? line.slice(1) : before + '\n' + line.slice(1);
      continue;
    }
    if (line === '') {
      if (current) yield current;
      current = undefined;
      lastKey = undefined;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`deb822 line ${lineNo}: expected "Field: value", got ${JSON.stringify(line.slice(0, 80))}`);
    const key = line.slice(0, colon);
    current ??= {};
    current[key] = line.slice(colon + 1).trim();
    lastKey = key;
  }
  if (current) yield current;
}

/** The first line of a Description: the synopsis. */
export function shortDescription(description: string | undefined): string {
  if (!description) return '';
  const nl = description.indexOf('\n');
  return nl < 0 ? description : description.slice(0, nl);
}
