import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inittab, PROBE_FLAG, PROBE_PROMPT } from './init.ts';
import { parseRecipe } from './recipe.ts';

const recipe = parseRecipe(
  { title: 'T', description: 'D', app: 'app', packages: ['busybox-static'], init: { console: 'echo APP-RAN' }, readyMarker: '> ' },
  'probe',
);

/**
 * Runs the console line of the generated inittab in the host's POSIX sh, with /proc/cmdline, the env file
 * and the probe's /bin/sh pointed at stand-ins, and stdin closed (the probe shell then exits at once).
 */
let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whittle-init-'));
  await writeFile(join(dir, 'env'), '');
  await writeFile(join(dir, 'probe-shell'), '#!/bin/sh\necho "PROBE-SHELL PS1=$PS1"\n', { mode: 0o755 });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function runConsole(cmdline: string): string {
  const line = inittab(recipe).split('\n').find((l) => l.startsWith('ttyS0::respawn:'))!;
  const script = execFileSync('sh', ['-c', `printf %s ${line.slice(line.indexOf(' -c ') + 4)}`], { encoding: 'utf8' });
  const cmdlineFile = join(dir, 'cmdline');
  execFileSync('sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', cmdline, cmdlineFile]);
  const local = script
    .replaceAll('/proc/cmdline', cmdlineFile)
    .replaceAll('/etc/whittle/env', join(dir, 'env'))
    .replaceAll('cd /root', `cd ${dir}`)
    .replaceAll('exec /bin/sh', `exec ${join(dir, 'probe-shell')}`);
  return execFileSync('sh', ['-c', local], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('console probe', () => {
  it('runs only the app without the flag (as shipped)', () => {
    expect(runConsole('console=ttyS0 quiet')).toBe('APP-RAN\n');
    // A word that merely contains the flag is not the flag.
    expect(runConsole(`console=ttyS0 x${PROBE_FLAG}`)).toBe('APP-RAN\n');
  });

  it('hands the console to a probe shell when the app exits, with the flag', () => {
    expect(runConsole(`console=ttyS0 ${PROBE_FLAG}`)).toBe(`APP-RAN\nPROBE-SHELL PS1=${PROBE_PROMPT}\n`);
    expect(runConsole(`${PROBE_FLAG} console=ttyS0`)).toContain('PROBE-SHELL');
  });
});
