import { describe, expect, it } from 'vitest';
import { stallLimitMs } from './liveness.ts';

describe('stall limit (guest-unresponsive when a boot prints nothing)', () => {
  it('gives an appliance two minutes and a quiet full distribution ten', () => {
    expect(stallLimitMs({ manifest: { kind: 'appliance' } })).toBe(120_000);
    expect(stallLimitMs({ manifest: { kind: 'distro' } })).toBe(600_000);
    expect(stallLimitMs({ manifest: { kind: 'imported' } })).toBe(600_000);
  });

  it('takes the caller’s limit over the default', () => {
    expect(stallLimitMs({ manifest: { kind: 'distro' }, stallTimeoutMs: 5000 })).toBe(5000);
  });
});
