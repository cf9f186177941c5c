import { describe, expect, it } from 'vitest';
import { CP437, CanvasScreen } from './screen.ts';
import type { ScreenModeChange } from './screen.ts';

describe('CP437', () => {
  it('maps all 256 codes, ASCII to itself', () => {
    expect([...CP437]).toHaveLength(256);
    for (let c = 0x20; c < 0x7f; c++) expect(CP437[c]).toBe(String.fromCharCode(c));
    expect(CP437[0xb3]).toBe('│');
    expect(CP437[0xdb]).toBe('█');
    expect(CP437[0xe1]).toBe('ß');
    expect(CP437[0xfe]).toBe('■');
  });
});

describe('CanvasScreen without a canvas', () => {
  it('keeps the text screen and reports mode changes once they settle', async () => {
    const modes: ScreenModeChange[] = [];
    const s = new CanvasScreen((m) => modes.push(m));
    s.set_size_text(80, 25);
    const text = 'SeaBIOS ─┤';
    const codes = [...'SeaBIOS '].map((c) => c.charCodeAt(0)).concat([0xc4, 0xb4]);
    codes.forEach((c, col) => s.put_char(2, col, c, 0, 0x000000, 0xaaaaaa));
    expect(s.textLines()).toHaveLength(25);
    expect(s.textLines()[2].trimEnd()).toBe(text);
    await new Promise((r) => setTimeout(r, 80));
    s.set_size_text(40, 256); // a mode set passes through sizes like this one
    s.set_size_text(40, 25);
    await new Promise((r) => setTimeout(r, 80));
    s.set_size_graphical(640, 480);
    s.set_mode(true);
    await new Promise((r) => setTimeout(r, 80));
    expect(modes).toEqual([
      { graphical: false, width: 40, height: 25 },
      { graphical: true, width: 640, height: 480 },
    ]);
  });
});
