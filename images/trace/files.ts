// files.json, the Inspect view's file list beside a manifest: every file the appliance holds with the
// reason it was kept, and every file trimming dropped with the reason it went. One schema for the
// builder that writes it and the page that reads it (a file from another site is untrusted).

import * as v from 'valibot';
import { MAX_ARTIFACT_BYTES, MAX_FILES, countSchema } from '../manifest.ts';

const MAX_PATH = 4096;
const text = () => v.pipe(v.string(), v.maxLength(MAX_PATH));

/**
 * Why a file is in a traced appliance (`trim: "trace"`):
 * - `traced`: the wide run touched it (read, executed, mapped, dlopen'd); `step` is the first step that
 *   did: `boot` (from /init to the ready marker), `smoke N` or `exercise N` (1-based, in the recipe's order);
 * - `needed-by`: a kept ELF file lists it in DT_NEEDED (or as its interpreter), transitively; `elf` is the first such file;
 * - `link`: a symlink on the way to a kept path (`of`);
 * - `parent`: a directory holding a kept path (`of`: the first one); or a directory the run listed;
 * - `keep`: the recipe's `keep` glob matched it;
 * - `init`: the builder's own files (/init, /etc/inittab, …) and what they start.
 * Rules-trimmed appliances (`trim: "rules"`) carry no reasons.
 */
export const KeptReasonSchema = v.variant('kind', [
  v.object({ kind: v.literal('traced'), step: text() }),
  v.object({ kind: v.literal('needed-by'), elf: text() }),
  v.object({ kind: v.literal('link'), of: text() }),
  v.object({ kind: v.literal('parent'), of: text() }),
  v.object({ kind: v.literal('keep'), glob: text() }),
  v.object({ kind: v.literal('init') }),
]);
export type KeptReason = v.InferOutput<typeof KeptReasonSchema>;
export type KeptReasonKind = KeptReason['kind'];

export const KeptFileSchema = v.object({
  /** Absolute path in the guest. */
  path: text(),
  size: countSchema(MAX_ARTIFACT_BYTES, 'size'),
  type: text(),
  /** The package it came from, or `whittle` for the builder's own files. */
  owner: text(),
  reason: v.optional(KeptReasonSchema),
});
export type KeptFile = v.InferOutput<typeof KeptFileSchema>;

/**
 * Why a file went: `trim rule` (a default or recipe drop glob: docs, man pages, locales, …),
 * `unused library` / `dangling link` / `empty directory` (rules), `not touched` (trace: the wide run
 * never touched it and nothing kept needs it).
 */
export const DroppedFileSchema = v.object({
  path: text(),
  size: countSchema(MAX_ARTIFACT_BYTES, 'size'),
  owner: text(),
  reason: text(),
});
export type DroppedFile = v.InferOutput<typeof DroppedFileSchema>;

export const FileListSchema = v.object({
  files: v.pipe(v.array(KeptFileSchema), v.maxLength(MAX_FILES)),
  dropped: v.pipe(v.array(DroppedFileSchema), v.maxLength(MAX_FILES)),
  /** How the appliance was trimmed; absent in images built before tracing existed (rules). */
  trim: v.optional(v.picklist(['rules', 'trace'])),
});
export type FileList = v.InferOutput<typeof FileListSchema>;

/** One-line text for a kept file's reason, as the Inspect view and the CLI show it. */
export function describeReason(r: KeptReason | undefined): string {
  if (!r) return 'rules';
  switch (r.kind) {
    case 'traced':
      return `traced (${r.step})`;
    case 'needed-by':
      return `needed-by ${r.elf}`;
    case 'link':
      return `link to ${r.of}`;
    case 'parent':
      return `parent of ${r.of}`;
    case 'keep':
      return `keep ${r.glob}`;
    case 'init':
      return 'init';
  }
}
