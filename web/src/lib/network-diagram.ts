// What the network diagram shows, from the machines of this tab and their packet counts: who is on the
// lab network (and at which address), each one's link to the segment with the packets it sent and
// received, and who talked to whom. Pure: NetworkDiagram.svelte draws it.

import { LAB_HOST, LAB_PREFIX, WEB_ROUTER } from '../../../worker/network.ts';
import type { NetworkCounters } from '../../../worker/network.ts';

export interface NetMachine {
  name: string;
  address: string;
  counters: NetworkCounters | null;
  /** The machine open in the view. */
  current: boolean;
}

export interface DiagramNode {
  /** The node's address (unique on the diagram). */
  id: string;
  label: string;
  kind: 'machine' | 'host' | 'router' | 'web' | 'other';
  current?: boolean;
  /** Packets over this node's link to the segment (sent and received, as its side counted them). */
  sent: number;
  received: number;
  /** Machine view of a machine of this tab. */
  href?: string;
  /** What is counted there instead of packets (the web: requests fetched). */
  note?: string;
}

export interface Conversation {
  a: string;
  b: string;
  packets: number;
}

export interface Diagram {
  segment: string;
  nodes: DiagramNode[];
  conversations: Conversation[];
}

const machineHref = (name: string) => `#/machine/${encodeURIComponent(name)}`;
const onLab = (address: string) => address.startsWith(`${LAB_PREFIX}.`) && !address.endsWith('.255') && !address.endsWith('.0');

/** The lab segment: this page's host, the tab's machines, and addresses they talked to that are not in this tab. */
export function labDiagram(machines: NetMachine[]): Diagram {
  const byAddress = new Map(machines.map((m) => [m.address, m]));
  const host: DiagramNode = { id: LAB_HOST, label: 'this page', kind: 'host', sent: 0, received: 0 };
  const others = new Map<string, DiagramNode>();
  const pairs = new Map<string, Conversation>();
  const nodes: DiagramNode[] = machines.map((m) => ({
    id: m.address,
    label: m.name,
    kind: 'machine',
    current: m.current,
    sent: m.counters?.sent ?? 0,
    received: m.counters?.received ?? 0,
    href: machineHref(m.name),
  }));
  for (const m of machines) {
    for (const [peer, c] of Object.entries(m.counters?.peers ?? {})) {
      if (!onLab(peer)) continue; // broadcasts (DHCP), multicast: no one node's link
      const packets = c.sent + c.received;
      const other = byAddress.get(peer);
      if (peer === LAB_HOST) {
        // The host's side is each machine's own: its link carries what they exchanged with it.
        host.sent += c.received;
        host.received += c.sent;
      } else if (!other) {
        const n = others.get(peer) ?? { id: peer, label: 'not in this tab', kind: 'other' as const, sent: 0, received: 0 };
        n.sent += c.received;
        n.received += c.sent;
        others.set(peer, n);
      }
      const [a, b] = [m.name, other?.name ?? (peer === LAB_HOST ? 'this page' : peer)].sort();
      const key = `${a}\n${b}`;
      // Both machines count the same packets: take the larger count (the other's may be a second older).
      const was = pairs.get(key);
      if (!was || was.packets < packets) pairs.set(key, { a, b, packets });
    }
  }
  return {
    segment: `lab network ${LAB_PREFIX}.0/24`,
    nodes: [host, ...nodes, ...others.values()],
    conversations: [...pairs.values()].filter((p) => p.packets > 0).sort((x, y) => y.packets - x.packets || x.a.localeCompare(y.a)),
  };
}

/** A machine on the web: it, v86's router, and the web the router reaches through this page's fetch(). */
export function webDiagram(m: NetMachine): Diagram {
  const sent = m.counters?.sent ?? 0;
  const received = m.counters?.received ?? 0;
  return {
    segment: `v86's router network 192.168.86.0/24`,
    nodes: [
      { id: m.address, label: m.name, kind: 'machine', current: m.current, sent, received, href: machineHref(m.name) },
      { id: WEB_ROUTER, label: "v86's router", kind: 'router', sent: received, received: sent },
      { id: 'fetch()', label: 'the web', kind: 'web', sent: 0, received: 0, note: fetchedNote(m.counters?.fetched) },
    ],
    conversations: sent + received > 0 ? [{ a: m.name, b: "v86's router", packets: sent + received }] : [],
  };
}

function fetchedNote(f: NetworkCounters['fetched']): string {
  if (!f) return 'nothing fetched yet';
  return `${f.answered} fetched${f.failed ? ` · ${f.failed} failed` : ''}`;
}
