#!/usr/bin/env bash
# Issue 12, point 6: the REF-1 SKF library (build/libskf-ref1.so, a GM/T 0016
# library speaking REF-1 APDUs over PC/SC) on a private rig: an SM2 main
# token, an RSA secondary token, an ECDSA main token in T=0 style. skfcheck
# drives it through dlopen + dlsym (device list, DEVINFO, PINs, lockout and
# unblock, log out, seal, certificates, digests, signatures, decryption when
# the vtokens carry an encryption pair, handles, power off under an open
# handle); the openssl command line then checks what it exported on its own:
# certificates, seals and signatures.
. "$(dirname "$0")/lib.sh"
SKF=$B/libskf-ref1.so
CHK=$B/skfcheck
rig_up "$ROOT/ci/tests/rigs/skf.ini"
T=$(mktemp -d); trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T"' EXIT
V=$TOKENRIG_VRIG_DIR

# --- the library as a vendor's: SKF_* exported, standing alone -------------------------
check_eq "the library exports SKF_* and nothing else" \
  "$(nm -D --defined-only "$SKF" | awk '$2 ~ /[TDBRW]/ {print $3}' | grep -vc '^SKF_')" 0
# (a sanitizer build adds its runtimes)
check_eq "it links only libc, pcsclite and libcrypto" \
  "$(ldd "$SKF" | awk '{print $1}' | grep -Evc '^(linux-vdso\.so\.1|libpcsclite\.so\.1|libcrypto\.so\.3|libc\.so\.6|/lib64/ld-linux-x86-64\.so\.2|lib(asan|ubsan|tsan|stdc\+\+|gcc_s|m)\.so\.[0-9]+)$')" 0
check_eq "it needs nothing of tokenrig's" "$(nm -D "$SKF" | grep -c ' tr_')" 0
check_eq "skfcheck resolves every function of skf_abi.h" "$("$CHK" "$SKF" symbols | tail -n 1)" "37 of 37 functions resolved"
NOSKF=$(ldd "$SKF" | awk '$1 == "libpcsclite.so.1" {print $3}')
out=$("$CHK" "$NOSKF" symbols); rc=$?
check_eq "a library without SKF functions: skfcheck exits 1" "$rc" 1
check_eq "  naming each missing function" "$(grep -c '^missing SKF_' <<<"$out")" 37
out=$("$CHK" "$NOSKF" devices); rc=$?
check_eq "  and calls none of them (no crash)" "$rc:$(tail -n 1 <<<"$out")" "1:FAIL - $NOSKF lacks 37 SKF functions (listed above)"

# --- devices ----------------------------------------------------------------------------
devs=$("$CHK" "$SKF" devices)
echo "$devs" | sed 's/^/# /'
check_eq "three devices" "$(grep -c '^REF1-' <<<"$devs")" 3
for i in 1 2 3; do
  check "REF1-TRSKF0000000000$i: DEVINFO serial, manufacturer, present" \
    grep -q "^REF1-TRSKF0000000000$i serial=TRSKF0000000000$i manufacturer=tokenrig REF-1 .* state=1$" <<<"$devs"
done

# --- a token another program keeps busy ------------------------------------------------------
# pcsc-lite lets a connection to a token someone keeps in back-to-back
# transactions wait with no bound (measured: 16.8 s, as long as they went
# on); the library probes the tokens of other readers in the background and
# a listing takes what answered within 1.5 s (fixtures/skf/ref1_probe.h).
# A1 power-cycled first: a new insertion, that no cached probe answers for.
R1=$(vreader skf 0)
check "A1 power-cycled (tokenrig cycle: off seen, on, first APDU)" \
  "$TR" cycle --rig "$RIG" --slot A1 --count 1 --no-db --out "$T/cycle"
"$B/apdu" --busy 30 "$R1" 00CA010000 > "$T/busy" & bpid=$!
for _ in $(seq 1 100); do grep -q '^holding' "$T/busy" && break; sleep 0.1; done
check "A1 held in back-to-back transactions by another program" grep -q '^holding' "$T/busy"
t0=$(date +%s%N); devs=$("$CHK" "$SKF" devices); ms=$((($(date +%s%N) - t0) / 1000000))
check "a token kept busy by another program does not keep the listing waiting (${ms} ms, limit 5000)" \
  test "$ms" -lt 5000
check "  A1 was still held when the listing ended" kill -0 "$bpid"
check_eq "  the other tokens listed" "$(grep -c '^REF1-TRSKF0000000000[23] ' <<<"$devs")" 2
kill "$bpid"; wait "$bpid"
check_eq "  once it is free, all three are listed again" "$("$CHK" "$SKF" devices | grep -c '^REF1-')" 3

