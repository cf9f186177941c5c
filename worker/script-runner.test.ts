import { describe, expect, it } from 'vitest';
import type { ScriptStep } from '../images/manifest.ts';
import { runScript } from './script-runner.ts';
import type { StepState } from './script-runner.ts';
import { SerialText } from './serial-text.ts';

const PROMPT = 'shell:~# ';
const COLS = 80;

/**
 * A fake guest at a busybox prompt: echoes each typed line as busybox's line editor does (wrapped at
 * 80 columns with `\r\r\n`, after its `ESC[6n` cursor query), then runs its `; `-separated commands:
 * `echo X` prints X (`$((6*7))` is 42), `sleep N` waits N × 100 ms, `hang` never returns to the prompt.
 */
class FakeShell {
  readonly text = new SerialText();
  readonly typedAt: { line: string; at: number }[] = [];
  readonly #t0 = performance.now();

  constructor() {
    this.#print(PROMPT);
  }

  type(text: string): void {
    const line = text.replace(/\r$/, '');
    this.typedAt.push({ line, at: performance.now() - this.#t0 });
    let echo = '\x1b[6n';
    let col = PROMPT.length;
    for (const c of line) {
      echo += c;
      if (++col === COLS) {
        echo += '\r\r\n';
        col = 0;
      }
    }
    this.#print(`${echo}\r\n`);
    let at = 5;
    let out = '';
    for (const cmd of line.split('; ')) {
      const sleep = /^sleep (\S+)$/.exec(cmd);
      const echoed = /^echo (.*)$/.exec(cmd);
      if (sleep) {
        this.#printAt(at, out);
        out = '';
        at += Number(sleep[1]) * 100;
      } else if (cmd === 'hang') {
        return this.#printAt(at, out);
      } else if (echoed) {
        out += `${echoed[1].replace('$((6*7))', '42')}\r\n`;
      }
    }
    this.#printAt(at, out + PROMPT);
  }

  #printAt(ms: number, s: string): void {
    if (s) setTimeout(() => this.#print(s), ms);
  }

  #print(s: string): void {
    this.text.push(new TextEncoder().encode(s));
  }

  console() {
    return { text: () => this.text, type: (s: string) => this.type(s) };
  }
}

async function run(steps: ScriptStep[]) {
  const guest = new FakeShell();
  const states: [number, StepState][] = [];
  const result = await runScript(guest.console(), steps, PROMPT, (i, s) => states.push([i, s]));
  return { guest, result, states };
}

describe('script runner', () => {
  it('types each line after the previous answer and prompt, reporting each step', async () => {
    const { result, states } = await run([
      { send: 'echo one-$((6*7))', expect: 'one-42' },
      { send: 'echo two', expect: 'two' },
    ]);
    expect(result).toMatchObject({ ok: true });
    expect(result.transcript).toContain('one-42\r\n');
    expect(states).toEqual([
      [0, 'typing'],
      [0, 'ok'],
      [1, 'typing'],
      [1, 'ok'],
    ]);
  });

  it('does not take the wrapped echo of a line wider than the terminal for its answer', async () => {
    // The expected text is in the typed line; its echo wraps at 80 columns, so the old rule (the
    // first line after typing holds the whole line) did not recognise it as the echo.
    const send = `sleep 3; echo ${'x'.repeat(70)} first-done`;
    const { guest, result } = await run([{ send, expect: 'first-done', timeout: 2 }]);
    expect(guest.text.text).toContain('\r\r\n');
    expect(result, result.message).toMatchObject({ ok: true });
    expect(result.transcript).toMatch(/\nx{70} first-done\r\n/);
  });

  it('waits for the prompt up to the step’s own timeout, however long the step takes', async () => {
    const { guest, result } = await run([
      { send: 'echo started; sleep 8', expect: 'started', timeout: 2 },
      { send: 'echo next', expect: 'next' },
    ]);
    expect(result, result.message).toMatchObject({ ok: true });
    // `echo started; sleep 8` is one line to this fake; its answer and prompt come after 800 ms.
    expect(guest.typedAt[1].at - guest.typedAt[0].at).toBeGreaterThanOrEqual(790);
  });

  it('ends the script when the prompt does not come back, naming the step', async () => {
    const { guest, result, states } = await run([
      { send: 'echo ok; hang', expect: '', timeout: 0.3 },
      { send: 'echo never', expect: 'never' },
    ]);
    expect(result).toMatchObject({ ok: false, failedStep: 0 });
    expect(result.message).toMatch(/The prompt "shell:~# " did not return within 0.3 s after step 1 /);
    expect(guest.typedAt.map((t) => t.line)).toEqual(['echo ok; hang']);
    expect(states.at(-1)).toEqual([0, 'failed']);
  });

  it('fails a step whose answer does not appear, with its number and the transcript so far', async () => {
    const { result, states } = await run([
      { send: 'echo a', expect: 'a' },
      { send: 'echo b', expect: 'c', timeout: 0.2 },
    ]);
    expect(result).toMatchObject({ ok: false, failedStep: 1 });
    expect(result.message).toMatch(/^Step 2 \("echo b"\): Waited 0.2 s for "c"/);
    expect(result.transcript).toContain('b\r\n');
    expect(states.at(-1)).toEqual([1, 'failed']);
  });
});
