// Archive stage: the signed Release (InRelease) and the Packages index it vouches for.
import { sha256Hex } from '../hash.ts';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as openpgp from 'openpgp';
import { xz } from '@napi-rs/lzma';
import { parseParagraphs, type Paragraph } from './control.ts';
import { fail } from './errors.ts';

/** A file listed in Release's SHA256 field. */
export interface ReleaseFile {
  size: number;
  sha256: string;
}

/** The fields of a (verified) Release, typed. */
export interface Release {
  origin: string;
  label: string;
  suite: string;
  codename: string;
  version: string;
  /** The Date field as written (goes into lock files). */
  date: string;
  /** The Date field parsed. */
  dateParsed: Date;
  validUntil: Date | undefined;
  architectures: string[];
  components: string[];
  /** SHA256 field: path relative to `dists/<suite>/` → size and hash. */
  files: Map<string, ReleaseFile>;
  fields: Paragraph;
}

/** The signed text of an InRelease and who signed it. */
export interface VerifiedText {
  text: string;
  /** Fingerprints (hex) of the trusted keys whose signatures verified. */
  signers: string[];
}

const KEYS_DIR = fileURLToPath(new URL('./keys/', import.meta.url));

/** Debian's archive signing keys shipped in `images/archive/keys/` (see its README for provenance). */
export async function loadDebianKeys(dir = KEYS_DIR): Promise<openpgp.PublicKey[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.gpg') || n.endsWith('.asc')).sort();
  const keys: openpgp.PublicKey[] = [];
  for (const name of names) {
    const bytes = await readFile(dir + name);
    const found = name.endsWith('.asc')
      ? await openpgp.readKeys({ armoredKeys: bytes.toString('utf8') })
      : await openpgp.readKeys({ binaryKeys: new Uint8Array(bytes) });
    keys.push(...found);
  }
  if (keys.length === 0) fail(`No OpenPGP keys in ${dir}`, { hint: 'Restore images/archive/keys/ from git.' });
  return keys;
}

/**
 * Verifies a clearsigned InRelease against `keys` and returns only its signed text. At least one
 * signature must be by a trusted key and good, and no signature by a trusted key may be bad; signatures
 * by keys not in `keys` are ignored (Debian signs with the next release's key too). `source` names the
 * file or URL in errors; `date` is the time at which keys must be valid (default now).
 */
export async function verifyInRelease(
  data: Uint8Array | string,
  keys: openpgp.PublicKey[],
  source: string,
  options: { hint?: string; date?: Date } = {},
): Promise<VerifiedText> {
  const hint = options.hint ?? 'Fetch it again; if it keeps failing, the mirror serves a tampered or broken file: try another mirror (DEBIAN_MIRROR).';
  const armored = typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: false }).decode(data);
  let message: openpgp.CleartextMessage;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: armored });
  } catch (cause) {
    fail(`${source} is not an OpenPGP clearsigned file: ${(cause as Error).message}`, { hint, cause });
  }
  const result = await openpgp.verify({ message, verificationKeys: keys, expectSigned: false, date: options.date });
  const signers: string[] = [];
  const bad: string[] = [];
  for (const sig of result.signatures) {
    const keyId = sig.keyID.toHex().toUpperCase();
    const trusted = keys.find((k) => k.getKeys(sig.keyID).length > 0);
    if (!trusted) continue;
    try {
      await sig.verified;
      signers.push(trusted.getFingerprint().toUpperCase());
    } catch (e) {
      bad.push(`${keyId}: ${(e as Error).message}`);
    }
  }
  if (bad.length > 0) fail(`${source}: bad OpenPGP signature (${bad.join('; ')}): its signed text was altered`, { hint });
  if (signers.length === 0) {
    const ids = result.signatures.map((s) => s.keyID.toHex().toUpperCase()).join(', ') || 'none';
    fail(`${source}: no signature by a trusted Debian archive key (signed by: ${ids})`, { hint });
  }
  return { text: result.data as string, signers };
}

/** Parses the text of a Release file (signed text of an InRelease). */
export function parseRelease(text: string): Release {
  const [fields] = parseParagraphs(text);
  if (!fields) throw new Error('Release file is empty');
  const words = (key: string) => (fields[key] ?? '').split(/\s+/).filter(Boolean);
  const files = new Map<string, ReleaseFile>();
  for (const line of (fields.SHA256 ?? '').split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3) continue;
    const [sha256, size, path] = parts;
    if (!/^[0-9a-f]{64}$/i.test(sha256) || !/^\d+$/.test(size)) throw new Error(`Release SHA256 line is malformed: ${line}`);
    files.set(path, { size: Number(size), sha256: sha256.toLowerCase() });
  }
  const date = fields.Date ?? '';
  const dateParsed = new Date(date);
  if (!date || Number.isNaN(dateParsed.getTime())) throw new Error(`Release has no valid Date field: ${JSON.stringify(date)}`);
  const validUntil = fields['Valid-Until'] ? new Date(fields['Valid-Until']) : undefined;
  return {
    origin: fields.Origin ?? '',
    label: fields.Label ?? '',
    suite: fields.Suite ?? '',
    codename: fields.Codename ?? '',
    version: fields.Version ?? '',
    date,
    dateParsed,
    validUntil,
    architectures: words('Architectures'),
    components: words('Components'),
    files,
    fields,
  };
}

/** Checks the Release is for `suite` (by Codename or Suite) and has not expired. */
export function checkRelease(release: Release, suite: string, source: string, now = new Date()): void {
  if (release.codename !== suite && release.suite !== suite) {
    fail(`${source} is for ${release.codename || release.suite}, not ${suite}`, {
      hint: 'The mirror redirects or serves another suite under this name; check DEBIAN_MIRROR.',
    });
  }
  if (release.validUntil && release.validUntil.getTime() < now.getTime()) {
    fail(`${source} expired on ${release.fields['Valid-Until']} (Valid-Until)`, {
      hint: 'The mirror is out of date (or this machine\'s clock is wrong); use another mirror.',
    });
  }
}

export { sha256Hex };

/**
 * Checks an index file's bytes against its Release entry (`path` relative to `dists/<suite>/`).
 * `source` names the file or URL in the error, `hint` says what to do.
 */
export function checkAgainstRelease(release: Release, path: string, data: Uint8Array, source: string, hint: string): void {
  const entry = release.files.get(path);
  if (!entry) fail(`Release does not list ${path}`, { hint: 'This architecture or component is not in the archive.' });
  if (data.length !== entry.size) {
    fail(`${source} has ${data.length} bytes, but the signed Release says ${path} has ${entry.size}`, { hint });
  }
  const actual = sha256Hex(data);
  if (actual !== entry.sha256) {
    fail(`${source} has SHA256 ${actual}, but the signed Release says ${path} has ${entry.sha256}`, { hint });
  }
}

/** Decompresses xz data; `source` names the file or URL in the error. */
export async function decompressXz(data: Uint8Array, source: string, hint: string): Promise<Uint8Array> {
  try {
    return await xz.decompress(data);
  } catch (cause) {
    fail(`${source} does not decompress as xz: ${(cause as Error).message}`, { hint, cause });
  }
}
