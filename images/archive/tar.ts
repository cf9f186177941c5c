// tar archives (a .deb's control.tar and data.tar), read with tar-stream: ustar, GNU long names and
// pax headers, regular files, directories, symlinks and hard links.
import tarStream from 'tar-stream';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface TarEntry {
  /** Normalized: no leading `./` or `/`, no trailing `/`, never `..`; the archive's root is left out. */
  path: string;
  type: TarEntryType;
  /** Permission bits, including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data (0 for everything but files). */
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Symlink: the target as written. Hard link: the normalized path of the file it links to. */
  linkTarget?: string;
  /** File contents, when asked for (see `ReadTarOptions.data`). */
  data?: Uint8Array;
}

export interface ReadTarOptions {
  /** Which files' contents to keep (default: all). Entries are listed either way. */
  data?: (path: string) => boolean;
  /** Stop after the first entry for which this is true (it is still returned). */
  stopAfter?: (entry: TarEntry) => boolean;
  /** Names the archive in errors. */
  source?: string;
}

/** Normalizes a path inside an archive; throws on `..` (it could escape the tree it is unpacked into). */
export function normalizeArchivePath(name: string, source = 'tar archive'): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Error(`${source} has an entry outside its root: ${JSON.stringify(name)}`);
  return parts.join('/');
}

/**
 * Reads a whole tar held in memory. File data are subarrays of `bytes` (no copies): keeping one keeps
 * `bytes` alive. Device nodes and FIFOs are refused (no Debian package in an appliance ships them).
 */
export async function readTar(bytes: Uint8Array, options: ReadTarOptions = {}): Promise<TarEntry[]> {
  const source = options.source ?? 'tar archive';
  const extract = tarStream.extract();
  const entries: TarEntry[] = [];
  let stopped = false;
  const consume = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const path = normalizeArchivePath(h.name, source);
      const keep = h.type === 'file' || h.type === 'contiguous-file' ? (options.data?.(path) ?? true) : false;
      const chunks: Uint8Array[] = [];
      for await (const chunk of entry) if (keep) chunks.push(chunk as Uint8Array);
      if (path === '' && h.type === 'directory') continue;
      const out: TarEntry = {
        path,
        type: entryType(h.type, h.name, source),
        mode: (h.mode ?? 0) & 0o7777,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        size: h.type === 'file' || h.type === 'contiguous-file' ? (h.size ?? 0) : 0,
        mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
      };
      if (h.type === 'symlink') out.linkTarget = h.linkname ?? '';
      if (h.type === 'link') out.linkTarget = normalizeArchivePath(h.linkname ?? '', source);
      if (keep) out.data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      entries.push(out);
      if (options.stopAfter?.(out)) {
        stopped = true;
        break;
      }
    }
  })();
  extract.end(bytes);
  try {
    await consume;
  } catch (cause) {
    if (!stopped) throw new Error(`${source} is not a readable tar: ${(cause as Error).message}`, { cause });
  }
  return entries;
}

function entryType(type: string | null | undefined, name: string, source: string): TarEntryType {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
      return 'dir';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'hardlink';
    default:
      throw new Error(`${source}: ${name} is a ${type ?? 'unknown entry type'}, which is not supported`);
  }
}
