import { describe, expect, it } from 'vitest';
import { initcalls, kernelSpan, largestGaps, parseBootLog } from './boot-log.ts';

const LOG = [
  'SeaBIOS (version 1.16.2-debian-1.16.2-1)',
  '[    0.000000] Linux version 6.1.0 (whittle) #1',
  '[    0.012000] Command line: console=ttyS0 quiet',
  '\x1b[0m[    0.150000] Unpacking initramfs...\r',
  '[    2.750000] Freeing initrd memory: 26000K',
  '[    2.760000] Loading compiled-in X.509 certificates',
  '[    4.010000] Loaded X.509 cert \'Debian Secure Boot CA\'',
  '[    4.020000] initcall pty_init+0x0/0x20 returned 0 after 430000 usecs',
  '[    4.030000] initcall serial8250_init+0x0/0x1c0 returned 0 after 12000 usecs',
  '[    4.100000] Run /init as init process',
  '~ # ',
].join('\n');

describe('parseBootLog', () => {
  const lines = parseBootLog(LOG);
  it('reads timestamps and strips escapes and carriage returns', () => {
    expect(lines[0]).toEqual({ index: 0, text: 'SeaBIOS (version 1.16.2-debian-1.16.2-1)' });
    expect(lines[3].time).toBeCloseTo(0.15);
    expect(lines[3].text).toBe('Unpacking initramfs...');
  });
  it('gives each timestamped line the time since the previous one', () => {
    expect(lines[1].gapBefore).toBeUndefined();
    expect(lines[4].gapBefore).toBeCloseTo(2.6);
  });
  it('keeps lines without timestamps', () => {
    expect(lines.at(-1)).toEqual({ index: 10, text: '~ # ' });
  });
});

describe('largestGaps', () => {
  it('finds the largest pauses, naming the line before each', () => {
    const gaps = largestGaps(parseBootLog(LOG), 2);
    expect(gaps.map((g) => g.after.text)).toEqual(['Unpacking initramfs...', 'Loading compiled-in X.509 certificates']);
    expect(gaps[0].seconds).toBeCloseTo(2.6);
    expect(gaps[1].seconds).toBeCloseTo(1.25);
  });
  it('is empty for a log without timestamps', () => {
    expect(largestGaps(parseBootLog('hello\nworld'))).toEqual([]);
  });
});

describe('initcalls and kernelSpan', () => {
  const lines = parseBootLog(LOG);
  it('reads initcall_debug durations, longest first', () => {
    expect(initcalls(lines).map((c) => [c.name, c.usecs])).toEqual([
      ['pty_init+0x0/0x20', 430000],
      ['serial8250_init+0x0/0x1c0', 12000],
    ]);
  });
  it('gives the last kernel timestamp', () => {
    expect(kernelSpan(lines)).toBeCloseTo(4.1);
  });
});
