#!/usr/bin/env bash
# Issue 13, points 1, 4 and 5: the PKCS#11 layer (a module in a child
# process of its own) through `tokenrig p11 list`. SoftHSM2, hermetic: a
# private SOFTHSM2_CONF and token directory in a temp dir, a token made by
# softhsm2-util and a certificate (build/pki's ecdsa-valid) imported with
# pkcs11-tool; the listing must show the token's CK_TOKEN_INFO and flags,
# its mechanisms and the certificate as openssl reads it, print no PIN and
# leave the token's PIN state alone. The module by its p11-kit name
# (softhsm2) too. The misbehaving test modules (build/libp11test-*.so): a
# crash and a hang end the command with status 2 and a clear message within
# the timeout, leaving no process; a missing module is status 2.
. "$(dirname "$0")/lib.sh"
HSM=/usr/lib/softhsm/libsofthsm2.so
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" > "$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf
softhsm2-util --init-token --free --label T --pin 12345678 --so-pin 88888888 > "$T/init.log" 2>&1
check_eq "softhsm2-util made the token" "$?" 0
CERT=$B/pki/ecdsa-valid.crt.der
pkcs11-tool --module "$HSM" --token-label T --login --pin 12345678 --write-object "$CERT" --type cert \
  --id 01 --label sign > "$T/import.log" 2>&1
check_eq "pkcs11-tool imported the certificate" "$?" 0

# --- the listing --------------------------------------------------------------------------
"$TR" p11 list --module "$HSM" > "$T/list" 2> "$T/err"; rc=$?
sed 's/^/# /' "$T/list"
check_eq "p11 list on SoftHSM2 exits 0" "$rc:$(cat "$T/err")" "0:"
check "the module's CK_INFO" grep -q "^module $HSM: cryptoki 2\.[0-9]*, manufacturer \"SoftHSM\"" "$T/list"
check "the token: label T, SoftHSM project, model SoftHSM v2" \
  grep -q '^  token: label "T", manufacturer "SoftHSM project", model "SoftHSM v2", serial "[0-9a-f]\{16\}"$' "$T/list"
check "its flags decoded" grep -q '^    flags 0x[0-9A-F]*: RNG|LOGIN_REQUIRED|USER_PIN_INITIALIZED|RESTORE_KEY_NOT_NEEDED|TOKEN_INITIALIZED$' "$T/list"
check "PIN lengths 4..255" grep -q '^    PIN length 4\.\.255,' "$T/list"
# SoftHSM2's next free slot: a token not initialized, its SO PIN marked
# locked and to be changed, no session possible
check "the free slot's token is not initialized" \
  grep -q '^    flags 0x[0-9A-F]*: RNG|LOGIN_REQUIRED|RESTORE_KEY_NOT_NEEDED|SO_PIN_LOCKED|SO_PIN_TO_BE_CHANGED$' "$T/list"
check "and refuses a session" grep -q '^  public objects: C_OpenSession: CKR_TOKEN_NOT_RECOGNIZED$' "$T/list"
check "mechanisms: CKM_ECDSA with its flags" grep -q '^    CKM_ECDSA: key [0-9]*\.\.[0-9]*, .*SIGN.*VERIFY' "$T/list"
check "mechanisms: CKM_SHA256_RSA_PKCS" grep -q '^    CKM_SHA256_RSA_PKCS: key ' "$T/list"
check_eq "one public object on the token" "$(grep -c '^    object [0-9]*: CKO_CERTIFICATE, label "sign", id 01$' "$T/list")" 1
cn=$(openssl x509 -inform DER -in "$CERT" -noout -subject | sed 's/.*CN = //')
serial=$(openssl x509 -inform DER -in "$CERT" -noout -serial | sed 's/^serial=//')
end=$(date -u -d "$(openssl x509 -inform DER -in "$CERT" -noout -enddate | sed 's/^notAfter=//')" '+%Y-%m-%d %H:%M:%SZ')
check "the certificate as openssl reads it (CN $cn, serial $serial, notAfter $end)" \
  grep -q "^      subject \".*CN = $cn\", serial $serial, notAfter $end (valid)$" "$T/list"
check "no PIN printed" bash -c "! grep -q -e 12345678 -e 88888888 '$T/list'"
# listing cost no PIN try: the user PIN still logs in
pkcs11-tool --module "$HSM" --token-label T --login --pin 12345678 --list-objects > "$T/after.log" 2>&1
check_eq "the user PIN still works after the listing" "$?" 0
token_t=$(awk '/^slot /{n++} n == 1' "$T/list")
check "token T: no COUNT_LOW, FINAL_TRY or LOCKED flag" bash -c "! grep -q -e PIN_COUNT_LOW -e PIN_LOCKED -e FINAL_TRY <<<'$token_t'"

# --- a p11-kit module name ----------------------------------------------------------------
if [ -f /usr/share/p11-kit/modules/softhsm2.module ]; then
  "$TR" p11 list --module softhsm2 > "$T/named" 2>&1; rc=$?
  check_eq "--module softhsm2 (the p11-kit name) exits 0" "$rc" 0
  check "and loads the same file" grep -q '^module /usr/lib/.*libsofthsm2\.so: ' "$T/named"
  check_eq "and lists the same token" "$(grep -c '^  token: label "T"' "$T/named")" 1
else
  bad "/usr/share/p11-kit/modules/softhsm2.module missing (Debian softhsm2)"
fi
"$TR" p11 list --module no-such-module > "$T/out" 2> "$T/err"; rc=$?
check_eq "an unknown module name: status 2" "$rc" 2
check "and the message says so" grep -q "no p11-kit module named 'no-such-module'" "$T/err"

# --- misbehaving modules --------------------------------------------------------------------
hosts_before=$(pgrep -c -u "$(id -u)" -f '^[^ ]*tokenrig-p11host ' || true)
P11_TESTMOD_FN=C_GetTokenInfo "$TR" p11 list --module "$B/libp11test-crash.so" > "$T/out" 2> "$T/err"; rc=$?
check_eq "a module crashing in C_GetTokenInfo: status 2" "$rc" 2
check "the message names the signal and the function" grep -q 'died in C_GetTokenInfo: signal 11 (SIGSEGV)' "$T/err"
start=$(date +%s%N)
P11_TESTMOD_FN=C_GetMechanismList "$TR" p11 list --module "$B/libp11test-hang.so" --timeout-ms 500 > "$T/out" 2> "$T/err"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_eq "a module hanging in C_GetMechanismList: status 2" "$rc" 2
check "the message says it did not answer within 500 ms" grep -q 'did not answer C_GetMechanismList within 500 ms' "$T/err"
check "within a bounded time ($ms ms)" test "$ms" -lt 5000
hosts_after=$(pgrep -c -u "$(id -u)" -f '^[^ ]*tokenrig-p11host ' || true)
check_eq "no module process left behind" "$hosts_after" "$hosts_before"
"$TR" p11 list --module /nonexistent/libnope.so > "$T/out" 2> "$T/err"; rc=$?
check_eq "a missing module file: status 2" "$rc" 2
finish
