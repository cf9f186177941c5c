// The network link on a real v86 0.5.462 instance (its fetch adapter and fake network), with the test
// playing the guest's card: frames the guest "sends" go in on the CPU side of v86's bus (`net0-send`),
// frames for the guest come out there (`net0-receive`). No guest boots: the unit is Whittle's routing,
// counting and HTTP over v86's adapter. (The boot tests do the same with real guests.)

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { frameEnds, LAB_CHANNEL } from './network.ts';
import type { NetworkOptions } from './network.ts';
import { NetworkLink, v86NetworkOptions } from './network-link.ts';
import { createEmulator, destroyEmulator } from './v86-glue.ts';
import type { Emulator } from './v86-glue.ts';

interface CpuBus {
  send(name: string, value: unknown): void;
  register(name: string, fn: (v: Uint8Array) => void, self: unknown): void;
}

let wasm: WebAssembly.Module;
beforeAll(async () => {
  wasm = await WebAssembly.compile(await readFile(createRequire(import.meta.url).resolve('v86/build/v86.wasm')));
});

const open: { e: Emulator; link: NetworkLink; channels: BroadcastChannel[] }[] = [];
afterEach(async () => {
  vi.unstubAllGlobals();
  for (const o of open.splice(0)) {
    o.link.close();
    o.channels.forEach((c) => c.close());
    await destroyEmulator(o.e);
  }
});

const ip4 = (s: string) => s.split('.').map(Number);
const mac6 = (s: string) => s.split(':').map((x) => parseInt(x, 16));
const BCAST = 'ff:ff:ff:ff:ff:ff';

function frame(dst: string, src: string, type: number, payload: number[]): Uint8Array {
  return Uint8Array.from([...mac6(dst), ...mac6(src), type >> 8, type & 0xff, ...payload]);
}
function ipv4(src: string, dst: string, proto: number, l4: number[]): number[] {
  const len = 20 + l4.length;
  return [0x45, 0, len >> 8, len & 0xff, 0, 0, 0x40, 0, 64, proto, 0, 0, ...ip4(src), ...ip4(dst), ...l4];
}
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
function tcp(sport: number, dport: number, seq: number, ack: number, flags: number, data: Uint8Array = new Uint8Array(0)): number[] {
  return [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, ...u32(seq), ...u32(ack), 0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0, ...data];
}
function arpRequest(srcMac: string, spa: string, tpa: string): Uint8Array {
  return frame(BCAST, srcMac, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...mac6(srcMac), ...ip4(spa), 0, 0, 0, 0, 0, 0, ...ip4(tpa)]);
}
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;

/** A machine's card with no guest: `guestSends` puts a frame on the wire, `toGuest` holds what arrived. */
async function card(net: Exclude<NetworkOptions, { mode: 'off' }>) {
  const e = await createEmulator({ ...v86NetworkOptions(net) }, wasm, { memoryBytes: 32 << 20 });
  const link = new NetworkLink(e, net);
  const channels: BroadcastChannel[] = [];
  open.push({ e, link, channels });
  const cpuBus = (e.bus as unknown as { pair: CpuBus }).pair;
  const toGuest: Uint8Array[] = [];
  cpuBus.register('net0-receive', (f) => toGuest.push(f.slice()), null);
  const mac = link.takeCounters()!.mac;
  const wire = () => {
    const seen: Uint8Array[] = [];
    const c = new BroadcastChannel(LAB_CHANNEL);
    c.onmessage = (m) => seen.push(m.data as Uint8Array);
    channels.push(c);
    return { seen, post: (f: Uint8Array) => c.postMessage(f) };
  };
  return { link, mac, toGuest, guestSends: (f: Uint8Array) => cpuBus.send('net0-send', f), wire };
}

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

