import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { frameEnds, guestAddress, HttpParseError, LAB_HOST, labAddress, networkCmdline, NetworkSchema, readHttpResponse, WEB_GUEST } from './network.ts';

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);

/** An Ethernet frame: dst, src, type, payload. */
function ethFrame(dst: number[], src: number[], type: number, payload: number[]): Uint8Array {
  return Uint8Array.from([...dst, ...src, type >> 8, type & 0xff, ...payload]);
}
const ipv4 = (src: number[], dst: number[], proto: number, l4: number[]) => [0x45, 0, 0, 20 + l4.length, 0, 0, 0, 0, 64, proto, 0, 0, ...src, ...dst, ...l4];
const tcp = (sport: number, dport: number, flags: number) => [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0];
const arp = (oper: number, spa: number[], tpa: number[]) => [0, 1, 8, 0, 6, 4, 0, oper, 0, 0x22, 0x15, 1, 2, 3, ...spa, 0, 0, 0, 0, 0, 0, ...tpa];
const MAC_A = [0x00, 0x22, 0x15, 1, 2, 3];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

describe('lab addresses', () => {
  it('are the same for a name every time, in 10.0.86.10–249, and differ for redis and redis-client', () => {
    const redis = labAddress('redis');
    expect(labAddress('redis')).toBe(redis);
    expect(redis).toMatch(/^10\.0\.86\.(\d+)$/);
    const n = Number(redis.split('.')[3]);
    expect(n).toBeGreaterThanOrEqual(10);
    expect(n).toBeLessThanOrEqual(249);
    expect(labAddress('redis-client')).not.toBe(redis);
  });

  it('move to the next free address when the first is taken, and wrap around', () => {
    const first = labAddress('redis');
    const second = labAddress('redis', new Set([first]));
    expect(second).not.toBe(first);
    const all = new Set(Array.from({ length: 240 }, (_, i) => `10.0.86.${10 + i}`));
    all.delete('10.0.86.10');
    expect(labAddress('redis', all)).toBe('10.0.86.10');
    all.add('10.0.86.10');
    expect(() => labAddress('redis', all)).toThrow(/taken/);
  });

  it('become the kernel command-line word, static on the lab and DHCP on the web', () => {
    expect(networkCmdline({ mode: 'lab', address: '10.0.86.110' })).toBe('whittle.ip=10.0.86.110/24');
    expect(networkCmdline({ mode: 'web' })).toBe('whittle.ip=dhcp');
    expect(networkCmdline({ mode: 'off' })).toBeUndefined();
    expect(networkCmdline(undefined)).toBeUndefined();
    expect(guestAddress({ mode: 'web' })).toBe(WEB_GUEST);
  });

  it('are checked at the boundary: lab machines get .2–.254 of 10.0.86.0/24', () => {
    const ok = (address: string) => v.is(NetworkSchema, { mode: 'lab', address });
    expect(ok('10.0.86.2')).toBe(true);
    expect(ok('10.0.86.254')).toBe(true);
    for (const bad of [LAB_HOST, '10.0.86.255', '10.0.86.0', '10.0.87.5', '10.0.86.010', '10.0.86.5 ', 'redis']) expect(ok(bad)).toBe(false);
    const r = v.safeParse(NetworkSchema, { mode: 'wifi' });
    expect(r.success).toBe(false);
    expect(r.issues?.[0].message).toMatch(/unknown network mode "wifi"/);
  });
});

describe('frameEnds', () => {
  it('reads an IPv4 TCP frame: addresses, protocol, port and flags', () => {
    const f = ethFrame(MAC_A, MAC_A, 0x0800, ipv4([10, 0, 86, 230], [10, 0, 86, 110], 6, tcp(40000, 6379, 0x02)));
    expect(frameEnds(f)).toEqual({ dstMac: '00:22:15:01:02:03', srcMac: '00:22:15:01:02:03', src: '10.0.86.230', dst: '10.0.86.110', proto: 6, dstPort: 6379, tcpFlags: 0x02 });
  });

  it('reads an ARP request as asked by its sender about the target address', () => {
    const f = ethFrame(BCAST, MAC_A, 0x0806, arp(1, [10, 0, 86, 230], [10, 0, 86, 1]));
    expect(frameEnds(f)).toMatchObject({ dstMac: 'ff:ff:ff:ff:ff:ff', arp: 1, src: '10.0.86.230', dst: '10.0.86.1' });
  });

  it('keeps only the MACs of other frames and refuses a runt', () => {
    expect(frameEnds(ethFrame(BCAST, MAC_A, 0x86dd, [1, 2, 3]))).toEqual({ dstMac: 'ff:ff:ff:ff:ff:ff', srcMac: '00:22:15:01:02:03' });
    expect(frameEnds(new Uint8Array(10))).toBeUndefined();
  });
});

describe('readHttpResponse', () => {
  const whole = 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello';

  it('waits for the header and for Content-Length bytes, then stops at them', () => {
    expect(readHttpResponse(bytes(whole.slice(0, 20)), false)).toEqual({ complete: false });
    expect(readHttpResponse(bytes(whole.slice(0, -1)), false)).toEqual({ complete: false });
    const r = readHttpResponse(bytes(`${whole}HTTP/1.1 next`), false);
    expect(r.complete).toBe(true);
    if (!r.complete) return;
    expect(r.length).toBe(whole.length);
    expect(r.response.status).toBe(200);
    expect(r.response.statusText).toBe('OK');
    expect(r.response.headers).toEqual([
      ['Content-Type', 'text/html'],
      ['Content-Length', '5'],
    ]);
    expect(new TextDecoder().decode(r.response.body)).toBe('hello');
  });

  it('de-chunks a chunked body, split anywhere', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\n\r\n';
    for (let cut = 0; cut < text.length; cut++) expect(readHttpResponse(bytes(text.slice(0, cut)), false).complete).toBe(false);
    const r = readHttpResponse(bytes(text), false);
    expect(r.complete && new TextDecoder().decode(r.response.body)).toBe('Wikipedia ');
  });

  it('takes a body of no stated length as ending with the connection; no body for HEAD, 204 and 304', () => {
    const open = bytes('HTTP/1.0 200 OK\r\nServer: x\r\n\r\nall of it');
    expect(readHttpResponse(open, false).complete).toBe(false);
    const r = readHttpResponse(open, true);
    expect(r.complete && new TextDecoder().decode(r.response.body)).toBe('all of it');
    const head = readHttpResponse(bytes('HTTP/1.1 200 OK\r\nContent-Length: 3388\r\n\r\n'), false, 'HEAD');
    expect(head.complete && head.response.body.length).toBe(0);
    expect(readHttpResponse(bytes('HTTP/1.1 304 Not Modified\r\n\r\n'), false).complete).toBe(true);
  });

  it('says what is wrong with what is not HTTP, or was cut short', () => {
    expect(() => readHttpResponse(bytes('SSH-2.0-OpenSSH_9.2\r\n\r\n'), false)).toThrow(HttpParseError);
    expect(() => readHttpResponse(bytes('-ERR unknown command\r\n'), true)).toThrow(/inside its header/);
    expect(() => readHttpResponse(new Uint8Array(0), true)).toThrow(/without an answer/);
    expect(() => readHttpResponse(bytes('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort'), true)).toThrow(/after 5 of its 10 bytes/);
    expect(() => readHttpResponse(bytes('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'), false)).toThrow(/Content-Length/);
  });
});
