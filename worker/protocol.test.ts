import { describe, expect, it } from 'vitest';
import type { Manifest } from '../images/manifest.ts';
import { PROTOCOL_VERSION, commandMessage, commandTransferables, eventMessage, eventTransferables, isMachineError, validateCommand } from './protocol.ts';
import type { Command, MachineError } from './protocol.ts';

const sha = (c: string) => c.repeat(64);

const manifest: Manifest = {
  schema: 1,
  name: 'shell',
  title: 'Shell',
  description: 'test',
  kind: 'appliance',
  artifacts: [
    { role: 'bios', file: 'bios.bin', sha256: sha('a'), size: 10, compressedSize: 10, compression: 'none' },
    { role: 'kernel', file: 'bzImage', sha256: sha('b'), size: 10, compressedSize: 10, compression: 'none' },
  ],
  memoryMB: 64,
  readyMarker: '~ # ',
  smoke: [],
  packages: [],
  fileCount: 0,
  rootfsSize: 0,
};

const v = PROTOCOL_VERSION;

function rejected(x: unknown): MachineError {
  const r = validateCommand(x);
  expect(isMachineError(r), `expected ${JSON.stringify(x)} to be rejected`).toBe(true);
  expect((r as MachineError).code).toBe('bad-message');
  return r as MachineError;
}

