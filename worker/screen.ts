// The machine's VGA screen in a worker: a v86 screen adapter that keeps the text screen and draws
// text and graphics modes onto an OffscreenCanvas. v86's own ScreenAdapter needs the DOM, and its
// DummyScreenAdapter drops colours and never draws graphics, so the machine installs this one.

/** Code page 437 as Unicode: the VGA text-mode character set (IBM PC; NUL and 0xFF show as spaces). */
export const CP437 =
  ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼' +
  ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~⌂' +
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»' +
  '░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

/** A VGA text cell is 9×16 pixels (VGA 80×25 text is 720×400). */
const CELL_W = 9;
const CELL_H = 16;
/** Frames per second drawn while the guest runs (the page shows the canvas scaled; 30 is smooth enough). */
const FRAME_MS = 33;
/** VGA cursor blink half-period, ~16 frames at 60 Hz. */
const BLINK_MS = 266;
/** Mode changes are reported once the mode has held this long: a mode set passes through odd sizes. */
const MODE_SETTLE_MS = 50;

/** A layer of the VGA framebuffer as v86 passes it to `update_buffer` (src/vga.js). */
interface VgaLayer {
  image_data: ImageData;
  screen_x: number;
  screen_y: number;
  buffer_x: number;
  buffer_y: number;
  buffer_width: number;
  buffer_height: number;
}

export interface ScreenModeChange {
  graphical: boolean;
  width: number;
  height: number;
}

const css = (rgb: number) => `#${(rgb & 0xffffff).toString(16).padStart(6, '0')}`;

/** Implements the adapter interface v86's VGA device calls (the methods with snake_case names). */
export class CanvasScreen {
  readonly FLAG_BLINKING = 1;
  readonly FLAG_FONT_PAGE_B = 2;

  #cols = 80;
  #rows = 25;
  /** Per cell: character, flags, background, foreground. */
  #cells = new Int32Array(80 * 25 * 4);
  #dirty = new Uint8Array(25).fill(1);
  #graphical = false;
  #gfxWidth = 0;
  #gfxHeight = 0;
  #cursorRow = 0;
  #cursorCol = 0;
  #cursorStart = 14;
  #cursorEnd = 15;
  #cursorOn = true;
  #blinkOn = true;
  #lastBlink = 0;

  #canvas: OffscreenCanvas | null = null;
  #ctx: OffscreenCanvasRenderingContext2D | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running = false;
  #modeTimer: ReturnType<typeof setTimeout> | undefined;
  #reported = '';
  /** Renders the framebuffer in graphics mode (v86's `vga.screen_fill_buffer`), set once attached. */
  #fillBuffer: (() => void) | null = null;
  /** Marks the whole framebuffer changed (v86's `vga.complete_redraw`), for a canvas attached late. */
  #redrawAll: (() => void) | null = null;

  constructor(private readonly onMode: (m: ScreenModeChange) => void) {}

  /** Joins the VGA device's framebuffer renderer; null when the machine goes away. */
  setFramebufferSource(source: { fill: () => void; redrawAll: () => void } | null): void {
    this.#fillBuffer = source?.fill ?? null;
    this.#redrawAll = source?.redrawAll ?? null;
    this.#schedule();
  }