describe('NetworkLink on the lab', () => {
  it('lets the host answer ARP and ping for 10.0.86.1 and puts every other frame on the shared channel', async () => {
    const c = await card({ mode: 'lab', address: '10.0.86.110' });
    const wire = c.wire();
    c.guestSends(arpRequest(c.mac, '10.0.86.110', '10.0.86.1'));
    expect(c.toGuest).toHaveLength(1);
    expect(frameEnds(c.toGuest[0])).toMatchObject({ arp: 2, src: '10.0.86.1', dst: '10.0.86.110', dstMac: c.mac });
    const hostMac = frameEnds(c.toGuest[0])!.srcMac;
    // ICMP echo request to the host.
    c.guestSends(frame(hostMac, c.mac, 0x0800, ipv4('10.0.86.110', '10.0.86.1', 1, [8, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4])));
    expect(frameEnds(c.toGuest[1])).toMatchObject({ proto: 1, src: '10.0.86.1', dst: '10.0.86.110' });
    // ARP for another machine: the host stays out of it (v86's router would answer for every .2–.99).
    c.guestSends(arpRequest(c.mac, '10.0.86.110', '10.0.86.50'));
    // A connection to it: on the wire, and no reset from the host (v86's router resets what it does not know).
    c.guestSends(frame('00:22:15:00:00:50', c.mac, 0x0800, ipv4('10.0.86.110', '10.0.86.50', 6, tcp(40000, 6379, 1, 0, SYN))));
    await tick();
    expect(c.toGuest).toHaveLength(2);
    expect(wire.seen.map((f) => frameEnds(f))).toMatchObject([
      { arp: 1, dst: '10.0.86.50' },
      { proto: 6, dst: '10.0.86.50', dstPort: 6379 },
    ]);
    const counts = c.link.takeCounters()!;
    expect(counts).toMatchObject({ mode: 'lab', address: '10.0.86.110', sent: 4, received: 2 });
    expect(counts.peers).toEqual({ '10.0.86.1': { sent: 2, received: 2 }, '10.0.86.50': { sent: 2, received: 0 } });
    expect(c.link.takeCounters()).toBeUndefined(); // unchanged since
  });

  it('hands the guest frames from the channel sent to its MAC or to everyone, and notices its address taken', async () => {
    const c = await card({ mode: 'lab', address: '10.0.86.110' });
    const wire = c.wire();
    const other = '00:22:15:aa:bb:cc';
    wire.post(arpRequest(other, '10.0.86.230', '10.0.86.110'));
    wire.post(frame('00:22:15:00:00:01', other, 0x0800, ipv4('10.0.86.230', '10.0.86.7', 6, tcp(1, 2, 0, 0, SYN))));
    wire.post(frame(c.mac, other, 0x0800, ipv4('10.0.86.230', '10.0.86.110', 6, tcp(40000, 6379, 7, 0, SYN))));
    await tick();
    expect(c.toGuest.map((f) => frameEnds(f)?.dst)).toEqual(['10.0.86.110', '10.0.86.110']);
    expect(c.link.takeCounters()).toMatchObject({ received: 2, peers: { '10.0.86.230': { sent: 0, received: 2 } } });
    expect(c.link.takeCounters()?.conflict).toBeUndefined();
    wire.post(arpRequest(other, '10.0.86.110', '10.0.86.230'));
    await tick();
    expect(c.link.takeCounters()?.conflict).toBe(other);
  });

  it('refuses the guest connections to the host (on the web, v86 would fetch() them)', async () => {
    const c = await card({ mode: 'lab', address: '10.0.86.110' });
    c.guestSends(arpRequest(c.mac, '10.0.86.110', '10.0.86.1'));
    const hostMac = frameEnds(c.toGuest[0])!.srcMac;
    c.guestSends(frame(hostMac, c.mac, 0x0800, ipv4('10.0.86.110', '10.0.86.1', 6, tcp(40000, 80, 100, 0, SYN))));
    const reply = c.toGuest[1];
    expect(frameEnds(reply)).toMatchObject({ proto: 6, src: '10.0.86.1' });
    expect(reply[14 + 20 + 13] & RST).toBe(RST);
  });
});

