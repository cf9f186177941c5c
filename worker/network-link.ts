// A machine's network card joined to the lab or the web, with its packets counted, and HTTP requests
// from the host to the guest. Built on the fake network v86 0.5.462 ships (src/browser/fake_network.js
// and fetch_network.js): no TCP/IP stack of Whittle's own.
//
//   web: v86's fetch adapter as it is: a router that answers DHCP, DNS and ping, and turns the guest's
//        HTTP (port 80) into fetch() calls made by this worker.
//   lab: the same adapter as the guest's private view of the host (LAB_HOST: ARP, ping, DHCP with the
//        lab address, and the web page panel's connections to the guest; it accepts none), and every
//        other frame on v86's inbrowser BroadcastChannel, the segment all machines of this origin share.
//        (v86 takes one adapter per card, `relay_url`; the channel's ~10 lines of inbrowser_network.js
//        are done here, with the same channel and frames, beside the adapter.)
// The host reaches the guest's TCP ports through the adapter's `connect()` (fake_tcp_connect).

import type { V86Options } from 'v86';
import { MachineFailure } from './errors.ts';
import { formatMac, frameEnds, guestAddress, HttpParseError, isGroupFrame, LAB_CHANNEL, LAB_HOST, readHttpResponse } from './network.ts';
import type { HttpResponse, NetworkCounters, NetworkOptions } from './network.ts';
import type { Emulator } from './v86-glue.ts';

/** What the worker uses of v86's FetchNetworkAdapter (0.5.462). */
interface FetchAdapter {
  router_ip: Uint8Array;
  vm_ip: Uint8Array;
  vm_mac: Uint8Array;
  router_mac: Uint8Array;
  /** Guest → fake network (the bus's `net0-send` calls it). */
  send(frame: Uint8Array): void;
  /** Fake network → guest (`net0-receive`). */
  receive(frame: Uint8Array): void;
  /** A TCP connection from the router to the guest's port (fake_tcp_connect). */
  connect(port: number): TcpConnection;
  /** How the adapter fetches the guest's HTTP (an instance property: `(...args) => fetch(...args)`). */
  fetch: typeof fetch;
  bus: { listeners: Record<string, { fn: unknown; this_value: unknown }[] | undefined>; unregister(name: string, fn: unknown): void };
}

/** fake_network.js's TCPConnection, as the host side of one connection. */
interface TcpConnection {
  on(event: 'connect' | 'shutdown' | 'close', fn: () => void): void;
  on(event: 'data', fn: (data: Uint8Array) => void): void;
  write(data: Uint8Array): void;
  close(): void;
  state: string;
}

/** The v86 options for a machine's card and adapter; none for `off` (v86 still fits an unconnected ne2k). */
export function v86NetworkOptions(net: NetworkOptions | undefined): Partial<V86Options> {
  if (!net || net.mode === 'off') return {};
  // fetch_network.js reads router_ip, vm_ip and masquerade from net_device; the types do not know them.
  const device = net.mode === 'lab' ? { type: 'ne2k', relay_url: 'fetch', router_ip: LAB_HOST, vm_ip: net.address, masquerade: false } : { type: 'ne2k', relay_url: 'fetch' };
  return { net_device: device as V86Options['net_device'] };
}

/** Largest HTTP answer the host reads from a guest. */
const MAX_HTTP_BYTES = 16 << 20;
const DEFAULT_HTTP_TIMEOUT_MS = 15_000;