# --- each token through the library --------------------------------------------------------
# token SLOT ALG ROLE [skfcheck options...]: skfcheck's own ok/FAIL lines count here
token() {
  local slot=$1 alg=$2 role=$3; shift 3
  local enc=() out rc
  [ -f "$V/$slot.enc.crt.der" ] && enc=(--enc-cert "$V/$slot.enc.crt.der")
  mkdir -p "$T/$slot"
  out=$("$CHK" "$SKF" token --serial "TRSKF0000000000${slot#A}" --alg "$alg" --role "$role" \
        --cert "$V/$slot.crt.der" "${enc[@]}" --out "$T/$slot" \
        --off "$TR power off --rig $RIG --slot $slot >/dev/null" --on "$TR power on --rig $RIG --slot $slot >/dev/null" \
        "$@" 2>&1); rc=$?
  echo "$out" | grep -v '^skfcheck '
  local p f; p=$(grep -c '^ok   - ' <<<"$out"); f=$(grep -c '^FAIL - ' <<<"$out")
  pass=$((pass + p)); fail=$((fail + f))
  [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || bad "skfcheck $slot exited $rc without saying why"
  [ "$p" -gt 100 ] || bad "skfcheck $slot ran only $p checks"
}
token A1 sm2 main
token A2 rsa secondary
REF1_SKF_SO_MAX_TRIES=3 token A3 ecdsa main --tries 5 --so-tries 3

# --- what the library exported, checked by the openssl command line -----------------------------
for slot in A1 A2 A3; do
  check "$slot: the exported certificate is the vtoken's (cmp)" cmp "$T/$slot/cert.der" "$V/$slot.crt.der"
  check_eq "$slot: openssl x509 reads the same subject" \
    "$(openssl x509 -inform DER -in "$T/$slot/cert.der" -noout -subject 2>&1)" \
    "$(openssl x509 -inform DER -in "$V/$slot.crt.der" -noout -subject 2>&1)"
  openssl x509 -inform DER -in "$T/$slot/cert.der" -pubkey -noout > "$T/$slot/pub.pem"
done
for slot in A1 A3; do
  check "$slot: the seal read through SKF_ReadFile parses (openssl asn1parse)" \
    openssl asn1parse -inform DER -in "$T/$slot/seal.der" -i -noout
  check "$slot: it is the vtoken's seal (cmp)" cmp "$T/$slot/seal.der" "$V/$slot.seal.der"
done
check "A2 (secondary): no seal came out" test ! -e "$T/A2/seal.der"

verify() { openssl dgst "$@" 2>&1 | grep -q '^Verified OK$'; }
check "A1: the SM2 signature (DigestInit(pub, 1234567812345678) + Digest + ECCSignData) verifies (openssl dgst -sm3)" \
  verify -sm3 -verify "$T/A1/pub.pem" -sigopt distid:1234567812345678 -signature "$T/A1/sig.der" "$T/A1/msg"
printf 'another message' > "$T/other"
check "A1: and fails for another message" \
  bash -c "! openssl dgst -sm3 -verify $T/A1/pub.pem -sigopt distid:1234567812345678 -signature $T/A1/sig.der $T/other 2>&1 | grep -q '^Verified OK$'"
check "A2: the RSA signature (SHA-256 DigestInfo, RSASignData) verifies (openssl dgst -sha256)" \
  verify -sha256 -verify "$T/A2/pub.pem" -signature "$T/A2/sig.bin" "$T/A2/msg"
check "A3: the ECDSA signature verifies (openssl dgst -sha256)" \
  verify -sha256 -verify "$T/A3/pub.pem" -signature "$T/A3/sig.der" "$T/A3/msg"

# --- device events: a token leaving and coming back; a wait cancelled ---------------------------
"$CHK" "$SKF" wait --count 2 --timeout-ms 20000 > "$T/events" 2>&1 &
wpid=$!
for _ in $(seq 50); do grep -q '^waiting$' "$T/events" && break; sleep 0.1; done
sleep 1 # the first SKF_WaitForDevEvent takes the state it finds as its baseline
"$TR" power off --rig "$RIG" --slot A2 >/dev/null
"$TR" power on --rig "$RIG" --slot A2 >/dev/null
wait "$wpid"; rc=$?
check_eq "SKF_WaitForDevEvent: A2 removed (2), then inserted (1)" \
  "$rc:$(grep '^event' "$T/events" | tr '\n' ';')" "0:event 2 REF1-TRSKF00000000002;event 1 REF1-TRSKF00000000002;"
out=$("$CHK" "$SKF" wait --count 1 --timeout-ms 500); rc=$?
check_eq "SKF_CancelWaitForDevEvent ends a wait with nothing happening" "$rc:$(tail -n 1 <<<"$out")" "3:cancelled SAR_NOT_EVENTERR"

finish
