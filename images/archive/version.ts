// Debian version numbers: parsing, comparison and relations, as dpkg does them (Debian Policy §5.6.12,
// dpkg's lib/dpkg/version.c): [epoch:]upstream_version[-debian_revision].

export interface DebianVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** Splits a version into epoch, upstream and revision; throws on a version dpkg would reject. */
export function parseVersion(version: string): DebianVersion {
  const v = version.trim();
  if (v === '') throw new Error('Version string is empty');
  if (/\s/.test(v)) throw new Error(`Version ${JSON.stringify(version)} has embedded whitespace`);
  let epoch = 0;
  let rest = v;
  const colon = v.indexOf(':');
  if (colon >= 0) {
    const e = v.slice(0, colon);
    if (!/^\d+$/.test(e)) throw new Error(`Version ${JSON.stringify(version)} has a non-numeric epoch`);
    epoch = Number(e);
    rest = v.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (upstream === '') throw new Error(`Version ${JSON.stringify(version)} has an empty upstream version`);
  if (!/^\d/.test(upstream)) throw new Error(`Version ${JSON.stringify(version)}: upstream version must start with a digit`);
  if (!/^[A-Za-z0-9.+~:-]*$/.test(upstream)) throw new Error(`Version ${JSON.stringify(version)} has an invalid character in its upstream version`);
  if (dash >= 0 && revision === '') throw new Error(`Version ${JSON.stringify(version)} has an empty revision`);
  if (!/^[A-Za-z0-9.+~]*$/.test(revision)) throw new Error(`Version ${JSON.stringify(version)} has an invalid character in its revision`);
  return { epoch, upstream, revision };
}

/** Sort weight of one character in the non-digit part: `~` before everything, even the end of the string. */
function order(c: number): number {
  if (c >= 48 && c <= 57) return 0; // digit (never reached: digits end a non-digit run)
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c; // letters sort first
  if (c === 126) return -1; // '~'
  if (Number.isNaN(c)) return 0; // end of string
  return c + 256; // other characters after letters
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/** dpkg's verrevcmp: compares alternating non-digit and digit runs. */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(i < a.length ? a.charCodeAt(i) : NaN);
      const bc = order(j < b.length ? b.charCodeAt(j) : NaN);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charCodeAt(i))) return 1;
    if (isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** Compares two versions: negative if a < b, 0 if equal, positive if a > b (sign only is meaningful). */
export function compareVersions(a: string | DebianVersion, b: string | DebianVersion): number {
  const va = typeof a === 'string' ? parseVersion(a) : a;
  const vb = typeof b === 'string' ? parseVersion(b) : b;
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  const u = compareFragment(va.upstream, vb.upstream);
  if (u !== 0) return Math.sign(u);
  return Math.sign(compareFragment(va.revision, vb.revision));
}

/** Version relation operators in dependency fields; `<` and `>` are the obsolete spellings of `<=`/`>=`. */
export type Relation = '<<' | '<=' | '=' | '>=' | '>>';

/** Whether `version` stands in `relation` to `reference` (e.g. satisfiesRelation('1.2-1', '>=', '1.0')). */
export function satisfiesRelation(version: string, relation: Relation, reference: string): boolean {
  const c = compareVersions(version, reference);
  switch (relation) {
    case '<<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}
