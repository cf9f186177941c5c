// What an image is built from, as one hash stamped into its manifest (`inputs`). `npm run images --
// ensure` rebuilds an image whose inputs changed since it was built — a pulled recipe, lock, kernel
// fragment or builder change — not only the missing ones, so nobody boots a stale image by accident.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, sha256Hex } from './hash.ts';
import { loadRecipe, RECIPES_DIR } from './recipes.ts';
import type { Manifest } from './manifest.ts';

const IMAGES_DIR = fileURLToPath(new URL('./', import.meta.url));

/** Data folders the builder reads at run time (its modules are found from build.ts's imports). */
const APPLIANCE_DATA = ['archive/keys', 'kernel/fragments'];
/** The twin is slow to build: only the code that makes it counts (the pipeline's stages and its own). */
const TWIN_CODE = ['build.ts', 'firmware.ts', 'source-date-epoch.ts', 'manifest.ts', 'artifacts.ts', 'hash.ts', 'surface.ts', 'elf.ts', 'distro/debian.ts'];

/** sha256 of each builder file, keyed by its path under images/ (folders: their files, not deeper). */
function codeHashes(entries: readonly string[], root = IMAGES_DIR): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const path = join(root, entry);
    const files = entry.endsWith('.ts')
      ? [path]
      : readdirSync(path, { withFileTypes: true })
          .filter((d) => d.isFile() && !d.name.endsWith('.md'))
          .map((d) => join(path, d.name));
    for (const f of files) out[relative(root, f)] = sha256Hex(readFileSync(f));
  }
  return out;
}

const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.\.?\/[^'"]+\.ts)['"]/g;

/**
 * The modules under images/ that `entry` runs: it and everything it imports from there, found by
 * reading their import lines. So the CLI, the doctor or a test helper can change without making every
 * appliance stale, and a new module the build uses counts without anyone listing it.
 */
export function builderModules(entry = 'build.ts', root = IMAGES_DIR): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(RELATIVE_IMPORT)) {
      const target = relative(root, join(root, dirname(file), m[1]));
      if (!target.startsWith('..')) visit(target);
    }
  };
  visit(entry);
  return [...seen].sort();
}

/** The inputs of appliance `name`: its resolved recipe (bases included), its lock, and the builder's code. */
export async function applianceInputs(name: string, recipesDir = RECIPES_DIR): Promise<string> {
  const { recipe, lockPath } = await loadRecipe(name, recipesDir);
  const lock = existsSync(lockPath) ? sha256Hex(readFileSync(lockPath)) : null;
  return sha256Hex(canonicalJson({ kind: 'appliance', recipe, lock, code: codeHashes([...builderModules(), ...APPLIANCE_DATA]) }));
}

/** The inputs of the twin: the package versions it pins (from the appliance locks) and its builder code. */
export function twinInputs(pins: Record<string, string>): string {
  return sha256Hex(canonicalJson({ kind: 'twin', pins, code: codeHashes(TWIN_CODE) }));
}

/** Why a built image must be rebuilt, or undefined when it is current. */
export function staleReason(built: Pick<Manifest, 'inputs'> | undefined, inputs: string): string | undefined {
  if (!built) return 'not built';
  if (!built.inputs) return 'built by an older builder';
  if (built.inputs !== inputs) return 'its recipe, lock or builder changed since it was built';
  return undefined;
}
