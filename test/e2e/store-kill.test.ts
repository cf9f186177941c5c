// A tab killed while it stores an image leaves the library as it was: after reopening, the image reads
// "not stored", and the bytes the dead store wrote are collected (no orphans in any IndexedDB database).
// Then the same store, left to finish, leaves the image stored with exactly its files.

import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { pollFor, labForFile } from './harness.ts';

/**
 * Records holding bytes in this origin's IndexedDB, in every database and object store there is, so the
 * count means the same whatever layout the store uses.
 */
function storedBlobs(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const done = <T,>(r: IDBRequest<T>) => new Promise<T>((ok, fail) => ((r.onsuccess = () => ok(r.result)), (r.onerror = () => fail(r.error))));
    let n = 0;
    for (const { name } of await indexedDB.databases()) {
      if (!name) continue;
      const db = await done(indexedDB.open(name));
      for (const store of Array.from(db.objectStoreNames)) {
        const values = await done(db.transaction(store).objectStore(store).getAll());
        n += values.filter((v) => v instanceof Uint8Array || v instanceof ArrayBuffer || v instanceof Blob).length;
      }
      db.close();
    }
    return n;
  });
}

const stored = (page: Page) => page.locator('[data-image="shell"] [data-stored]').getAttribute('data-stored');

describe('a store killed with its tab', () => {
  const t = labForFile('shell');

  it('leaves the image not stored and no orphans after a reload', async () => {
    const { context, page, url } = t.lab;
    const kernel = t.images.shell.artifacts.find((a) => a.role === 'vmlinux')!;
    // The kernel's download never ends: the store is in flight, its other files written, when the tab dies.
    await page.route(`**/images/shell/${kernel.file}`, () => undefined);
    await page.goto(`${url}#/library`);
    await pollFor('the library to list shell', async () => (await stored(page)) === 'no');
    await page.locator('[data-image="shell"]').getByRole('button', { name: /^Store/ }).click();
    const others = t.images.shell.artifacts.length - 1;
    await pollFor(`shell's other ${others} files in IndexedDB`, async () => (await storedBlobs(page)) >= others, 60_000);

    const crashed = new Promise((ok) => page.once('crash', ok));
    void (await context.newCDPSession(page)).send('Page.crash').catch(() => undefined);
    await crashed;

    const again = await context.newPage();
    await again.goto(`${url}#/library`);
    await pollFor('the library to load', async () => (await stored(again)) !== null);
    expect(await stored(again)).toBe('no');
    // Opening the library collects what the dead store left (its artifacts, named by no manifest).
    await pollFor('no bytes left in IndexedDB', async () => (await storedBlobs(again)) === 0, 15_000);
    await again.reload();
    await pollFor('the library to load again', async () => (await stored(again)) !== null);
    expect(await stored(again)).toBe('no');
    expect(await storedBlobs(again)).toBe(0);

    // Left to finish, the same store completes: stored, and exactly its files are kept.
    await again.locator('[data-image="shell"]').getByRole('button', { name: /^Store/ }).click();
    await pollFor('shell to be stored', async () => (await stored(again)) === 'yes', 60_000);
    await again.reload();
    await pollFor('shell to read stored after a reload', async () => (await stored(again)) === 'yes');
    expect(await storedBlobs(again)).toBe(new Set(t.images.shell.artifacts.map((a) => a.sha256)).size);
    await again.close();
  });
});
