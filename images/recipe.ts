// Recipes: what an appliance is made of. One folder per recipe under images/recipes/<name>/recipe.json;
// the contract is written down in images/README.md. The schema below is the one check of a recipe
// file, and `Recipe` is inferred from it.

import * as v from 'valibot';
import { HintedError, type HintedErrorOptions } from './hinted-error.ts';
import { describeIssues, MAX_MEMORY_MB, passesByEcho, ScriptSchema } from './manifest.ts';

/**
 * A tailored kernel links at 16 MiB and needs a few MiB above it, plus the initrd (placed at the top of
 * RAM by a direct entry). Booted through firmware, v86 puts the initrd at 64 MiB: the builder checks
 * that case against the initramfs it made.
 */
const MIN_RECIPE_MEMORY_MB = 16;
/** What a recipe gets when it names no memory: v86's initrd placement for firmware boots needs > 64 MiB. */
const DEFAULT_RECIPE_MEMORY_MB = 128;

/** Recipe names (also the image's name): lowercase letters, digits and dashes. */
export const RECIPE_NAME = /^[a-z0-9][a-z0-9-]*$/;

const nonEmpty = () => v.pipe(v.string('must be a string'), v.minLength(1, 'must be a non-empty string'));
const strings = () => v.array(v.string('must be a string'), 'must be a list of strings');

/** A smoke script whose every step can only pass on the program's answer, not on the guest's echo. */
const SmokeSchema = v.pipe(
  ScriptSchema,
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    dataset.value.forEach((step, i) => {
      if (!passesByEcho(step)) return;
      addIssue({
        message:
          step.expect === ''
            ? 'expect is empty, so the step passes whatever the program prints'
            : `expect ${JSON.stringify(step.expect)} occurs in its own send, so the step passes on the guest's echo alone: expect text only the program's output contains`,
        path: [{ type: 'array', origin: 'value', input: dataset.value, key: i, value: step }],
      });
    });
  }),
);

/** The merged recipe (after `extends`), with defaults filled in. */
export const RecipeSchema = v.strictObject({
  name: v.pipe(v.string(), v.regex(RECIPE_NAME, 'must be lowercase letters, digits and dashes')),
  title: nonEmpty(),
  description: nonEmpty(),
  /** Short app name, shared with the distro twin's `apps[]` (e.g. `sqlite`). */
  app: nonEmpty(),
  /** Root packages (optionally `name=version`); their dependency closure goes into the image. */
  packages: v.pipe(strings(), v.minLength(1, 'is empty')),
  /** Packages never pulled in (used only by maintainer scripts, or not needed by this app). */
  exclude: v.optional(strings(), () => []),
  /** Globs of paths to drop on top of the default trim list. */
  drop: v.optional(strings(), () => []),
  /** Globs of paths to keep even if a default rule would drop them (also shared libraries loaded with
   *  dlopen, which the DT_NEEDED analysis cannot see). */
  keep: v.optional(strings(), () => []),
  init: v.strictObject(
    {
      /** Commands run in the background before the console app (e.g. a server). */
      services: v.optional(strings(), () => []),
      /** Lines run (in order) before the services, e.g. to create directories. */
      setup: v.optional(strings(), () => []),
      /** The program attached to the serial console; restarted when it exits. */
      console: v.string('must be a string'),
      /**
       * TCP ports a service listens on before the console program starts (e.g. `[6379]` for a server
       * the console's client talks to). The wait uses shell builtins only, so it takes no CPU from the
       * service while it starts.
       */
      waitFor: v.optional(v.array(v.pipe(v.number('must be a port number'), v.integer('must be a port number'), v.minValue(1, 'must be a port number'), v.maxValue(65535, 'must be a port number')), 'must list TCP ports'), () => []),
      /**
       * Bring up the loopback interface (needs the kernel's `net` fragment). Default: on for a recipe
       * with `network`, and for one whose kernel has `net` and that starts services or waits for
       * ports (a server on 127.0.0.1 needs it, and nothing says so when it is missing: memcached
       * failed to bind and the wait went on); off otherwise (it costs a busybox start).
       */
      loopback: v.optional(v.boolean('must be true or false')),
      env: v.optional(v.record(v.string(), v.string('must be a string'), 'must map names to strings'), () => ({})),
    },
  ),
  readyMarker: nonEmpty(),
  smoke: v.optional(SmokeSchema, () => []),
  /** Longer steps the app's users would run, traced after the smoke script (not part of verify). */
  exercise: v.optional(SmokeSchema, () => []),
  /**
   * How the appliance is trimmed: `trace` (default) installs the packages as Debian does and keeps
   * what a traced run of the smoke and exercise steps touched (images/trace/); `rules` unpacks them
   * and applies the drop lists and the DT_NEEDED analysis (images/rootfs.ts).
   */
  trim: v.optional(v.picklist(['trace', 'rules'], 'must be "trace" or "rules"'), 'trace'),
  /**
   * Files from the host: the kernel gets the `9p` fragment and /init mounts v86's share (tag `host9p`)
   * on /mnt/host, where the lab puts dropped files and reads back what the guest writes.
   */
  share: v.optional(v.boolean('must be true or false'), false),
  /**
   * A network card: the kernel gets the `net` and `ne2k` fragments, loopback comes up, and /init
   * configures eth0 from the command line the lab passes (`whittle.ip=<addr>/<prefix>[,<gateway>]` or
   * `whittle.ip=dhcp`); without it eth0 stays down.
   */
  network: v.optional(v.boolean('must be true or false'), false),
  memoryMB: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(MIN_RECIPE_MEMORY_MB, `must be ${MIN_RECIPE_MEMORY_MB}..${MAX_MEMORY_MB} (MiB)`),
      v.maxValue(MAX_MEMORY_MB, `must be ${MIN_RECIPE_MEMORY_MB}..${MAX_MEMORY_MB} (MiB)`),
    ),
    DEFAULT_RECIPE_MEMORY_MB,
  ),
  kernel: v.strictObject({
    /** `tailored`: built from linux-source with fragments; `stock`: Debian's linux-image-686. */
    kind: v.optional(v.picklist(['tailored', 'stock'], 'must be "tailored" or "stock"'), 'tailored'),
    fragments: v.optional(strings(), () => []),
    config: v.optional(strings(), () => []),
    /** Extra kernel command line, after the builder's defaults. */
    cmdline: v.optional(v.string('must be a string'), ''),
    /**
     * `direct`: the machine enters the uncompressed kernel itself (no firmware, no decompression in the
     * guest; the default for tailored kernels). `firmware`: SeaBIOS boots the bzImage (the fallback, and
     * the only way for Debian's stock kernel).
     */
    boot: v.optional(v.picklist(['direct', 'firmware'], 'must be "direct" or "firmware"')),
  }),
  /** Recipe this one was derived from via `extends` (for the record). */
  extends: v.optional(v.string()),
});
export type Recipe = v.InferOutput<typeof RecipeSchema>;

