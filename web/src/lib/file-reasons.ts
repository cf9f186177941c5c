// Why each file is in an image or was trimmed away (files.json, images/trace/files.ts), as rows the
// Inspect view's file tables filter by reason and search by path.

import { describeReason, type DroppedFile, type KeptFile } from '../../../images/trace/files.ts';

export interface FileRow {
  path: string;
  size: number;
  owner: string;
  /** The reason in words (`traced (smoke 1)`, `needed-by /usr/bin/redis-server`, `unused library`). */
  reason?: string;
  /** What the reason filter groups by: a kept file's reason kind, or a dropped file's reason. */
  kind?: string;
}

/** Kept files: reasons only where the builder gave them (traced images). */
export function keptRows(files: readonly KeptFile[]): FileRow[] {
  return files.map((f) => ({ path: f.path, size: f.size, owner: f.owner, ...(f.reason ? { reason: describeReason(f.reason), kind: f.reason.kind } : {}) }));
}

export function droppedRows(files: readonly DroppedFile[]): FileRow[] {
  return files.map((f) => ({ path: f.path, size: f.size, owner: f.owner, reason: f.reason, kind: f.reason }));
}

/** Each reason kind with how many files have it, most first (for the filter's options). */
export function reasonCounts(rows: readonly FileRow[]): { kind: string; count: number }[] {
  const n = new Map<string, number>();
  for (const r of rows) if (r.kind) n.set(r.kind, (n.get(r.kind) ?? 0) + 1);
  return [...n].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
}

/** Rows with reason `kind` (all when empty) whose path or package contains `query`, largest first. */
export function filterRows<T extends FileRow>(rows: readonly T[], opts: { kind?: string; query?: string }): T[] {
  const q = opts.query?.trim() ?? '';
  return rows
    .filter((r) => (!opts.kind || r.kind === opts.kind) && (!q || r.path.includes(q) || r.owner.includes(q)))
    .sort((a, b) => b.size - a.size || a.path.localeCompare(b.path));
}
