// Unpack stage: a .deb read in Node (no dpkg): ar archive → debian-binary, control.tar.*, data.tar.*.
import { open } from 'node:fs/promises';
import { fileReader, listAr, type ArMember, type ReadAt } from './ar.ts';
import { parseParagraphs } from './control.ts';
import { decompressByName } from './decompress.ts';
import { fail } from './errors.ts';
import { normalizeArchivePath, readTar, type ReadTarOptions, type TarEntry } from './tar.ts';

/** One entry of a package's data.tar (see `TarEntry`: path normalized, no leading `./`). */
export type DebEntry = TarEntry;

export interface Deb {
  /** The fields of the package's `control` file. */
  control: Record<string, string>;
  /** Every file of control.tar (control, md5sums, conffiles, postinst, ...) by name. */
  controlFiles: Record<string, Uint8Array>;
  /** Entries of data.tar in archive order, file data included. */
  files: DebEntry[];
}

interface DebLayout {
  control: ArMember;
  data: ArMember;
}

/** Finds and checks the members of a .deb (format 2.0: debian-binary first, then control and data). */
async function layout(read: ReadAt, total: number, path: string): Promise<DebLayout> {
  const hint = `Delete ${path} and fetch it again; if it is a fresh download, the mirror serves a broken file.`;
  let members: ArMember[];
  try {
    members = await listAr(read, total, path);
  } catch (cause) {
    fail(`${path} is not a .deb: ${(cause as Error).message}`, { hint, cause });
  }
  const binary = members[0];
  if (!binary || binary.name !== 'debian-binary') fail(`${path} is not a .deb: first member is not debian-binary`, { hint });
  const version = Buffer.from(await read(binary.offset, binary.size)).toString('latin1').trim();
  if (!/^2\.\d+$/.test(version)) fail(`${path}: unsupported .deb format ${JSON.stringify(version)}`, { hint: 'Only format 2.x packages are supported.' });
  const control = members.find((m) => /^control\.tar(\.(xz|zst|gz))?$/.test(m.name));
  const data = members.find((m) => /^data\.tar(\.(xz|zst|gz))?$/.test(m.name));
  if (!control || !data) {
    const names = members.map((m) => m.name).join(', ');
    fail(`${path}: no control.tar or data.tar in a supported compression (members: ${names})`, { hint: 'Supported: .xz, .zst, .gz, none.' });
  }
  return { control, data };
}

async function withDeb<T>(path: string, f: (read: ReadAt, deb: DebLayout) => Promise<T>): Promise<T> {
  const fh = await open(path, 'r');
  try {
    const read = fileReader(fh);
    const { size } = await fh.stat();
    return await f(read, await layout(read, size, path));
  } finally {
    await fh.close();
  }
}

async function memberTar(read: ReadAt, member: ArMember, path: string): Promise<Uint8Array> {
  const compressed = await read(member.offset, member.size);
  try {
    return await decompressByName(member.name, compressed);
  } catch (cause) {
    fail(`${path}: cannot decompress ${member.name}: ${(cause as Error).message}`, {
      hint: `Delete ${path} and fetch it again.`,
      cause,
    });
  }
}

/** The entries of a member's tar; a damaged tar is a damaged .deb (an ArchiveError with a hint), not a bug. */
async function memberEntries(tar: Uint8Array, member: ArMember, path: string, options: Omit<ReadTarOptions, 'source'> = {}): Promise<TarEntry[]> {
  try {
    return await readTar(tar, { ...options, source: `${path}:${member.name}` });
  } catch (cause) {
    fail((cause as Error).message, { hint: `Delete ${path} and fetch it again.`, cause });
  }
}

/** The fields of a control file; one that is not deb822 makes the .deb damaged. */
function controlFields(control: Uint8Array, path: string): Record<string, string> {
  try {
    return parseParagraphs(Buffer.from(control).toString('utf8'))[0] ?? {};
  } catch (cause) {
    fail(`${path}: its control file is not readable: ${(cause as Error).message}`, { hint: `Delete ${path} and fetch it again.`, cause });
  }
}

/** Reads a whole .deb into memory: its control fields and files, and every data.tar entry with data. */
export async function readDeb(path: string): Promise<Deb> {
  return withDeb(path, async (read, deb) => {
    const controlTar = await memberEntries(await memberTar(read, deb.control, path), deb.control, path);
    const controlFiles: Record<string, Uint8Array> = {};
    for (const e of controlTar) if (e.type === 'file' && e.data) controlFiles[e.path] = e.data;
    if (!controlFiles.control) fail(`${path}: control.tar has no control file`, { hint: `Delete ${path} and fetch it again.` });
    const control = controlFields(controlFiles.control, path);
    const files = await memberEntries(await memberTar(read, deb.data, path), deb.data, path);
    return { control, controlFiles, files };
  });
}

/**
 * The contents of one file of a .deb's data.tar (e.g. `usr/src/linux-source-6.1.tar.xz`), without
 * keeping any other file's data. data.tar is decompressed in one piece (the xz and zstd libraries have
 * no streaming API), so memory peaks at about the .deb's member plus the uncompressed data.tar.
 * Throws if the path is missing or is not a regular file.
 */
export async function readDebMember(path: string, wantedPath: string): Promise<Uint8Array> {
  const wanted = normalizeArchivePath(wantedPath);
  return withDeb(path, async (read, deb) => {
    const tar = await memberTar(read, deb.data, path);
    const entries = await memberEntries(tar, deb.data, path, { data: (p) => p === wanted, stopAfter: (e) => e.path === wanted });
    const hit = entries.find((e) => e.path === wanted);
    if (!hit) fail(`${path} has no ${wanted}`, { hint: 'Check the path (no leading ./) and the package.' });
    if (hit.type !== 'file' || !hit.data) fail(`${path}: ${wanted} is a ${hit.type}, not a regular file`);
    // A small file would pin the whole uncompressed data.tar in memory through a subarray: copy it.
    return hit.data.length * 2 < tar.length ? hit.data.slice() : hit.data;
  });
}

/** The control fields of a .deb, without reading its data. */
export async function readDebControl(path: string): Promise<Record<string, string>> {
  return withDeb(path, async (read, deb) => {
    const entries = await memberEntries(await memberTar(read, deb.control, path), deb.control, path);
    const control = entries.find((e) => e.path === 'control' && e.data);
    if (!control?.data) fail(`${path}: control.tar has no control file`, { hint: `Delete ${path} and fetch it again.` });
    return controlFields(control.data, path);
  });
}
