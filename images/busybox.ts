// Lists a busybox binary's applets without running it (the builder may run on a host that cannot
// execute i386 code). Busybox keeps its applet names as one NUL-separated, sorted string table
// (applet_names[] in libbb/appletlib.c), which begins with "[", "[[".

const encoder = new TextEncoder();

export function busyboxApplets(binary: Uint8Array): string[] {
  const start = indexOf(binary, encoder.encode('\0[\0[[\0'));
  if (start < 0) throw new Error('busybox: applet name table not found (is this a busybox binary?)');
  const names: string[] = [];
  let off = start + 1;
  const dec = new TextDecoder();
  for (;;) {
    let end = off;
    while (end < binary.length && binary[end] !== 0) end++;
    if (end === off) break;
    const name = dec.decode(binary.subarray(off, end));
    if (!/^[\w.[-]+$/.test(name)) break;
    names.push(name);
    off = end + 1;
  }
  // The table is sorted (busybox bsearches it); a sane table has dozens of entries, sorted.
  const sorted = names.every((n, i) => i === 0 || names[i - 1] < n);
  if (names.length < 10 || !sorted) throw new Error('busybox: applet name table looks wrong');
  return names;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  outer: for (let i = hay.indexOf(first); i >= 0 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
