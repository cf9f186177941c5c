// The image manifest: the contract between the builder, the worker, the page and the tests.
// Pure data and pure functions only: no Node or DOM imports, so every environment can share it.
// The types are inferred from the valibot schemas below, so the check and the type cannot drift apart.
// A manifest may come from another site (a share link's image URL): everything in it is untrusted.

import { HintedError, type HintedErrorOptions } from './hinted-error.ts';
import * as v from 'valibot';

export const MANIFEST_SCHEMA = 1;

// ---- bounds: what no real image comes near, so a hostile manifest cannot make sums or loops absurd ----

/**
 * Largest artifact (raw or stored) in bytes: 64 GiB. Far above anything a browser keeps for one site
 * or v86 boots usefully (the Debian twin's disk is 600 MiB, a Debian DVD ISO 4 GB), yet small enough
 * that sums over a manifest stay exact integers.
 */
export const MAX_ARTIFACT_BYTES = 64 * 2 ** 30;
/** Largest chunk of a chunked artifact: each chunk is read and verified whole (builder 1 MiB, imports 4 MiB). */
export const MAX_CHUNK_BYTES = 64 * 2 ** 20;
/** Chunks are whole 512-byte disk sectors (v86 reads disks by sector, CDs by 2 KiB sectors: both divide). */
export const CHUNK_ALIGN = 512;
/** Guest memory, MiB: v86 gives the guest one wasm32 memory, and browsers refuse more than 2 GiB reliably. */
export const MIN_MEMORY_MB = 16;
export const MAX_MEMORY_MB = 2048;
/** More files than a Debian desktop installs (~300 000): a count past this is not a real image. */
export const MAX_FILES = 10_000_000;
/** More packages than Debian 12 ships for one architecture (~64 000 binary packages). */
export const MAX_PACKAGES = 100_000;
/** Script steps per script (smoke tests, share links, run-script): a demo, not a program. */
export const MAX_STEPS = 100;
/** Characters in a line to type or a text to wait for. */
export const MAX_STEP_TEXT = 2000;
/** Seconds a script step may wait for its text: one hour (the twin's first start of an app takes minutes). */
export const MAX_STEP_TIMEOUT_S = 3600;
/** Linux x86's COMMAND_LINE_SIZE (arch/x86/include/asm/setup.h). */
export const MAX_CMDLINE = 2048;
/** Characters in a title, description, marker, version or path. */
const MAX_TEXT = 4096;

// ---- pieces other schemas (recipe, lock, protocol, share links) reuse ----

const HEX64 = /^[0-9a-f]{64}$/;

