import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatInteger, formatMemory, formatMs, formatRatio, formatShare, formatSummary } from './format.ts';

describe('format', () => {
  it('sizes in SI units: the shell download reads the same on the page, in the CLI and the builder', () => {
    expect(formatBytes(1_988_839)).toBe('1.99 MB');
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.54 kB');
    expect(formatBytes(593_494_016)).toBe('593 MB');
    expect(formatBytes(196_300_000)).toBe('196 MB');
    expect(formatBytes(-500_000)).toBe('-500 kB');
    expect(formatBytes(NaN)).toBe('—');
  });
  it('carries a value that rounds up into the next unit', () => {
    expect(formatBytes(999_600)).toBe('1.00 MB');
    expect(formatBytes(9_996_000)).toBe('10.0 MB');
    expect(formatBytes(99_960_000)).toBe('100 MB');
    expect(formatMemory(1023.7 * 1024)).toBe('1.00 MiB');
  });
  it('memory in binary units, as guest RAM is configured', () => {
    expect(formatMemory(128 * 2 ** 20)).toBe('128 MiB');
    expect(formatMemory(24 * 2 ** 30)).toBe('24.0 GiB');
    expect(formatMemory(1536)).toBe('1.50 KiB');
  });
  it('durations', () => {
    expect(formatMs(830.4)).toBe('830 ms');
    expect(formatMs(999.7)).toBe('1.00 s');
    expect(formatMs(1234)).toBe('1.23 s');
    expect(formatMs(1340)).toBe('1.34 s');
    expect(formatMs(9_997)).toBe('10.0 s');
    expect(formatMs(59_970)).toBe('1 min');
    expect(formatMs(62_000)).toBe('1 min 2 s');
    expect(formatMs(64_100)).toBe('1 min 4 s');
    expect(formatMs(600_000)).toBe('10 min');
    expect(formatMs(NaN)).toBe('—');
  });
  it('counts with k/M/G and whole numbers with thousands separators', () => {
    expect(formatCount(281)).toBe('281');
    expect(formatCount(9876)).toBe('9,876');
    expect(formatCount(12_345)).toBe('12.3 k');
    expect(formatCount(34_500_000)).toBe('34.5 M');
    expect(formatCount(58_000_000)).toBe('58.0 M');
    expect(formatCount(999_990)).toBe('1.0 M');
    expect(formatCount(2_500_000_000)).toBe('2.50 G');
    expect(formatInteger(13_244)).toBe('13,244');
    expect(formatInteger(281)).toBe('281');
  });
  it('ratios and shares', () => {
    expect(formatRatio(62.4)).toBe('62×');
    expect(formatRatio(9.97)).toBe('10×');
    expect(formatRatio(1.5)).toBe('1.5×');
    expect(formatRatio(1.04)).toBe('1.0×');
    expect(formatRatio(0.997)).toBe('1.0×');
    expect(formatRatio(0.25)).toBe('0.25×');
    expect(formatRatio(0.0163)).toBe('0.016×');
    expect(formatRatio(0)).toBe('0×');
    expect(formatRatio(NaN)).toBe('—');
    expect(formatRatio(-1)).toBe('—');
    expect(formatShare(0.1234)).toBe('12 %');
    expect(formatShare(0.0123)).toBe('1.2 %');
    expect(formatShare(0.00123)).toBe('0.12 %');
  });
  it('shows a summary\'s range only when runs differ', () => {
    expect(formatSummary({ median: 1000, min: 900, max: 1200, n: 3 }, formatMs)).toBe('1.00 s (900 ms–1.20 s)');
    expect(formatSummary({ median: 1000, min: 1000, max: 1000, n: 1 }, formatMs)).toBe('1.00 s');
  });
});
