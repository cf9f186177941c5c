// The lab's networks as data and pure functions (no v86 here: the page imports this too): the modes a
// machine boots with, the addresses the lab hands out, the kernel command-line word an appliance's /init
// reads, what a frame says about its two ends (for the packet counts) and an HTTP answer read back from
// a guest. The part that touches v86 is network-link.ts.

import * as v from 'valibot';
import { IP_FLAG } from '../images/guest-contract.ts';

export { IP_FLAG };

/** The lab network: one Ethernet segment, 10.0.86.0/24, for every machine of this origin (all tabs). */
export const LAB_PREFIX = '10.0.86';
export const LAB_PREFIX_LENGTH = 24;
/**
 * The page itself on the lab network: each machine's own view of the host (v86's fake router, private to
 * that machine's card), which answers ARP, ping and DHCP and opens the connections of the web-page panel.
 */
export const LAB_HOST = `${LAB_PREFIX}.1`;
/** Host numbers the lab hands to machines: .10 to .249 (the rest stay free for addresses set by hand). */
const FIRST_HOST = 10;
const HOSTS = 240;

/** v86's fetch router and the address its DHCP hands the guest (src/browser/fetch_network.js defaults). */
export const WEB_ROUTER = '192.168.86.1';
export const WEB_GUEST = '192.168.86.100';

/**
 * v86's `inbrowser` adapter's BroadcastChannel for card 0 (src/browser/inbrowser_network.js): the lab joins
 * the same segment, so a v86 page of this origin using that adapter sees the lab's machines too.
 */
export const LAB_CHANNEL = 'v86-inbrowser-0';

/** 2 to 254 without leading zeros: the lab's machine host numbers (.1 is the host). */
const LAB_ADDRESS = new RegExp(`^${LAB_PREFIX.replace(/\./g, '\\.')}\\.([2-9]|[1-9]\\d|1\\d\\d|2[0-4]\\d|25[0-4])$`);

/** A machine address on the lab network: 10.0.86.2 to 10.0.86.254. */
export const LabAddressSchema = v.pipe(v.string('not an address'), v.regex(LAB_ADDRESS, `must be an address from ${LAB_PREFIX}.2 to ${LAB_PREFIX}.254`));

/** How a machine is networked, fixed at boot. */
export const NetworkSchema = v.variant(
  'mode',
  [
    v.object({ mode: v.literal('off') }),
    /** The lab segment with a static address (`whittle.ip=<address>/24`). */
    v.object({ mode: v.literal('lab'), address: LabAddressSchema }),
    /** v86's fetch router: DHCP, and the guest's HTTP on port 80 made by the page with fetch(). */
    v.object({ mode: v.literal('web') }),
  ],
  (issue) => (issue.input === undefined ? 'missing mode' : `unknown network mode ${JSON.stringify(issue.input)} (off, lab or web)`),
);
export type NetworkOptions = v.InferOutput<typeof NetworkSchema>;
export type NetworkMode = NetworkOptions['mode'];
export const NETWORK_MODES: readonly NetworkMode[] = ['off', 'lab', 'web'];

/** FNV-1a (32 bits) of a name: the same number in every browser and in Node. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/**
 * The lab address an image gets: derived from its name, so the same image has the same address every
 * time and everywhere (redis is always at the same place), moving to the next free one only when `taken`
 * (addresses already in use) holds it.
 */
export function labAddress(name: string, taken: ReadonlySet<string> = new Set()): string {
  const start = fnv1a(name) % HOSTS;
  for (let i = 0; i < HOSTS; i++) {
    const address = `${LAB_PREFIX}.${FIRST_HOST + ((start + i) % HOSTS)}`;
    if (!taken.has(address)) return address;
  }
  throw new RangeError(`all ${HOSTS} lab addresses are taken`);
}

