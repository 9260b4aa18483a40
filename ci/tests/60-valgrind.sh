#!/usr/bin/env bash
# The integration run under valgrind: tokenrig itself (threads, PC/SC,
# reports, OpenSSL checks) must show no memory error and no definite leak.
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "valgrind missing (ci/deps.sh installs it)"; bad "valgrind available"; finish; exit 1; }
rig_up "$ROOT/rigs/virtual-4.ini"
T=$(mktemp -d /tmp/tr-vg.XXXXXX); trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T"' EXIT
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite)

# Under valgrind every APDU costs tokenrig ~30x its time: the signing rate
# measured is valgrind's, not the token's, so its threshold is lifted here.
"${VG[@]}" "$TR" run --rig "$RIG" --allow-destructive -D SIGN_MIN_RATE=1 --out "$T/run" --quiet > "$T/run.out" 2> "$T/run.err"; rc=$?
check "valgrind: full certification on 4 slots, no memory error (exit $rc)" test "$rc" -ne 99
check_eq "valgrind: the healthy batch passes" "$rc" 0
[ "$rc" = 0 ] || tail -20 "$T/run.err"
printf '00 A4 04 00 08 F0 54 4F 4B 52 49 47 01 00\n00 CA 01 00 00\nreset cold\n00 20 00 81\n' > "$T/s.txt"
"${VG[@]}" "$TR" script "$T/s.txt" --rig "$RIG" --out "$T/script" > /dev/null 2> "$T/script.err"; rc=$?
check_eq "valgrind: tokenrig script, no memory error" "$rc" 0
[ "$rc" = 0 ] || tail -20 "$T/script.err"

# Through an SKF library: the parent side of the SKF layer (the request and
# answer protocol, the slot session, the skf statement, the trace rows)
# under valgrind; the library's child process runs outside it.
"$TR" rig down --rig "$RIG" >/dev/null 2>&1
sed -n '1,/^; ---- one defect/p' "$ROOT/rigs/virtual-skf.ini" | grep -v '^; ---- one defect' > "$T/skf.ini"
"$TR" rig up --rig "$T/skf.ini" >/dev/null # outside valgrind, as the APDU rig above (its PKI is made by forked children)
"${VG[@]}" "$TR" run --rig "$T/skf.ini" --slots S1,S4 --allow-destructive -D SIGN_MIN_RATE=1 -D SIGN_COUNT=20 \
  --out "$T/skf" --quiet > "$T/skf.out" 2> "$T/skf.err"; rc=$?
check_eq "valgrind: certification through the SKF library (S1 sm2 main, S4 rsa secondary), no memory error, PASS" "$rc" 0
[ "$rc" = 0 ] || tail -20 "$T/skf.err"
"$TR" rig down --rig "$T/skf.ini" >/dev/null 2>&1

# Through a PKCS#11 module (SoftHSM2, ci/p11): the parent side of the
# PKCS#11 layer, the module restarted as the power cycle, under valgrind.
if out=$(B=$B "$ROOT/ci/p11/softhsm.sh" up "$T/hsm" --slots 1 --role main --alg ecdsa 2>&1); then
  eval "$(grep -E '^(SOFTHSM2_CONF|TOKENRIG_P11_MODULE|TOKENRIG_P11_CA_ROOT|TOKENRIG_P11_SEAL_MAKER_ROOT)=' <<<"$out")"
  { p11_rig_head vg-p11 "$TOKENRIG_P11_MODULE"; p11_slot_section H1 "$(grep '^# token ' <<<"$out")"; } > "$T/p11.ini"
  SOFTHSM2_CONF=$SOFTHSM2_CONF "${VG[@]}" "$TR" run --rig "$T/p11.ini" --allow-destructive -D SIGN_MIN_RATE=1 \
    -D SIGN_COUNT=20 --out "$T/p11" --quiet > "$T/p11.out" 2> "$T/p11.err"; rc=$?
  check_eq "valgrind: certification through SoftHSM2's PKCS#11 module, no memory error, FAIL (it never locks)" "$rc" 1
  check_eq "... pin.no-lockout alone" "$(awk -F, 'NR > 1 {print $6 "|" $7}' "$T/p11/summary.csv")" "FAIL|pin.no-lockout"
  [ "$rc" = 1 ] || tail -20 "$T/p11.err"
  "$ROOT/ci/p11/softhsm.sh" down "$T/hsm" >/dev/null
else
  bad "softhsm up: $out"
fi
finish