describe('validateCommand', () => {
  it('accepts each well-formed command and returns it without the version', () => {
    const cmds: Command[] = [
      { type: 'boot', id: 1, options: { manifest, source: { from: 'store' } } },
      { type: 'boot', id: 2, options: { manifest, source: { from: 'path', dir: '/x' }, memoryMB: 128, app: 'shell', cmdlineAppend: 'quiet' } },
      { type: 'boot', id: 3, options: { manifest, source: { from: 'url', baseUrl: 'https://example.org/images/shell/' }, restoreState: new Uint8Array(4) } },
      { type: 'serial-in', bytes: new Uint8Array([104, 105, 10]) },
      { type: 'serial-in', bytes: new Uint8Array([1]), port: 'virtio' },
      { type: 'keyboard', text: 'ls\n' },
      { type: 'keyboard', keys: [{ code: 'KeyA', down: true }, { code: 'KeyA', down: false }] },
      { type: 'keyboard', scancodes: [0x1e, 0x9e] },
      { type: 'screen', canvas: null },
      { type: 'screen-text', id: 4 },
      { type: 'pause', id: 5 },
      { type: 'resume', id: 6 },
      { type: 'reset', id: 7 },
      { type: 'stop', id: 8 },
      { type: 'save-state', id: 9, label: 'at prompt', target: 'transfer', prepare: true },
      { type: 'run-script', id: 10, steps: [{ send: 'echo hi', expect: 'hi', timeout: 5 }] },
      { type: 'boot', id: 11, options: { manifest, source: { from: 'store' }, share: true } },
      { type: 'share-put', id: 12, path: 'data/x.csv', data: new Blob(['a,b\n']), mtime: 1_700_000_000_000 },
      // A bad name is the share's to refuse with a hint for the user (bad-path), not a malformed message.
      { type: 'share-put', id: 13, path: '../x', data: new Blob([]) },
      { type: 'share-list', id: 14 },
      { type: 'share-read', id: 15, path: 'x.csv' },
      { type: 'share-archive', id: 16 },
      { type: 'boot', id: 17, options: { manifest, source: { from: 'store' }, network: { mode: 'lab', address: '10.0.86.110' } } },
      { type: 'boot', id: 18, options: { manifest, source: { from: 'store' }, network: { mode: 'web' } } },
      { type: 'http-get', id: 19, path: '/index.html?a=1' },
      { type: 'http-get', id: 20, path: '/', port: 8080, method: 'HEAD', headers: { Accept: 'text/html' } },
    ];
    for (const cmd of cmds) {
      const r = validateCommand(commandMessage(cmd));
      expect(isMachineError(r)).toBe(false);
      expect(r).toMatchObject(cmd);
      expect('v' in (r as object)).toBe(false);
    }
  });

  it('rejects what is not a command, without throwing', () => {
    for (const x of [undefined, null, 42, 'boot', [], [{ type: 'stop' }]]) rejected(x);
  });

  it('rejects an unknown type and a wrong or missing protocol version', () => {
    expect(rejected({ v, type: 'format-disk', id: 1 }).message).toContain('unknown command type');
    expect(rejected({ v: 99, type: 'stop', id: 1 }).message).toContain('protocol version 99');
    expect(rejected({ type: 'stop', id: 1 }).message).toContain('protocol version');
  });

  it('names the command id it answers when the message has one', () => {
    expect(rejected({ v, type: 'run-script', id: 7, steps: [] }).id).toBe(7);
    expect(rejected({ v, type: 'boot', id: 3 }).id).toBe(3);
  });

  it('rejects malformed fields', () => {
    rejected({ v, type: 'stop' }); // no id
    rejected({ v, type: 'stop', id: -1 });
    rejected({ v, type: 'stop', id: 1.5 });
    rejected({ v, type: 'serial-in', bytes: 'hi' });
    rejected({ v, type: 'serial-in', bytes: [104, 105] });
    rejected({ v, type: 'serial-in', bytes: new Uint8Array(1), port: 'usb' });
    rejected({ v, type: 'keyboard' });
    rejected({ v, type: 'keyboard', scancodes: [300] });
    rejected({ v, type: 'keyboard', keys: [{ code: 'KeyA' }] });
    rejected({ v, type: 'screen', canvas: {} });
    rejected({ v, type: 'save-state', id: 1, target: 'disk' });
    rejected({ v, type: 'run-script', id: 1, steps: [{ send: 'ls' }] });
    rejected({ v, type: 'run-script', id: 1, steps: [{ send: 'ls', expect: '$', timeout: -1 }] });
    rejected({ v, type: 'share-put', id: 1, path: 'x', data: new Uint8Array(1) });
    rejected({ v, type: 'share-put', id: 1, data: new Blob([]) });
    rejected({ v, type: 'share-read', id: 1 });
    expect(rejected({ v, type: 'http-get', id: 1, path: 'index.html' }).message).toContain('must start with /');
    rejected({ v, type: 'http-get', id: 1, path: '/a b' }); // a space would end the request line
    rejected({ v, type: 'http-get', id: 1, path: '/', port: 0 });
    rejected({ v, type: 'http-get', id: 1, path: '/', method: 'POST' });
    rejected({ v, type: 'http-get', id: 1, path: '/', headers: { 'X-A': 'b\r\nHost: evil' } });
  });

  it('rejects boot options that could not boot', () => {
    const boot = (options: unknown) => ({ v, type: 'boot', id: 1, options });
    expect(rejected(boot({ source: { from: 'store' } })).message).toContain('manifest');
    expect(rejected(boot({ manifest: { ...manifest, artifacts: [] }, source: { from: 'store' } })).message).toContain('no artifacts');
    expect(rejected(boot({ manifest, source: { from: 'ftp' } })).message).toContain('unknown source');
    rejected(boot({ manifest }));
    rejected(boot({ manifest, source: { from: 'url' } }));
    rejected(boot({ manifest, source: { from: 'file', files: { x: 'not a blob' } } }));
    rejected(boot({ manifest, source: { from: 'store' }, memoryMB: 4 }));
    rejected(boot({ manifest, source: { from: 'store' }, restoreState: new Uint8Array(1), restoreStateId: 'x' }));
    expect(rejected(boot({ manifest, source: { from: 'store' }, network: { mode: 'lab', address: '10.0.86.1' } })).message).toContain('10.0.86.2 to 10.0.86.254');
    rejected(boot({ manifest, source: { from: 'store' }, network: { mode: 'lab' } }));
    expect(rejected(boot({ manifest, source: { from: 'store' }, network: { mode: 'wifi' } })).message).toContain('unknown network mode');
  });
});

describe('transfer lists', () => {
  it('transfers serial chunks and state bytes, not small events', () => {
    const chunk = new Uint8Array([1, 2, 3]);
    expect(eventTransferables(eventMessage('serial-out', chunk))).toEqual([chunk.buffer]);
    const bytes = new Uint8Array(8);
    expect(eventTransferables(eventMessage('state-saved', { id: 1, stateId: 's', size: 8, rawSize: 16, ms: 1, bytes }))).toEqual([bytes.buffer]);
    expect(eventTransferables(eventMessage('done', { id: 1 }))).toEqual([]);
    const file = new Uint8Array(3);
    expect(eventTransferables(eventMessage('share-file', { id: 1, path: 'x', bytes: file, mtime: 0 }))).toEqual([file.buffer]);
    const state = new Uint8Array(4);
    expect(commandTransferables({ type: 'boot', id: 1, options: { manifest, source: { from: 'store' }, restoreState: state } })).toEqual([state.buffer]);
    expect(commandTransferables({ type: 'serial-in', bytes: new Uint8Array(1) })).toEqual([]);
  });
});
