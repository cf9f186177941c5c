// The wide tree: a recipe's locked packages installed the way Debian installs them — mmdebstrap
// (the twin's driver, images/distro/debian.ts), variant `custom` with exactly the lock's verified .debs,
// so maintainer scripts run and users, groups, alternatives and postinst links exist. Cached by the
// lock: `<cache>/wide/<key>/root`, key = the lock's hash and the package set.

import { existsSync } from 'node:fs';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildContext } from '../build.ts';
import { lockHash } from '../archive/index.ts';
import { runMmdebstrap } from '../distro/debian.ts';
import { formatBytes } from '../format.ts';
import { canonicalJson, sha256Hex } from '../hash.ts';
import { requireHostTools } from '../host-process.ts';
import { fail } from '../log.ts';
import { publishDir } from '../publish.ts';
import { RootTree, type TreeEntry } from '../rootfs.ts';

/** What the trace never looks at: documentation, man and info pages, translations. */
export const WIDE_DROP = /^usr\/share\/(doc|man|info|locale)\//;
/** Files a maintainer script (or dpkg itself) made: no package's file list names them. */
export const INSTALLED_OWNER = 'maintainer-scripts';
/** Bumped when the install changes in a way the lock does not show (its options, hooks). */
const WIDE_FORMAT = 1;

/** The cache key of a lock's wide tree. */
export function wideKey(ctx: BuildContext): string {
  const lock = ctx.lock!.rootfs;
  return sha256Hex(canonicalJson({ format: WIDE_FORMAT, lock: lockHash(lock), packages: lock.packages.map((p) => `${p.name}=${p.version}`) }));
}

/** Wide: install the lock (or take the cached install), then read it into the context's tree. */
export async function installWide(ctx: BuildContext): Promise<string> {
  const key = wideKey(ctx);
  const dir = join(ctx.opts.cacheDir, 'wide', key);
  const lock = ctx.lock!.rootfs;
  if (existsSync(join(dir, 'root'))) {
    ctx.opts.log.stage('wide', `cached install of ${lock.packages.length} packages (${key.slice(0, 12)})`);
  } else {
    if (process.getuid?.() !== 0) {
      fail('Tracing an appliance needs root to install its packages: mmdebstrap runs their maintainer scripts in a chroot.', {
        hint: `Run the build as root, e.g. \`sudo npm run images -- build ${ctx.name}\`, or build from a lock whose wide tree is cached.`,
      });
    }
    requireHostTools('twin', 'Installing the wide tree');
    ctx.opts.log.stage('wide', `mmdebstrap --variant=custom: ${lock.packages.length} locked packages, maintainer scripts run`);
    const mirror = ctx.opts.mirror();
    await publishDir(dir, async (work) => {
      const debs = lock.packages.map((p) => ctx.debs.get(p.name) ?? fail(`${p.name} was not fetched`));
      await runMmdebstrap(ctx, [
        '--mode=root',
        '--format=directory',
        '--verbose',
        `--arch=${lock.arch}`,
        '--variant=custom',
        // The verified .debs themselves (by path, one option each: mmdebstrap reads a path option whole):
        // apt installs exactly the lock, downloading nothing.
        ...debs.map((d) => `--include=${d}`),
        '--aptopt=Acquire::Languages "none"',
        // The build host's resolver and name are not the appliance's.
        '--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
        lock.suite,
        join(work, 'root'),
        `deb ${mirror} ${lock.suite} main`,
      ], mirror);
    });
  }
  return join(dir, 'root');
}

/** Owners from dpkg's file lists (`var/lib/dpkg/info/<pkg>[:arch].list`): path → package. */
async function dpkgOwners(root: string): Promise<Map<string, string>> {
  const info = join(root, 'var/lib/dpkg/info');
  const owners = new Map<string, string>();
  for (const f of (await readdir(info)).filter((n) => n.endsWith('.list')).sort()) {
    const pkg = f.slice(0, -'.list'.length).replace(/:.*$/, '');
    for (const line of (await readFile(join(info, f), 'utf8')).split('\n')) {
      const p = line.replace(/^\/+/, '');
      if (p && !owners.has(p)) owners.set(p, pkg);
    }
  }
  return owners;
}

/** Reads the installed tree into `tree` (docs, man pages and locales left out; /dev, /proc, /sys empty). */
export async function readWideTree(root: string, tree: RootTree): Promise<{ dropped: { path: string; owner: string; size: number; reason: string }[] }> {
  const owners = await dpkgOwners(root);
  const dropped: { path: string; owner: string; size: number; reason: string }[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(root, path);
      const st = await lstat(full);
      const owner = owners.get(path) ?? INSTALLED_OWNER;
      if (WIDE_DROP.test(`${path}${st.isDirectory() ? '/' : ''}`)) {
        if (!st.isDirectory()) dropped.push({ path, owner, size: st.size, reason: 'trim rule' });
        else await collect(path, owner);
        continue;
      }
      const base = { path, mode: st.mode & 0o7777, owner, uid: st.uid, gid: st.gid };
      let entry: TreeEntry;
      if (st.isDirectory()) entry = { ...base, type: 'dir' };
      else if (st.isSymbolicLink()) entry = { ...base, type: 'symlink', linkTarget: await readlink(full) };
      else if (st.isFile()) entry = { ...base, type: 'file', data: new Uint8Array(await readFile(full)) };
      else continue; // device nodes, fifos, sockets: /dev is devtmpfs in the guest
      tree.add(entry);
      if (st.isDirectory() && !/^(dev|proc|sys)$/.test(path)) await visit(path);
    }
  };
  const collect = async (dir: string, owner: string): Promise<void> => {
    for (const name of await readdir(join(root, dir))) {
      const path = `${dir}/${name}`;
      const st = await lstat(join(root, path));
      if (st.isDirectory()) await collect(path, owner);
      else dropped.push({ path, owner: owners.get(path) ?? owner, size: st.size, reason: 'trim rule' });
    }
  };
  await visit('');
  return { dropped };
}

export function describeWide(tree: RootTree): string {
  return `${tree.entries.size} paths, ${formatBytes(tree.size())}`;
}