/** A recipe file as written: every field may come from the recipe it `extends`. */
const RecipeFileSchema = v.looseObject({
  extends: v.optional(v.pipe(v.string(), v.regex(RECIPE_NAME, 'must name a recipe'))),
  init: v.optional(v.record(v.string(), v.unknown(), 'must be an object')),
  kernel: v.optional(v.record(v.string(), v.unknown(), 'must be an object')),
});

/** A recipe that does not hold to the format in images/README.md; the message names the problem. */
export class RecipeError extends HintedError<'bad-recipe'> {
  constructor(message: string, options: HintedErrorOptions = {}) {
    super('bad-recipe', message, options);
  }
}

/**
 * Validates a recipe's JSON and fills in defaults. `base` is the parsed recipe named by `extends`:
 * a derived recipe replaces whole top-level fields and merges `init` and `kernel` field by field.
 * The folder names the recipe: a `name` field in the file is ignored. Unknown fields are refused
 * (a misspelt "drop" would otherwise drop nothing, silently).
 */
export function parseRecipe(raw: unknown, name: string, base?: Recipe): Recipe {
  const where = (what: string) => `recipe ${name}: ${what}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RecipeError(where('not a JSON object'));
  const file = v.safeParse(RecipeFileSchema, raw);
  if (!file.success) throw new RecipeError(where(describeIssues(file.issues)));
  // The base's own name and extends are not inherited.
  const { name: _baseName, extends: _baseExtends, ...inherited } = base ?? ({} as Partial<Recipe>);
  // The folder names the recipe; `extends` was resolved into `base`.
  const { name: _fileName, extends: _fileExtends, ...own } = file.output;
  const merged = {
    ...inherited,
    ...own,
    name,
    init: { ...base?.init, ...file.output.init },
    kernel: { ...base?.kernel, ...file.output.kernel },
    ...(base ? { extends: base.name } : {}),
  };
  const r = v.safeParse(RecipeSchema, merged);
  if (!r.success) throw new RecipeError(where(describeIssues(r.issues)));
  return withImpliedFragments(r.output);
}

/** The kernel fragments `share` and `network` need, added after the recipe's own (each once). */
function withImpliedFragments(recipe: Recipe): Recipe {
  const implied = [...(recipe.share || recipe.network ? ['net'] : []), ...(recipe.share ? ['9p'] : []), ...(recipe.network ? ['ne2k'] : [])];
  const fragments = [...recipe.kernel.fragments, ...implied.filter((f) => !recipe.kernel.fragments.includes(f))];
  const serves = recipe.init.services.length > 0 || recipe.init.waitFor.length > 0;
  const loopback = recipe.init.loopback ?? (recipe.network || (fragments.includes('net') && serves));
  return { ...recipe, kernel: { ...recipe.kernel, fragments }, init: { ...recipe.init, loopback } };
}
