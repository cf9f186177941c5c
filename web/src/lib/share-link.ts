// Share links: the images (pinned by digest), machine settings and a demo script, compressed into the
// URL fragment (`#/s/<data>`), so nothing is sent to a server. Decoding validates everything it reads.

import { isSha256, type ScriptStep } from '../../../images/manifest.ts';
import { fromBase64Url, toBase64Url } from './base64url.ts';

export const SHARE_VERSION = 1;

export interface SharedImage {
  name: string;
  /** imageDigest() of the manifest the link was made with. */
  digest: string;
  /** Manifest URL for an image this app does not serve (http or https). */
  url?: string;
}

export interface Share {
  images: SharedImage[];
  script: ScriptStep[];
  /** Guest memory override in MiB. */
  memoryMB?: number;
}

export class ShareLinkError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

// Limits keep a hostile link from hanging the page; real links are a few hundred bytes.
const MAX_ENCODED = 16_000;
const MAX_JSON = 64 * 1024;
const MAX_IMAGES = 4;
const MAX_STEPS = 100;
const MAX_TEXT = 2000;

/** The wire form: short keys and tuples keep the link short. */
interface Wire {
  v: number;
  i: [name: string, digest: string, url?: string][];
  s: [send: string, expect: string, timeout?: number][];
  m?: number;
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
export async function encodeShare(share: Share): Promise<string> {
  validate(share);
  const wire: Wire = {
    v: SHARE_VERSION,
    i: share.images.map((im) => (im.url ? [im.name, im.digest, im.url] : [im.name, im.digest])),
    s: share.script.map((st) => (st.timeout !== undefined ? [st.send, st.expect, st.timeout] : [st.send, st.expect])),
  };
  if (share.memoryMB !== undefined) wire.m = share.memoryMB;
  const json = new TextEncoder().encode(JSON.stringify(wire));
  return toBase64Url(await pipe(json, new CompressionStream('deflate-raw'), Infinity));
}

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
  if (typeof value !== 'object' || value === null) throw damaged('no settings inside');
  const w = value as Partial<Wire>;
  if (typeof w.v === 'number' && w.v > SHARE_VERSION) {
    throw new ShareLinkError('This link was made by a newer version of Whittle.', 'Reload the page to get the latest version.');
  }
  if (w.v !== SHARE_VERSION) throw damaged(`unknown format ${String(w.v)}`);
  if (!Array.isArray(w.i) || !Array.isArray(w.s)) throw damaged('images or script missing');
  const share: Share = {
    images: w.i.map((t) => {
      if (!Array.isArray(t)) throw damaged('an image entry is malformed');
      const [name, digest, url] = t;
      return url === undefined ? { name, digest } : { name, digest, url };
    }),
    script: w.s.map((t) => {
      if (!Array.isArray(t)) throw damaged('a script step is malformed');
      const [send, expect, timeout] = t;
      return timeout === undefined ? { send, expect } : { send, expect, timeout };
    }),
  };
  if (w.m !== undefined) share.memoryMB = w.m;
  validate(share);
  return share;
}

function validate(share: Share): void {
  const bad = (what: string): never => {
    throw new ShareLinkError(`This share link is not valid: ${what}.`, 'Ask whoever sent it for a new link.');
  };
  if (share.images.length === 0) bad('it names no image');
  if (share.images.length > MAX_IMAGES) bad(`it names more than ${MAX_IMAGES} images`);
  for (const im of share.images) {
    if (typeof im.name !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(im.name)) bad('an image name');
    if (!isSha256(im.digest)) bad(`the hash of image ${im.name}`);
    if (im.url !== undefined) {
      let ok = false;
      try {
        const u = new URL(im.url);
        ok = (u.protocol === 'https:' || u.protocol === 'http:') && im.url.length <= MAX_TEXT;
      } catch {
        ok = false;
      }
      if (!ok) bad(`the address of image ${im.name}`);
    }
  }
  if (share.script.length > MAX_STEPS) bad(`its script has more than ${MAX_STEPS} steps`);
  for (const [n, st] of share.script.entries()) {
    if (typeof st.send !== 'string' || typeof st.expect !== 'string') bad(`script step ${n + 1}`);
    if (st.send.length > MAX_TEXT || st.expect.length > MAX_TEXT) bad(`script step ${n + 1} is too long`);
    if (st.timeout !== undefined && !(typeof st.timeout === 'number' && st.timeout > 0 && st.timeout <= 600)) {
      bad(`the timeout of script step ${n + 1}`);
    }
  }
  if (share.memoryMB !== undefined && !(Number.isInteger(share.memoryMB) && share.memoryMB >= 16 && share.memoryMB <= 2048)) {
    bad('the memory size');
  }
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
