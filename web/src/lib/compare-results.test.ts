import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../../images/manifest.ts';
import { ratios, resultRow, type RunResult } from './compare-results.ts';

function manifest(name: string, download: number, raw: number, packages: number, files: number): Manifest {
  return {
    schema: 1,
    name,
    title: name,
    description: '',
    kind: 'appliance',
    artifacts: [{ role: 'kernel', file: 'k', sha256: '0'.repeat(64), size: raw, compressedSize: download, compression: 'zstd' }],
    memoryMB: 64,
    readyMarker: '# ',
    smoke: [],
    packages: Array.from({ length: packages }, (_, i) => ({ name: `p${i}`, version: '1', size: 1, share: 1 / packages, files: 1 })),
    fileCount: files,
    rootfsSize: raw,
  };
}

const run = (ms: number, instructions: number, phases: RunResult['phases'] = {}): RunResult => ({ ms, instructions, phases });

describe('resultRow', () => {
  it('takes medians over runs and sizes from the manifest', () => {
    const row = resultRow(manifest('shell', 2_000_000, 5_000_000, 3, 400), [
      run(1300, 58e6, { firmware: 700, kernel: 400, userspace: 200 }),
      run(1500, 60e6, { firmware: 800, kernel: 450, userspace: 250 }),
      run(1200, 57e6, { firmware: 650, kernel: 380, userspace: 170 }),
    ]);
    expect(row.time).toEqual({ median: 1300, min: 1200, max: 1500, n: 3 });
    expect(row.instructions.median).toBe(58e6);
    expect(row.phases).toEqual([
      { phase: 'firmware', ms: 700 },
      { phase: 'kernel', ms: 400 },
      { phase: 'userspace', ms: 200 },
    ]);
    expect([row.download, row.unpacked, row.packages, row.files]).toEqual([2_000_000, 5_000_000, 3, 400]);
  });
  it('has NaN medians before any run finished', () => {
    expect(resultRow(manifest('x', 1, 1, 1, 1), []).time.median).toBeNaN();
  });
});

describe('ratios', () => {
  const shell = resultRow(manifest('shell', 2e6, 5e6, 3, 400), [run(1250, 58e6)]);
  const debian = resultRow(manifest('debian', 300e6, 2e9, 250, 30000), [run(60_000, 9e9)]);
  it('divides each other image by the first', () => {
    expect(ratios([shell, debian], 'time')).toEqual([48]);
    expect(ratios([shell, debian], 'download')).toEqual([150]);
    expect(ratios([shell, debian], 'files')).toEqual([75]);
  });
  it('is NaN for an image that did not finish', () => {
    const failed = resultRow(manifest('debian', 1, 1, 1, 1), []);
    expect(ratios([shell, failed], 'time')[0]).toBeNaN();
  });
});
