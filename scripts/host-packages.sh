#!/usr/bin/env bash
# Installs the Debian host packages Whittle's builder and tests need, if any are missing. The list is
# images/host-tools.ts (every tool and file with its package; `npm run doctor` checks them), read through
# tsx, so run `npm ci` first. `--list` prints the list and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/tsx ]; then
  echo "scripts/host-packages.sh reads its package list from images/host-tools.ts through tsx: run npm ci first." >&2
  exit 1
fi
list=$(node_modules/.bin/tsx images/doctor.ts --packages)
mapfile -t packages <<<"$list"
if [ "${1:-}" = --list ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Whittle needs these Debian packages: ${missing[*]}" >&2
  echo "Install them as root:  apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "[host] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
