#!/usr/bin/env bash
# Issue 10, part 8: the rig's pcscd dies in the middle of a run. A lost PC/SC
# service is not a token defect: the run restarts its pcscd, each slot
# reconnects, gets its token back to factory state from the journal and
# resumes the suite at the test that was interrupted — and the run ends
# with the verdicts of an undisturbed run. The report says it happened.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/tr-pcscd.XXXXXX)
export TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-pcscd
RIG=$(nv_crash_rig "$T")
trap nv_crash_cleanup EXIT
SUITES="identity default-pin pin-lockout recognition"


"$TR" run --rig "$RIG" --allow-destructive --quiet --out "$T/base" $SUITES > /dev/null 2>&1; rc=$?
check_eq "baseline run exits 0" "$rc" 0
verdicts "$T/base/results.csv" > "$T/base.v"

# kill the rig's pcscd (SIGKILL) once the run is in each suite (its first
# trace row): during the PIN tests, the lockout's power cycles, recognition
for at in identity default-pin pin-lockout recognition; do
  out=$T/k-$at
  "$TR" run --rig "$RIG" --allow-destructive --out "$out" $SUITES > "$out.stdout" 2> "$out.stderr" &
  p=$!
  wait_for_test "$out/trace.csv" "$at"
  pid=$(awk -F' = ' '/^pcscd_pid/ {print $2}' "$TOKENRIG_VRIG_DIR/state.ini" 2>/dev/null)
  if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then
    wait $p; rc=$?
    baseline_ok "pcscd killed in $at: the run ends with the baseline verdicts" "$rc" "$out"
    check "pcscd killed in $at: the run restarted it" grep -q 'pcscd is back (restart 1)' "$out.stderr"
    check "pcscd killed in $at: JUnit says a slot resumed" grep -q 'resumed after a pcscd restart' "$out/junit.xml"
    check "pcscd killed in $at: no rig.port-not-switched or enum.* verdict" \
      test "$(grep -c 'rig.port-not-switched\|,enum\.' "$out/results.csv")" = 0
  else
    wait $p
    bad "pcscd killed in $at: no pcscd to kill (the run ended before?)"
  fi
done

# a pcscd that cannot come back: every remaining test is an error of the
# lost service, never a token defect (a rig whose reader.conf is gone)
out=$T/gone
"$TR" run --rig "$RIG" --allow-destructive --out "$out" $SUITES > "$out.stdout" 2> "$out.stderr" &
p=$!
wait_for_test "$out/trace.csv" default-pin
pid=$(awk -F' = ' '/^pcscd_pid/ {print $2}' "$TOKENRIG_VRIG_DIR/state.ini" 2>/dev/null)
mv "$TOKENRIG_VRIG_DIR/conf" "$TOKENRIG_VRIG_DIR/conf.away"
kill -9 "$pid"
wait $p; rc=$?
check_eq "pcscd that cannot come back: exit 2 (rig error, no token verdict)" "$rc" 2
check "pcscd that cannot come back: rows say rig.pcsc-lost" grep -q ',rig.pcsc-lost,' "$out/results.csv"
check "pcscd that cannot come back: no token failed" test "$(grep -c ',fail,' "$out/results.csv")" = 0
finish
