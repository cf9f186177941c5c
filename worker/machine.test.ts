import { describe, expect, it } from 'vitest';
import type { Manifest } from '../images/manifest.ts';
import { sameMachine } from './machine.ts';
import type { BootOptions } from './protocol.ts';

const manifest = (sha: string, extra: Partial<Manifest> = {}) =>
  ({ name: 'shell', memoryMB: 64, artifacts: [{ role: 'vmlinux', sha256: sha }], ...extra }) as unknown as Manifest;
const boot = (extra: Partial<BootOptions> = {}): BootOptions => ({ manifest: manifest('a'), source: { from: 'store' }, ...extra }) as BootOptions;

describe('sameMachine (may a saved state go into the running emulator?)', () => {
  it('is the same machine for a restore of the same image booted the same way, from wherever it came', () => {
    expect(sameMachine(boot(), boot({ restoreStateId: 's1' }))).toBe(true);
    expect(sameMachine(boot(), boot({ source: { from: 'path', dir: '/x' }, memoryMB: 64 }))).toBe(true);
  });

  it('is another machine when the image, its memory, devices, network, app or command line differ', () => {
    expect(sameMachine(boot(), boot({ manifest: manifest('b') }))).toBe(false);
    expect(sameMachine(boot(), boot({ manifest: manifest('a', { name: 'sqlite' }) }))).toBe(false);
    expect(sameMachine(boot(), boot({ memoryMB: 128 }))).toBe(false);
    expect(sameMachine(boot(), boot({ share: true }))).toBe(false);
    expect(sameMachine(boot(), boot({ network: { mode: 'web' } as BootOptions['network'] }))).toBe(false);
    expect(sameMachine(boot(), boot({ virtioConsole: true }))).toBe(false);
    expect(sameMachine(boot(), boot({ app: 'redis' }))).toBe(false);
    expect(sameMachine(boot(), boot({ cmdlineAppend: 'init_on_free=0' }))).toBe(false);
  });
});
