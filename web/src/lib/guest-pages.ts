// The page's side of the web page panel: registers the service worker (guest-sw.ts) once, and answers
// its requests for the guest pages open in this tab, each under a token of its own. Where a browser has
// no service workers (not a secure context, some private modes), `scope()` is null and the panel shows the
// answer alone, without the page's images and style sheets.

import swUrl from './guest-sw.ts?worker&url';

/** What the service worker asks (guest-sw.ts). */
export interface GuestRequest {
  type: 'whittle-guest-request';
  token: string;
  path: string;
  method: 'GET' | 'HEAD';
  accept: string | null;
}

export interface GuestAnswer {
  /** The guest's address (and port unless 80), as in its URLs. */
  host: string;
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Uint8Array;
}

export type GuestHandler = (req: GuestRequest) => Promise<GuestAnswer>;

const handlers = new Map<string, GuestHandler>();
let registered: Promise<string | null> | undefined;

/** The scope URL guest pages are served under, once the service worker runs; null without service workers. */
export function scope(): Promise<string | null> {
  return (registered ??= register());
}

async function register(): Promise<string | null> {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return null;
  const url = new URL(swUrl, location.href);
  const scopeUrl = new URL('./guest/', url).href;
  try {
    navigator.serviceWorker.addEventListener('message', onMessage);
    navigator.serviceWorker.startMessages();
    // The dev server serves the worker as a module; the build emits a classic script.
    const reg = await navigator.serviceWorker.register(url, { scope: scopeUrl, type: import.meta.env.DEV ? 'module' : 'classic' });
    await activated(reg);
    return scopeUrl;
  } catch (e) {
    console.warn('the web page panel runs without its service worker', e);
    return null;
  }
}

function activated(reg: ServiceWorkerRegistration): Promise<void> {
  if (reg.active) return Promise.resolve();
  const sw = reg.installing ?? reg.waiting;
  return new Promise((resolve, reject) => {
    if (!sw) return reject(new Error('the service worker registered but is neither installing nor active'));
    sw.addEventListener('statechange', () => {
      if (sw.state === 'activated') resolve();
      else if (sw.state === 'redundant') reject(new Error('the service worker failed to install'));
    });
  });
}

function onMessage(e: MessageEvent): void {
  const req = e.data as GuestRequest | undefined;
  const port = e.ports[0];
  if (req?.type !== 'whittle-guest-request' || !port) return;
  const handler = handlers.get(req.token);
  if (!handler) return port.postMessage(null);
  handler(req).then(
    (answer) => port.postMessage(answer, [answer.body.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ error: err instanceof Error ? err.message : String(err) }),
  );
}

/** Serves one guest's pages under a new token until `close()`; `url(path)` is where the iframe goes. */
export function serveGuest(scopeUrl: string, handler: GuestHandler): { url(path: string): string; close(): void } {
  const token = crypto.randomUUID();
  handlers.set(token, handler);
  return {
    url: (path) => `${scopeUrl}${token}${path.startsWith('/') ? path : `/${path}`}`,
    close: () => void handlers.delete(token),
  };
}
