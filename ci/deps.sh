#!/usr/bin/env bash
# Install the Debian packages tokenrig needs, only when missing.
# Idempotent and quiet when everything is there.
set -euo pipefail
PKGS=(build-essential pkg-config clang libclang-rt-14-dev
      libpcsclite-dev pcscd libssl-dev openssl check libusb-1.0-0-dev libcsv-dev libinih-dev
      vsmartcard-vpcd gnuplot-nox umockdev libumockdev-dev libxml2-utils
      pcsc-tools opensc softhsm2 libp11-kit-dev python3 valgrind util-linux procps iproute2 time xxd bc pmccabe)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "tokenrig: missing Debian packages: ${missing[*]}" >&2
  echo "          run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 2
fi
echo "tokenrig: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# pcscd's package may start a system daemon through its own hooks: we never
# use it (our rig runs a private pcscd) and never stop it either.
