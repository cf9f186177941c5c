// Which Debian mirror to use: `DEBIAN_MIRROR`, else the first bookworm source among the host's apt sources.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseParagraphs } from './control.ts';
import { fail } from './errors.ts';

export interface MirrorOptions {
  /** Environment to read `DEBIAN_MIRROR` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** apt's configuration folder (default `/etc/apt`), holding `sources.list` and `sources.list.d/`. */
  aptDir?: string;
  /** Suite the mirror must serve (default `bookworm`). */
  suite?: string;
}

const HINT =
  'Set DEBIAN_MIRROR to a Debian mirror\'s base URL (the folder holding dists/ and pool/), ' +
  'e.g. DEBIAN_MIRROR=http://<mirror>/debian, or add a bookworm entry to /etc/apt/sources.list.';

/** The mirror's base URL without a trailing slash; throws an `ArchiveError` naming `DEBIAN_MIRROR` if none. */
export function debianMirror(options: MirrorOptions = {}): string {
  const env = options.env ?? process.env;
  const suite = options.suite ?? 'bookworm';
  const fromEnv = env.DEBIAN_MIRROR?.trim();
  if (fromEnv) {
    if (!isHttpUrl(fromEnv)) fail(`DEBIAN_MIRROR is not an http(s) URL: ${JSON.stringify(fromEnv)}`, { hint: HINT });
    return withoutTrailingSlash(fromEnv);
  }
  const aptDir = options.aptDir ?? '/etc/apt';
  for (const source of aptSources(aptDir)) {
    if (source.types.includes('deb') && source.suites.includes(suite)) {
      const uri = source.uris.find(isHttpUrl);
      if (uri) return withoutTrailingSlash(uri);
    }
  }
  fail(`No Debian mirror: DEBIAN_MIRROR is not set and no http(s) source for ${suite} is in ${aptDir}/sources.list*`, {
    hint: HINT,
  });
}

/** One apt source entry, from either file format. */
export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  file: string;
}

/** The host's apt sources in apt's reading order: `sources.list`, then `sources.list.d/` sorted by name. */
export function aptSources(aptDir = '/etc/apt'): AptSource[] {
  const files = [join(aptDir, 'sources.list')];
  const dir = join(aptDir, 'sources.list.d');
  for (const name of listDir(dir).sort()) {
    if (name.endsWith('.list') || name.endsWith('.sources')) files.push(join(dir, name));
  }
  const sources: AptSource[] = [];
  for (const file of files) {
    const text = readText(file);
    if (text === undefined) continue;
    sources.push(...(file.endsWith('.sources') ? parseDeb822Sources(text, file) : parseOneLineSources(text, file)));
  }
  return sources;
}

/** One-line format: `deb [option=value ...] uri suite [component ...]`, `#` starts a comment. */
export function parseOneLineSources(text: string, file = 'sources.list'): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const type = line.split(/\s+/, 1)[0];
    if (type !== 'deb' && type !== 'deb-src') continue;
    line = line.slice(type.length).trim();
    if (line.startsWith('[')) {
      const end = line.indexOf(']');
      if (end < 0) continue;
      line = line.slice(end + 1).trim();
    }
    const [uri, suite, ...components] = line.split(/\s+/);
    if (!uri || !suite) continue;
    sources.push({ types: [type], uris: [uri], suites: [suite], components, file });
  }
  return sources;
}

/** deb822 format (`*.sources`): paragraphs with Types, URIs, Suites, Components; `Enabled: no` skips one. */
export function parseDeb822Sources(text: string, file = 'x.sources'): AptSource[] {
  const sources: AptSource[] = [];
  for (const p of parseParagraphs(text, { comments: true })) {
    const get = (key: string) => fieldCaseless(p, key);
    if ((get('Enabled') ?? 'yes').trim().toLowerCase() === 'no') continue;
    const words = (key: string) => (get(key) ?? '').split(/\s+/).filter(Boolean);
    sources.push({ types: words('Types'), uris: words('URIs'), suites: words('Suites'), components: words('Components'), file });
  }
  return sources;
}

function fieldCaseless(p: Record<string, string>, key: string): string | undefined {
  const lower = key.toLowerCase();
  for (const k of Object.keys(p)) if (k.toLowerCase() === lower) return p[k];
  return undefined;
}

function isHttpUrl(s: string): boolean {
  try {
    const url = new URL(s);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function withoutTrailingSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
