import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../../images/manifest.ts';
import { servedPorts } from './served-ports.ts';

const with_ = (listening: { proto: 'tcp' | 'tcp6' | 'udp' | 'unix'; local: string }[]) =>
  ({ surface: { setuid: [], setgid: [], loginAccounts: [], executables: 0, sharedLibraries: 0, sockets: { measured: 'x', network: true, listening } } }) as Pick<Manifest, 'surface'>;

describe('servedPorts', () => {
  it("offers the ports reachable from the network, HTTP's first", () => {
    expect(servedPorts(with_([{ proto: 'tcp', local: '0.0.0.0:80' }]))).toEqual([80]);
    expect(servedPorts(with_([{ proto: 'tcp', local: '0.0.0.0:6379' }, { proto: 'tcp6', local: '[::]:8080' }, { proto: 'tcp', local: '10.0.86.5:22' }, { proto: 'tcp', local: '0.0.0.0:80' }]))).toEqual([80, 8080, 22, 6379]);
  });
  it('leaves out loopback, UDP and unix sockets, and images never measured', () => {
    expect(servedPorts(with_([{ proto: 'tcp', local: '127.0.0.1:6379' }, { proto: 'tcp6', local: '[::1]:80' }, { proto: 'udp', local: '0.0.0.0:53' }, { proto: 'unix', local: '/run/x' }]))).toEqual([]);
    expect(servedPorts({})).toEqual([]);
    expect(servedPorts(undefined)).toEqual([]);
  });
});
