import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatMs, formatRatio, formatShare } from './format.ts';

describe('format', () => {
  it('bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.50 KB');
    expect(formatBytes(2.4 * 1024 * 1024)).toBe('2.40 MB');
    expect(formatBytes(512 * 1024 * 1024)).toBe('512 MB');
    expect(formatBytes(NaN)).toBe('—');
  });
  it('durations', () => {
    expect(formatMs(830.4)).toBe('830 ms');
    expect(formatMs(1340)).toBe('1.34 s');
    expect(formatMs(62_000)).toBe('1 min 2 s');
    expect(formatMs(600_000)).toBe('10 min');
  });
  it('counts, ratios and shares', () => {
    expect(formatCount(58_000_000)).toBe('58.0 M');
    expect(formatCount(2_500_000_000)).toBe('2.50 G');
    expect(formatRatio(42.4)).toBe('42×');
    expect(formatRatio(1.5)).toBe('1.5×');
    expect(formatRatio(NaN)).toBe('—');
    expect(formatShare(0.1234)).toBe('12 %');
    expect(formatShare(0.0123)).toBe('1.2 %');
  });
});
