// The one way a Node command-line entry point ends: its exit code, or its error said once — the
// message, the hint, any detail, and the stack only for errors nobody anticipated. Usage errors
// (parseArgs' own and CliError) exit 2, others 1.

import { CliError } from './measure.ts';

export function printError(e: unknown): void {
  const err = e as Error & { hint?: string; detail?: string };
  console.error(`\nerror: ${err.message}`);
  if (err.hint) console.error(`hint: ${err.hint}`);
  if (err.detail) console.error(err.detail);
  if (!(e instanceof CliError)) console.error(err.stack);
}

/** Runs `main` on the command line's arguments and exits with what it returns or how it failed. */
export function runMain(main: (argv: string[]) => Promise<number>, usage?: string): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      // parseArgs rejects unknown options and missing values with these codes: a usage error.
      const usageError = String((e as { code?: unknown })?.code ?? '').startsWith('ERR_PARSE_ARGS');
      const err = usageError ? new CliError((e as Error).message, usage) : e;
      printError(err);
      process.exit(err instanceof CliError ? 2 : 1);
    },
  );
}
