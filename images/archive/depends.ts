// Relationship fields (Depends, Pre-Depends, Provides, ...): "a (>= 1) | b, c:any" → [[a ≥ 1, b], [c]].
import type { Relation } from './version.ts';

/** One alternative of a dependency: a package name, maybe an arch qualifier and a version relation. */
export interface Dependency {
  name: string;
  /** Arch qualifier after `:` (`any`, `native`, or an architecture); the resolver ignores it. */
  arch?: string;
  relation?: Relation;
  version?: string;
}

/** A comma-separated entry: any one alternative satisfies it. */
export type DependencyGroup = Dependency[];

const ALTERNATIVE =
  /^([A-Za-z0-9][A-Za-z0-9+.-]*)(?::([A-Za-z0-9-]+))?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([A-Za-z0-9.+~:-]+)\s*\))?\s*(?:\[[^\]]*\]\s*)?(?:<[^>]*>\s*)*$/;

/** Parses a relationship field; throws naming the field text on a malformed entry. */
export function parseDependencies(field: string | undefined): DependencyGroup[] {
  if (!field) return [];
  const groups: DependencyGroup[] = [];
  for (const entry of field.split(',')) {
    if (entry.trim() === '') continue;
    groups.push(entry.split('|').map((alt) => parseAlternative(alt, field)));
  }
  return groups;
}

function parseAlternative(text: string, field: string): Dependency {
  const m = ALTERNATIVE.exec(text.replace(/\s+/g, ' ').trim());
  if (!m) throw new Error(`Malformed relationship ${JSON.stringify(text.trim())} in ${JSON.stringify(field)}`);
  const dep: Dependency = { name: m[1] };
  if (m[2]) dep.arch = m[2];
  if (m[3]) {
    // `<` and `>` are obsolete spellings of `<=` and `>=` (Policy §7.1).
    dep.relation = (m[3] === '<' ? '<=' : m[3] === '>' ? '>=' : m[3]) as Relation;
    dep.version = m[4];
  }
  return dep;
}

/** A dependency written back the way Debian writes it: `name:arch (>= 1.0)`. */
export function formatDependency(dep: Dependency): string {
  const arch = dep.arch ? `:${dep.arch}` : '';
  return dep.relation ? `${dep.name}${arch} (${dep.relation} ${dep.version})` : `${dep.name}${arch}`;
}

export function formatGroup(group: DependencyGroup): string {
  return group.map(formatDependency).join(' | ');
}
