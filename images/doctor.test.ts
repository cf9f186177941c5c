// The doctor tells a tool missing from the machine from one missing from scripts/host-packages.sh's list,
// and prints one apt-get line for what is missing.

import { describe, expect, it } from 'vitest';
import { diagnose, type DoctorRow, report } from './doctor.ts';
import { HOST_TOOLS, hostPackages } from './host-tools.ts';

describe('diagnose', () => {
  it('marks a tool that is here but not in the install list as unlisted, so a fresh machine would lack it', async () => {
    const rows = await diagnose({ installList: hostPackages().filter((p) => p !== 'lz4') });
    const lz4 = rows.find((r) => r.name === 'lz4')!;
    // Installed on this machine (scripts/host-packages.sh ran) yet not in the list: still a failure.
    expect(lz4.status).toBe('unlisted');
    expect(report(rows)).toContain("scripts/host-packages.sh would not install lz4");
  });

  it('marks every tool missing where PATH has none of them, each with its package', async () => {
    const rows = await diagnose({ installList: hostPackages(), path: '/nonexistent' });
    for (const name of Object.keys(HOST_TOOLS)) {
      const row = rows.find((r) => r.name === name)!;
      // Tools in an sbin folder are found there and named with the PATH to fix instead.
      expect(['missing', 'failed'], name).toContain(row.status);
    }
    expect(rows.find((r) => r.name === 'make')).toMatchObject({ status: 'missing', package: 'make', detail: 'not on PATH' });
  });
});

describe('report', () => {
  const row = (r: Partial<DoctorRow> & Pick<DoctorRow, 'name' | 'status'>): DoctorRow => ({ for: 'twin', detail: '', ...r });

  it('prints one apt-get line for every missing package, each once, and each hint once', () => {
    const text = report([
      row({ name: 'mke2fs', package: 'e2fsprogs', status: 'missing' }),
      row({ name: 'e2fsck', package: 'e2fsprogs', status: 'missing' }),
      row({ name: 'arch-test', package: 'arch-test', status: 'missing' }),
      row({ name: 'debugfs', package: 'e2fsprogs', status: 'failed', hint: 'Add /usr/sbin to PATH.' }),
      row({ name: 'dumpe2fs', package: 'e2fsprogs', status: 'failed', hint: 'Add /usr/sbin to PATH.' }),
      row({ name: 'make', package: 'make', status: 'ok' }),
    ]);
    expect(text).toContain('Install what is missing, as root:  apt-get install e2fsprogs arch-test\n');
    expect(text).toContain('debugfs, dumpe2fs: Add /usr/sbin to PATH.');
    expect(text).not.toContain('Everything');
    expect(text.split('\n')[3]).toMatch(/^MISSING\s+twin\s+arch-test\s+arch-test/);
  });

  it('says so when everything is there', () => {
    expect(report([row({ name: 'make', package: 'make', status: 'ok' })])).toMatch(/Everything the builder and the tests run is here\.$/);
  });
});
