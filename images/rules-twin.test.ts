import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildError } from './log.ts';
import type { Manifest } from './manifest.ts';
import { formatRulesTwin, readRulesTwin, rulesTwinFrom, rulesTwinPath, writeRulesTwin } from './rules-twin.ts';

const manifest = (rootfsSize: number, fileCount: number, compressedSize: number, lockHash = 'lock-a') =>
  ({ name: 'sqlite', lockHash, rootfsSize, fileCount, artifacts: [{ compressedSize }] }) as unknown as Manifest;

describe('rules-twin record', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whittle-rules-twin-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const record = () => rulesTwinFrom(manifest(6_930_000, 160, 3_960_000), manifest(11_000_000, 375, 5_100_000), new Date('2026-12-01T12:00:00Z'));

  it('records both sides and reads back what it wrote', async () => {
    await writeRulesTwin(dir, record());
    expect(readRulesTwin(dir)).toEqual({
      schema: 1,
      recipe: 'sqlite',
      measured: '2026-12-01T12:00:00.000Z',
      lockHash: 'lock-a',
      rules: { rootfsSize: 11_000_000, fileCount: 375, download: 5_100_000 },
      trace: { rootfsSize: 6_930_000, fileCount: 160, download: 3_960_000 },
    });
  });

  it('is absent, not an error, when never measured', () => {
    expect(readRulesTwin(dir)).toBeUndefined();
    expect(formatRulesTwin(undefined, { lockHash: 'lock-a' })).toBe('');
  });

  it('shows the rules figure and the share the trace keeps, and says when the lock moved on', () => {
    expect(formatRulesTwin(record(), { lockHash: 'lock-a' })).toBe('11.0 MB / 375 (trace 63 %)');
    expect(formatRulesTwin(record(), { lockHash: 'lock-b' })).toBe('11.0 MB / 375 (trace 63 %, older lock)');
  });

  it('refuses a damaged file with its path and what to run', async () => {
    await writeFile(rulesTwinPath(dir), '{"schema":1,');
    expect(() => readRulesTwin(dir)).toThrow(BuildError);
    expect(() => readRulesTwin(dir)).toThrow(/rules-twin\.json is not valid JSON/);
    await writeFile(rulesTwinPath(dir), JSON.stringify({ ...record(), rules: { rootfsSize: -1, fileCount: 1, download: 1 } }));
    expect(() => readRulesTwin(dir)).toThrow(/rules\.rootfsSize/);
    try {
      readRulesTwin(dir);
    } catch (e) {
      expect((e as BuildError).hint).toMatch(/npm run bench:trim -- whittle-rules-twin-/);
    }
  });
});
