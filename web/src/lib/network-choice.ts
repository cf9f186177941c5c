// Each image's network in this browser (localStorage, shared by its tabs): the mode picked for it (by
// default the lab for an image built with a network card, off for the rest) and the lab address it was
// handed, kept so that it gets the same one every time.

import type { Manifest } from '../../../images/manifest.ts';
import { labAddress, NETWORK_MODES } from '../../../worker/network.ts';
import type { NetworkMode, NetworkOptions } from '../../../worker/network.ts';

const MODES_KEY = 'whittle.network-modes';
const ADDRESSES_KEY = 'whittle.lab-addresses';

type Store = Pick<Storage, 'getItem' | 'setItem'>;

function read(storage: Store, key: string): Record<string, string> {
  try {
    const v: unknown = JSON.parse(storage.getItem(key) ?? '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {};
  } catch {
    return {}; // unreadable (another version, or edited by hand): start again
  }
}

function write(storage: Store, key: string, value: Record<string, string>): void {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch (e) {
    console.warn('could not keep the network choice', e); // storage full or disabled: it is only remembered for next time
  }
}

/** The mode an image boots with unless the user picks another: the lab if it was built with a network card. */
export function defaultMode(manifest: Pick<Manifest, 'network'>): NetworkMode {
  return manifest.network ? 'lab' : 'off';
}

export function chosenMode(image: string, manifest: Pick<Manifest, 'network'>, storage: Store = localStorage): NetworkMode {
  const m = read(storage, MODES_KEY)[image] as NetworkMode | undefined;
  return m && NETWORK_MODES.includes(m) ? m : defaultMode(manifest);
}

export function chooseMode(image: string, mode: NetworkMode, storage: Store = localStorage): void {
  write(storage, MODES_KEY, { ...read(storage, MODES_KEY), [image]: mode });
}

/**
 * The image's lab address: the one it had before unless a machine running now (`inUse`) has it, else the
 * one its name gives (labAddress), stepping past every address in use or kept for another image, so two
 * images of this browser never share one. Kept for next time.
 */
export function addressFor(image: string, inUse: ReadonlySet<string>, storage: Store = localStorage): string {
  const kept = read(storage, ADDRESSES_KEY);
  const mine = kept[image];
  if (mine && !inUse.has(mine)) return mine;
  const taken = new Set([...inUse, ...Object.entries(kept).flatMap(([name, a]) => (name === image ? [] : [a]))]);
  let address: string;
  try {
    address = labAddress(image, taken);
  } catch {
    address = labAddress(image, inUse); // every address kept for some image: reuse one not running now
  }
  // A second machine of the same image in this tab borrows an address: the image keeps its own.
  if (!mine) write(storage, ADDRESSES_KEY, { ...kept, [image]: address });
  return address;
}

/** The boot option for an image's network, given the lab addresses machines of this tab use now. */
export function networkFor(image: string, manifest: Pick<Manifest, 'network'>, inUse: ReadonlySet<string>, storage: Store = localStorage): NetworkOptions {
  const mode = chosenMode(image, manifest, storage);
  return mode === 'lab' ? { mode, address: addressFor(image, inUse, storage) } : { mode };
}
