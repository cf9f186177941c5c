import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManifestError } from '../../../images/manifest.ts';
import { ImportError } from './import-detect.ts';
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
    expect(toUserError(new TypeError('Failed to fetch'), 'Storing shell')?.hint).toMatch(/connection/);
    expect(toUserError(new ManifestError('invalid image manifest: name'), 'Reading')?.hint).toMatch(/npm run images/);
  });
  it("passes the worker's own failures through (a hash mismatch, a full store)", () => {
    const failure = Object.assign(new Error('bzImage.zst does not match its manifest'), { name: 'ArtifactError', code: 'hash-mismatch', hint: 'Delete the image and fetch it again.' });
    expect(toUserError(failure, 'Storing shell')).toEqual({ message: 'bzImage.zst does not match its manifest', hint: 'Delete the image and fetch it again.' });
  });
  it('keeps unexpected errors short, with details in the console', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const e = toUserError(new RangeError('index 9 out of range'), 'Booting shell');
    expect(e).toEqual({ message: 'Booting shell failed unexpectedly: index 9 out of range', hint: 'Details are in the browser console.', unexpected: true });
    expect(log).toHaveBeenCalledOnce();
  });
});
