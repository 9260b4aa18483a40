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
finish
