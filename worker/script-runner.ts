// The one script runner (tests, CLI, the lab, share links): types each step's line on the serial
// console like a person would — only once the previous answer and the prompt have appeared.
// Environment-neutral; driven by the machine (machine.ts) or, in tests, by a fake guest.

import type { ScriptStep } from '../images/manifest.ts';
import { WaitTimedOut } from './errors.ts';
import type { MachineEvents } from './protocol.ts';
import type { SerialText } from './serial-text.ts';

export type ScriptResult = Omit<MachineEvents['script-done'], 'id'>;
export type StepState = MachineEvents['script-step']['state'];

/** What the runner needs of a machine. */
export interface ScriptConsole {
  /** The serial text, brought up to date with everything the guest has printed. */
  text(): SerialText;
  /** Types on the serial console. */
  type(text: string): void;
}

/** A step's `timeout` when it gives none (seconds). */
export const DEFAULT_STEP_TIMEOUT_S = 10;

/**
 * Runs the steps in order. A step types `send` and Enter, waits up to its timeout for `expect` in what
 * follows the echo of the line (also when the line editor wrapped it at the terminal's width), then —
 * unless it is the last — up to its timeout again for `prompt`. Like a person, it types the next line
 * only then: a line typed while the app still works is echoed by the terminal in cooked mode, and a
 * line editor (linenoise in redis-cli) then reads its Enter as a newline it ignores. A step whose
 * answer or prompt does not come ends the script with `ok: false`, naming the step (1-based).
 */
export async function runScript(machine: ScriptConsole, steps: readonly ScriptStep[], prompt: string, onStep: (step: number, state: StepState) => void = () => {}): Promise<ScriptResult> {
  const start = machine.text().end;
  const transcript = () => machine.text().since(start);
  for (const [i, step] of steps.entries()) {
    const timeoutMs = (step.timeout ?? DEFAULT_STEP_TIMEOUT_S) * 1000;
    const from = machine.text().end;
    onStep(i, 'typing');
    machine.type(`${step.send}\r`);
    let end: number;
    try {
      end = await machine.text().waitFor(step.expect, { from, timeoutMs, typed: step.send });
    } catch (e) {
      onStep(i, 'failed');
      return { ok: false, transcript: transcript(), failedStep: i, message: `Step ${i + 1} (${JSON.stringify(step.send)}): ${(e as Error).message}` };
    }
    if (i < steps.length - 1) {
      try {
        await machine.text().waitFor(prompt, { from: end, timeoutMs });
      } catch (e) {
        onStep(i, 'failed');
        const message = e instanceof WaitTimedOut
          ? `The prompt ${JSON.stringify(prompt)} did not return within ${timeoutMs / 1000} s after step ${i + 1} (${JSON.stringify(step.send)}), so step ${i + 2} was not typed: the command may still be running, or it left the app.`
          : `After step ${i + 1} (${JSON.stringify(step.send)}): ${(e as Error).message}`;
        return { ok: false, transcript: transcript(), failedStep: i, message };
      }
    }
    onStep(i, 'ok');
  }
  return { ok: true, transcript: transcript() };
}

