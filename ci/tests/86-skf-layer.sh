#!/usr/bin/env bash
# Issue 12, points 3, 4 and 7: the SKF layer (a vendor library in a child
# process of its own) through `tokenrig skf list`. On the SKF rig (an SM2
# main token, an RSA secondary, an ECDSA main token with 5 user and 3 SO
# tries) the REF-1 SKF library's inventory must match the vtokens (DEVINFO
# serials, PIN info, certificates as openssl reads them, the seal file) and
# cost no PIN try; quirks change the ABI as they say. The misbehaving test
# libraries (build/libskftest-*.so): a crash and a hang end the command with
# status 2 and a clear message within the timeout, leaving no process; a
# missing function is a "not exported" line; the seal is found by content
# in a file of any name.
. "$(dirname "$0")/lib.sh"
SKF=$B/libskf-ref1.so
rig_up "$ROOT/ci/tests/rigs/skf.ini"
T=$(mktemp -d); trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T"' EXIT
V=$TOKENRIG_VRIG_DIR

# --- the REF-1 library on the rig ------------------------------------------------------------
"$TR" skf list --library "$SKF" > "$T/list" 2> "$T/err"; rc=$?
sed 's/^/# /' "$T/list"
check_eq "skf list on the REF-1 library exits 0" "$rc:$(cat "$T/err")" "0:"
check_eq "it counts the library's functions" "$(head -n 1 "$T/list")" "library $SKF: 37 of 37 functions exported"
check_eq "three devices" "$(grep -c '^device "REF1-TRSKF0000000000[123]"$' "$T/list")" 3
# the block of one device
dev() { awk -v d="device \"REF1-TRSKF0000000000$1\"" '/^device /{on = ($0 == d)} on' "$T/list"; }
for i in 1 2 3; do
  slot=A$i
  check "$slot: present, DEVINFO serial TRSKF0000000000$i" \
    bash -c "grep -q '^  state present (1)$' <<<'$(dev $i)' && grep -q 'serial \"TRSKF0000000000$i\"$' <<<'$(dev $i)'"
  cn=$(openssl x509 -inform DER -in "$V/$slot.crt.der" -noout -subject | sed 's/.*CN = //')
  serial=$(openssl x509 -inform DER -in "$V/$slot.crt.der" -noout -serial | sed 's/^serial=//')
  end=$(date -u -d "$(openssl x509 -inform DER -in "$V/$slot.crt.der" -noout -enddate | sed 's/^notAfter=//')" '+%Y-%m-%d %H:%M:%SZ')
  check "$slot: the sign certificate as openssl reads it (CN $cn, serial $serial, notAfter $end)" \
    grep -q "^      sign certificate: subject \".*CN = $cn\", serial $serial, notAfter $end (valid)$" <<<"$(dev $i)"
done
check "A2: the encryption certificate too" grep -q '^      encryption certificate: subject ' <<<"$(dev 2)"
check "A3: no encryption certificate (SAR_CERTNOTFOUNTERR)" \
  grep -q '^      encryption certificate: SKF_ExportCertificate: SAR_CERTNOTFOUNTERR$' <<<"$(dev 3)"
check_eq "container types: ECC, RSA, ECC" "$(grep -o 'type [A-Z]* ([0-9])' "$T/list" | tr '\n' ';')" "type ECC (2);type RSA (1);type ECC (2);"
check "A1: user PIN 10 of 10, default" grep -q '^    user PIN: max 10, remaining 10, default yes$' <<<"$(dev 1)"
check "A3: user PIN 5 of 5, admin 3 left" \
  bash -c "grep -q '^    user PIN: max 5, remaining 5, default yes$' <<<'$(dev 3)' && grep -q '^    admin PIN: max 10, remaining 3, default no$' <<<'$(dev 3)'"
for i in 1 3; do
  check "A$i: the file SEAL, not readable without the user PIN: seal not determined" \
    bash -c "grep -q '^    file \"SEAL\": SKF_GetFileInfo: SAR_USER_NOT_LOGGED_IN$' <<<'$(dev $i)' && grep -q '^    seal: not determined (1 of 1 files not readable without a PIN)$' <<<'$(dev $i)'"
done
check "A2 (secondary): no file, no seal" grep -q '^    seal: none among 0 files$' <<<"$(dev 2)"

