// The trace and verify stages of a `trim: "trace"` appliance. Trace: boot the wide tree (every locked
// package as Debian installs it) as the initramfs with Whittle's own /init and a control shell on the
// virtio console, reach the ready marker, run the smoke and exercise steps with a step mark before
// each, then walk the tree and read each path's atime (record.ts). Verify: boot the trimmed appliance
// and run its smoke script; a failure names the step and what the wide run touched then that is gone.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArtifact } from '../artifacts.ts';
import type { BuildContext } from '../build.ts';
import { formatBytes, formatMs } from '../format.ts';
import { CONTROL_FLAG } from '../init.ts';
import { fail, type Log } from '../log.ts';
import { MANIFEST_SCHEMA, MAX_MEMORY_MB, validateManifest, type Manifest, type ScriptStep } from '../manifest.ts';
import type { RootTree } from '../rootfs.ts';
import type { GuestBooter, GuestSession } from './guest.ts';
import { MARK_PREFIX, parseWalk, touchedPaths, WALK_BEGIN, WALK_END } from './record.ts';

/** Time for the wide tree to reach its ready marker: it unpacks a 100+ MB initramfs first. */
const READY_TIMEOUT_MS = 900_000;
/** The trimmed appliance boots in seconds (the wide tree took ~1 min here): a console that never comes is a failure, not slowness. */
const VERIFY_READY_TIMEOUT_MS = 300_000;
const CONTROL_TIMEOUT_MS = 60_000;
const WALK_TIMEOUT_MS = 900_000;
/** v86 loads the initrd at 64 MiB (src/kernel.js); the kernel unpacks it into the page cache beside it. */
const INITRD_AT_MB = 64;

/** The steps a trace runs after the ready marker, labelled as files.json reasons name them. */
export function traceSteps(smoke: readonly ScriptStep[], exercise: readonly ScriptStep[]): { label: string; step: ScriptStep }[] {
  return [...smoke.map((step, i) => ({ label: `smoke ${i + 1}`, step })), ...exercise.map((step, i) => ({ label: `exercise ${i + 1}`, step }))];
}

/** Guest memory for booting an initramfs of `bytes`: v86's offset, the cpio, its unpacked copy, and room to run. */
export function traceMemoryMB(bytes: number, appMB: number): number {
  const mb = Math.ceil(INITRD_AT_MB + (2 * bytes) / 2 ** 20 + appMB);
  const rounded = Math.ceil(mb / 16) * 16;
  if (rounded > MAX_MEMORY_MB) fail(`The wide tree (${formatBytes(bytes)}) needs ${rounded} MiB to boot, more than v86's ${MAX_MEMORY_MB} MiB`, { hint: 'Trim it by rules instead ("trim": "rules") or leave out packages.' });
  return rounded;
}

export interface BootFiles {
  bzImage: Uint8Array;
  bios: Uint8Array;
  vgabios: Uint8Array;
  cmdline: string;
}

/** A throwaway image folder the guest booter can boot. */
async function writeBootDir(ctx: BuildContext, what: string, boot: BootFiles, initrd: Uint8Array, memoryMB: number, readyMarker: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `whittle-${what}-`));
  const raw = { compress: false };
  const artifacts = [
    await writeArtifact(dir, 'bios', 'bios.bin', boot.bios, raw),
    await writeArtifact(dir, 'vgabios', 'vgabios-stdvga.bin', boot.vgabios, raw),
    await writeArtifact(dir, 'kernel', 'bzImage', boot.bzImage, raw),
    await writeArtifact(dir, 'initrd', 'initramfs.cpio', initrd, raw),
  ];
  const recipe = ctx.appliance!.recipe;
  const manifest: Manifest = validateManifest({
    schema: MANIFEST_SCHEMA,
    name: `${recipe.name}-${what}`,
    title: `${recipe.title} (${what})`,
    description: `The ${what} boot of ${recipe.name}`,
    kind: 'appliance',
    artifacts,
    cmdline: boot.cmdline,
    memoryMB,
    readyMarker,
    smoke: [],
    packages: [],
    fileCount: 0,
    rootfsSize: initrd.length,
  });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

function requireGuest(ctx: BuildContext): GuestBooter {
  if (!ctx.opts.guest) {
    fail(`${ctx.name} is trimmed by tracing, which boots it, and this build was given no machine to boot with`, {
      hint: 'Build with the CLI (npm run images), which boots guests headless; from code, pass BuildOptions.guest (worker/node/guest.ts bootGuest).',
    });
  }
  return ctx.opts.guest;
}

/** The guest's console: all of it under WHITTLE_DEBUG, else its last line as the build's progress line. */
function consoleEcho(log: Log): { echo: { write(chunk: Uint8Array): unknown } } {
  if (process.env.WHITTLE_DEBUG) return { echo: process.stderr };
  const decoder = new TextDecoder();
  let line = '';
  return {
    echo: {
      write(chunk: Uint8Array) {
        for (const ch of decoder.decode(chunk, { stream: true })) {
          if (ch === '\n' || ch === '\r') {
            if (line.trim()) log.progress(`guest: ${line.trim().slice(0, 120)}`);
            line = '';
          } else line += ch;
        }
      },
    },
  };
}

/** Waits (up to `ms`) until the serial output ends with the prompt again: the step's work is done. */
async function settle(session: GuestSession, prompt: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  const want = prompt.trimEnd();
  while (Date.now() < end && !session.output.trimEnd().endsWith(want)) await new Promise((r) => setTimeout(r, 50));
}

