import { afterEach, describe, expect, it, vi } from 'vitest';
import { HintedError } from '../../../images/hinted-error.ts';
import { ManifestError } from '../../../images/manifest.ts';
import { ArtifactError } from '../../../worker/artifacts.ts';
import { MachineRequestError } from '../../../worker/bridge.ts';
import { fetchManifest } from './catalog.ts';
import { ImportError } from './import-detect.ts';
import { ShareLinkError } from './share-link.ts';
import { ExpectedError, toUserError } from './user-error.ts';

describe('toUserError', () => {
  afterEach(() => vi.restoreAllMocks());

  it('drops cancellations', () => {
    expect(toUserError(new DOMException('stop', 'AbortError'), 'Storing shell')).toBeNull();
  });
  it('keeps expected errors as they are, with their hint', () => {
    expect(toUserError(new ExpectedError('Gone.', 'Reload.'), 'x')).toEqual({ message: 'Gone.', hint: 'Reload.' });
    expect(toUserError(new ImportError('Not an image.', 'Pick an ISO.'), 'x')).toEqual({ message: 'Not an image.', hint: 'Pick an ISO.' });
  });
  it('explains a full quota and a failed download', () => {
    expect(toUserError(new DOMException('full', 'QuotaExceededError'), 'Storing debian')).toMatchObject({ message: expect.stringMatching(/^Storing debian: .*storage .* is full/), hint: expect.stringMatching(/Delete images/) });
    expect(toUserError(new ManifestError('invalid image manifest: name'), 'Reading')?.hint).toMatch(/npm run images/);
  });
  it('explains a request that never reached the server, whatever words the browser uses', async () => {
    for (const text of ['Failed to fetch', 'NetworkError when attempting to fetch resource.', 'Load failed']) {
      vi.stubGlobal('fetch', () => Promise.reject(new TypeError(text)));
      const e = await fetchManifest('http://127.0.0.1:9/images/shell/manifest.json').catch((x: unknown) => x);
      expect(toUserError(e, 'Opening the link'), text).toEqual({ message: expect.stringContaining('the network request failed'), hint: expect.stringMatching(/connection/) });
    }
    vi.unstubAllGlobals();
  });
  it('recognises every hinted error by its base class, not by its shape or words', () => {
    expect(toUserError(new ArtifactError('hash-mismatch', 'bzImage.zst does not match its manifest', 'Delete the image and fetch it again.'), 'Storing shell')).toEqual({ message: 'bzImage.zst does not match its manifest', hint: 'Delete the image and fetch it again.' });
    expect(toUserError(new MachineRequestError({ code: 'storage', message: 'The store is full.', hint: 'Free space.' }), 'Saving')).toEqual({ message: 'The store is full.', hint: 'Free space.' });
    expect(toUserError(new ShareLinkError('This share link is damaged.', 'Ask again.'), 'Opening')).toEqual({ message: 'This share link is damaged.', hint: 'Ask again.' });
    for (const e of [new ExpectedError('x'), new ImportError('x', 'y'), new ArtifactError('storage', 'x', 'y'), new MachineRequestError({ code: 'internal', message: 'x' }), new ShareLinkError('x', 'y'), new ManifestError('x')]) {
      expect(e).toBeInstanceOf(HintedError);
      expect(typeof e.code).toBe('string');
    }
    // Something shaped like one, but not ours, is unexpected.
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const lookalike = Object.assign(new Error('boom'), { name: 'SomethingError', code: 'x', hint: 'y' });
    expect(toUserError(lookalike, 'Booting')).toMatchObject({ unexpected: true });
  });
  it('keeps unexpected errors short, with details in the console', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const e = toUserError(new RangeError('index 9 out of range'), 'Booting shell');
    expect(e).toEqual({ message: 'Booting shell failed unexpectedly: index 9 out of range', hint: 'Details are in the browser console.', unexpected: true });
    expect(log).toHaveBeenCalledOnce();
  });
});
