import { describe, expect, it } from 'vitest';
import { WaitTimedOut } from './errors.ts';
import { echoEnd, SerialText } from './serial-text.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('echoEnd: where the echo of a typed line ends', () => {
  it('skips a plain echo and its line break', () => {
    const text = 'echo hi\r\nhi\r\n';
    expect(echoEnd(text, 0, 'echo hi')).toBe('echo hi\r\n'.length);
  });
  it('recognises an echo wrapped at the terminal width (busybox: CR CR LF, after a cursor query)', () => {
    const typed = `echo ${'x'.repeat(70)} done`;
    const echo = `\x1b[6necho ${'x'.repeat(62)}\r\r\n${'x'.repeat(8)} done\r\n`;
    expect(echoEnd(`${echo}output\r\n`, 0, typed)).toBe(echo.length);
  });
  it('recognises a line editor that redraws the line for every key (linenoise with hints)', () => {
    const text = '\r\x1b[0K> P\r\x1b[3C\r\x1b[0K> PI\r\x1b[4C\r\x1b[0K> PING\x1b[90m [message]\x1b[0m\r\nPONG\r\n';
    expect(echoEnd(text, 0, 'PING')).toBe(text.indexOf('PONG'));
  });
  it('waits while the echo may still be arriving, and gives up on output that is not an echo', () => {
    expect(echoEnd('echo h', 0, 'echo hi')).toBe('pending');
    expect(echoEnd(`echo ${'x'.repeat(70)}\r\r\n`, 0, `echo ${'x'.repeat(70)} more`)).toBe('pending');
    expect(echoEnd('[  3.2] usb 1-1: new device\r\n', 0, 'echo hi')).toBe('none');
  });
});

describe('SerialText', () => {
  it('finds text after the echo of the typed line, by absolute offset across window moves', async () => {
    const t = new SerialText(16);
    t.push(bytes('old output that scrolls away\r\n'));
    const from = t.end;
    const found = t.waitFor('42', { from, timeoutMs: 1000, typed: 'echo 42' });
    t.push(bytes('echo 42\r\n'));
    t.push(bytes('42\r\n'));
    const end = await found;
    expect(t.between(end - 2, end)).toBe('42');
    expect(t.text.length).toBeLessThanOrEqual(32);
  });
  it('decodes UTF-8 split across chunks', () => {
    const t = new SerialText();
    const b = bytes('née');
    t.push(b.slice(0, 2));
    t.push(b.slice(2));
    expect(t.text).toBe('née');
  });
  it('matches regular expressions, and times out with WaitTimedOut', async () => {
    const t = new SerialText();
    t.push(bytes('count: 1234\r\n'));
    const end = await t.waitFor(/\d+\r\n/, { from: 0, timeoutMs: 100 });
    expect(t.between(0, end)).toBe('count: 1234\r\n');
    await expect(t.waitFor('never', { from: 0, timeoutMs: 20 })).rejects.toBeInstanceOf(WaitTimedOut);
  });
  it('rejects waiters on close and on abort, and a cleared text never matches old output', async () => {
    const t = new SerialText();
    t.push(bytes('ready'));
    const from = t.end;
    t.clear();
    const closed = t.waitFor('ready', { from: 0, timeoutMs: 1000 });
    t.close(new Error('stopped'));
    await expect(closed).rejects.toThrow('stopped');
    const abort = new AbortController();
    const aborted = t.waitFor('x', { from, timeoutMs: 1000, signal: abort.signal });
    abort.abort(new Error('cancelled'));
    await expect(aborted).rejects.toThrow('cancelled');
  });
});
