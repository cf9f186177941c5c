// Where downloads are kept: outside the repository, shared by every build on this machine.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `${WHITTLE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/whittle}` */
export function defaultCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.WHITTLE_CACHE) return env.WHITTLE_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'whittle');
}