/** The command-line word for a machine's network (`undefined` when it has none). */
export function networkCmdline(net: NetworkOptions | undefined): string | undefined {
  if (net?.mode === 'lab') return `${IP_FLAG}=${net.address}/${LAB_PREFIX_LENGTH}`;
  if (net?.mode === 'web') return `${IP_FLAG}=dhcp`;
  return undefined;
}

/** The guest's address: the one the lab gave it, or the one v86's router hands out by DHCP. */
export function guestAddress(net: NetworkOptions | undefined): string | undefined {
  if (net?.mode === 'lab') return net.address;
  if (net?.mode === 'web') return WEB_GUEST;
  return undefined;
}

/** Packets by the other end's IPv4 address. */
export interface PeerCounts {
  sent: number;
  received: number;
}

/** A networked machine's card as the page sees it (the `network` event, once a second while it changes). */
export interface NetworkCounters {
  mode: 'lab' | 'web';
  /** The guest's address (guestAddress). */
  address: string;
  /** The card's MAC address (v86 picks one at random for each machine). */
  mac: string;
  /** Ethernet frames the guest sent and received, and their bytes. */
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
  /** By the other end's IPv4 address (ARP counts for the address asked about or answering). */
  peers: Record<string, PeerCounts>;
  /** Another card (MAC) on the lab network uses this machine's address: a machine of the same image in another tab. */
  conflict?: string;
  /** On the web: the guest's HTTP requests this page fetched and got an answer to, and those that failed (CORS refused, or no answer). */
  fetched?: { answered: number; failed: number };
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETH_HEADER = 14;

const ip = (f: Uint8Array, at: number): string => `${f[at]}.${f[at + 1]}.${f[at + 2]}.${f[at + 3]}`;

export function formatMac(mac: ArrayLike<number>): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** What a frame is, as far as the lab cares: its MACs and, for IPv4 and ARP, the two IPv4 ends. */
export interface FrameEnds {
  dstMac: string;
  srcMac: string;
  /** Sender and receiver (ARP: the sender's address and the one asked about or answered to). */
  src?: string;
  dst?: string;
  /** IPv4 protocol (1 ICMP, 6 TCP, 17 UDP) and, for TCP and UDP, the destination port. */
  proto?: number;
  dstPort?: number;
  /** ARP operation: 1 request, 2 reply. */
  arp?: number;
  /** TCP flags byte (SYN 0x02, ACK 0x10). */
  tcpFlags?: number;
}

/** Reads a frame's ends; undefined for one too short to be Ethernet. */
export function frameEnds(f: Uint8Array): FrameEnds | undefined {
  if (f.length < ETH_HEADER) return undefined;
  const ends: FrameEnds = { dstMac: formatMac(f.subarray(0, 6)), srcMac: formatMac(f.subarray(6, 12)) };
  const type = (f[12] << 8) | f[13];
  if (type === ETHERTYPE_IPV4 && f.length >= ETH_HEADER + 20) {
    ends.src = ip(f, ETH_HEADER + 12);
    ends.dst = ip(f, ETH_HEADER + 16);
    ends.proto = f[ETH_HEADER + 9];
    const l4 = ETH_HEADER + (f[ETH_HEADER] & 0x0f) * 4;
    if ((ends.proto === 6 || ends.proto === 17) && f.length >= l4 + 4) ends.dstPort = (f[l4 + 2] << 8) | f[l4 + 3];
    if (ends.proto === 6 && f.length >= l4 + 14) ends.tcpFlags = f[l4 + 13];
  } else if (type === ETHERTYPE_ARP && f.length >= ETH_HEADER + 28) {
    ends.arp = (f[ETH_HEADER + 6] << 8) | f[ETH_HEADER + 7];
    ends.src = ip(f, ETH_HEADER + 14);
    ends.dst = ip(f, ETH_HEADER + 24);
  }
  return ends;
}

/** A frame to a group address (broadcast or multicast: the first byte's low bit). */
export function isGroupFrame(f: Uint8Array): boolean {
  return f.length > 0 && (f[0] & 1) === 1;
}

// ---- HTTP answers read back from a guest ----

export interface HttpResponse {
  status: number;
  statusText: string;
  /** In the order the guest sent them, names as sent. */
  headers: [string, string][];
  /** The body, de-chunked. */
  body: Uint8Array;
}

/** How far an HTTP answer has come: more bytes needed, or whole (with its length in bytes). */
export type HttpProgress = { complete: false } | { complete: true; length: number; response: HttpResponse };

const CRLFCRLF = [13, 10, 13, 10];

function indexOf(bytes: Uint8Array, pattern: number[], from = 0): number {
  outer: for (let i = from; i + pattern.length <= bytes.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

export class HttpParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpParseError';
  }
}

/**
 * Reads an HTTP/1.x answer from the bytes received so far. It is whole when its Content-Length bytes or
 * its last chunk are in, or, for a body of neither, when `closed` (the server ended the connection).
 * Throws HttpParseError for what is not HTTP.
 */
export function readHttpResponse(bytes: Uint8Array, closed: boolean, method = 'GET'): HttpProgress {
  const end = indexOf(bytes, CRLFCRLF);
  if (end < 0) {
    if (closed) throw new HttpParseError(bytes.length ? `the answer ended inside its header (${bytes.length} bytes)` : 'the connection closed without an answer');
    return { complete: false };
  }
  const lines = new TextDecoder('latin1').decode(bytes.subarray(0, end)).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new HttpParseError(`not an HTTP answer: ${JSON.stringify(lines[0].slice(0, 80))}`);
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpParseError(`a header line without a name: ${JSON.stringify(line.slice(0, 80))}`);
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  const status = Number(m[1]);
  const header = (name: string) => headers.find(([k]) => k.toLowerCase() === name)?.[1];
  const head = { status, statusText: m[2] ?? '', headers };
  const start = end + 4;
  // No body: HEAD, 1xx, 204, 304 (RFC 9112 6.3).
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) return { complete: true, length: start, response: { ...head, body: new Uint8Array(0) } };
  if (/\bchunked\b/i.test(header('transfer-encoding') ?? '')) return readChunked(bytes, start, closed, head);
  const length = header('content-length');
  if (length !== undefined) {
    const n = Number(length);
    if (!Number.isSafeInteger(n) || n < 0) throw new HttpParseError(`a bad Content-Length: ${JSON.stringify(length)}`);
    if (bytes.length - start < n) {
      if (closed) throw new HttpParseError(`the answer ended after ${bytes.length - start} of its ${n} bytes`);
      return { complete: false };
    }
    return { complete: true, length: start + n, response: { ...head, body: bytes.slice(start, start + n) } };
  }
  return closed ? { complete: true, length: bytes.length, response: { ...head, body: bytes.slice(start) } } : { complete: false };
}

function readChunked(bytes: Uint8Array, at: number, closed: boolean, head: Omit<HttpResponse, 'body'>): HttpProgress {
  const parts: Uint8Array[] = [];
  for (;;) {
    const eol = indexOf(bytes, [13, 10], at);
    if (eol < 0) break;
    const size = parseInt(new TextDecoder().decode(bytes.subarray(at, eol)).split(';')[0].trim(), 16);
    if (!Number.isSafeInteger(size) || size < 0) throw new HttpParseError('a bad chunk size');
    if (size === 0) {
      // The last chunk, then (optional trailers and) an empty line.
      const done = indexOf(bytes, CRLFCRLF, eol - 2);
      if (done < 0) break;
      const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) body.set(p, (o += p.length) - p.length);
      return { complete: true, length: done + 4, response: { ...head, body } };
    }
    if (bytes.length < eol + 2 + size + 2) break;
    parts.push(bytes.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  if (closed) throw new HttpParseError('the answer ended inside a chunk');
  return { complete: false };
}