export function isSha256(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

const SHA256_MESSAGE = 'must be a sha256: 64 lowercase hex digits';
export const Sha256Schema = v.pipe(v.string(SHA256_MESSAGE), v.regex(HEX64, SHA256_MESSAGE));

/** Image names: also file and folder names, URL parts and IndexedDB keys. */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const ImageNameSchema = v.pipe(
  v.string(),
  v.regex(IMAGE_NAME, 'must be 1–64 lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit'),
);

/** A count or a size in bytes: a non-negative integer up to `max`. */
export const countSchema = (max: number, what = 'count') =>
  // Bounds before wholeness, so 2**60 reads "at most …" rather than "not a whole number".
  v.pipe(v.number(`must be a ${what}`), v.minValue(0, `must be a ${what}, not negative`), v.maxValue(max, `must be at most ${max}`), v.integer(`must be a whole ${what}`));

const text = (max = MAX_TEXT) => v.pipe(v.string(), v.maxLength(max, `must be at most ${max} characters`));

/**
 * A file beside the manifest: relative, strictly inside the image's folder, read the same as a URL path
 * and a file path. Refused: absolute paths; empty, `.` and `..` segments; backslashes; a `:` in the
 * first segment (`https:…` would fetch from another site, `C:` is a drive); `%` (`%2e%2e` is `..` to
 * a URL parser, `%2f` a `/` to some servers); `?` and `#` (the URL would name the folder itself);
 * control characters and spaces at either end (a URL parser strips them).
 */
export const RelativePathSchema = v.pipe(
  v.string(),
  v.maxLength(1024, 'must be at most 1024 characters'),
  v.check(
    (p) =>
      !/[\\%?#\u0000-\u001f\u007f]/.test(p) &&
      p.trim() === p &&
      !p.split('/')[0].includes(':') &&
      p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'),
    'must be a relative path inside the image folder (no "..", leading "/", backslash, URL scheme, "%", "?" or "#")',
  ),
);

/**
 * A file name anyone chose (an imported file's), made into one `RelativePathSchema` accepts: the
 * characters it refuses become `_`; for imports the name is only a label (the store keys by sha256).
 */
export function artifactFileName(name: string): string {
  const safe = name.replace(/[/\\:%?#\u0000-\u001f\u007f]/g, '_').trim().slice(0, 255).trim();
  return safe === '' || safe === '.' || safe === '..' ? 'file' : safe;
}

/** A line to type and the text to wait for before the next one. */
export const ScriptStepSchema = v.object({
  send: text(MAX_STEP_TEXT),
  expect: text(MAX_STEP_TEXT),
  /** Seconds to wait for `expect` (default 10). */
  timeout: v.optional(
    v.pipe(v.number('must be seconds'), v.gtValue(0, 'must be more than 0 seconds'), v.maxValue(MAX_STEP_TIMEOUT_S, `must be at most ${MAX_STEP_TIMEOUT_S} seconds`)),
  ),
});
export type ScriptStep = v.InferOutput<typeof ScriptStepSchema>;

export const ScriptSchema = v.pipe(v.array(ScriptStepSchema), v.maxLength(MAX_STEPS, `must have at most ${MAX_STEPS} steps`));

/**
 * Whether a step would pass on the guest's echo alone: its `expect` occurs in its own `send` (or is
 * empty). The echo skip is best-effort (a wrapped or redrawn echo is not skipped), so such a step
 * cannot prove the program answered.
 */
export function passesByEcho(step: ScriptStep): boolean {
  return step.expect === '' || step.send.includes(step.expect);
}

// ---- the manifest ----

export const ImageKindSchema = v.picklist(['appliance', 'distro', 'imported'], 'must be "appliance", "distro" or "imported"');
export type ImageKind = v.InferOutput<typeof ImageKindSchema>;

/** What an artifact is to the machine. */
export const ARTIFACT_ROLES = [
  'bios', // SeaBIOS bios.bin
  'vgabios', // SeaBIOS vgabios-stdvga.bin
  'kernel', // bzImage, booted by v86 through SeaBIOS (bios + vgabios)
  'vmlinux', // uncompressed 32-bit kernel ELF, entered directly without firmware (worker/linux-boot.ts)
  'initrd', // newc cpio (handed to the guest uncompressed)
  'disk', // raw disk image on the first IDE disk (hda)
  'cdrom', // ISO 9660 image on the CD-ROM drive
] as const;
export const ArtifactRoleSchema = v.picklist(ARTIFACT_ROLES, `must be one of ${ARTIFACT_ROLES.join(', ')}`);
export type ArtifactRole = v.InferOutput<typeof ArtifactRoleSchema>;

export const CompressionSchema = v.picklist(['none', 'zstd'], 'must be "none" or "zstd"');
export type Compression = v.InferOutput<typeof CompressionSchema>;

const bytes = countSchema(MAX_ARTIFACT_BYTES, 'byte count');

/**
 * One file of an image. `sha256` names the raw bytes the guest sees (after decompression), so an
 * artifact keeps its identity whatever it was compressed with; `file` holds it as stored/served.
 * Large artifacts (disks) are split into chunks of `chunkSize` raw bytes, each content-addressed and
 * served as `chunks/<sha256>` (+ `.zst` when compressed); their `sha256` is then `chunkedDigest()`.
 * Strict: a field this build does not know could change how the bytes are read, so it is refused.
 */
export const ArtifactSchema = v.pipe(
  v.strictObject({
    role: ArtifactRoleSchema,
    /** Path relative to the manifest, for unchunked artifacts. */
    file: v.optional(RelativePathSchema),
    sha256: Sha256Schema,
    /** Raw size in bytes (what the guest sees). */
    size: bytes,
    /** Bytes to download and store. */
    compressedSize: bytes,
    compression: CompressionSchema,
    chunkSize: v.optional(
      v.pipe(
        countSchema(MAX_CHUNK_BYTES, 'byte count'),
        v.minValue(CHUNK_ALIGN, `must be at least ${CHUNK_ALIGN} bytes`),
        v.multipleOf(CHUNK_ALIGN, `must be a multiple of ${CHUNK_ALIGN} bytes`),
      ),
    ),
    /** sha256 of each raw chunk, in order; identical chunks (e.g. zeros) share one file. */
    chunks: v.optional(v.array(Sha256Schema)),
  }),
  v.check((a) => (a.chunks === undefined) === (a.chunkSize === undefined), 'needs both chunkSize and chunks, or neither'),
  v.check((a) => a.chunks !== undefined || a.file !== undefined, 'needs a file or chunks'),
  v.check(
    (a) => a.chunks === undefined || a.chunks.length === Math.ceil(a.size / a.chunkSize!),
    (issue) => `has ${issue.input.chunks?.length} chunks, but ${issue.input.size} bytes in chunks of ${issue.input.chunkSize} make ${Math.ceil(issue.input.size / issue.input.chunkSize!)}`,
  ),
);
export type Artifact = v.InferOutput<typeof ArtifactSchema>;

/** An application a distro image can run: the same app an appliance runs, started by hand. */
export const AppEntrySchema = v.object({
  /** Short name matching the appliance recipe, e.g. `sqlite`. */
  name: ImageNameSchema,
  /** Command typed at the ready prompt to start the app. */
  command: text(),
  /** Serial text meaning the app waits for input. */
  readyMarker: text(),
  smoke: ScriptSchema,
});
export type AppEntry = v.InferOutput<typeof AppEntrySchema>;

export const PackageShareSchema = v.object({
  name: text(),
  version: text(),
  /** Bytes this package contributes to the image's root filesystem (after trimming). */
  size: bytes,
  /** Share of the image's root filesystem bytes, 0..1. */
  share: v.pipe(v.number(), v.minValue(0, 'must be a share from 0 to 1'), v.maxValue(1, 'must be a share from 0 to 1')),
  files: countSchema(MAX_FILES),
});
export type PackageShare = v.InferOutput<typeof PackageShareSchema>;

/** A socket seen listening in the guest (images/surface.ts reads them from /proc/net). */
export const ListeningSocketSchema = v.object({
  proto: v.picklist(['tcp', 'tcp6', 'udp', 'udp6', 'unix'], 'must be tcp, tcp6, udp, udp6 or unix'),
  /** `127.0.0.1:6379`, `[::]:80`, or a unix socket's path (`@name` for an abstract one). */
  local: text(),
  /** Owner's uid (inet sockets: /proc/net shows it). */
  uid: v.optional(countSchema(2 ** 32 - 1)),
  /** unix sockets: stream, dgram or seqpacket. */
  type: v.optional(text(32)),
});
export type ListeningSocket = v.InferOutput<typeof ListeningSocketSchema>;

const pathList = v.pipe(v.array(text()), v.maxLength(MAX_FILES, `more than ${MAX_FILES} paths`));

/**
 * What an attacker inside the image could use: setuid/setgid regular files, accounts with a login
 * shell, executables (ELF programs and `#!` scripts with an execute bit, not counting libraries),
 * shared objects (ELF `*.so*` and the loader), counted from the files the builder packed; and the
 * sockets listening once the app is up, read from the guest's /proc/net (`sockets.measured` says when).
 */
export const SurfaceSchema = v.object({
  setuid: pathList,
  setgid: pathList,
  loginAccounts: v.pipe(
    // shellMissing: the shell is not in the image, so the account cannot log in there after all.
    v.array(v.object({ name: text(256), uid: countSchema(2 ** 32 - 1), shell: text(), shellMissing: v.optional(v.boolean()) })),
    v.maxLength(100_000, 'more than 100000 accounts'),
  ),
  executables: countSchema(MAX_FILES),
  sharedLibraries: countSchema(MAX_FILES),
  sockets: v.optional(
    v.object({
      /** When and how they were read, in words (e.g. "after the ready marker, verify boot"). */
      measured: text(),
      /** False when the kernel has no network stack (no /proc/net): nothing can listen. */
      network: v.boolean(),
      listening: v.pipe(v.array(ListeningSocketSchema), v.maxLength(100_000, 'more than 100000 sockets')),
    }),
  ),
});
export type Surface = v.InferOutput<typeof SurfaceSchema>;

export const ManifestSchema = v.pipe(
  v.object({
    schema: v.literal(MANIFEST_SCHEMA, (issue) => `is ${JSON.stringify(issue.input)} (this build reads ${MANIFEST_SCHEMA})`),
    name: ImageNameSchema,
    title: text(),
    description: text(),
    kind: ImageKindSchema,
    artifacts: v.pipe(v.array(ArtifactSchema), v.minLength(1, 'no artifacts'), v.maxLength(ARTIFACT_ROLES.length, `more than ${ARTIFACT_ROLES.length} artifacts`)),
    /** Kernel command line (for images that boot a kernel directly). */
    cmdline: v.optional(text(MAX_CMDLINE)),
    /** Guest memory in MiB. */
    memoryMB: v.pipe(
      v.number(),
      v.integer('must be whole MiB'),
      v.minValue(MIN_MEMORY_MB, `must be ${MIN_MEMORY_MB}..${MAX_MEMORY_MB} MiB`),
      v.maxValue(MAX_MEMORY_MB, `must be ${MIN_MEMORY_MB}..${MAX_MEMORY_MB} MiB`),
    ),
    /** Serial text meaning the image's app (or shell) waits for input. */
    readyMarker: text(),
    /** Lines that prove the app works (typed after the ready marker). */
    smoke: ScriptSchema,
    /**
     * A line the machine may type at the ready prompt before saving a state, to make the state smaller
     * (e.g. `sync; echo 3 > /proc/sys/vm/drop_caches`); only for images where that is harmless.
     */
    beforeSaveState: v.optional(ScriptStepSchema),
    /** The app this image runs at its ready marker (appliances), for matching a twin's app. */
    app: v.optional(ImageNameSchema),
    /** Apps a distro image can start at its prompt. */
    apps: v.optional(v.pipe(v.array(AppEntrySchema), v.maxLength(64, 'more than 64 apps'))),
    packages: v.pipe(v.array(PackageShareSchema), v.maxLength(MAX_PACKAGES, `more than ${MAX_PACKAGES} packages`)),
    fileCount: countSchema(MAX_FILES),
    /** Total bytes of the root filesystem (appliances: the initramfs contents). */
    rootfsSize: bytes,
    /** The kernel: where it came from; `config` is the path of its .config beside the manifest. */
    kernel: v.optional(
      v.object({ source: text(), version: text(), configHash: Sha256Schema, config: v.optional(RelativePathSchema), stock: v.boolean() }),
    ),
    /** Extra files for the Inspect view: `files` is the path of a JSON file list ({files, dropped}). */
    inspect: v.optional(v.object({ files: v.optional(RelativePathSchema), builderFiles: v.optional(countSchema(MAX_FILES)) })),
    lockHash: v.optional(Sha256Schema),
    /** Hash of what the image was built from (images/inputs.ts): `images ensure` rebuilds it when that changes. */
    inputs: v.optional(Sha256Schema),
    /** Recipe this image was built from. */
    recipe: v.optional(ImageNameSchema),
    /** How an appliance was trimmed (images/trace/): by tracing a run, or by rules; absent before tracing existed (rules). */
    trim: v.optional(v.picklist(['trace', 'rules'], 'must be "trace" or "rules"')),
    /** The guest mounts v86's 9p share (tag `host9p`) on /mnt/host: the lab can put files there and read them back. */
    share: v.optional(v.boolean()),
    /** The guest has a network card and takes its address from `whittle.ip=` on the command line (images/init.ts). */
    network: v.optional(v.boolean()),
    /** Attack surface (images/surface.ts); absent in manifests built before it was measured. */
    surface: v.optional(SurfaceSchema),
  }),
  v.check((m) => new Set(m.artifacts.map((a) => a.role)).size === m.artifacts.length, 'artifacts: a role appears twice'),
  v.check(
    (m) => m.artifacts.some((a) => a.role === 'kernel' || a.role === 'vmlinux' || a.role === 'disk' || a.role === 'cdrom'),
    'nothing to boot (needs a kernel, vmlinux, disk or cdrom artifact)',
  ),
);
export type Manifest = v.InferOutput<typeof ManifestSchema>;

/** Total bytes to download (what the library shows as the image's download size). */
export function downloadSize(m: Manifest): number {
  return m.artifacts.reduce((n, a) => n + a.compressedSize, 0);
}

/** Total raw bytes of all artifacts. */
export function rawSize(m: Manifest): number {
  return m.artifacts.reduce((n, a) => n + a.size, 0);
}

/** The file name a chunk is stored under, relative to the manifest. */
export function chunkFile(sha256: string, compression: Compression): string {
  return `chunks/${sha256}${compression === 'zstd' ? '.zst' : ''}`;
}

/** The text hashed to name a chunked artifact: its chunk size and chunk hashes, one per line. */
export function chunkedDigestText(chunkSize: number, chunks: readonly string[]): string {
  return `whittle-chunked-v1 ${chunkSize}\n${chunks.join('\n')}\n`;
}

/**
 * A schema's first complaint as one readable line: the dotted path of the bad field and what is wrong
 * (`artifacts.1.file: must be a relative path …`). Every validator of this project words errors so.
 */
export function describeIssues(issues: readonly [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): string {
  const issue = issues[0];
  const path = v.getDotPath(issue);
  // An object's own complaints about its keys, in words (valibot's default is "Invalid key: Expected …").
  const unknownKey = issue.path?.at(-1)?.origin === 'key' && issue.expected === 'never';
  const message = unknownKey ? 'is not a known field' : issue.kind === 'schema' && issue.input === undefined ? 'is required' : issue.message;
  return path ? `${path}: ${message}` : message;
}

/** A manifest that does not hold to the contract; the message names the first problem. */
export class ManifestError extends HintedError<'bad-manifest'> {
  constructor(message: string, options: HintedErrorOptions = {}) {
    super('bad-manifest', message, options);
  }
}

/** Checks that `value` is a well-formed manifest; throws a ManifestError naming the first problem. */
export function validateManifest(value: unknown): Manifest {
  const r = v.safeParse(ManifestSchema, value);
  if (!r.success) throw new ManifestError(`invalid image manifest: ${describeIssues(r.issues)}`);
  return r.output;
}
