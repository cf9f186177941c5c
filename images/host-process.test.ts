// The host-process runner: an abort or a timeout ends the child's whole process group (what
// `spawn({signal})` did not: it signalled mmdebstrap alone and left apt and dpkg running).

import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { HostProcessError, runHostTool, spawnHostTool } from './host-process.ts';

/** Running, by /proc (a zombie is not running: nothing may reap orphans in a container). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]);
  } catch {
    return false;
  }
}

/** Starts `sh -c 'sleep 100 & echo $!; wait'` and resolves with the grandchild's pid and the run. */
function shellWithGrandchild(options: Parameters<typeof spawnHostTool>[2]) {
  let grandchild!: (pid: number) => void;
  const pid = new Promise<number>((r) => (grandchild = r));
  const run = spawnHostTool('sh', ['-c', 'sleep 100 & echo $!; wait'], {
    ...options,
    onLine: (line) => grandchild(Number(line)),
  });
  return { pid, run };
}

describe('spawnHostTool', () => {
  test('an abort ends the grandchildren too', async () => {
    const controller = new AbortController();
    const { pid, run } = shellWithGrandchild({ signal: controller.signal });
    const sleeper = await pid;
    expect(running(sleeper)).toBe(true);
    controller.abort(new Error('stop'));
    const error = await run.catch((e: unknown) => e);
    expect(running(sleeper)).toBe(false);
    expect(error).toEqual(new Error('stop'));
  });

  test('a timeout ends the group and says so', async () => {
    const { pid, run } = shellWithGrandchild({ timeoutMs: 300 });
    const sleeper = await pid;
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostProcessError);
    expect((error as Error).message).toBe('sh did not finish within 300 ms');
    expect(running(sleeper)).toBe(false);
  });

  test('a child that ignores SIGTERM is killed after the grace period', async () => {
    const controller = new AbortController();
    let ready!: () => void;
    const trapped = new Promise<void>((r) => (ready = r));
    const run = spawnHostTool('sh', ['-c', "trap '' TERM; echo ready; while :; do sleep 0.05; done"], {
      signal: controller.signal,
      graceMs: 200,
      onLine: () => ready(),
    });
    await trapped;
    const started = Date.now();
    controller.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  test('resolves with the exit status and the output, streamed as lines', async () => {
    const lines: string[] = [];
    const r = await spawnHostTool('sh', ['-c', 'echo one; echo two >&2; printf "50%%\\r100%%\\n"; exit 3'], { onLine: (l, s) => lines.push(`${s}:${l}`) });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('one\n50%\r100%\n');
    expect(r.stderr).toBe('two\n');
    expect(lines.sort()).toEqual(['stderr:two', 'stdout:100%', 'stdout:50%', 'stdout:one']);
    expect(r.tail).toHaveLength(4);
  });

  test('a missing program names its Debian package', async () => {
    const error = await spawnHostTool('sh', [], { env: { PATH: '/nonexistent' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostProcessError);
    expect((error as HostProcessError).message).toBe('sh is not installed (Debian package dash)');
    expect((error as HostProcessError).hint).toMatch(/^apt-get install dash/);
  });
});

describe('runHostTool', () => {
  test('fails on a non-zero exit with the last output and the hint', async () => {
    const error = await runHostTool('sh', ['-c', 'echo broken >&2; exit 2'], { hint: 'fix it' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostProcessError);
    expect((error as HostProcessError).message).toBe("sh -c echo broken >&2; exit 2 failed (exit 2); last output:\nbroken");
    expect((error as HostProcessError).hint).toBe('fix it');
    expect((error as HostProcessError).result?.code).toBe(2);
  });
});
