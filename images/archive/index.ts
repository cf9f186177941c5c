// The archive library (builder stages 1–4: Archive, Resolve, Fetch, Unpack): its public API.
export { openArchive, type Archive, type OpenArchiveOptions } from './archive.ts';
export { defaultCacheDir } from './cache.ts';
export { parseParagraphs, iterateParagraphs, shortDescription, type Paragraph } from './control.ts';
export { decompressByName, initZstd, zstdDecompress } from './decompress.ts';
export { readDeb, readDebMember, readDebControl, type Deb, type DebEntry } from './deb.ts';
export { parseDependencies, formatDependency, formatGroup, type Dependency, type DependencyGroup } from './depends.ts';
export { ArchiveError, HttpError, fail } from './errors.ts';
export { fetchDebs, cachePath, type DebRef, type FetchDebsOptions, type FetchedDeb } from './fetch.ts';
export {
  lockFromResolution,
  formatLock,
  parseLock,
  lockHash,
  diffLocks,
  samePackages,
  formatLockDiff,
  type Lock,
  type LockedPackage,
  type LockDiff,
} from './lock.ts';
export { debianMirror, aptSources, type AptSource, type MirrorOptions } from './mirror.ts';
export { PackageIndex, binaryPackage, type BinaryPackage, type Provider } from './packages.ts';
export { progressReporter, type FetchProgress, type ProgressReporter } from './progress.ts';
export {
  loadDebianKeys,
  verifyInRelease,
  parseRelease,
  checkRelease,
  checkAgainstRelease,
  sha256Hex,
  type Release,
  type ReleaseFile,
  type VerifiedText,
} from './release.ts';
export { resolve, parseRoot, type Resolution, type ResolvedPackage, type DroppedDependency, type ResolveOptions, type RootSpec } from './resolve.ts';
export { readAr, listAr, type ArMember } from './ar.ts';
export { readTar, normalizeArchivePath, type TarEntry, type TarEntryType, type ReadTarOptions } from './tar.ts';
export { compareVersions, parseVersion, satisfiesRelation, type DebianVersion, type Relation } from './version.ts';
