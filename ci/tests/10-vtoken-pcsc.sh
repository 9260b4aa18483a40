#!/usr/bin/env bash
# Issue 2: the virtual token through a real (private) pcscd, checked by
# independent tools: openssl verifies every signature from the raw bytes,
# openssl asn1parse reads the seal, the PIN counter survives a virtual
# power cycle and a kill -9 of the token process.
. "$(dirname "$0")/lib.sh"
rig_up "$ROOT/rigs/virtual-4.ini"
T=$(mktemp -d); trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T"' EXIT

AID=F0544F4B52494701
SEL="00A4040008${AID}00"
PIN=$(pin16 12345678)
WRONG=$(pin16 11111111)
ATR=3B8A8001544F4B454E52494730310D

# read_file READER FID [VERIFY] -> hex of the file (READ BINARY in 256-byte chunks until 6282/6B00)
read_file() {
  local reader=$1 fid=$2 pre=() cmds=() i
  [ "${3:-}" = verify ] && pre=("0020008110$PIN")
  for i in $(seq 0 200); do cmds+=("00B0$(printf '%04X' $((i * 256)))00"); done
  "$APDU" "$reader" "$SEL" "${pre[@]}" "00A4020C02$fid" "${cmds[@]}" 2>/dev/null | tail -n +$((3 + ${#pre[@]})) |
    awk '{ if ($2 == "9000" || $2 == "6282") printf "%s", $1; if ($2 != "9000") exit }'
}

for i in 0 1 2 3; do
  R=$(vreader virtual-4 $i)
  out=$("$APDU" "$R" "$SEL" "0020008110$PIN" "00200081" "0020008110$WRONG" "0020008110$PIN" "00CA010200")
  check_eq "slot $i ATR" "$(echo "$out" | sed -n 1p | awk '{print $2}')" "$ATR"
  check_eq "slot $i SELECT" "$(echo "$out" | sed -n 2p | awk '{print $2}')" 9000
  check_eq "slot $i VERIFY 12345678" "$(echo "$out" | sed -n 3p | awk '{print $2}')" 9000
  check_eq "slot $i verified state" "$(echo "$out" | sed -n 4p | awk '{print $2}')" 9000
  check_eq "slot $i wrong PIN" "$(echo "$out" | sed -n 5p | awk '{print $2}')" 63C9
  check_eq "slot $i right PIN restores" "$(echo "$out" | sed -n 6p | awk '{print $2}')" 9000
  check_eq "slot $i PIN info (max, left, default, SO left)" "$(echo "$out" | sed -n 7p)" "0A0A010A 9000"
done

# --- signatures, verified by the openssl command line from raw bytes -------------
SM2_CURVE="FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E9332C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
rs_to_der() { # r||s hex -> DER ECDSA-Sig-Value file
  printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${1:0:64}" "${1:64:64}" > "$T/sig.cnf"
  openssl asn1parse -genconf "$T/sig.cnf" -out "$2" -noout
}
sign_and_verify() { # slot-index alg
  local R; R=$(vreader virtual-4 "$1")
  local cert; cert=$(read_file "$R" C001)
  echo "$cert" | xxd -r -p > "$T/cert.der"
  check "slot $1 certificate parses" openssl x509 -inform DER -in "$T/cert.der" -noout
  openssl x509 -inform DER -in "$T/cert.der" -pubkey -noout > "$T/pub.pem"
  printf 'tokenrig integration message %s' "$2" > "$T/msg"
  local input
  case $2 in
    sm2)
      local xy; xy=$(openssl pkey -pubin -in "$T/pub.pem" -outform DER | tail -c 64 | xxd -p | tr -d '\n')
      local z; z=$(echo "0080$(printf 1234567812345678 | xxd -p)${SM2_CURVE}${xy}" | xxd -r -p | openssl dgst -sm3 -binary | xxd -p | tr -d '\n')
      input=$( (echo "$z" | xxd -r -p; cat "$T/msg") | openssl dgst -sm3 -binary | xxd -p | tr -d '\n');;
    ecdsa) input=$(openssl dgst -sha256 -binary "$T/msg" | xxd -p | tr -d '\n');;
    rsa) input=3031300d060960864801650304020105000420$(openssl dgst -sha256 -binary "$T/msg" | xxd -p | tr -d '\n');;
  esac
  local lc; lc=$(printf '%02X' $((${#input} / 2)))
  local out; out=$("$APDU" "$R" reset "$SEL" "002A9E9A${lc}${input}00" "0020008110$PIN" "002A9E9A${lc}${input}00" | tail -n 3)
  check_eq "slot $1 $2: signing refused before VERIFY" "$(echo "$out" | head -n 1 | awk '{print $2}')" 6982
  local sig; sig=$(echo "$out" | tail -n 1 | awk '{print $1}')
  check_eq "slot $1 $2: signature SW" "$(echo "$out" | tail -n 1 | awk '{print $2}')" 9000
  case $2 in
    sm2) rs_to_der "$sig" "$T/sig.der"
         check "slot $1 sm2 signature verifies (openssl dgst -sm3 -sigopt distid:1234567812345678)" \
           openssl dgst -sm3 -verify "$T/pub.pem" -sigopt distid:1234567812345678 -signature "$T/sig.der" "$T/msg";;
    ecdsa) rs_to_der "$sig" "$T/sig.der"
         check "slot $1 ecdsa signature verifies (openssl dgst -sha256)" \
           openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig.der" "$T/msg";;
    rsa) echo "$sig" | xxd -r -p > "$T/sig.bin"
         check "slot $1 rsa signature verifies (openssl dgst -sha256)" \
           openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig.bin" "$T/msg";;
  esac
  printf 'another message' > "$T/msg"
  case $2 in
    sm2) check "slot $1 sm2 signature fails for another message" bash -c "! openssl dgst -sm3 -verify $T/pub.pem -sigopt distid:1234567812345678 -signature $T/sig.der $T/msg >/dev/null 2>&1";;
    *) ;;
  esac
}
sign_and_verify 0 sm2
sign_and_verify 2 ecdsa
sign_and_verify 3 rsa

