#!/usr/bin/env bash
# Install the Debian packages tokenrig needs, only when missing.
# Idempotent and quiet when everything is there.
set -euo pipefail
PKGS=(build-essential pkg-config clang libclang-rt-14-dev
      libpcsclite-dev pcscd libssl-dev openssl check libusb-1.0-0-dev libcsv-dev libinih-dev
      vsmartcard-vpcd gnuplot-nox umockdev libumockdev-dev libxml2-utils chromium-headless-shell
      pcsc-tools opensc python3 valgrind util-linux procps iproute2 time xxd bc pmccabe
      softhsm2 opencryptoki libp11-kit-dev
      libsqlite3-dev sqlite3 libpq-dev postgresql-15)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# opencryptoki's pkcsslotd gives its socket and shared memory to the pkcs11
# group and fails without it (ci/p11/opencryptoki.sh); Debian's package
# makes it, a host where it was removed gets it back.
need_group=0
getent group pkcs11 >/dev/null || need_group=1
[ ${#missing[@]} -eq 0 ] && [ $need_group -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  [ $need_group -eq 1 ] && echo "tokenrig: missing group pkcs11 (as root: groupadd -r pkcs11)" >&2
  echo "tokenrig: missing Debian packages: ${missing[*]}" >&2
  echo "          run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 2
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "tokenrig: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
getent group pkcs11 >/dev/null || { echo "tokenrig: groupadd -r pkcs11" >&2; groupadd -r pkcs11; }
# opencryptoki's package enables a system pkcsslotd service: the CI never
# uses it (ci/p11/opencryptoki.sh runs a private one) and never stops it.
# pcscd's package may start a system daemon through its own hooks: we never
# use it (our rig runs a private pcscd) and never stop it either.
# postgresql-15's package makes a system cluster and may start it: the CI
# never uses it (ci/tests/92-db.sh starts a throwaway server of its own on
# a private socket) and never stops it.
