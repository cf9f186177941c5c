// The binary packages of one archive section (a parsed Packages file), indexed by name and by Provides.
import { parseParagraphs, shortDescription, type Paragraph } from './control.ts';
import { parseDependencies } from './depends.ts';
import { compareVersions } from './version.ts';

/** One stanza of a Packages file, with the fields the builder uses typed. */
export interface BinaryPackage {
  name: string;
  version: string;
  architecture: string;
  /** Path in the pool, relative to the mirror's base URL. */
  filename: string;
  /** Size of the .deb in bytes. */
  size: number;
  sha256: string;
  /** Installed-Size in KiB, as Debian states it (undefined if absent). */
  installedSize: number | undefined;
  essential: boolean;
  priority: string;
  section: string;
  multiArch: string;
  /** Source package name (the binary's name when the field is absent). */
  source: string;
  /** The Description's first line. */
  description: string;
  /** Every field of the stanza, as written. */
  fields: Paragraph;
}

/** A package providing a (virtual) name, with the version of a versioned Provides (`foo (= 1.2)`). */
export interface Provider {
  package: BinaryPackage;
  version?: string;
}

/** Turns one Packages stanza into a `BinaryPackage`; throws naming the package if a needed field is missing. */
export function binaryPackage(fields: Paragraph): BinaryPackage {
  const name = fields.Package;
  const need = (key: string) => {
    const v = fields[key];
    if (v === undefined || v === '') throw new Error(`Packages stanza ${name ?? '(no Package field)'} lacks ${key}`);
    return v;
  };
  need('Package');
  const size = Number(need('Size'));
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`Packages stanza ${name}: bad Size ${fields.Size}`);
  const sha256 = need('SHA256').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`Packages stanza ${name}: bad SHA256 ${fields.SHA256}`);
  const installed = fields['Installed-Size'];
  return {
    name,
    version: need('Version'),
    architecture: need('Architecture'),
    filename: need('Filename'),
    size,
    sha256,
    installedSize: installed === undefined ? undefined : Number(installed),
    essential: fields.Essential === 'yes',
    priority: fields.Priority ?? '',
    section: fields.Section ?? '',
    multiArch: fields['Multi-Arch'] ?? '',
    source: (fields.Source ?? name).split(' ')[0],
    description: shortDescription(fields.Description),
    fields,
  };
}

/** One version of a package: parsed into a `BinaryPackage` only when first asked for. */
interface Slot {
  version: string;
  stanza?: string;
  package?: BinaryPackage;
}

/**
 * All packages of a Packages file; each name's versions are kept newest first. Built from text it only
 * scans each stanza for Package, Version and Provides, and parses a stanza fully when it is looked up:
 * the resolver touches a few hundred of bookworm's ~63,000 i386 stanzas.
 */
export class PackageIndex {
  readonly #byName = new Map<string, Slot[]>();
  readonly #providers = new Map<string, { name: string; version: string; provides?: string }[]>();

  constructor(packages: Iterable<BinaryPackage> = []) {
    for (const p of packages) this.#add(p.name, { version: p.version, package: p }, p.fields.Provides);
    this.#finish();
  }

  /** Indexes a whole Packages file; throws naming the stanza on one without Package or Version. */
  static fromText(text: string): PackageIndex {
    const index = new PackageIndex();
    let pos = 0;
    while (pos < text.length) {
      let end = text.indexOf('\n\n', pos);
      if (end < 0) end = text.length;
      const stanza = text.slice(pos, end);
      pos = end + 2;
      if (stanza.trim() === '') continue;
      const name = fieldOf(stanza, 'Package');
      const version = fieldOf(stanza, 'Version');
      if (!name || !version) throw new Error(`Packages stanza without Package or Version: ${JSON.stringify(stanza.slice(0, 80))}`);
      index.#add(name, { version, stanza }, fieldOf(stanza, 'Provides'));
    }
    index.#finish();
    return index;
  }

  #add(name: string, slot: Slot, provides: string | undefined): void {
    const list = this.#byName.get(name);
    if (!list) this.#byName.set(name, [slot]);
    else if (list.some((q) => q.version === slot.version)) return;
    else list.push(slot);
    if (!provides) return;
    for (const group of parseDependencies(provides)) {
      for (const dep of group) {
        const providers = this.#providers.get(dep.name) ?? [];
        // Only `=` is allowed in Provides (Policy §7.5); a version there makes the Provides versioned.
        providers.push(dep.relation === '=' ? { name, version: slot.version, provides: dep.version } : { name, version: slot.version });
        this.#providers.set(dep.name, providers);
      }
    }
  }

  #finish(): void {
    for (const list of this.#byName.values()) if (list.length > 1) list.sort((a, b) => compareVersions(b.version, a.version));
  }

  #materialize(slot: Slot): BinaryPackage {
    if (!slot.package) {
      const paragraphs = parseParagraphs(slot.stanza ?? '');
      if (paragraphs.length !== 1) throw new Error(`Malformed Packages stanza: ${JSON.stringify((slot.stanza ?? '').slice(0, 80))}`);
      slot.package = binaryPackage(paragraphs[0]);
      slot.stanza = undefined;
    }
    return slot.package;
  }

  /** Number of distinct package names. */
  get size(): number {
    return this.#byName.size;
  }

  /** Every real package name, sorted. */
  names(): string[] {
    return [...this.#byName.keys()].sort();
  }

  /** Whether a real package of this name exists. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** The newest version of `name`, or the given version of it. */
  get(name: string, version?: string): BinaryPackage | undefined {
    const list = this.#byName.get(name);
    if (!list) return undefined;
    if (version === undefined) return this.#materialize(list[0]);
    const slot = list.find((s) => compareVersions(s.version, version) === 0);
    return slot && this.#materialize(slot);
  }

  /** Every version of `name`, newest first (empty if there is no real package of that name). */
  versions(name: string): BinaryPackage[] {
    return (this.#byName.get(name) ?? []).map((s) => this.#materialize(s));
  }

  /** The packages whose Provides names `name`, sorted by package name, then newest version first. */
  providers(name: string): Provider[] {
    return (this.#providers.get(name) ?? [])
      .map((p) => {
        const pkg = this.get(p.name, p.version);
        if (!pkg) throw new Error(`Package index lost ${p.name} ${p.version}`);
        return p.provides === undefined ? { package: pkg } : { package: pkg, version: p.provides };
      })
      .sort((a, b) => (a.package.name < b.package.name ? -1 : a.package.name > b.package.name ? 1 : compareVersions(b.package.version, a.package.version)));
  }
}

/** The value of one field in a stanza, with continuation lines, without parsing the rest. */
function fieldOf(stanza: string, key: string): string | undefined {
  let at: number;
  if (stanza.startsWith(key + ':')) at = 0;
  else {
    at = stanza.indexOf('\n' + key + ':');
    if (at < 0) return undefined;
    at += 1;
  }
  let end = stanza.indexOf('\n', at);
  if (end < 0) end = stanza.length;
  let value = stanza.slice(at + key.length + 1, end).trim();
  while (end < stanza.length && (stanza[end + 1] === ' ' || stanza[end + 1] === '\t')) {
    const next = stanza.indexOf('\n', end + 1);
    const stop = next < 0 ? stanza.length : next;
    value += ' ' + stanza.slice(end + 2, stop).trim();
    end = stop;
  }
  return value;
}
