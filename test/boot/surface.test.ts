// The sockets half of the attack surface, read from real guests the way the builder's sockets stage
// reads them (images/surface.ts): an appliance booted with whittle.probe hands its console to a shell
// when the app exits, the twin's root shell reads /proc/net once systemd is done.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_FLAG } from '../../images/init.ts';
import type { GuestSession } from '../../images/trace/guest.ts';
import { probeSockets } from '../../images/surface.ts';
import { bootGuest } from '../../worker/node/guest.ts';

const DIST = resolve(process.env.WHITTLE_IMAGES_DIR ?? 'images/dist');
let session: GuestSession | undefined;

afterEach(async () => {
  await session?.stop();
  session = undefined;
});

function imageDir(name: string): string {
  const dir = join(DIST, name);
  if (!existsSync(join(dir, 'manifest.json'))) throw new Error(`${dir} is missing: build it with npm run images -- build ${name}`);
  return dir;
}

describe('listening sockets after the ready marker', () => {
  it('redis: redis-server on 0.0.0.0:6379 (every address: loopback and the lab network), and the app still answered before the probe', { timeout: 600_000 }, async () => {
    session = await bootGuest(imageDir('redis'), { cmdline: PROBE_FLAG });
    await session.ready(300_000);
    const smoke = await session.runScript([{ send: 'PING', expect: 'PONG', timeout: 30 }]);
    expect(smoke.ok, smoke.message).toBe(true);
    const sockets = await probeSockets(session, 'appliance');
    expect(sockets.network).toBe(true);
    expect(sockets.listening).toContainEqual({ proto: 'tcp', local: '0.0.0.0:6379', uid: 0 });
    expect(sockets.listening.filter((s) => s.proto.startsWith('tcp') || s.proto.startsWith('udp'))).toHaveLength(1);
  });

  it('python: a kernel without a network stack has no /proc/net', { timeout: 600_000 }, async () => {
    session = await bootGuest(imageDir('python'), { cmdline: PROBE_FLAG });
    await session.ready(300_000);
    expect(await probeSockets(session, 'appliance')).toMatchObject({ network: false, listening: [] });
  });

  it('without the flag the console program simply restarts after ^D (the image as shipped)', { timeout: 600_000 }, async () => {
    session = await bootGuest(imageDir('redis'), {});
    await session.ready(300_000);
    await expect(probeSockets(session, 'appliance')).rejects.toThrow(/did not give way to the probe shell/);
    // …and redis-cli is back at its prompt, connected.
    const again = await session.runScript([{ send: 'PING', expect: 'PONG', timeout: 30 }]);
    expect(again.ok, again.message).toBe(true);
  });

  it('debian: systemd and redis-server listen', { timeout: 1_800_000 }, async () => {
    session = await bootGuest(imageDir('debian'), {});
    await session.ready(1_200_000);
    const sockets = await probeSockets(session, 'distro');
    const names = sockets.listening.map((s) => `${s.proto} ${s.local}`);
    expect(names).toContain('tcp 127.0.0.1:6379');
    expect(names).toContain('unix /run/systemd/private');
  });
});
