// Recipes: what an appliance is made of. One folder per recipe under images/recipes/<name>/recipe.json;
// the contract is written down in images/README.md.

import type { ScriptStep } from './manifest.ts';

export interface Recipe {
  name: string;
  title: string;
  description: string;
  /** Short app name, shared with the distro twin's `apps[]` (e.g. `sqlite`). */
  app: string;
  /** Root packages (optionally `name=version`); their dependency closure goes into the image. */
  packages: string[];
  /** Packages never pulled in (used only by maintainer scripts, or not needed by this app). */
  exclude: string[];
  /** Globs of paths to drop on top of the default trim list. */
  drop: string[];
  /** Globs of paths to keep even if a default rule would drop them (also shared libraries loaded with
   *  dlopen, which the DT_NEEDED analysis cannot see). */
  keep: string[];
  init: {
    /** Commands run in the background before the console app (e.g. a server). */
    services: string[];
    /** Lines run (in order) before the services, e.g. to create directories. */
    setup: string[];
    /** The program attached to the serial console; restarted when it exits. */
    console: string;
    /** Bring up the loopback interface (needs the kernel's `net` fragment). */
    loopback: boolean;
    env: Record<string, string>;
  };
  readyMarker: string;
  smoke: ScriptStep[];
  memoryMB: number;
  kernel: {
    /** `tailored`: built from linux-source with fragments; `stock`: Debian's linux-image-686. */
    kind: 'tailored' | 'stock';
    fragments: string[];
    config: string[];
    /** Extra kernel command line, after the builder's defaults. */
    cmdline: string;
  };
  /** Recipe this one was derived from via `extends` (for the record). */
  extends?: string;
}

export class RecipeError extends Error {}

type Json = Record<string, unknown>;

const strings = (v: unknown, what: string): string[] => {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new RecipeError(`${what} must be a list of strings`);
  return v;
};

/**
 * Validates a recipe's JSON and fills in defaults. `base` is the parsed recipe named by `extends`:
 * a derived recipe replaces whole top-level fields and merges `init` and `kernel` field by field.
 */
export function parseRecipe(raw: unknown, name: string, base?: Recipe): Recipe {
  if (typeof raw !== 'object' || raw === null) throw new RecipeError(`recipe ${name}: not a JSON object`);
  const r = raw as Json;
  const where = (f: string) => `recipe ${name}: ${f}`;
  const str = (f: string, fallback?: string): string => {
    const v = r[f] ?? fallback;
    if (typeof v !== 'string' || v === '') throw new RecipeError(where(`"${f}" must be a non-empty string`));
    return v;
  };
  const init = { ...(base?.init ?? {}), ...((r.init as Json) ?? {}) } as Json;
  const kernel = { ...(base?.kernel ?? {}), ...((r.kernel as Json) ?? {}) } as Json;
  const smoke = (r.smoke ?? base?.smoke ?? []) as ScriptStep[];
  if (!Array.isArray(smoke) || !smoke.every((s) => typeof s?.send === 'string' && typeof s?.expect === 'string')) {
    throw new RecipeError(where('"smoke" must be a list of {send, expect}'));
  }
  const memoryMB = (r.memoryMB ?? base?.memoryMB ?? 128) as number;
  // v86 places the initrd above 64 MB, so smaller guests cannot hold one.
  if (typeof memoryMB !== 'number' || memoryMB < 128 || memoryMB > 2048) throw new RecipeError(where('"memoryMB" must be 128..2048'));
  const kind = (kernel.kind ?? 'tailored') as string;
  if (kind !== 'tailored' && kind !== 'stock') throw new RecipeError(where('"kernel.kind" must be "tailored" or "stock"'));
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new RecipeError(where('name must be lowercase letters, digits and dashes'));
  const packages = r.packages !== undefined ? strings(r.packages, where('"packages"')) : (base?.packages ?? []);
  if (packages.length === 0) throw new RecipeError(where('"packages" is empty'));
  const env = (init.env ?? {}) as Record<string, string>;
  return {
    name,
    title: str('title', base?.title),
    description: str('description', base?.description),
    app: str('app', base?.app),
    packages,
    exclude: r.exclude !== undefined ? strings(r.exclude, where('"exclude"')) : (base?.exclude ?? []),
    drop: r.drop !== undefined ? strings(r.drop, where('"drop"')) : (base?.drop ?? []),
    keep: r.keep !== undefined ? strings(r.keep, where('"keep"')) : (base?.keep ?? []),
    init: {
      services: strings(init.services, where('"init.services"')),
      setup: strings(init.setup, where('"init.setup"')),
      console: typeof init.console === 'string' ? init.console : (() => { throw new RecipeError(where('"init.console" is required')); })(),
      loopback: init.loopback === true,
      env,
    },
    readyMarker: str('readyMarker', base?.readyMarker),
    smoke,
    memoryMB,
    kernel: {
      kind,
      fragments: strings(kernel.fragments, where('"kernel.fragments"')),
      config: strings(kernel.config, where('"kernel.config"')),
      cmdline: typeof kernel.cmdline === 'string' ? kernel.cmdline : '',
    },
    ...(base ? { extends: base.name } : {}),
  };
}
