// The web page panel's service worker (registered by guest-pages.ts): a request under its scope,
// `<scope><token>/<path>`, is the page of a guest open in a panel. It asks the lab's tabs which one owns
// `token`; that tab has its machine make the request (the worker's `http-get`, over the guest's network
// card) and hands the guest's answer back, which becomes the response. So the panel's sandboxed iframe
// shows the guest's page with its images and style sheets, all fetched from the guest, and no script of
// the guest's runs (the iframe has no allow-scripts, and the response's policy says script-src 'none').
// No imports: the built file must be a classic script (a module service worker is not in every browser).

/** The request a tab is asked to answer (guest-pages.ts GuestRequest). */
interface GuestRequest {
  type: 'whittle-guest-request';
  token: string;
  path: string;
  method: 'GET' | 'HEAD';
  accept: string | null;
}

/** A tab's answer: null when the token is not that tab's. */
type GuestReply = null | { error: string } | { host: string; status: number; statusText: string; headers: [string, string][]; body: Uint8Array };

interface WindowClient {
  postMessage(message: unknown, transfer: Transferable[]): void;
}
interface FetchEvent extends Event {
  readonly request: Request;
  respondWith(r: Promise<Response>): void;
}
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
declare const self: {
  registration: { scope: string };
  clients: { matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClient[]>; claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
};

/** How long a tab may take to answer (the guest's answer itself is bounded by the worker's timeout). */
const ANSWER_MS = 30_000;
/** What the guest's page may load: only what comes through here (its own files), its own inline styles, no script, no form. */
const PAGE_POLICY = "default-src 'self' data: blob:; style-src 'self' 'unsafe-inline' data:; script-src 'none'; object-src 'none'; form-action 'none'; frame-ancestors 'self'; base-uri 'self'";
/** Headers of the guest's answer the response keeps (the rest concern the guest's connection or cookies). */
const KEPT = /^(content-type|content-language|last-modified|etag|location|refresh|vary|content-disposition)$/i;

const scopePath = new URL(self.registration.scope).pathname;

self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (url.origin !== location.origin || !url.pathname.startsWith(scopePath)) return;
  const rest = url.pathname.slice(scopePath.length);
  const slash = rest.indexOf('/');
  const token = slash < 0 ? rest : rest.slice(0, slash);
  const path = `${slash < 0 ? '/' : rest.slice(slash)}${url.search}`;
  e.respondWith(answer(token, path, e.request));
});

function text(status: number, message: string): Response {
  return new Response(message, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Security-Policy': PAGE_POLICY } });
}

function ask(client: WindowClient, req: GuestRequest): Promise<GuestReply> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), ANSWER_MS);
    channel.port1.onmessage = (m) => {
      clearTimeout(timer);
      resolve(m.data as GuestReply);
    };
    client.postMessage(req, [channel.port2]);
  });
}

/** The first tab to own the token answers; null when none does. */
function firstAnswer(replies: Promise<GuestReply>[]): Promise<GuestReply> {
  return new Promise((resolve) => {
    let left = replies.length;
    if (!left) resolve(null);
    for (const r of replies) {
      void r.then((reply) => {
        left--;
        if (reply) resolve(reply);
        else if (!left) resolve(null);
      });
    }
  });
}

async function answer(token: string, path: string, request: Request): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, `The lab shows a guest's pages only (GET), not ${request.method}.`);
  const req: GuestRequest = { type: 'whittle-guest-request', token, path, method: request.method, accept: request.headers.get('accept') };
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const reply = await firstAnswer(windows.map((c) => ask(c, req)));
  if (!reply) return text(502, 'No machine of the lab answers for this page any more: it was stopped, or its tab was closed. Open the page again from the machine view.');
  if ('error' in reply) return text(502, reply.error);
  const headers = new Headers({ 'Content-Security-Policy': PAGE_POLICY, 'Cache-Control': 'no-store' });
  for (const [k, v] of reply.headers) {
    if (!KEPT.test(k)) continue;
    // A redirect within the guest stays within the panel: an absolute path, or a URL naming the guest, is put under this token.
    if (/^location$/i.test(k)) headers.set(k, within(token, reply.host, v));
    else headers.append(k, v);
  }
  // A Response cannot have a 1xx status (a GET without `Expect` never gets one).
  const status = reply.status >= 200 && reply.status <= 599 ? reply.status : 502;
  const nullBody = request.method === 'HEAD' || status === 204 || status === 304;
  return new Response(nullBody ? null : (reply.body as Uint8Array<ArrayBuffer>), { status, statusText: reply.statusText, headers });
}

function within(token: string, host: string, target: string): string {
  const m = /^https?:\/\/([^/]+)(\/.*)?$/i.exec(target);
  const path = target.startsWith('/') ? target : m && m[1].toLowerCase() === host ? (m[2] ?? '/') : undefined;
  return path === undefined ? target : `${scopePath}${token}${path}`;
}

export {};
