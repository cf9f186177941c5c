// The build date every image is stamped with: SOURCE_DATE_EPOCH when set (reproducible-builds.org's
// convention), else a date that comes from the build's inputs, never the clock of the building machine.

import { fail } from './log.ts';

/**
 * Debian 12.0's release day (2023-06-10 00:00 UTC): the date that means "bookworm" when a build has no
 * locked archive date to go by (a kernel built on its own).
 */
export const BOOKWORM_EPOCH = 1686355200;

/** SOURCE_DATE_EPOCH from the environment if set, else `fallback` (seconds since 1970). */
export function sourceDateEpoch(fallback: number, env: Record<string, string | undefined> = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) fail(`SOURCE_DATE_EPOCH=${raw} is not a whole number of seconds since 1970`, { hint: 'Unset it, or set it to e.g. $(date -d 2025-01-01 +%s).' });
  return Number(raw);
}

/** An archive's Release date (`Sat, 10 Jun 2023 09:03:09 UTC`) in whole seconds. */
export function epochOfDate(date: string, what: string): number {
  const t = Date.parse(date);
  if (Number.isNaN(t)) fail(`${what} ${JSON.stringify(date)} is not a date`, { hint: 'Restore the lock from git, or rebuild with --update-lock.' });
  return Math.floor(t / 1000);
}
