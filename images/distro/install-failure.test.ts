// What a failed mmdebstrap run is blamed on, from the lines mmdebstrap 1.3.5, apt and dpkg print (the
// unreachable-mirror, not-root and missing-version runs were captured on bookworm; the rest are the
// tools' message texts).

import { describe, expect, test } from 'vitest';
import { explainInstallFailure } from './install-failure.ts';

const MIRROR = 'http://deb.debian.org/debian';

const startup = ['I: chroot architecture i386 is equal to the host\'s architecture', 'I: finding correct signed-by value...', 'I: running apt-get update...'];

describe('explainInstallFailure', () => {
  test('missing arch-test (the fresh-machine failure) says to install it, not to check the mirror', () => {
    const f = explainInstallFailure(['E: install arch-test for foreign architecture support'].join('\n'), MIRROR);
    expect(f.cause).toBe('foreign-arch');
    expect(f.message).toBe('mmdebstrap cannot run i386 programs on this host: install arch-test for foreign architecture support');
    expect(f.hint).toMatch(/^apt-get install arch-test/);
    expect(f.hint).not.toMatch(/mirror/i);
  });

  test('a host that cannot execute i386 at all', () => {
    const f = explainInstallFailure('E: i386 can neither be executed natively nor via qemu user emulation with binfmt_misc\n', MIRROR);
    expect(f.cause).toBe('foreign-arch');
    expect(f.hint).toMatch(/qemu-user-static/);
  });

  test('an unreachable mirror', () => {
    const output = [
      ...startup,
      'Ign:1 http://127.0.0.1:9/debian bookworm InRelease',
      'Err:1 http://127.0.0.1:9/debian bookworm InRelease',
      '  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)',
      'Reading package lists...',
      'E: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm/InRelease  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)',
      'E: Some index files failed to download. They have been ignored, or old ones used instead.',
      'E: apt-get update --error-on=any -oAPT::Status-Fd=<$fd> -oDpkg::Use-Pty=false failed',
      'I: main() received signal PIPE: waiting for setup...',
      'E: mmdebstrap failed to run',
    ].join('\n');
    const f = explainInstallFailure(output, 'http://127.0.0.1:9/debian');
    expect(f.cause).toBe('mirror');
    expect(f.message).toBe('mmdebstrap could not download from the mirror http://127.0.0.1:9/debian: Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)');
    expect(f.hint).toMatch(/DEBIAN_MIRROR/);
  });

  test('a name that does not resolve', () => {
    const f = explainInstallFailure("Err:1 http://deb.example.invalid/debian bookworm InRelease\n  Temporary failure resolving 'deb.example.invalid'\n", MIRROR);
    expect(f.cause).toBe('mirror');
    expect(f.message).toMatch(/Temporary failure resolving 'deb\.example\.invalid'$/);
  });

  test('not root', () => {
    const output = "dpkg: warning: failed to open configuration file '/root/.dpkg.cfg' for reading: Permission denied\nE: need to be root\n";
    const f = explainInstallFailure(output, MIRROR);
    expect(f.cause).toBe('not-root');
    expect(f.hint).toMatch(/as root/);
  });

  test('a signature apt cannot verify', () => {
    const output = [
      ...startup,
      'W: GPG error: http://deb.debian.org/debian bookworm InRelease: The following signatures couldn\'t be verified because the public key is not available: NO_PUBKEY 6ED0E7B82643E131 NO_PUBKEY F8D2585B8783D481',
      "E: The repository 'http://deb.debian.org/debian bookworm InRelease' is not signed.",
    ].join('\n');
    const f = explainInstallFailure(output, MIRROR);
    expect(f.cause).toBe('keyring');
    expect(f.hint).toMatch(/debian-archive-keyring/);
  });

  test('a pinned version the mirror no longer has', () => {
    const output = [
      ...startup,
      "E: Version '0.0-1' for 'sqlite3' was not found",
      'E: setup failed: E: apt-get -o Dir::Bin::dpkg=env --yes install -oAPT::Status-Fd=<$fd> -oDpkg::Use-Pty=false sqlite3=0.0-1 failed',
      'E: mmdebstrap failed to run',
    ].join('\n');
    const f = explainInstallFailure(output, MIRROR);
    expect(f.cause).toBe('version-gone');
    expect(f.message).toBe("The mirror lacks a package the twin pins: Version '0.0-1' for 'sqlite3' was not found");
    expect(f.hint).toMatch(/--update-lock/);
  });

  test('a full disk', () => {
    const output = [
      'dpkg: error processing archive /var/cache/apt/archives/libc6_2.36-9+deb12u13_i386.deb (--unpack):',
      " cannot copy extracted data for './usr/lib/i386-linux-gnu/libc.so.6' to '/usr/lib/i386-linux-gnu/libc.so.6.dpkg-new': failed to write (No space left on device)",
      'E: Sub-process /usr/bin/dpkg returned an error code (1)',
    ].join('\n');
    const f = explainInstallFailure(output, MIRROR);
    expect(f.cause).toBe('disk-full');
    expect(f.hint).toMatch(/TMPDIR/);
  });

  test('anything else shows mmdebstrap\'s last error lines', () => {
    const output = [...startup, 'I: installing remaining packages inside the chroot...', 'E: chrooted hook failed with exit code 256', 'E: mmdebstrap failed to run'].join('\n');
    const f = explainInstallFailure(output, MIRROR);
    expect(f.cause).toBe('unknown');
    expect(f.message).toBe('mmdebstrap failed:\nE: chrooted hook failed with exit code 256');
  });
});