# --- the seal: main key after VERIFY only; secondary has none -------------------------
R0=$(vreader virtual-4 0); R1=$(vreader virtual-4 1)
check_eq "seal needs the PIN" "$("$APDU" "$R0" reset "$SEL" "00A4020C025E01" "00B0000000" | last_sw)" 6982
read_file "$R0" 5E01 verify | xxd -r -p > "$T/seal.der"
check "seal read after VERIFY is non-trivial ($(stat -c %s "$T/seal.der") bytes)" test "$(stat -c %s "$T/seal.der")" -gt 1000
check "openssl asn1parse parses the seal" openssl asn1parse -inform DER -in "$T/seal.der" -i -noout
check "the seal carries its header id ES" bash -c "openssl asn1parse -inform DER -in $T/seal.der | grep -q ':ES$'"
check_eq "secondary key has no seal" "$("$APDU" "$R1" "$SEL" "0020008110$PIN" "00A4020C025E01" | last_sw)" 6A82

# --- the counter survives a virtual power cycle and a kill -9 ------------------------
check_eq "wrong PIN before the power cycle" "$("$APDU" "$R1" "$SEL" "0020008110$WRONG" | last_sw)" 63C9
check "virtual power cycle of A2" "$TR" power cycle --rig "$RIG" --slot A2
check_eq "counter after the power cycle" "$("$APDU" "$R1" "$SEL" "00200081" | last_sw)" 63C9
check_eq "PIN info after the cycle (9 tries left)" "$("$APDU" "$R1" "$SEL" "00CA010200" | tail -n 1)" "0A09010A 9000"
check_eq "verified state cleared by the cycle" "$("$APDU" "$R1" "$SEL" "00A4020C02C001" "00200081" | last_sw)" 63C9
pid=$("$TR" rig status --rig "$RIG" | sed -n 's/^ *A2 .* pid \([0-9][0-9]*\) .*/\1/p')
check_eq "wrong PIN before kill -9" "$("$APDU" "$R1" "$SEL" "0020008110$WRONG" | last_sw)" 63C8
if [ -n "$pid" ] && [ "$pid" -gt 1 ]; then kill -9 "$pid"; else bad "no PID for A2's vtoken"; fi
check "respawn A2 after kill -9" "$TR" rig respawn --rig "$RIG" --slot A2
check_eq "counter after kill -9 and restart" "$("$APDU" "$R1" "$SEL" "00200081" | last_sw)" 63C8
check_eq "right PIN restores the counter" "$("$APDU" "$R1" "$SEL" "0020008110$PIN" "00200081" | last_sw)" 9000

finish
