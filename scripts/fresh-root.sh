#!/usr/bin/env bash
# The fresh-machine proof: bootstraps a new Debian 12 root (mmdebstrap minbase: what every Debian install
# has), puts the host's node and this project (read-only) into it, and runs scripts/host-packages.sh and
# `doctor --online` there, so CI fails when the install list misses anything the builder or the tests run,
# even on a machine that has it. Needs root (mmdebstrap --mode=root, chroot, mount); `.ci/run` calls it.
# The root is new each run; apt's downloads are kept in $WHITTLE_CACHE/fresh-root-apt.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/fresh-root.sh needs root: it bootstraps a Debian root with mmdebstrap --mode=root and chroots into it." >&2
  exit 1
fi
if [ ! -x "$repo/node_modules/.bin/tsx" ]; then
  echo "scripts/fresh-root.sh runs the doctor through tsx: run npm ci first." >&2
  exit 1
fi
started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started)) s"; }

# The mirror the builder would use (DEBIAN_MIRROR, else the host's apt sources): one reader, images/archive/mirror.ts.
mirror=$("$repo/node_modules/.bin/tsx" "$repo/images/doctor.ts" --mirror)
cache=${WHITTLE_CACHE:-$HOME/.cache/whittle}/fresh-root-apt
mkdir -p "$cache"
root=$(mktemp -d "${TMPDIR:-/tmp}/whittle-fresh-root.XXXXXX")
mounted=()

cleanup() {
  local status=$?
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" || umount -l "${mounted[i]}" || true; done
  # Never rm through a mount: a bound /dev or project would go with it.
  if grep -q " $root[/ ]" /proc/self/mountinfo; then
    echo "[fresh-root] left $root in place: something is still mounted inside it" >&2
  else
    rm -rf --one-file-system "$root"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so the EXIT trap unmounts on Ctrl-C and kill too
bind() { # bind SOURCE TARGET [mount options]
  mkdir -p "$2"
  mount --bind ${3:+-o "$3"} "$1" "$2"
  mounted+=("$2")
}

echo "[fresh-root] bootstrapping Debian bookworm minbase from $mirror into $root" >&2
# Keep apt's downloads between runs (mmdebstrap(1), EXAMPLES): copied in before apt runs, out before cleanup.
mmdebstrap --mode=root --variant=minbase --format=directory --quiet \
  --aptopt='Acquire::Languages "none"' \
  --skip=download/empty --skip=essential/unlink \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
  --setup-hook="sync-in '$cache' /var/cache/apt/archives" \
  --customize-hook="sync-out /var/cache/apt/archives '$cache'" \
  bookworm "$root" "deb $mirror bookworm main"
echo "[fresh-root] root ready after $(elapsed)" >&2

# A fresh Debian 12 machine as the README assumes it: Node.js given, the project cloned and `npm ci` run.
install -m 0755 "$(command -v node)" "$root/usr/local/bin/node"
bind "$repo" "$root/whittle" ro
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
bind /dev "$root/dev"
bind "$cache" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf"

env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 CI="${CI:-}")
for v in DEBIAN_MIRROR http_proxy https_proxy no_proxy; do [ -n "${!v:-}" ] && env+=("$v=${!v}"); done
status=0
chroot "$root" /usr/bin/env -i "${env[@]}" bash -c 'cd /whittle && bash scripts/host-packages.sh && node_modules/.bin/tsx images/doctor.ts --online' || status=$?
# Old versions leave the download cache (a point release replaces them).
chroot "$root" apt-get autoclean -q >/dev/null || true
if [ "$status" -eq 0 ]; then
  echo "[fresh-root] a fresh Debian 12 root has everything after scripts/host-packages.sh ($(elapsed))" >&2
else
  echo "[fresh-root] FAILED after $(elapsed): after scripts/host-packages.sh the fresh root still lacks what the table above marks (its packages come from images/host-tools.ts)" >&2
fi
exit "$status"
