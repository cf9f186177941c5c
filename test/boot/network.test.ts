// Machines that talk, headless: two machines on the lab network (each in its own worker thread, joined by
// the BroadcastChannel the page's Web Workers share too: Node's worker_threads have it), a client in one
// reaching the server in the other; and the host reading a guest's web page over its card (http-get),
// on the lab and on the web (v86's router and its DHCP).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pollFor } from '../e2e/harness.ts';
import { labAddress, LAB_HOST, WEB_GUEST, type NetworkOptions } from '../../worker/network.ts';
import { bootImage, type NodeMachine } from '../../worker/node/host.ts';

const DIST = resolve('images/dist');
const machines: NodeMachine[] = [];

afterEach(async () => {
  await Promise.all(machines.splice(0).map((m) => m.stop()));
});

function image(name: string): string {
  const dir = join(DIST, name);
  if (!existsSync(join(dir, 'manifest.json'))) throw new Error(`images/dist/${name} is missing: build it with npm run images -- build ${name}`);
  return dir;
}

async function boot(name: string, network: NetworkOptions): Promise<NodeMachine> {
  const m = await bootImage(image(name), { network });
  machines.push(m);
  await m.ready(600_000);
  return m;
}

describe('the lab network', () => {
  it('redis-client reaches redis in another machine: ping, then INCR twice gives (integer) 2', { timeout: 900_000 }, async () => {
    const server = labAddress('redis');
    const clientAddress = labAddress('redis-client', new Set([server]));
    const [redis, client] = await Promise.all([boot('redis', { mode: 'lab', address: server }), boot('redis-client', { mode: 'lab', address: clientAddress })]);
    const result = await client.runScript([
      { send: `ping -c 2 ${server}`, expect: '2 packets received', timeout: 30 },
      // The answers are not in the lines typed: the runner looks past their echo.
      { send: `redis-cli -h ${server} INCR n`, expect: '(integer) 1', timeout: 30 },
      { send: `redis-cli -h ${server} INCR n`, expect: '(integer) 2', timeout: 30 },
      { send: `ping -c 1 ${LAB_HOST}`, expect: '1 packets received', timeout: 30 },
    ]);
    expect(result, result.message).toMatchObject({ ok: true });
    // The server's own console sees the client's writes.
    const local = await redis.runScript([{ send: 'GET n', expect: '"2"', timeout: 30 }]);
    expect(local, local.message).toMatchObject({ ok: true });
    // Both cards counted the conversation (the counts go out once a second).
    const seen = await pollFor('both machines to count packets to each other, and the client to the host', async () => {
      const c = client.network?.peers[server];
      const s = redis.network?.peers[clientAddress];
      const h = client.network?.peers[LAB_HOST];
      return c && s && h && c.sent > 0 && c.received > 0 && s.sent > 0 && s.received > 0 && h.received > 0 ? { c, s } : undefined;
    });
    expect(client.network).toMatchObject({ mode: 'lab', address: clientAddress });
    expect(redis.network).toMatchObject({ mode: 'lab', address: server });
    expect(seen.c.sent).toBeGreaterThanOrEqual(6); // 2 pings, 2 connections' handshakes and commands
    expect(client.network?.conflict).toBeUndefined();
  });
});

describe("the host reads a guest's web page over its card", () => {
  it('lighttpd on the lab: the welcome page, and a refusal on a port nobody listens on', { timeout: 600_000 }, async () => {
    const m = await boot('lighttpd', { mode: 'lab', address: labAddress('lighttpd') });
    const page = await m.httpGet('/', { headers: { Accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1]).toMatch(/text\/html/);
    expect(new TextDecoder().decode(page.body)).toContain('<title>Welcome page</title>');
    // A file the guest writes is served at once: the host reads what the guest just made.
    const r = await m.runScript([{ send: 'echo made-in-the-guest > /var/www/html/hello.txt && echo written', expect: 'written', timeout: 20 }]);
    expect(r, r.message).toMatchObject({ ok: true });
    expect(new TextDecoder().decode((await m.httpGet('/hello.txt')).body)).toBe('made-in-the-guest\n');
    expect((await m.httpGet('/no-such-page')).status).toBe(404);
    await expect(m.httpGet('/', { port: 81 })).rejects.toMatchObject({ code: 'http-failed', message: expect.stringContaining('Nothing listens on') });
  });

  it("lighttpd on the web: DHCP from v86's router gives it its address, and the page comes the same way", { timeout: 600_000 }, async () => {
    const m = await boot('lighttpd', { mode: 'web' });
    const r = await m.runScript([{ send: 'ip -4 addr show eth0', expect: `inet ${WEB_GUEST}/24`, timeout: 20 }]);
    expect(r, r.message).toMatchObject({ ok: true });
    const page = await m.httpGet('/');
    expect(new TextDecoder().decode(page.body)).toContain('<title>Welcome page</title>');
    expect(m.network).toMatchObject({ mode: 'web', address: WEB_GUEST });
  });

  it('says so when the machine has no network', { timeout: 600_000 }, async () => {
    // redis listens on every address but boots in seconds; the card is there, the network is not.
    const m = await boot('redis', { mode: 'off' });
    await expect(m.httpGet('/')).rejects.toMatchObject({ code: 'no-network' });
  });
});