  /** Draws onto `canvas` from now on (null: keep only the text, e.g. in Node). */
  setCanvas(canvas: OffscreenCanvas | null): void {
    this.#canvas = canvas;
    this.#ctx = canvas ? canvas.getContext('2d', { alpha: false }) : null;
    if (this.#ctx) {
      this.#resizeCanvas();
      if (this.#graphical) this.#redrawAll?.();
    }
    this.#schedule();
  }

  setRunning(running: boolean): void {
    this.#running = running;
    this.#schedule();
  }

  #schedule(): void {
    const want = this.#running && this.#ctx !== null;
    if (want && this.#timer === undefined) this.#timer = setInterval(() => this.#frame(), FRAME_MS);
    if (!want && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #resizeCanvas(): void {
    const [w, h] = this.#graphical ? [this.#gfxWidth, this.#gfxHeight] : [this.#cols * CELL_W, this.#rows * CELL_H];
    if (this.#canvas && w > 0 && h > 0 && (this.#canvas.width !== w || this.#canvas.height !== h)) {
      this.#canvas.width = w;
      this.#canvas.height = h;
    }
    this.#dirty.fill(1);
  }

  #modeChanged(): void {
    this.#resizeCanvas();
    clearTimeout(this.#modeTimer);
    this.#modeTimer = setTimeout(() => {
      const mode: ScreenModeChange = this.#graphical ? { graphical: true, width: this.#gfxWidth, height: this.#gfxHeight } : { graphical: false, width: this.#cols, height: this.#rows };
      const key = JSON.stringify(mode);
      if (key === this.#reported) return;
      this.#reported = key;
      this.onMode(mode);
    }, MODE_SETTLE_MS);
  }

  #frame(): void {
    const ctx = this.#ctx;
    if (!ctx) return;
    if (this.#graphical) {
      this.#fillBuffer?.();
      return;
    }
    const now = performance.now();
    if (now - this.#lastBlink > BLINK_MS) {
      this.#lastBlink = now;
      this.#blinkOn = !this.#blinkOn;
      if (this.#cursorRow < this.#rows) this.#dirty[this.#cursorRow] = 1;
    }
    ctx.textBaseline = 'top';
    ctx.font = `${CELL_H - 1}px monospace`;
    for (let row = 0; row < this.#rows; row++) {
      if (!this.#dirty[row]) continue;
      this.#dirty[row] = 0;
      this.#drawRow(ctx, row);
    }
  }

  #drawRow(ctx: OffscreenCanvasRenderingContext2D, row: number): void {
    const y = row * CELL_H;
    for (let col = 0; col < this.#cols; col++) {
      const i = (row * this.#cols + col) * 4;
      const [chr, flags, bg, fg] = [this.#cells[i], this.#cells[i + 1], this.#cells[i + 2], this.#cells[i + 3]];
      const x = col * CELL_W;
      ctx.fillStyle = css(bg);
      ctx.fillRect(x, y, CELL_W, CELL_H);
      const visible = !(flags & this.FLAG_BLINKING) || this.#blinkOn;
      if (visible && chr !== 0 && chr !== 0x20 && chr !== 0xff) {
        ctx.fillStyle = css(fg);
        ctx.fillText(CP437[chr & 0xff], x, y + 1, CELL_W);
      }
      if (this.#cursorOn && this.#blinkOn && row === this.#cursorRow && col === this.#cursorCol) {
        ctx.fillStyle = css(fg);
        ctx.fillRect(x, y + this.#cursorStart, CELL_W, Math.max(1, this.#cursorEnd - this.#cursorStart + 1));
      }
    }
  }

  /** The text screen as lines (trailing spaces kept), like v86's `get_text_screen`. */
  textLines(): string[] {
    const lines: string[] = [];
    for (let row = 0; row < this.#rows; row++) lines.push(this.get_text_row(row));
    return lines;
  }

  dispose(): void {
    clearTimeout(this.#modeTimer);
    this.#running = false;
    this.#fillBuffer = this.#redrawAll = null;
    this.#schedule();
  }

  // ---- the v86 screen adapter interface (called by src/vga.js) ----

  put_char(row: number, col: number, chr: number, flags: number, bg: number, fg: number): void {
    if (row >= this.#rows || col >= this.#cols) return;
    const i = (row * this.#cols + col) * 4;
    this.#cells[i] = chr;
    this.#cells[i + 1] = flags;
    this.#cells[i + 2] = bg;
    this.#cells[i + 3] = fg;
    this.#dirty[row] = 1;
  }

  destroy(): void {
    this.dispose();
  }

  pause(): void {
    this.setRunning(false);
  }

  continue(): void {
    this.setRunning(true);
  }

  clear_text_state(): void {
    this.#cols = 0;
    this.#rows = 0;
  }

  set_mode(graphical: boolean): void {
    if (this.#graphical === graphical) return;
    this.#graphical = graphical;
    this.#modeChanged();
  }

  set_font_bitmap(): void {}

  set_font_page(): void {
    this.#dirty.fill(1);
  }

  clear_screen(): void {
    const ctx = this.#ctx;
    if (!ctx || !this.#canvas) return;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, this.#canvas.width, this.#canvas.height);
  }

  set_size_text(cols: number, rows: number): void {
    if (cols === this.#cols && rows === this.#rows) return;
    this.#cols = cols;
    this.#rows = rows;
    this.#cells = new Int32Array(cols * rows * 4);
    this.#dirty = new Uint8Array(rows).fill(1);
    if (!this.#graphical) this.#modeChanged();
  }

  set_size_graphical(width: number, height: number): void {
    if (width === this.#gfxWidth && height === this.#gfxHeight) return;
    this.#gfxWidth = width;
    this.#gfxHeight = height;
    if (this.#graphical) this.#modeChanged();
  }

  set_scale(): void {}

  update_cursor_scanline(start: number, end: number, enabled: boolean): void {
    this.#cursorStart = start;
    this.#cursorEnd = end;
    this.#cursorOn = enabled;
    if (this.#cursorRow < this.#rows) this.#dirty[this.#cursorRow] = 1;
  }

  update_cursor(row: number, col: number): void {
    if (this.#cursorRow < this.#rows) this.#dirty[this.#cursorRow] = 1;
    this.#cursorRow = row;
    this.#cursorCol = col;
    if (row < this.#rows) this.#dirty[row] = 1;
  }

  update_buffer(layers: VgaLayer[]): void {
    const ctx = this.#ctx;
    if (!ctx) return;
    for (const l of layers) {
      ctx.putImageData(l.image_data, l.screen_x - l.buffer_x, l.screen_y - l.buffer_y, l.buffer_x, l.buffer_y, l.buffer_width, l.buffer_height);
    }
  }

  get_text_screen(): string[] {
    return this.textLines();
  }

  get_text_row(row: number): string {
    let s = '';
    for (let col = 0; col < this.#cols; col++) s += CP437[this.#cells[(row * this.#cols + col) * 4] & 0xff];
    return s;
  }
}
