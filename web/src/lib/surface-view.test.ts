import { describe, expect, it } from 'vitest';
import type { Surface } from '../../../images/manifest.ts';
import { surfaceRows } from './surface-view.ts';

const appliance: Surface = {
  setuid: [],
  setgid: [],
  loginAccounts: [{ name: 'root', uid: 0, shell: '/bin/sh' }],
  executables: 8,
  sharedLibraries: 18,
  sockets: { measured: 'after the ready marker', network: true, listening: [{ proto: 'tcp', local: '127.0.0.1:6379', uid: 0 }] },
};
const twin: Surface = {
  setuid: ['/usr/bin/su', '/usr/bin/mount'],
  setgid: ['/usr/bin/chage'],
  loginAccounts: [{ name: 'root', uid: 0, shell: '/bin/bash' }, { name: 'sync', uid: 4, shell: '/bin/sync' }],
  executables: 900,
  sharedLibraries: 400,
  sockets: { measured: 'after the ready marker', network: true, listening: [{ proto: 'unix', local: '/run/systemd/private', type: 'stream' }, { proto: 'tcp', local: '127.0.0.1:6379' }] },
};

describe('surfaceRows', () => {
  it('puts the appliance and the twin side by side, with what was counted', () => {
    const rows = surfaceRows([appliance, twin]);
    expect(rows.map((r) => r.key)).toEqual(['setuid', 'setgid', 'accounts', 'sockets', 'executables', 'libraries']);
    const byKey = Object.fromEntries(rows.map((r) => [r.key, r.cells]));
    expect(byKey.setuid.map((c) => c?.count)).toEqual([0, 2]);
    expect(byKey.accounts[1]?.items).toEqual(['root (uid 0, /bin/bash)', 'sync (uid 4, /bin/sync)']);
    expect(byKey.sockets[0]?.items).toEqual(['tcp 127.0.0.1:6379']);
    expect(byKey.sockets[1]?.items).toEqual(['unix /run/systemd/private (stream)', 'tcp 127.0.0.1:6379']);
    expect(byKey.executables.map((c) => c?.count)).toEqual([8, 900]);
  });

  it('lists but does not count an account whose shell is not in the image', () => {
    const rows = surfaceRows([{ ...appliance, loginAccounts: [{ name: 'root', uid: 0, shell: '/bin/bash', shellMissing: true }, { name: 'sync', uid: 4, shell: '/bin/sync' }] }]);
    expect(rows.find((r) => r.key === 'accounts')!.cells[0]).toEqual({ count: 1, items: ['root (uid 0, /bin/bash: not in the image)', 'sync (uid 4, /bin/sync)'] });
  });

  it('leaves cells empty for an older manifest and sockets unmeasured, and says when a kernel has no network', () => {
    const { sockets: _, ...noSockets } = appliance;
    const offline: Surface = { ...appliance, sockets: { measured: 'after the ready marker', network: false, listening: [] } };
    const rows = surfaceRows([undefined, noSockets, offline]);
    const sockets = rows.find((r) => r.key === 'sockets')!.cells;
    expect(sockets[0]).toBeUndefined();
    expect(sockets[1]).toBeUndefined();
    expect(sockets[2]).toMatchObject({ count: 0, note: expect.stringMatching(/^no network stack/) });
    expect(rows.find((r) => r.key === 'executables')!.cells).toEqual([undefined, { count: 8, items: [] }, { count: 8, items: [] }]);
  });
});
