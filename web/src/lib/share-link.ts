// Share links: the images (pinned by digest), machine settings, a demo script and the files it needs
// (small ones inline, larger ones by URL and sha256), compressed into the URL fragment (`#/s/<data>`),
// so nothing is sent to a server. Decoding validates everything it reads.

import * as v from 'valibot';
import { describeIssues, IMAGE_NAME, isSha256, MAX_MEMORY_MB, MIN_MEMORY_MB, ScriptSchema, type ScriptStep } from '../../../images/manifest.ts';
import { HintedError } from '../../../images/hinted-error.ts';
import { formatBytes } from '../../../images/format.ts';
import { SHARE_LIMIT_BYTES, SHARE_MOUNT, sharePathProblem } from '../../../worker/share-path.ts';
import { fromBase64Url, toBase64Url } from './base64url.ts';

export const SHARE_VERSION = 1;

// Limits keep a hostile link from hanging the page; real links are a few hundred bytes.
const MAX_ENCODED = 16_000;
const MAX_JSON = 64 * 1024;
const MAX_IMAGES = 4;
const MAX_URL = 2000;
const MAX_FILES = 16;

const isHttpUrl = (s: string): boolean => {
  if (s.length > MAX_URL) return false;
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
};

export const SharedImageSchema = v.pipe(
  v.object({
    name: v.pipe(v.string('not an image name'), v.regex(IMAGE_NAME, 'not an image name')),
    /** imageDigest() of the manifest the link was made with. */
    digest: v.string('not a hash'),
    /** Manifest URL for an image this app does not serve (http or https). */
    url: v.optional(v.string('not an address')),
  }),
  // Checked on the entry so the message can name the image.
  v.forward(v.check((im) => isSha256(im.digest), (issue) => `the hash of image ${issue.input.name} is not a sha256`), ['digest']),
  v.forward(v.check((im) => im.url === undefined || isHttpUrl(im.url), (issue) => `the address of image ${issue.input.name} is not an http(s) URL`), ['url']),
);
export type SharedImage = v.InferOutput<typeof SharedImageSchema>;

const isBase64Url = (s: string) => /^[A-Za-z0-9_-]*$/.test(s) && s.length % 4 !== 1;

/**
 * A file the replay puts into each machine's host share (/mnt/host) before the script runs: its bytes
 * in the link (`data`, base64url), or fetched from `url` and checked against `sha256` and `size`.
 */
export const SharedFileSchema = v.pipe(
  v.object({
    path: v.string('a file has no name'),
    data: v.optional(v.string('file data is not text')),
    url: v.optional(v.string('not an address')),
    sha256: v.optional(v.string('not a hash')),
    size: v.optional(v.pipe(v.number('not a size'), v.safeInteger('not a size'), v.minValue(0, 'not a size'))),
  }),
  v.check((f) => sharePathProblem(f.path) === undefined, (issue) => `file ${sharePathProblem(issue.input.path)}`),
  v.check((f) => (f.data === undefined) !== (f.url === undefined), (issue) => `file ${issue.input.path} needs either its data or a URL, not ${issue.input.data === undefined ? 'neither' : 'both'}`),
  v.check((f) => f.data === undefined || isBase64Url(f.data), (issue) => `the data of file ${issue.input.path} is not base64url`),
  v.check((f) => f.url === undefined || isHttpUrl(f.url), (issue) => `the address of file ${issue.input.path} is not an http(s) URL`),
  v.check((f) => f.url === undefined || isSha256(f.sha256), (issue) => `file ${issue.input.path} is given by URL without its sha256`),
  v.check((f) => f.url === undefined || f.size !== undefined, (issue) => `file ${issue.input.path} is given by URL without its size`),
  v.check((f) => (f.size ?? 0) <= SHARE_LIMIT_BYTES, (issue) => `file ${issue.input.path} is larger than the host share holds (${formatBytes(SHARE_LIMIT_BYTES)})`),
);
export type SharedFile = v.InferOutput<typeof SharedFileSchema>;

