import { describe, expect, it } from 'vitest';
import type { KeptFile } from '../../../images/trace/files.ts';
import { droppedRows, filterRows, keptRows, reasonCounts } from './file-reasons.ts';

const kept: KeptFile[] = [
  { path: '/usr/bin/ruby3.1', size: 10, type: 'file', owner: 'ruby3.1', reason: { kind: 'traced', step: 'boot' } },
  { path: '/usr/lib/i386-linux-gnu/ruby/3.1.0/json/ext/parser.so', size: 50, type: 'file', owner: 'libruby3.1', reason: { kind: 'traced', step: 'smoke 2' } },
  { path: '/usr/lib/i386-linux-gnu/libruby-3.1.so.3.1', size: 3000, type: 'file', owner: 'libruby3.1', reason: { kind: 'needed-by', elf: '/usr/bin/ruby3.1' } },
  { path: '/usr/bin/ruby', size: 0, type: 'symlink', owner: 'ruby', reason: { kind: 'link', of: '/usr/bin/ruby3.1' } },
  { path: '/init', size: 400, type: 'file', owner: 'whittle', reason: { kind: 'init' } },
];

describe('file reasons', () => {
  it('gives each kept file its reason in words and its kind for the filter', () => {
    const rows = keptRows(kept);
    expect(rows[1]).toEqual({ path: kept[1].path, size: 50, owner: 'libruby3.1', reason: 'traced (smoke 2)', kind: 'traced' });
    expect(rows[2].reason).toBe('needed-by /usr/bin/ruby3.1');
    expect(reasonCounts(rows)).toEqual([
      { kind: 'traced', count: 2 },
      { kind: 'init', count: 1 },
      { kind: 'link', count: 1 },
      { kind: 'needed-by', count: 1 },
    ]);
  });

  it('filters by reason and searches by path or package, largest first', () => {
    const rows = keptRows(kept);
    expect(filterRows(rows, { kind: 'traced' }).map((r) => r.path)).toEqual([kept[1].path, kept[0].path]);
    expect(filterRows(rows, { query: 'json' }).map((r) => r.path)).toEqual([kept[1].path]);
    expect(filterRows(rows, { kind: 'traced', query: 'libruby' }).map((r) => r.path)).toEqual([kept[1].path]);
    expect(filterRows(rows, { kind: 'keep' })).toEqual([]);
    expect(filterRows(rows, {}).map((r) => r.size)).toEqual([3000, 400, 50, 10, 0]);
  });

  it('shows rules-trimmed images without reasons, and groups dropped files by their reason', () => {
    const rules = keptRows([{ path: '/bin/busybox', size: 1, type: 'file', owner: 'busybox' }]);
    expect(rules[0].reason).toBeUndefined();
    expect(reasonCounts(rules)).toEqual([]);
    const dropped = droppedRows([
      { path: '/usr/share/doc/x', size: 1, owner: 'x', reason: 'trim rule' },
      { path: '/usr/lib/libz.so.1', size: 9, owner: 'zlib1g', reason: 'not touched' },
      { path: '/usr/share/man/x.1', size: 2, owner: 'x', reason: 'trim rule' },
    ]);
    expect(reasonCounts(dropped)).toEqual([{ kind: 'trim rule', count: 2 }, { kind: 'not touched', count: 1 }]);
  });
});
