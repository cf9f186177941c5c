// The last measured boot time of each image in this browser (localStorage): the Library's headline
// figure per card. Only plain boots count (no extra kernel options, no memory override).

const KEY = 'whittle.boot-times';

export interface BootTime {
  /** Milliseconds from machine start to the ready marker. */
  ms: number;
  /** When it was measured (epoch ms). */
  at: number;
}

function read(storage: Pick<Storage, 'getItem'>): Record<string, BootTime> {
  try {
    const v: unknown = JSON.parse(storage.getItem(KEY) ?? '{}');
    return v && typeof v === 'object' ? (v as Record<string, BootTime>) : {};
  } catch {
    return {}; // unreadable (another version, or edited by hand): start again
  }
}

export function lastBootTime(image: string, storage: Pick<Storage, 'getItem'> = localStorage): BootTime | undefined {
  const t = read(storage)[image];
  return t && Number.isFinite(t.ms) ? t : undefined;
}

export function recordBootTime(image: string, ms: number, storage: Pick<Storage, 'getItem' | 'setItem'> = localStorage, now = Date.now()): void {
  try {
    storage.setItem(KEY, JSON.stringify({ ...read(storage), [image]: { ms, at: now } }));
  } catch (e) {
    console.warn('could not keep the boot time', e); // storage full or disabled: the figure is only a convenience
  }
}