export const ShareSchema = v.object({
  images: v.pipe(v.array(SharedImageSchema), v.minLength(1, 'it names no image'), v.maxLength(MAX_IMAGES, `it names more than ${MAX_IMAGES} images`)),
  script: ScriptSchema,
  /** Guest memory override in MiB. */
  memoryMB: v.optional(
    v.pipe(
      v.number('the memory size is not a number'),
      v.integer(`the memory size must be ${MIN_MEMORY_MB}..${MAX_MEMORY_MB} MiB`),
      v.minValue(MIN_MEMORY_MB, `the memory size must be ${MIN_MEMORY_MB}..${MAX_MEMORY_MB} MiB`),
      v.maxValue(MAX_MEMORY_MB, `the memory size must be ${MIN_MEMORY_MB}..${MAX_MEMORY_MB} MiB`),
    ),
  ),
  /** Files put into /mnt/host before the script runs. */
  files: v.optional(
    v.pipe(
      v.array(SharedFileSchema),
      v.maxLength(MAX_FILES, `it carries more than ${MAX_FILES} files`),
      v.check((fs) => new Set(fs.map((f) => f.path)).size === fs.length, 'it names a file twice'),
      v.check((fs) => fs.reduce((n, f) => n + (f.size ?? 0), 0) <= SHARE_LIMIT_BYTES, `its files are larger than the host share holds (${formatBytes(SHARE_LIMIT_BYTES)})`),
    ),
  ),
});
export type Share = v.InferOutput<typeof ShareSchema>;

export class ShareLinkError extends HintedError<'bad-share-link'> {
  declare readonly hint: string;
  constructor(message: string, hint: string) {
    super('bad-share-link', message, { hint });
  }
}

/** The wire form: short keys and tuples keep the link short. Read into a `Share`, then checked as one. */
const WireSchema = v.pipe(
  v.object({
    v: v.literal(SHARE_VERSION),
    i: v.array(v.tuple([v.unknown(), v.unknown(), v.optional(v.unknown())], 'an image entry is malformed'), 'images missing'),
    s: v.array(v.tuple([v.unknown(), v.unknown(), v.optional(v.unknown())], 'a script step is malformed'), 'script missing'),
    m: v.optional(v.unknown()),
    // [path, data] inline, or [path, url, sha256, size]
    f: v.optional(
      v.array(
        v.union([v.strictTuple([v.unknown(), v.unknown()]), v.strictTuple([v.unknown(), v.unknown(), v.unknown(), v.unknown()])], 'a file entry is malformed'),
        'files malformed',
      ),
    ),
  }),
  v.transform((w) => ({
    images: w.i.map(([name, digest, url]) => (url === undefined ? { name, digest } : { name, digest, url })),
    script: w.s.map(([send, expect, timeout]) => (timeout === undefined ? { send, expect } : { send, expect, timeout })),
    ...(w.m === undefined ? {} : { memoryMB: w.m }),
    ...(w.f === undefined ? {} : { files: w.f.map((f) => (f.length === 2 ? { path: f[0], data: f[1] } : { path: f[0], url: f[1], sha256: f[2], size: f[3] })) }),
  })),
);

interface Wire {
  v: number;
  i: [name: string, digest: string, url?: string][];
  s: [send: string, expect: string, timeout?: number][];
  m?: number;
  f?: ([path: string, data: string] | [path: string, url: string, sha256: string, size: number])[];
}

