#!/usr/bin/env bash
# The PKCS#11 targets of the CI (ci/p11): SoftHSM2 (two tokens, main ecdsa +
# secondary rsa) and opencryptoki's software token (main rsa, in its private
# namespace) brought up in temporary directories; every token checked with
# opensc's pkcs11-tool to be provisioned as ci/p11/lib.sh says (key pair and
# certificate sharing CKA_ID 01, the seal on main keys only, the certificate
# issued for the token's serial), a signature made with the user PIN verified
# by openssl against the certificate read back from the token; then both
# taken down by PID, leaving no process and nothing changed outside the
# temporary directories.
. "$(dirname "$0")/lib.sh"
P11=$ROOT/ci/p11
export B
T=$(mktemp -d /tmp/tr-it-$$-p11-XXXXXX)
OCK_PID=
cleanup() {
  "$P11/opencryptoki.sh" down "$T/ock" >/dev/null 2>&1 || true
  "$P11/softhsm.sh" down "$T/softhsm" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT

# What the targets could change on the host if they were not hermetic.
host_state() {
  find /etc/opencryptoki /var/lib/opencryptoki /run/lock/opencryptoki /etc/softhsm /var/lib/softhsm \
    -printf '%p %s %m %T@\n' 2>/dev/null | sort
  ls -d /var/log/opencryptoki /run/opencryptoki /run/pkcsslotd.* /dev/shm/*opencryptoki* 2>/dev/null || true
}
before=$(host_state)

# tool RUNNER... -- ARGS: pkcs11-tool ARGS through RUNNER (an array name).
tool() { local -n run=$1; shift; "${run[@]}" pkcs11-tool --module "$MODULE" "$@"; }

# check_token RUNNER_ARRAY "# token ..." LINE: the token's objects, seal and a
# verified signature. SIGN_MECH: how this implementation signs (see README).
check_token() {
  local runner=$1 line=$2 label serial role alg cert seal w objs
  label=$(field label "$line") serial=$(field serial "$line") role=$(field role "$line")
  alg=$(field alg "$line") cert=$(field cert "$line") seal=$(field seal "$line")
  w=$T/work-$label
  mkdir -p "$w"
  local tok=(--token-label "$label")
  objs=$(tool "$runner" "${tok[@]}" --login --pin 12345678 -O 2>&1)
  check_eq "$label: private keys labelled sign, ID 01" "$(grep -A2 '^Private Key Object' <<<"$objs" | grep -c -E 'label: +sign$|ID: +01$')" 2
  check_eq "$label: public keys labelled sign, ID 01" "$(grep -A4 '^Public Key Object' <<<"$objs" | grep -c -E 'label: +sign$|ID: +01$')" 2
  check_eq "$label: certificates (with the encryption one on an rsa token)" "$(grep -c '^Certificate Object' <<<"$objs")" \
    "$([ "$alg" = rsa ] && echo 2 || echo 1)"
  tool "$runner" "${tok[@]}" --read-object --type cert --id 01 --output-file "$w/cert.der" >/dev/null 2>&1
  check "$label: the certificate read back is the one mkpki issued" cmp -s "$w/cert.der" "$cert"
  check_eq "$label: the certificate's CN is the token's serial" \
    "$(openssl x509 -inform der -in "$w/cert.der" -noout -subject -nameopt multiline | sed -n 's/ *commonName *= *//p')" "$serial"
  check_eq "$label: serial in CK_TOKEN_INFO" \
    "$(tool "$runner" -L 2>/dev/null | grep -A6 "token label *: $label\$" | sed -n 's/.*serial num *: *//p')" "$serial"
  if [ "$role" = main ]; then
    check_eq "$label (main): no data object listed without a login (the seal is private)" \
      "$(tool "$runner" "${tok[@]}" -O --type data 2>&1 | grep -c "label: *'seal'")" 0
    check_eq "$label (main): one data object labelled seal after a login" \
      "$(tool "$runner" "${tok[@]}" --login --pin 12345678 -O --type data 2>&1 | grep -c "label: *'seal'")" 1
    tool "$runner" "${tok[@]}" --login --pin 12345678 --read-object --type data --label seal \
      --output-file "$w/seal.der" >/dev/null 2>&1
    check "$label (main): the seal's CKA_VALUE is mkpki's seal" cmp -s "$w/seal.der" "$seal"
  else
    check_eq "$label (secondary): no seal" "$(grep -c "label: *'seal'" <<<"$objs")" 0
  fi
  echo "tokenrig p11 target $label $$" >"$w/data"
  openssl dgst -sha256 -binary "$w/data" >"$w/hash"
  openssl x509 -inform der -in "$w/cert.der" -pubkey -noout >"$w/pub.pem"
  local mech=$SIGN_MECH in=$w/data fmt=()
  [ "$alg" = ecdsa ] && mech=ECDSA in=$w/hash fmt=(--signature-format openssl)
  if [ "$mech" = RSA-PKCS ]; then # host-side SHA-256 DigestInfo
    { printf '3031300d060960864801650304020105000420' | xxd -r -p; cat "$w/hash"; } >"$w/digestinfo"
    in=$w/digestinfo
  fi
  rm -f "$w/sig"
  tool "$runner" "${tok[@]}" --login --pin 12345678 --sign --mechanism "$mech" --id 01 \
    --input-file "$in" --output-file "$w/sig" "${fmt[@]}" >"$w/sign.log" 2>&1
  check "$label: $mech signature with the user PIN verifies against the certificate" \
    openssl dgst -sha256 -verify "$w/pub.pem" -signature "$w/sig" "$w/data"
  echo x >>"$w/data"
  if openssl dgst -sha256 -verify "$w/pub.pem" -signature "$w/sig" "$w/data" >/dev/null 2>&1; then
    bad "$label: the signature also verified over other data"
  else
    ok "$label: the signature does not verify over other data"
  fi
}

# --- SoftHSM2
MODULE=/usr/lib/softhsm/libsofthsm2.so
if out=$("$P11/softhsm.sh" up "$T/softhsm" --slots 2 --role main,secondary --alg ecdsa,rsa 2>&1); then
  ok "softhsm: up (2 tokens)"
  eval "$(grep -E '^(SOFTHSM2_CONF|TOKENRIG_P11_MODULE)=' <<<"$out")"
  MODULE=$TOKENRIG_P11_MODULE
  check_eq "softhsm: the private configuration is in the temporary directory" "$SOFTHSM2_CONF" "$T/softhsm/softhsm2.conf"
  SH_RUN=(env "SOFTHSM2_CONF=$SOFTHSM2_CONF")
  SIGN_MECH=SHA256-RSA-PKCS
  check_eq "softhsm: tokens described" "$(grep -c '^# token ' <<<"$out")" 2
  while read -r line; do check_token SH_RUN "$line"; done < <(grep '^# token ' <<<"$out")
  check_eq "softhsm: the system token directory is not used" \
    "$(env -u SOFTHSM2_CONF pkcs11-tool --module "$MODULE" -L 2>/dev/null | grep -c 'token label *: softhsm-')" 0
  "$P11/softhsm.sh" down "$T/softhsm"
  check "softhsm: down removes the tokens" test ! -e "$T/softhsm/tokens"
else
  bad "softhsm: up: $out"
fi

# --- opencryptoki
if [ "$(id -u)" -ne 0 ]; then
  echo "# opencryptoki: skipped (a mount namespace and the pkcs11 group need root)"
elif out=$("$P11/opencryptoki.sh" up "$T/ock" --role main --alg rsa 2>&1); then
  ok "opencryptoki: up"
  eval "$(grep -E '^(TOKENRIG_P11_MODULE|TOKENRIG_P11_NS_PID)=' <<<"$out")"
  MODULE=$TOKENRIG_P11_MODULE OCK_PID=$TOKENRIG_P11_NS_PID
  check_eq "opencryptoki: pkcsslotd runs under the recorded PID" "$(cat "/proc/$OCK_PID/comm" 2>/dev/null)" pkcsslotd
  check "opencryptoki: pkcsslotd is in a mount namespace of its own" \
    test "$(readlink "/proc/$OCK_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)"
  check "opencryptoki: its socket is in the temporary directory" test -S "$T/ock/run/pkcsslotd.socket" -o -S "$T/ock/run/opencryptoki/pkcsslotd.socket"
  OCK_RUN=("$P11/opencryptoki.sh" exec "$T/ock" --)
  SIGN_MECH=RSA-PKCS
  while read -r line; do check_token OCK_RUN "$line"; done < <(grep '^# token ' <<<"$out")
  # a fact of ci/p11/README.md the certification relies on: no CKM_SHA256_RSA_PKCS
  check "opencryptoki: SHA256-RSA-PKCS refused with CKR_MECHANISM_INVALID (ci/p11/README.md)" \
    grep -q CKR_MECHANISM_INVALID <("${OCK_RUN[@]}" pkcs11-tool --module "$MODULE" --login --pin 12345678 \
      --sign --mechanism SHA256-RSA-PKCS --id 01 --input-file "$T/work-ock-sw/data" --output-file /dev/null 2>&1)
  "$P11/opencryptoki.sh" down "$T/ock"
  gone=1
  if [ -r "/proc/$OCK_PID/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$OCK_PID/status"; then gone=0; fi
  check_eq "opencryptoki: down stopped pkcsslotd $OCK_PID" "$gone" 1
  check "opencryptoki: exec refuses once the daemon is down" \
    eval "! \"$P11/opencryptoki.sh\" exec \"$T/ock\" -- true"
else
  bad "opencryptoki: up: $out"
fi

rm -rf "$T"
check_eq "nothing outside the temporary directories changed" "$(host_state)" "$before"
check "the temporary directory is gone" test ! -e "$T"
finish
