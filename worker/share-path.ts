// The host share's rules, shared by the machine (worker/share.ts), the page's Files panel and share
// links: where the guest sees it, what a file in it may be called, and how much it holds. Pure.

import { formatBytes } from '../images/format.ts';
import { SHARE_MOUNT, SHARE_MOUNT_OPTIONS, SHARE_TAG } from '../images/guest-contract.ts';

export { SHARE_MOUNT, SHARE_TAG };
/** What to type in a guest whose init does not mount the share (an import). */
export const SHARE_MOUNT_COMMAND = `mkdir -p ${SHARE_MOUNT} && mount -t 9p -o ${SHARE_MOUNT_OPTIONS} ${SHARE_TAG} ${SHARE_MOUNT}`;

/**
 * Bytes the share holds at most, all files together. v86 keeps every file of the share as an
 * ArrayBuffer in the machine's worker (lib/filesystem.js `inodedata`), beside up to 2 GiB of guest RAM
 * (MAX_MEMORY_MB), and writes all of them into each saved state: 1 GiB keeps one machine's tab within
 * what a browser gives a worker.
 */
export const SHARE_LIMIT_BYTES = 1 << 30;

/** Linux's NAME_MAX and a path length well inside PATH_MAX: a name the guest can open. */
const NAME_MAX_BYTES = 255;
const PATH_MAX_CHARS = 1024;

/** Why `path` cannot name a file in the share (relative to its root, `/`-separated), or undefined. */
export function sharePathProblem(path: string): string | undefined {
  const shown = JSON.stringify(path.length > 80 ? `${path.slice(0, 80)}…` : path);
  if (path === '') return 'a file name is empty';
  if (path.length > PATH_MAX_CHARS) return `${shown} is longer than ${PATH_MAX_CHARS} characters`;
  if (path.startsWith('/')) return `${shown} starts with "/": name files relative to ${SHARE_MOUNT}`;
  // C0 controls (newlines, escapes) make names a guest shell cannot list or type; NUL ends a C string.
  if (/[\x00-\x1f\x7f]/.test(path)) return `${shown} contains a control character`;
  const encoder = new TextEncoder();
  for (const name of path.split('/')) {
    if (name === '') return `${shown} has an empty name between two "/"`;
    if (name === '.' || name === '..') return `${shown} contains "${name}", which would climb out of ${SHARE_MOUNT}`;
    if (encoder.encode(name).length > NAME_MAX_BYTES) return `${shown} has a name longer than ${NAME_MAX_BYTES} bytes`;
  }
  return undefined;
}

/** The message for a file that does not fit beside what the share already holds. */
export function shareFullProblem(path: string, size: number, used: number): string | undefined {
  if (used + size <= SHARE_LIMIT_BYTES) return undefined;
  const inUse = used > 0 ? ` (${formatBytes(used)} already in use)` : '';
  return `${path} (${formatBytes(size)}) does not fit in the host share: it holds ${formatBytes(SHARE_LIMIT_BYTES)} at most${inUse}`;
}