async function pipe(bytes: Uint8Array, transform: ReadableWritablePair<Uint8Array, BufferSource>, limit: number): Promise<Uint8Array> {
  const reader = new Blob([bytes as BlobPart]).stream().pipeThrough(transform).getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw new ShareLinkError('This link holds more data than a share link can.', 'Ask for a link with a shorter script.');
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The fragment data for a share (what follows `#/s/`). */
export async function encodeShare(unchecked: Share): Promise<string> {
  const share = validate(unchecked);
  const wire: Wire = {
    v: SHARE_VERSION,
    i: share.images.map((im) => (im.url ? [im.name, im.digest, im.url] : [im.name, im.digest])),
    s: share.script.map((st) => (st.timeout !== undefined ? [st.send, st.expect, st.timeout] : [st.send, st.expect])),
  };
  if (share.memoryMB !== undefined) wire.m = share.memoryMB;
  if (share.files?.length) wire.f = share.files.map((f) => (f.data !== undefined ? [f.path, f.data] : [f.path, f.url!, f.sha256!, f.size!]));
  const json = new TextEncoder().encode(JSON.stringify(wire));
  if (json.length > MAX_JSON) throw tooBig(`${formatBytes(json.length)} of settings`);
  const data = toBase64Url(await pipe(json, new CompressionStream('deflate-raw'), Infinity));
  // What decodeShare would refuse as too long must not be made.
  if (data.length > MAX_ENCODED) throw tooBig(`${data.length} characters`);
  return data;
}

const tooBig = (what: string) =>
  new ShareLinkError(
    `This link would hold more than a share link can (${what}; at most ${MAX_ENCODED} characters).`,
    'Give larger files by URL and sha256 instead of putting them in the link, or shorten the script.',
  );

/** A file carried in the link itself. */
export function inlineFile(path: string, bytes: Uint8Array): SharedFile {
  return { path, data: toBase64Url(bytes) };
}

/** The bytes of a file carried in the link (`inlineFile`). */
export function inlineBytes(file: SharedFile): Uint8Array {
  return fromBase64Url(file.data ?? '');
}

/** Where a shared file lands in the guest. */
export const guestPath = (file: SharedFile) => `${SHARE_MOUNT}/${file.path}`;

const damaged = (what: string) =>
  new ShareLinkError(`This share link is damaged (${what}).`, 'It may have been cut off when copied: ask for the link again.');

/** Decodes and validates fragment data; throws a ShareLinkError saying what is wrong and what to do. */
export async function decodeShare(data: string): Promise<Share> {
  if (data.length === 0) throw damaged('it is empty');
  if (data.length > MAX_ENCODED) throw damaged('it is too long');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(data);
  } catch {
    throw damaged('it contains characters a share link never has');
  }
  let json: Uint8Array;
  try {
    json = await pipe(bytes, new DecompressionStream('deflate-raw'), MAX_JSON);
  } catch (e) {
    if (e instanceof ShareLinkError) throw e;
    throw damaged('its data does not decompress');
  }
  let wire: unknown;
  try {
    wire = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    throw damaged('its data is not readable');
  }
  return fromWire(wire);
}

function fromWire(value: unknown): Share {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw damaged('no settings inside');
  const version = (value as { v?: unknown }).v;
  if (typeof version === 'number' && version > SHARE_VERSION) {
    throw new ShareLinkError('This link was made by a newer version of Whittle.', 'Reload the page to get the latest version.');
  }
  if (version !== SHARE_VERSION) throw damaged(`unknown format ${String(version)}`);
  const wire = v.safeParse(WireSchema, value);
  if (!wire.success) throw damaged(describeIssues(wire.issues));
  return validate(wire.output);
}

/** The share, checked; throws a ShareLinkError naming the first bad field. */
function validate(share: unknown): Share {
  const r = v.safeParse(ShareSchema, share);
  if (!r.success) throw new ShareLinkError(`This share link is not valid: ${describeIssues(r.issues)}.`, 'Ask whoever sent it for a new link.');
  return r.output;
}

/** Parses the demo script editor's text: `> line to type` lines, each followed by the text to wait for. */
export function parseScript(text: string): ScriptStep[] {
  const steps: ScriptStep[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('> ')) steps.push({ send: line.slice(2), expect: '' });
    else if (line.trim() !== '' && steps.length > 0 && steps[steps.length - 1].expect === '') steps[steps.length - 1].expect = line.trim();
  }
  return steps;
}

/** The editor text for a script (inverse of parseScript). */
export function formatScript(steps: readonly ScriptStep[]): string {
  return steps.map((s) => `> ${s.send}\n${s.expect}`).join('\n');
}
