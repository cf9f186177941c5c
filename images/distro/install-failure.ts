// Why an mmdebstrap run failed, read from its output, so the hint names what actually went wrong
// (a fresh machine once got "check the mirror" for a missing arch-test).

/** A known cause: what failed, and what the user can do about it. */
export interface InstallFailure {
  cause: 'foreign-arch' | 'not-root' | 'mirror' | 'keyring' | 'version-gone' | 'disk-full' | 'unknown';
  message: string;
  hint: string;
}

/** Lines shown when the cause is not recognised: mmdebstrap's last errors say more than a guess would. */
const UNKNOWN_LINES = 8;

/** Known causes, the first that matches wins (order: the ones that make the others follow come first). */
const CAUSES: { cause: InstallFailure['cause']; pattern: RegExp; explain: (line: string, mirror: string) => Omit<InstallFailure, 'cause'> }[] = [
  {
    cause: 'foreign-arch',
    // mmdebstrap's own checks before it installs anything for another architecture than the host's.
    pattern: /^E: (install arch-test for foreign architecture support|\S+ can neither be executed natively nor via qemu user emulation|arch-test succeeded without emu)/,
    explain: (line) => ({
      message: `mmdebstrap cannot run i386 programs on this host: ${line.slice(3)}`,
      hint: line.includes('arch-test for foreign')
        ? 'apt-get install arch-test (scripts/host-packages.sh installs it; npm run doctor checks every host tool)'
        : 'An amd64 kernel runs i386 programs natively unless IA32 emulation is off; otherwise install qemu-user-static and binfmt-support.',
    }),
  },
  {
    cause: 'not-root',
    pattern: /^E: need to be root/,
    explain: () => ({ message: 'mmdebstrap --mode=root was not run as root', hint: 'Run the twin build as root, e.g. `sudo npm run images -- build debian`.' }),
  },
  {
    cause: 'disk-full',
    pattern: /No space left on device|You don't have enough free space/,
    explain: (line) => ({
      message: `The disk filled up during the install: ${line.trim()}`,
      hint: 'The twin needs ~2 GB in the temporary folder (TMPDIR) and ~200 MB in the cache (WHITTLE_CACHE); free space there.',
    }),
  },
  {
    cause: 'keyring',
    pattern: /GPG error|NO_PUBKEY|is not signed|EXPKEYSIG|signatures were invalid|keyring .* does not exist/,
    explain: (line) => ({
      message: `apt could not verify the mirror's signature: ${line.trim()}`,
      hint: 'apt-get install debian-archive-keyring (a current one: old keyrings lack the newer archive keys); a mirror that rewrites Release files cannot be used.',
    }),
  },
  {
    cause: 'version-gone',
    pattern: /^E: Version '[^']+' for '[^']+' was not found|^E: Unable to locate package/,
    explain: (line, mirror) => ({
      message: `The mirror lacks a package the twin pins: ${line.slice(3)}`,
      hint: `A point release replaced the locked version on ${mirror}: re-resolve the appliance locks (npm run images -- build <recipes...> --update-lock), then build the twin again; or use a snapshot mirror (DEBIAN_MIRROR).`,
    }),
  },
  {
    cause: 'mirror',
    pattern: /^(E|W): Failed to fetch|Could not (resolve|connect)|Temporary failure resolving|did not find any indices/,
    explain: (line, mirror) => ({
      message: `mmdebstrap could not download from the mirror ${mirror}: ${line.replace(/^(E|W): /, '').trim()}`,
      hint: 'Check the network and that the mirror serves bookworm i386 (set DEBIAN_MIRROR to a Debian mirror base URL).',
    }),
  },
];

/** The cause of a failed mmdebstrap run, from its output (stderr, or stdout and stderr together). */
export function explainInstallFailure(output: string, mirror: string): InstallFailure {
  const lines = output.split(/\r?\n|\r/).filter((l) => l.trim());
  for (const { cause, pattern, explain } of CAUSES) {
    const line = lines.find((l) => pattern.test(l));
    if (line) return { cause, ...explain(line, mirror) };
  }
  const errors = lines.filter((l) => /^E: /.test(l) && !/^E: mmdebstrap failed to run$/.test(l));
  const shown = (errors.length ? errors : lines).slice(-UNKNOWN_LINES);
  return {
    cause: 'unknown',
    message: `mmdebstrap failed:\n${shown.join('\n')}`,
    hint: 'Read the mmdebstrap lines above the failure (they come from apt, dpkg and the maintainer scripts).',
  };
}
