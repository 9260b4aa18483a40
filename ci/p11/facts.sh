#!/usr/bin/env bash
# The experiments behind ci/p11/README.md's facts table, re-runnable when an
# implementation changes: brings a fresh target up in a temporary directory,
# runs opensc's pkcs11-tool against it (each command a new process, so a
# C_Initialize .. C_Finalize of its own: the "power cycle" of a soft token),
# prints every command ("$ ...") and the lines it printed that matter (the
# CKR_* errors, the token flags), and takes the target down.
#
#   facts.sh softhsm|opencryptoki [--alg ecdsa|rsa]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target=${1:?usage: facts.sh softhsm|opencryptoki [--alg ecdsa|rsa]}
alg=ecdsa
[ "$target" = opencryptoki ] && alg=rsa
[ "${2:-}" = --alg ] && alg=${3:?}
T=$(mktemp -d /tmp/p11-facts-XXXXXX)
case $target in
  softhsm) "$HERE/softhsm.sh" up "$T" --alg "$alg" >/dev/null; RUN=(env "SOFTHSM2_CONF=$T/softhsm2.conf") ;;
  opencryptoki) "$HERE/opencryptoki.sh" up "$T" --alg "$alg" >/dev/null; RUN=("$HERE/opencryptoki.sh" exec "$T" --) ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
trap '"$HERE/$target.sh" down "$T"; rm -rf "$T"' EXIT
eval "$(grep '^TOKENRIG_P11_MODULE=' "$T/env")"
M=$TOKENRIG_P11_MODULE
cd "$T"

# t ARGS: pkcs11-tool ARGS, shown as run (module path abbreviated), with its
# CKR_* error or "rc=0", then the token flags.
t() {
  echo "\$ pkcs11-tool --module \$M $*"
  local out rc=0
  out=$("${RUN[@]}" pkcs11-tool --module "$M" "$@" 2>&1) || rc=$?
  echo "$out" | grep -E 'error:|CKR_|successfully|Verified' | sed 's/^/    /' || true
  echo "    rc=$rc; $("${RUN[@]}" pkcs11-tool --module "$M" -T 2>&1 | grep 'token flags' | sed 's/^ *//')"
}

echo "## $target ($alg key), $(date -u +%F)"
echo "### fresh token"
t -I
echo "### wrong user PIN, 12 times, then the right one"
for i in $(seq 12); do t --login --pin 99999999 -I; done
t --login --pin 12345678 -I
echo "### SO login + C_InitPIN (unblock), then the user PIN"
t --login --login-type so --so-pin 88888888 --init-pin --new-pin 12345678
t --login --pin 12345678 -I
echo "### C_SetPIN to 24681357, a new process (C_Finalize/C_Initialize) logs in with it; and back"
t --login --pin 12345678 --change-pin --new-pin 24681357
t --login --pin 12345678 -I
t --login --pin 24681357 -I
t --login --pin 24681357 --change-pin --new-pin 12345678
t --login --pin 12345678 -I
echo "### the PIN restored by SO login + C_InitPIN (where changing it back was refused), then the user PIN"
t --login --login-type so --so-pin 88888888 --init-pin --new-pin 12345678
t --login --pin 12345678 -I
echo "### signatures, verified by openssl against the certificate read from the token"
echo 'tokenrig p11 facts' >data
openssl dgst -sha256 -binary data >hash
(printf '3031300d060960864801650304020105000420' | xxd -r -p; cat hash) >digestinfo
t --read-object --type cert --id 01 --output-file cert.der
openssl x509 -inform der -in cert.der -pubkey -noout >pub.pem
verify() { echo "\$ openssl dgst -sha256 -verify pub.pem $* -signature sig data"; openssl dgst -sha256 -verify pub.pem "$@" -signature sig data 2>&1 | head -1 | sed 's/^/    /'; }
if [ "$alg" = ecdsa ]; then
  t --login --pin 12345678 --sign --mechanism ECDSA --id 01 --input-file hash --output-file sig --signature-format openssl
  verify
else
  t --login --pin 12345678 --sign --mechanism SHA256-RSA-PKCS --id 01 --input-file data --output-file sig
  [ -s sig ] && verify && rm -f sig
  t --login --pin 12345678 --sign --mechanism RSA-PKCS --id 01 --input-file digestinfo --output-file sig
  verify
fi
echo "### wrong SO PIN, 6 times (R/W session), then the right one"
for i in $(seq 6); do t --session-rw --login --login-type so --so-pin 99999999 -I; done
t --session-rw --login --login-type so --so-pin 88888888 -I