describe('NetworkLink.http', () => {
  /** Plays a web server on the guest's port 80: SYN-ACK, then `answer` once the request is in. */
  function serve(c: Awaited<ReturnType<typeof card>>, answer: (request: string) => Uint8Array | 'refuse') {
    const requests: string[] = [];
    let seq = 5000;
    let expectSeq = 0;
    let handled = 0;
    const pump = () => {
      for (; handled < c.toGuest.length; handled++) {
        const f = c.toGuest[handled];
        const e = frameEnds(f);
        if (e?.proto !== 6) continue;
        const t = 14 + 20;
        const sport = (f[t] << 8) | f[t + 1];
        const theirSeq = ((f[t + 4] << 24) | (f[t + 5] << 16) | (f[t + 6] << 8) | f[t + 7]) >>> 0;
        const flags = f[t + 13];
        const data = f.subarray(t + 20);
        const reply = (fl: number, payload?: Uint8Array) => c.guestSends(frame(e.srcMac, c.mac, 0x0800, ipv4(e.dst!, e.src!, 6, tcp(80, sport, seq, expectSeq, fl, payload))));
        if (flags & SYN) {
          const a = answer('');
          expectSeq = theirSeq + 1;
          if (a === 'refuse') return reply(RST | ACK);
          reply(SYN | ACK);
          seq += 1;
        } else if (data.length) {
          requests.push(new TextDecoder().decode(data));
          expectSeq = theirSeq + data.length;
          const body = answer(requests.at(-1)!) as Uint8Array;
          reply(PSH | ACK, body);
          seq += body.length;
        }
      }
    };
    const timer = setInterval(pump, 5);
    return { requests, stop: () => clearInterval(timer) };
  }

  it('sends an HTTP/1.1 request to the guest and reads the answer to its Content-Length', async () => {
    const c = await card({ mode: 'lab', address: '10.0.86.143' });
    // The guest first asks who 10.0.86.1 is, as Linux would before answering.
    c.guestSends(arpRequest(c.mac, '10.0.86.143', '10.0.86.1'));
    const page = new TextEncoder().encode('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 32\r\n\r\n<title>Welcome page</title>done.');
    const server = serve(c, () => page);
    try {
      const r = await c.link.http({ port: 80, path: '/index.html?x=1', method: 'GET', headers: { Accept: 'text/html', Host: 'evil' } });
      expect(r.status).toBe(200);
      expect(new TextDecoder().decode(r.body)).toBe('<title>Welcome page</title>done.');
      expect(server.requests[0]).toMatch(/^GET \/index\.html\?x=1 HTTP\/1\.1\r\nHost: 10\.0\.86\.143\r\nConnection: keep-alive\r\n/);
      expect(server.requests[0]).toContain('\r\nAccept: text/html\r\n');
      expect(server.requests[0]).not.toContain('evil');
      expect(server.requests[0].endsWith('\r\n\r\n')).toBe(true);
    } finally {
      server.stop();
    }
  });

  it('says plainly when nothing listens, and when nothing answers', async () => {
    const c = await card({ mode: 'web' });
    const server = serve(c, () => 'refuse');
    try {
      await expect(c.link.http({ port: 80, path: '/', method: 'GET' })).rejects.toMatchObject({ code: 'http-failed', message: 'Nothing listens on 192.168.86.100:80: the guest refused the connection.' });
    } finally {
      server.stop();
    }
    await expect(c.link.http({ port: 8080, path: '/', method: 'GET', timeoutMs: 200 })).rejects.toMatchObject({ code: 'http-failed', message: '192.168.86.100:8080 did not answer within 0.2 s.' });
  });
});

describe('NetworkLink on the web', () => {
  /** The guest's HTTP request to a site, as a TCP client through v86's router; resolves with what came back. */
  async function guestGets(c: Awaited<ReturnType<typeof card>>, host: string): Promise<string> {
    c.guestSends(arpRequest(c.mac, '192.168.86.100', '192.168.86.1'));
    const routerMac = frameEnds(c.toGuest.at(-1)!)!.srcMac;
    const from = c.toGuest.length;
    const seg = (flags: number, seq: number, ack: number, data?: Uint8Array) => frame(routerMac, c.mac, 0x0800, ipv4('192.168.86.100', '93.184.215.14', 6, tcp(40000, 80, seq, ack, flags, data)));
    c.guestSends(seg(SYN, 100, 0));
    const synAck = c.toGuest[from];
    const theirs = ((synAck[38] << 24) | (synAck[39] << 16) | (synAck[40] << 8) | synAck[41]) >>> 0;
    const request = new TextEncoder().encode(`GET /api HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    c.guestSends(seg(PSH | ACK, 101, theirs + 1, request));
    // Acknowledge what the router sends, until it has sent the whole answer.
    let text = '';
    for (let i = 0; i < 100 && !/\r\n\r\n[\s\S]*(ok|failed)/.test(text); i++) {
      await tick(10);
      text = c.toGuest
        .slice(from + 1)
        .map((f) => new TextDecoder().decode(f.subarray(14 + 20 + 20)))
        .join('');
      const last = c.toGuest.at(-1)!;
      const seq = ((last[38] << 24) | (last[39] << 16) | (last[40] << 8) | last[41]) >>> 0;
      c.guestSends(seg(ACK, 101 + request.length, seq + last.length - 54));
    }
    return text;
  }

  it("turns the guest's HTTP into fetch() by this page, counted, over HTTPS when the page is", async () => {
    const asked: string[] = [];
    vi.stubGlobal('fetch', async (url: URL) => {
      asked.push(String(url));
      return new Response('ok', { status: 200, headers: { 'Content-Type': 'text/plain' } });
    });
    vi.stubGlobal('location', { protocol: 'https:' });
    const c = await card({ mode: 'web' });
    const answer = await guestGets(c, 'example.org');
    expect(asked).toEqual(['https://example.org/api']);
    expect(answer).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nok$/);
    expect(c.link.takeCounters()?.fetched).toEqual({ answered: 1, failed: 0 });
  });

  it('counts a fetch the browser refused (CORS) as failed; the guest gets a 502', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    const c = await card({ mode: 'web' });
    const answer = await guestGets(c, 'example.org');
    expect(answer).toMatch(/^HTTP\/1\.1 502 Fetch Error/);
    expect(answer).toContain('failed');
    expect(c.link.takeCounters()?.fetched).toEqual({ answered: 0, failed: 1 });
  });
});
