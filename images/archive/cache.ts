// Where downloads are kept: outside the repository, shared by every build on this machine.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { rename, writeFile, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** `${WHITTLE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/whittle}` */
export function defaultCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.WHITTLE_CACHE) return env.WHITTLE_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'whittle');
}

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