export interface HttpRequest {
  port: number;
  /** Absolute path with its query, `/index.html?x=1`. */
  path: string;
  method: 'GET' | 'HEAD';
  /** Extra request headers (Accept, …); Host and Connection are the host's. */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export class NetworkLink {
  readonly #adapter: FetchAdapter;
  readonly #channel: BroadcastChannel | undefined;
  readonly #address: string;
  readonly #counters: NetworkCounters;
  #changed = true;
  #closed = false;

  constructor(
    emulator: Emulator,
    readonly options: Exclude<NetworkOptions, { mode: 'off' }>,
  ) {
    const adapter = (emulator as unknown as { network_adapter?: FetchAdapter }).network_adapter;
    if (!adapter || typeof adapter.connect !== 'function' || typeof adapter.send !== 'function') {
      throw new MachineFailure('internal', "v86 made no fetch network adapter for the machine's card.", 'This build of v86 differs from the one Whittle was written for (0.5.462).');
    }
    this.#adapter = adapter;
    this.#address = guestAddress(options)!;
    this.#counters = { mode: options.mode, address: this.#address, mac: '', sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, peers: {} };
    const toFake = adapter.send.bind(adapter);
    const toGuest = adapter.receive.bind(adapter);
    adapter.receive = (frame) => {
      if (this.#closed) return;
      this.#count(frame, 'received');
      toGuest(frame);
    };
    if (options.mode === 'web') {
      adapter.send = (frame) => {
        this.#count(frame, 'sent');
        toFake(frame);
      };
      adapter.fetch = (input, init) => this.#fetch(input, init);
      return;
    }
    // The lab: the host accepts no connections (v86 would turn port 80 into fetch(), which is the web's).
    for (const l of adapter.bus.listeners['tcp-connection'] ?? []) if (l.this_value === adapter) adapter.bus.unregister('tcp-connection', l.fn);
    const channel = new BroadcastChannel(LAB_CHANNEL);
    this.#channel = channel;
    adapter.send = (frame) => {
      if (this.#closed) return;
      this.#count(frame, 'sent');
      if (this.#forHost(frame)) toFake(frame);
      else channel.postMessage(frame);
    };
    channel.onmessage = (e: MessageEvent) => {
      const frame = e.data;
      if (this.#closed || !(frame instanceof Uint8Array)) return;
      // What the card would take: frames to its MAC, and broadcasts and multicasts.
      if (!isGroupFrame(frame) && formatMac(frame.subarray(0, 6)) !== formatMac(adapter.vm_mac)) return;
      this.#noticeConflict(frame);
      this.#count(frame, 'received');
      toGuest(frame);
    };
  }

  /**
   * The guest's HTTP as fetch() (the web): counted, and on a page served over HTTPS asked for over
   * HTTPS, as the browser would refuse plain HTTP from it (mixed content). v86 upgrades it only where
   * `window` exists (fetch_network.js), which a worker has not.
   */
  async #fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const fetched = (this.#counters.fetched ??= { answered: 0, failed: 0 });
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (url.protocol === 'http:' && globalThis.location?.protocol === 'https:') url.protocol = 'https:';
    try {
      const r = await fetch(url, init);
      fetched.answered++;
      return r;
    } catch (e) {
      // A site that does not allow this origin to read it (CORS), or one that cannot be reached: v86 answers the guest 502.
      fetched.failed++;
      throw e;
    } finally {
      this.#changed = true;
    }
  }

  /** In the lab, the frames the machine's private host answers: ARP for it, anything to it, DHCP. */
  #forHost(frame: Uint8Array): boolean {
    const ends = frameEnds(frame);
    if (!ends) return false;
    if (ends.arp !== undefined) return ends.arp === 1 && ends.dst === LAB_HOST;
    return ends.dst === LAB_HOST || (ends.proto === 17 && ends.dstPort === 67);
  }

  #noticeConflict(frame: Uint8Array): void {
    const ends = frameEnds(frame);
    if (ends?.src === this.#address && ends.srcMac !== formatMac(this.#adapter.vm_mac)) {
      this.#counters.conflict = ends.srcMac;
      this.#changed = true;
    }
  }

  #count(frame: Uint8Array, way: 'sent' | 'received'): void {
    const c = this.#counters;
    c[way]++;
    if (way === 'sent') c.bytesSent += frame.length;
    else c.bytesReceived += frame.length;
    const ends = frameEnds(frame);
    const peer = way === 'sent' ? ends?.dst : ends?.src;
    if (peer && peer !== this.#address && peer !== '0.0.0.0') (c.peers[peer] ??= { sent: 0, received: 0 })[way]++;
    this.#changed = true;
  }

  /** The counters, when they changed since the last call (for the once-a-second `network` event). */
  takeCounters(): NetworkCounters | undefined {
    const mac = formatMac(this.#adapter.vm_mac);
    if (mac !== this.#counters.mac) {
      this.#counters.mac = mac;
      this.#changed = true;
    }
    if (!this.#changed) return undefined;
    this.#changed = false;
    return structuredClone(this.#counters);
  }

  /**
   * An HTTP/1.1 request from the host to the guest's `port`, through the adapter's TCP connection (the
   * guest sees it come from LAB_HOST or v86's router). Resolves with the whole answer; the connection is
   * kept alive until the answer's length is in, then closed by the host, so a server's FIN never carries
   * data (fake_network.js drops the data of a segment with FIN).
   */
  http(req: HttpRequest): Promise<HttpResponse> {
    const where = `${this.#address}:${req.port}`;
    return new Promise<HttpResponse>((resolve, reject) => {
      if (this.#closed) return reject(new MachineFailure('not-running', 'The machine stopped.', 'Boot it again.'));
      let conn: TcpConnection;
      try {
        conn = this.#adapter.connect(req.port);
      } catch (e) {
        return reject(new MachineFailure('http-failed', `Could not open a connection to ${where}: ${(e as Error).message}`, 'Close other requests to the guest and try again.', { cause: e }));
      }
      let received = new Uint8Array(0);
      let connected = false;
      let settled = false;
      const timeoutMs = req.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
      const finish = (outcome: HttpResponse | MachineFailure) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (conn.state !== 'closed') conn.close();
        if (outcome instanceof MachineFailure) reject(outcome);
        else resolve(outcome);
      };
      const timer = setTimeout(
        () =>
          finish(
            connected
              ? new MachineFailure('http-failed', `${where} took the connection but sent no whole answer within ${timeoutMs / 1000} s.`, 'The server may be busy or not speak HTTP on that port.')
              : new MachineFailure('http-failed', `${where} did not answer within ${timeoutMs / 1000} s.`, this.#noAnswerHint()),
          ),
        timeoutMs,
      );
      const check = (closed: boolean) => {
        try {
          const r = readHttpResponse(received, closed, req.method);
          if (r.complete) finish(r.response);
          else if (closed) finish(new MachineFailure('http-failed', `${where} closed the connection before its answer was whole.`, 'Try again; if it repeats, the server cut its answer short.'));
        } catch (e) {
          if (e instanceof HttpParseError) finish(new MachineFailure('http-failed', `${where} did not answer in HTTP: ${e.message}.`, 'Is it a web server on that port?'));
          else throw e;
        }
      };
      conn.on('connect', () => {
        connected = true;
        const head = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${this.#address}${req.port === 80 ? '' : `:${req.port}`}`, 'Connection: keep-alive', 'User-Agent: Whittle-lab'];
        for (const [k, v] of Object.entries(req.headers ?? {})) if (!/^(host|connection|content-length|transfer-encoding)$/i.test(k)) head.push(`${k}: ${v}`);
        conn.write(new TextEncoder().encode(`${head.join('\r\n')}\r\n\r\n`));
      });
      conn.on('data', (data) => {
        // The data is a view into the card's buffer: copy it.
        const next = new Uint8Array(received.length + data.length);
        next.set(received);
        next.set(data, received.length);
        received = next;
        if (received.length > MAX_HTTP_BYTES) return finish(new MachineFailure('http-failed', `${where} sent more than ${MAX_HTTP_BYTES >> 20} MiB.`, 'Ask for something smaller.'));
        check(false);
      });
      conn.on('shutdown', () => check(true));
      conn.on('close', () => {
        if (connected) check(true);
        else finish(new MachineFailure('http-failed', `Nothing listens on ${where}: the guest refused the connection.`, `Start the server in the guest, or open the port it listens on (its shell: netstat -ltn).`));
      });
    });
  }

  #noAnswerHint(): string {
    return this.options.mode === 'lab'
      ? `Check the guest's network in its shell (ip addr: eth0 should have ${this.#address}).`
      : `Check that the guest took its address from v86's router (ip addr: eth0 should have ${this.#address}).`;
  }

  /** Leaves the network (the machine stops or is reset). */
  close(): void {
    this.#closed = true;
    this.#channel?.close();
  }
}