"$TR" skf list --library "$SKF" > "$T/list2" 2>&1
check "read-only: a second inventory is the same (no PIN try spent, nothing changed)" cmp "$T/list" "$T/list2"
"$TR" skf list --library "$SKF" --quirks devinfo=286,out_width=4 > "$T/list3" 2>&1; rc=$?
check_eq "--quirks devinfo=286,out_width=4: exit 0, DEVINFO without the buffer sizes" \
  "$rc:$(grep -c 'buffers:' "$T/list3"):$(grep -c '^  space: total 0, free 0$' "$T/list3")" "0:0:3"
check "  and the rest as without quirks" cmp <(grep -v '^  space:' "$T/list") <(grep -v '^  space:' "$T/list3")
out=$("$TR" skf list --library "$SKF" --quirks devinfo=300 2>&1); rc=$?
check_eq "a quirk out of range: exit 2" "$rc:$(grep -c 'devinfo=300' <<<"$out")" "2:1"

# --- libraries that misbehave -------------------------------------------------------------------
export SKF_TESTLIB_PIDFILE=$T/pid
gone() { local p; p=$(cat "$T/pid" 2>/dev/null) && [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; }
start=$(date +%s%N)
out=$("$TR" skf list --library "$B/libskftest-crash.so" 2>&1); rc=$?
check_eq "a library that crashes in SKF_EnumDev: exit 2, the signal named" \
  "$rc:$(tail -n 1 <<<"$out")" "2:tokenrig: the SKF library $B/libskftest-crash.so died in SKF_EnumDev: signal 11 (SIGSEGV)"
check "  its process is gone" gone
out=$(SKF_TESTLIB_FN=SKF_GetDevInfo "$TR" skf list --library "$B/libskftest-crash.so" 2>&1); rc=$?
check_eq "one that crashes in SKF_GetDevInfo: what came before is listed, then exit 2" \
  "$rc:$(grep -c '^  state present (1)$' <<<"$out"):$(tail -n 1 <<<"$out")" \
  "2:1:tokenrig: the SKF library $B/libskftest-crash.so died in SKF_GetDevInfo: signal 11 (SIGSEGV)"
start=$(date +%s%N)
out=$("$TR" skf list --library "$B/libskftest-hang.so" --timeout-ms 1000 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_eq "a library that hangs in SKF_EnumDev: exit 2 after the timeout" \
  "$rc:$(tail -n 1 <<<"$out")" "2:tokenrig: the SKF library $B/libskftest-hang.so did not answer SKF_EnumDev within 1000 ms: its process was killed"
check "  within 1000..5000 ms (took $ms)" test "$ms" -ge 1000 -a "$ms" -lt 5000
check "  its process is gone" gone
out=$("$TR" skf list --library "$B/libskftest-missing.so" 2>&1); rc=$?
check_eq "a library without SKF_GetPINInfo and SKF_EnumFiles: exit 0, not-exported lines" \
  "$rc:$(grep -c '^    user PIN: SKF_GetPINInfo: not exported$' <<<"$out"):$(grep -c '^    SKF_EnumFiles: not exported$' <<<"$out")" "0:1:1"
check "  its GBK label escaped, never raw" grep -q 'label "\\xB2\\xE2\\xCA\\xD4"' <<<"$out"
out=$(SKF_TESTLIB_FN=none SKF_TESTLIB_FILE="$V/A1.seal.der" "$TR" skf list --library "$B/libskftest-crash.so" 2>&1); rc=$?
check_eq "the seal found by content in a file named VENDOR_SEAL.bin" \
  "$rc:$(grep -c '^    seal: present in file "VENDOR_SEAL.bin": .* maker signature verifies$' <<<"$out")" "0:1"
out=$(SKF_TESTLIB_FN=none "$TR" skf list --library "$B/libskftest-crash.so" 2>&1)
check "a file that is no seal: none" grep -q '^    seal: none among 1 files$' <<<"$out"
out=$("$TR" skf list --library "$T/no-such-lib.so" 2>&1); rc=$?
check_eq "a library that does not load: exit 2, dlerror's words" \
  "$rc:$(grep -c 'does not load: .*No such file or directory' <<<"$out")" "2:1"
out=$("$TR" skf list 2>&1); rc=$?
check_eq "no --library: usage, exit 2" "$rc:$(grep -c '^usage: tokenrig skf list' <<<"$out")" "2:1"

finish
