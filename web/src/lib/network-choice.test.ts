import { describe, expect, it } from 'vitest';
import { labAddress } from '../../../worker/network.ts';
import { addressFor, chooseMode, chosenMode, networkFor } from './network-choice.ts';

function memory(): Pick<Storage, 'getItem' | 'setItem'> & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe('network choice', () => {
  it('puts an image built with a network card on the lab unless the user picked otherwise', () => {
    const s = memory();
    expect(chosenMode('redis', { network: true }, s)).toBe('lab');
    expect(chosenMode('sqlite', {}, s)).toBe('off');
    chooseMode('redis', 'web', s);
    expect(chosenMode('redis', { network: true }, s)).toBe('web');
    expect(networkFor('redis', { network: true }, new Set(), s)).toEqual({ mode: 'web' });
    s.data.set('whittle.network-modes', '{"redis":"wifi"}');
    expect(chosenMode('redis', { network: true }, s)).toBe('lab');
    s.data.set('whittle.network-modes', 'not json');
    expect(chosenMode('redis', { network: true }, s)).toBe('lab');
  });

  it("hands an image its name's address and the same one each time", () => {
    const s = memory();
    const a = addressFor('redis', new Set(), s);
    expect(a).toBe(labAddress('redis'));
    expect(addressFor('redis', new Set(), s)).toBe(a);
    expect(networkFor('redis', { network: true }, new Set(), s)).toEqual({ mode: 'lab', address: a });
  });

  it('never gives two images one address, and lends a second machine of an image another', () => {
    const s = memory();
    const redis = addressFor('redis', new Set(), s);
    // An image whose name gives the same address steps past it, though redis is not running now.
    let clashName = '';
    for (let i = 0; !clashName; i++) if (labAddress(`image-${i}`) === redis) clashName = `image-${i}`;
    const clash = addressFor(clashName, new Set(), s);
    expect(clash).not.toBe(redis);
    expect(addressFor(clashName, new Set(), s)).toBe(clash);
    const second = addressFor('redis', new Set([redis]), s);
    expect(second).not.toBe(redis);
    // The image keeps its own address for next time.
    expect(addressFor('redis', new Set(), s)).toBe(redis);
  });
});
