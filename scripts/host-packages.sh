#!/usr/bin/env bash
# Installs the Debian host packages Whittle's builder and tests need, if any are missing.
# Kernel build: gcc make flex bison bc libelf-dev lz4 xz-utils. Debian twin: mmdebstrap e2fsprogs
# debian-archive-keyring. Browser tests: chromium (driven by playwright-core).
set -euo pipefail
packages=(gcc make flex bison bc libelf-dev lz4 xz-utils mmdebstrap arch-test e2fsprogs debian-archive-keyring chromium fonts-dejavu-core fonts-liberation)
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
