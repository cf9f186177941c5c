// Publish into place: a file or folder is written under a temporary name beside its final path and
// renamed there only when complete, so a reader (or a build killed half way) never sees half of it.

import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { processAlive } from './host-process.ts';

/** Where `final` is built: `.<name>.building-<pid>-<random>` beside it. */
const STAGING = (name: string) => `.${name}.building-`;

/** Writes a file so that readers see either the old content or the whole new one, never a part. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Fills a fresh folder beside `final` and, when `fill` succeeds, replaces `final` with it (two renames:
 * the old folder out, the new one in). On failure the folder is removed and `final` is left as it was.
 * Folders that builds killed half way left behind (their process is gone) are removed first: a kernel
 * source tree is a gigabyte. The folder is 0755: images/dist is served as static files.
 */
export async function publishDir<T>(final: string, fill: (dir: string) => Promise<T>): Promise<T> {
  const parent = dirname(final);
  const name = basename(final);
  await mkdir(parent, { recursive: true });
  await removeAbandoned(parent, name);
  const dir = await mkdtemp(join(parent, `${STAGING(name)}${process.pid}-`));
  try {
    await chmod(dir, 0o755);
    const result = await fill(dir);
    const old = `${dir}.old`;
    await rename(final, old).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    await rename(dir, final);
    await rm(old, { recursive: true, force: true });
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function removeAbandoned(parent: string, name: string): Promise<void> {
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    if (!entry.startsWith(STAGING(name))) continue;
    const pid = Number(/^(\d+)-/.exec(entry.slice(STAGING(name).length))?.[1]);
    if (pid && !processAlive(pid)) await rm(join(parent, entry), { recursive: true, force: true });
  }
}
