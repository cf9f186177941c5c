// Resolve stage: the dependency closure (Pre-Depends + Depends) of a recipe's root packages.
import { fail } from './errors.ts';
import { formatDependency, formatGroup, parseDependencies, type Dependency, type DependencyGroup } from './depends.ts';
import type { BinaryPackage, PackageIndex } from './packages.ts';
import { compareVersions, satisfiesRelation } from './version.ts';

export interface ResolveOptions {
  /**
   * Packages not to pull in (e.g. dpkg, debconf, perl-base: an appliance runs no maintainer scripts).
   * A dependency that only excluded packages satisfy is dropped and reported in `dropped`. A name here
   * may also be a virtual package (e.g. `debconf-2.0`), which excludes every provider for that name.
   */
  exclude?: string[];
}

/** One package of the closure. */
export interface ResolvedPackage {
  name: string;
  version: string;
  architecture: string;
  /** Pool path relative to the mirror's base URL. */
  filename: string;
  size: number;
  sha256: string;
  /** Installed-Size in KiB (undefined if the archive does not say). */
  installedSize: number | undefined;
  essential: boolean;
  priority: string;
  section: string;
  source: string;
  /** Short description (first line). */
  description: string;
  /** How it came in: a root first, this package last (e.g. ['sqlite3', 'libsqlite3-0']). */
  chain: string[];
  /** Packages of the closure whose Pre-Depends/Depends this package satisfies, sorted. */
  dependents: string[];
}

/** A dependency left out because only excluded packages satisfy it. */
export interface DroppedDependency {
  /** The package that declares it. */
  package: string;
  field: 'Pre-Depends' | 'Depends';
  /** The dependency as written, e.g. `debconf (>= 0.5) | debconf-2.0`. */
  dependency: string;
  /** Excluded packages (or excluded virtual names) that would satisfy it. */
  excluded: string[];
}

export interface Resolution {
  roots: string[];
  exclude: string[];
  /** Sorted by name. */
  packages: ResolvedPackage[];
  /** Sorted by package, then dependency. */
  dropped: DroppedDependency[];
}

/** A root as written in a recipe: `name` or `name=version`. */
export interface RootSpec {
  name: string;
  version?: string;
}

export function parseRoot(root: string): RootSpec {
  const m = /^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?(?:=(\S+))?$/.exec(root.trim());
  if (!m) fail(`Bad package name ${JSON.stringify(root)}`, { hint: 'Write a root as `name` or `name=version`.' });
  return m[2] ? { name: m[1], version: m[2] } : { name: m[1] };
}

const PRIORITY_RANK: Record<string, number> = { required: 0, important: 1, standard: 2, optional: 3, extra: 4 };

interface Candidate {
  package: BinaryPackage;
  /** The name it was found under (itself, or a virtual name it provides). */
  via: string;
}

/**
 * The closure of `roots` over Pre-Depends and Depends. For each dependency: if a package already in
 * the closure satisfies an alternative, that is used; else the first alternative with a candidate
 * (the newest version of the real package meeting the version relation, else a provider: versioned
 * Provides for a versioned dependency, ranked by Priority then name). Roots are all taken in before any
 * dependency is looked at, so a dependency prefers them. Arch qualifiers (`:any`, `:native`) are
 * ignored: the index holds one architecture (plus `all`). Conflicts, Breaks and Recommends are not
 * considered. Throws an `ArchiveError` naming the chain to a dependency nothing satisfies.
 */
