// publishDir: a folder appears whole or not at all, and what a killed build left behind is collected.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publishDir } from './publish.ts';

let parent: string;
beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'whittle-publish-'));
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('publishDir', () => {
  test('replaces the folder when fill succeeds, and leaves it as it was when fill fails', async () => {
    const final = join(parent, 'image');
    await publishDir(final, (dir) => writeFile(join(dir, 'a'), 'one'));
    expect(readFileSync(join(final, 'a'), 'utf8')).toBe('one');
    await publishDir(final, (dir) => writeFile(join(dir, 'b'), 'two'));
    expect(readdirSync(final)).toEqual(['b']);
    await expect(publishDir(final, async (dir) => {
      await writeFile(join(dir, 'c'), 'half');
      throw new Error('stage failed');
    })).rejects.toThrow('stage failed');
    expect(readdirSync(final)).toEqual(['b']);
    expect(readdirSync(parent)).toEqual(['image']);
  });

  test('removes folders that a killed build left, and only those', async () => {
    // pid 2^22 + 1 is above Linux's pid_max limit: no such process can exist.
    const abandoned = join(parent, `.kernel.building-${2 ** 22 + 1}-x1`);
    const running = join(parent, `.kernel.building-${process.pid}-x2`);
    await mkdir(abandoned);
    await mkdir(running);
    await publishDir(join(parent, 'kernel'), async () => {});
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(running)).toBe(true);
  });
});
