import { describe, expect, it } from 'vitest';
import type { NetworkCounters } from '../../../worker/network.ts';
import { labDiagram, webDiagram } from './network-diagram.ts';

const counters = (address: string, peers: NetworkCounters['peers']): NetworkCounters => {
  const sent = Object.values(peers).reduce((n, p) => n + p.sent, 0);
  const received = Object.values(peers).reduce((n, p) => n + p.received, 0);
  return { mode: 'lab', address, mac: '00:22:15:00:00:01', sent, received, bytesSent: 60 * sent, bytesReceived: 60 * received, peers };
};

describe('labDiagram', () => {
  it('draws the host, the machines of the tab and strangers, with packets per link and per conversation', () => {
    const d = labDiagram([
      { name: 'redis-client', address: '10.0.86.230', current: true, counters: counters('10.0.86.230', { '10.0.86.110': { sent: 12, received: 10 }, '10.0.86.1': { sent: 1, received: 1 }, '255.255.255.255': { sent: 3, received: 0 } }) },
      { name: 'redis', address: '10.0.86.110', current: false, counters: counters('10.0.86.110', { '10.0.86.230': { sent: 9, received: 12 }, '10.0.86.77': { sent: 2, received: 0 } }) },
    ]);
    expect(d.nodes.map((n) => [n.id, n.label, n.kind, n.sent, n.received])).toEqual([
      ['10.0.86.1', 'this page', 'host', 1, 1],
      ['10.0.86.230', 'redis-client', 'machine', 16, 11],
      ['10.0.86.110', 'redis', 'machine', 11, 12],
      ['10.0.86.77', 'not in this tab', 'other', 0, 2],
    ]);
    expect(d.nodes[1]).toMatchObject({ current: true, href: '#/machine/redis-client' });
    // redis counted 21 of the pair's packets, redis-client 22 (a second later): the larger count.
    expect(d.conversations).toEqual([
      { a: 'redis', b: 'redis-client', packets: 22 },
      { a: '10.0.86.77', b: 'redis', packets: 2 },
      { a: 'redis-client', b: 'this page', packets: 2 },
    ]);
  });

  it('shows machines that have not sent anything yet, with nothing counted', () => {
    const d = labDiagram([{ name: 'redis', address: '10.0.86.110', current: true, counters: null }]);
    expect(d.nodes.map((n) => [n.label, n.sent, n.received])).toEqual([
      ['this page', 0, 0],
      ['redis', 0, 0],
    ]);
    expect(d.conversations).toEqual([]);
  });
});

describe('webDiagram', () => {
  it("puts the machine behind v86's router, its packets on that link", () => {
    const d = webDiagram({ name: 'lighttpd', address: '192.168.86.100', current: true, counters: { ...counters('192.168.86.100', { '192.168.86.1': { sent: 4, received: 3 } }), mode: 'web', fetched: { answered: 2, failed: 1 } } });
    expect(d.nodes.map((n) => n.kind)).toEqual(['machine', 'router', 'web']);
    expect(d.nodes[2].note).toBe('2 fetched · 1 failed');
    expect(webDiagram({ name: 'x', address: '192.168.86.100', current: true, counters: null }).nodes[2].note).toBe('nothing fetched yet');
    expect(d.conversations).toEqual([{ a: 'lighttpd', b: "v86's router", packets: 7 }]);
  });
});