/**
 * Trace: boots `wide` (the wide tree with /init, as a cpio) and returns path → first step for every
 * path the run touched.
 */
export async function traceWide(ctx: BuildContext, wide: RootTree, boot: BootFiles): Promise<Map<string, string>> {
  const guest = requireGuest(ctx);
  const { recipe } = ctx.appliance!;
  const log = ctx.opts.log;
  const cpio = wide.toCpio(ctx.epoch);
  const memoryMB = traceMemoryMB(cpio.length, recipe.memoryMB);
  log.stage('trace', `booting the wide tree: ${formatBytes(cpio.length)} initramfs, ${memoryMB} MiB, ${recipe.smoke.length} smoke + ${recipe.exercise.length} exercise steps`);
  const dir = await writeBootDir(ctx, 'trace', { ...boot, cmdline: `${boot.cmdline} ${CONTROL_FLAG}` }, cpio, memoryMB, recipe.readyMarker);
  const started = Date.now();
  let session: GuestSession | undefined;
  try {
    session = await guest(dir, { control: true, ...consoleEcho(log) });
    await session.ready(READY_TIMEOUT_MS).catch((cause) => {
      fail(`The wide tree of ${recipe.name} did not reach its ready marker ${JSON.stringify(recipe.readyMarker)}: ${(cause as Error).message}`, {
        cause,
        hint: `Its console said: ${JSON.stringify(session!.output.slice(-400))}. The app does not start even untrimmed: fix the recipe's init or readyMarker.`,
      });
    });
    log.info(`trace: ready after ${formatMs(Date.now() - started)}`);
    await session.control('echo WHITTLE-"UP"', 'WHITTLE-UP', CONTROL_TIMEOUT_MS).catch((cause) =>
      fail('The trace control shell on /dev/hvc0 does not answer', { cause, hint: 'The trace kernel needs the virtio-console fragment; /init starts the shell when the command line has whittle.control.' }),
    );
    const steps = traceSteps(recipe.smoke, recipe.exercise);
    for (const [i, { label, step }] of steps.entries()) {
      const n = String(i + 1).padStart(2, '0');
      // A shell builtin creates the mark: it touches no file of the tree.
      await session.control(`: > ${MARK_PREFIX}${n}-${label.replace(' ', '-')}; echo WHITTLE-M"${n}"`, `WHITTLE-M${n}`, CONTROL_TIMEOUT_MS);
      const result = await session.runScript([{ ...step, timeout: step.timeout ?? 60 }]);
      if (!result.ok) {
        fail(`The wide tree of ${recipe.name} failed its own ${label} (${JSON.stringify(step.send)}): ${result.message ?? ''}`, {
          hint: `The app fails even untrimmed: fix the recipe's script. Output: ${JSON.stringify(result.transcript.slice(-400))}`,
        });
      }
      await settle(session, recipe.readyMarker, 20_000);
      log.info(`trace: ${label} ok`);
    }
    const walk = await session.control(
      `: > ${MARK_PREFIX}99-walk; echo WHITTLE-WALK-"BEGIN"; find / -xdev -exec stat -c '%x|%y|%F|%n' {} + ; stat -c '%x|%y|%F|%n' ${MARK_PREFIX}*; echo WHITTLE-WALK-"END"`,
      WALK_END,
      WALK_TIMEOUT_MS,
    );
    const { entries, marks } = parseWalk(walk.slice(walk.indexOf(WALK_BEGIN)));
    const touched = touchedPaths(entries, marks, ctx.epoch);
    log.info(`trace: the run touched ${touched.size} of ${entries.length} paths (${formatMs(Date.now() - started)})`);
    return touched;
  } finally {
    await session?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Verify: boots the finished appliance (`outDir`: its manifest and artifacts) and runs its smoke
 * script. Returns undefined when it passes, else the failed step's label and the runner's message.
 */
export async function verifyAppliance(ctx: BuildContext, log: Log): Promise<{ label: string; message: string; output: string } | undefined> {
  const guest = requireGuest(ctx);
  const { recipe } = ctx.appliance!;
  log.stage('verify', `booting ${recipe.name} and running its ${recipe.smoke.length} smoke steps`);
  const started = Date.now();
  let session: Awaited<ReturnType<typeof guest>>;
  try {
    session = await guest(ctx.outDir, consoleEcho(log));
  } catch (e) {
    // The machine refused the image before it ran (it does not fit in the recipe's memory, say).
    return { label: 'boot', message: (e as Error).message, output: '' };
  }
  try {
    try {
      await session.ready(VERIFY_READY_TIMEOUT_MS);
    } catch (e) {
      return { label: 'boot', message: (e as Error).message, output: session.output.slice(-400) };
    }
    const steps = traceSteps(recipe.smoke, []);
    const result = await session.runScript(steps.map(({ step }) => ({ ...step, timeout: step.timeout ?? 60 })));
    if (!result.ok) {
      const label = steps[result.failedStep ?? 0]?.label ?? 'smoke';
      return { label, message: result.message ?? 'failed', output: result.transcript.slice(-400) };
    }
    log.info(`verify: ${recipe.smoke.length} smoke steps passed (${formatMs(Date.now() - started)})`);
    return undefined;
  } finally {
    await session.stop();
  }
}
