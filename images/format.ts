// Numbers for people, one way everywhere: the builder's log and `images list`, the compare CLI, the
// bench and the page all format bytes, times, counts and ratios through this module.
//
// The convention:
// - Sizes of files, downloads and storage are in SI units, 1 kB = 1000 B, 1 MB = 10⁶ B, 1 GB = 10⁹ B
//   (labelled B, kB, MB, GB, TB), as network and download sizes are usually quoted: the shell's
//   1,988,839-byte download reads "1.99 MB" in every tool.
// - Memory is in binary units, 1 MiB = 2²⁰ B (labelled KiB, MiB, GiB), because guest RAM is configured
//   in MiB (`memoryMB`) and sized in powers of two: a 128 MiB guest reads "128 MiB", not "134 MB".
// - Times: "830 ms", "1.34 s", "12.3 s", "2 min 5 s", "10 min".
// - Counts (guest instructions): "281", "9,876", "12.3 k", "58.0 M", "2.50 G"; whole numbers of things
//   (files, packages) with thousands separators: "13,244".
// - Ratios: "52×", "6.7×", "0.25×" (two significant digits below 1).
// Anything not finite (a value that was not measured) reads "—".
//
// No Node or DOM imports: this is the bottom layer (images/), importable by worker/ and web/ alike.

const NOT_MEASURED = '—';
const SI_UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Three significant digits past the first unit: "512 B", "1.99 MB", "12.3 MB", "187 MB". */
function scaled(n: number, base: number, units: readonly string[]): string {
  if (!Number.isFinite(n)) return NOT_MEASURED;
  let i = 0;
  let v = Math.abs(n);
  while (v >= base && i < units.length - 1) {
    v /= base;
    i++;
  }
  // 999.6 kB would print as "1000 kB": carry it into the next unit.
  if (i > 0 && i < units.length - 1 && Number(v.toFixed(0)) >= base) {
    v /= base;
    i++;
  }
  const digits = i === 0 || v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2;
  return `${n < 0 ? '-' : ''}${v.toFixed(digits)} ${units[i]}`;
}

/** A size in SI units (1 MB = 10⁶ B): 1_988_839 → "1.99 MB", 512 → "512 B". */
export function formatBytes(n: number): string {
  return scaled(n, 1000, SI_UNITS);
}

/** A memory size in binary units (1 MiB = 2²⁰ B), as guest RAM is configured: 2 ** 27 → "128 MiB". */
export function formatMemory(n: number): string {
  return scaled(n, 1024, BINARY_UNITS);
}

/** 830 → "830 ms", 1340 → "1.34 s", 12345 → "12.3 s", 125000 → "2 min 5 s", 600000 → "10 min". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return NOT_MEASURED;
  if (Math.abs(ms) < 999.5) return `${Math.round(ms)} ms`;
  if (Math.abs(ms) < 59_950) return `${(ms / 1000).toFixed(Math.abs(ms) < 9_995 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
}

/** A whole number of things with thousands separators: 13244 → "13,244". */
export function formatInteger(n: number): string {
  if (!Number.isFinite(n)) return NOT_MEASURED;
  return Math.round(n).toLocaleString('en-US');
}

/** A large count (guest instructions): 9876 → "9,876", 58_000_000 → "58.0 M", 2.5e9 → "2.50 G". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return NOT_MEASURED;
  const a = Math.abs(n);
  if (a >= 999.5e6) return `${(n / 1e9).toFixed(2)} G`;
  if (a >= 999.95e3) return `${(n / 1e6).toFixed(1)} M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return formatInteger(n);
}

/** How many times: 62.4 → "62×", 1.04 → "1.0×", 0.0163 → "0.016×"; not finite or negative → "—". */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r) || r < 0) return NOT_MEASURED;
  if (r >= 9.95) return `${Math.round(r)}×`;
  if (r >= 0.995) return `${r.toFixed(1)}×`;
  return r === 0 ? '0×' : `${r.toPrecision(2)}×`;
}

/** A part of a whole: 0.1234 → "12 %", 0.0123 → "1.2 %", 0.00123 → "0.12 %". */
export function formatShare(share: number): string {
  if (!Number.isFinite(share)) return NOT_MEASURED;
  const p = share * 100;
  return `${p >= 9.95 ? p.toFixed(0) : p >= 0.995 ? p.toFixed(1) : p.toFixed(2)} %`;
}

/** A median over runs, with its range when the runs differ: "1.00 s (900 ms–1.20 s)". */
export function formatSummary(s: { median: number; min: number; max: number; n: number }, fmt: (n: number) => string): string {
  if (s.n <= 1 || s.min === s.max) return fmt(s.median);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}