export function resolve(index: PackageIndex, roots: string[], options: ResolveOptions = {}): Resolution {
  const exclude = [...new Set(options.exclude ?? [])].sort();
  const excluded = new Set(exclude);
  const selected = new Map<string, { package: BinaryPackage; chain: string[]; dependents: Set<string> }>();
  /** Virtual name → selected packages providing it (with the versioned Provides' version). */
  const selectedProvides = new Map<string, { name: string; version?: string }[]>();
  const queue: string[] = [];
  const dropped: DroppedDependency[] = [];

  const select = (pkg: BinaryPackage, chain: string[]) => {
    selected.set(pkg.name, { package: pkg, chain, dependents: new Set() });
    for (const group of parseDependencies(pkg.fields.Provides)) {
      for (const dep of group) {
        const list = selectedProvides.get(dep.name) ?? [];
        list.push(dep.relation === '=' ? { name: pkg.name, version: dep.version } : { name: pkg.name });
        selectedProvides.set(dep.name, list);
      }
    }
    queue.push(pkg.name);
  };

  const rootSpecs = roots.map(parseRoot);
  for (const spec of rootSpecs) {
    if (excluded.has(spec.name)) fail(`${spec.name} is both a root and excluded`, { hint: 'Remove it from one of the two lists.' });
    const pkg = rootPackage(index, spec);
    const already = selected.get(pkg.name);
    if (already) {
      if (already.package.version !== pkg.version) {
        fail(`Roots ask for two versions of ${pkg.name}: ${already.package.version} and ${pkg.version}`, { hint: 'Pin one version.' });
      }
      continue;
    }
    select(pkg, [pkg.name]);
  }

  /** A selected package satisfying `dep`, if any. */
  const satisfiedBy = (dep: Dependency): string | undefined => {
    const real = selected.get(dep.name);
    if (real && meets(real.package.version, dep)) return real.package.name;
    for (const p of selectedProvides.get(dep.name) ?? []) {
      if (!dep.relation || (p.version !== undefined && meets(p.version, dep))) return p.name;
    }
    return undefined;
  };

  /** Packages that could satisfy `dep`, best first; `selected` pins a name to its chosen version. */
  const candidates = (dep: Dependency): Candidate[] => {
    const found: Candidate[] = [];
    const taken = selected.get(dep.name);
    for (const pkg of taken ? [taken.package] : index.versions(dep.name)) {
      if (meets(pkg.version, dep)) found.push({ package: pkg, via: dep.name });
    }
    const providers: Candidate[] = [];
    for (const p of index.providers(dep.name)) {
      if (dep.relation && (p.version === undefined || !meets(p.version, dep))) continue;
      const pinned = selected.get(p.package.name);
      if (pinned && pinned.package.version !== p.package.version) continue;
      providers.push({ package: p.package, via: dep.name });
    }
    providers.sort(
      (a, b) =>
        rank(a.package) - rank(b.package) ||
        (a.package.name < b.package.name ? -1 : a.package.name > b.package.name ? 1 : 0) ||
        compareVersions(b.package.version, a.package.version),
    );
    return [...found, ...providers];
  };

  for (let i = 0; i < queue.length; i++) {
    const from = selected.get(queue[i])!;
    const pkg = from.package;
    for (const field of ['Pre-Depends', 'Depends'] as const) {
      let groups: DependencyGroup[];
      try {
        groups = parseDependencies(pkg.fields[field]);
      } catch (cause) {
        fail(`${pkg.name} ${pkg.version} has a malformed ${field} field: ${(cause as Error).message}`, { cause });
      }
      for (const group of groups) {
        const already = firstDefined(group, satisfiedBy);
        if (already) {
          selected.get(already)!.dependents.add(pkg.name);
          continue;
        }
        let chosen: Candidate | undefined;
        const excludedHits = new Set<string>();
        for (const dep of group) {
          if (excluded.has(dep.name)) {
            excludedHits.add(dep.name);
            continue;
          }
          const list = candidates(dep);
          for (const c of list) if (excluded.has(c.package.name)) excludedHits.add(c.package.name);
          chosen = list.find((c) => !excluded.has(c.package.name));
          if (chosen) break;
        }
        if (chosen) {
          if (!selected.has(chosen.package.name)) select(chosen.package, [...from.chain, chosen.package.name]);
          selected.get(chosen.package.name)!.dependents.add(pkg.name);
        } else if (excludedHits.size > 0) {
          dropped.push({ package: pkg.name, field, dependency: formatGroup(group), excluded: [...excludedHits].sort() });
        } else {
          unsatisfiable(index, group, from.chain, pkg, field, (name) => selected.get(name)?.package);
        }
      }
    }
  }

  const packages = [...selected.values()]
    .map(({ package: p, chain, dependents }) => ({
      name: p.name,
      version: p.version,
      architecture: p.architecture,
      filename: p.filename,
      size: p.size,
      sha256: p.sha256,
      installedSize: p.installedSize,
      essential: p.essential,
      priority: p.priority,
      section: p.section,
      source: p.source,
      description: p.description,
      chain,
      dependents: [...dependents].filter((d) => d !== p.name).sort(),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  dropped.sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : a.dependency < b.dependency ? -1 : 1));
  return { roots: rootSpecs.map((s) => (s.version ? `${s.name}=${s.version}` : s.name)), exclude, packages, dropped };
}

function meets(version: string, dep: Dependency): boolean {
  return !dep.relation || satisfiesRelation(version, dep.relation, dep.version!);
}

function rank(pkg: BinaryPackage): number {
  return PRIORITY_RANK[pkg.priority] ?? 5;
}

function firstDefined<T, R>(items: T[], f: (t: T) => R | undefined): R | undefined {
  for (const item of items) {
    const r = f(item);
    if (r !== undefined) return r;
  }
  return undefined;
}

/** The package a root names: an exact version if pinned, else the newest; a virtual name with one provider. */
function rootPackage(index: PackageIndex, spec: RootSpec): BinaryPackage {
  const versions = index.versions(spec.name);
  if (spec.version !== undefined) {
    const exact = versions.find((p) => compareVersions(p.version, spec.version!) === 0);
    if (exact) return exact;
    fail(`${spec.name}=${spec.version} is not in the archive`, {
      hint: versions.length ? `Available: ${versions.map((p) => p.version).join(', ')}.` : `There is no package ${spec.name}.`,
    });
  }
  if (versions.length > 0) return versions[0];
  const providers = [...new Set(index.providers(spec.name).map((p) => p.package.name))].sort();
  if (providers.length === 1) return index.get(providers[0])!;
  if (providers.length > 1) {
    fail(`${spec.name} is a virtual package provided by ${providers.join(', ')}`, { hint: 'Name one of them as the root.' });
  }
  fail(`There is no package ${spec.name} in the archive`, { hint: 'Check the name (apt-cache search on a Debian host helps).' });
}

function unsatisfiable(
  index: PackageIndex,
  group: DependencyGroup,
  chain: string[],
  pkg: BinaryPackage,
  field: string,
  selectedPackage: (name: string) => BinaryPackage | undefined,
): never {
  const why = group.map((dep) => {
    const taken = selectedPackage(dep.name);
    if (taken) return `${dep.name} ${taken.version} is already chosen and does not satisfy ${formatDependency(dep)}`;
    const versions = index.versions(dep.name).map((p) => p.version);
    const providers = index.providers(dep.name).map((p) => (p.version ? `${p.package.name} (= ${p.version})` : p.package.name));
    if (versions.length === 0 && providers.length === 0) return `no package is named or provides ${dep.name}`;
    const parts = [];
    if (versions.length) parts.push(`the archive has ${dep.name} ${versions.join(', ')}`);
    if (providers.length) parts.push(`provided by ${providers.join(', ')}`);
    return `${formatDependency(dep)}: ${parts.join('; ')}`;
  });
  fail(`Cannot satisfy ${JSON.stringify(formatGroup(group))} (${field} of ${pkg.name} ${pkg.version}), needed by ${chain.join(' → ')}: ${why.join('; ')}`, {
    hint: 'Pin other versions of the roots, add a package that satisfies it to the roots, or list it in exclude.',
  });
}
