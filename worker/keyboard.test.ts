import { describe, expect, it } from 'vitest';
import { scancodesFor } from './keyboard.ts';

describe('scancodesFor', () => {
  it('gives set-1 make and break codes, with the 0xE0 prefix for extended keys', () => {
    expect(scancodesFor('KeyA', true)).toEqual([0x1e]);
    expect(scancodesFor('KeyA', false)).toEqual([0x9e]);
    expect(scancodesFor('Enter', true)).toEqual([0x1c]);
    expect(scancodesFor('ArrowUp', true)).toEqual([0xe0, 0x48]);
    expect(scancodesFor('ArrowUp', false)).toEqual([0xe0, 0xc8]);
    expect(scancodesFor('ControlRight', false)).toEqual([0xe0, 0x9d]);
  });

  it('ignores keys a PC keyboard does not have', () => {
    expect(scancodesFor('MediaPlayPause', true)).toBeNull();
    expect(scancodesFor('', true)).toBeNull();
  });
});
