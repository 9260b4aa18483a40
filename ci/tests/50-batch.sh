#!/usr/bin/env bash
# Issue 6: a batch where one token goes mute, one disappears and one's
# process is killed mid-suite: the healthy token's results are complete and
# correct, each lost token ends with its own error; manifest mismatches;
# exit codes; Ctrl-C keeps every finished row and writes JUnit.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/tr-batch.XXXXXX)
export TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-batch
trap 'rm -rf "$T"' EXIT
SUITE=$ROOT/ci/tests/suites/batch.tsuite
RIG=$ROOT/ci/tests/rigs/batch.ini
XSD=$ROOT/harness/tests/junit-10.xsd

# csv_rows FILE SLOT -> "test verdict classification" lines of that slot's verdict rows
csv_rows() { python3 - "$1" "$2" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    if r['slot'] == sys.argv[2] and not r['metric']:
        print(r['test'], r['verdict'], r['classification'] or '-', sep='|')
PY
}

# every row complete: a manifest with an empty not_after is refused (25-failclosed.sh)
printf 'serial,role,org,not_after\nBATCH00000000001,main,Example,2030-12-31\nBATCH00000000002,main,Example,2030-12-31\nBATCH00000000003,main,Example,2030-12-31\nNOSUCHTOKEN00001,secondary,Gone Ltd.,2030-12-31\n' > "$T/manifest.csv"

# --- mute, drop, kill -9 in one batch -------------------------------------------------
"$TR" run --rig "$RIG" --manifest "$T/manifest.csv" --out "$T/r1" "$SUITE" > "$T/out1" 2> "$T/err1" &
run=$!
# kill A4's token once its loop is under way (its PID is in the rig's state file)
for _ in $(seq 1 200); do
  n=$(grep -c ",A4," "$T/r1/trace.csv" 2>/dev/null)
  [ "${n:-0}" -gt 200 ] && break
  sleep 0.05
done
pid=$(awk '/^\[slot A4\]/ {s=1} s && /^pid = / {print $3; exit}' "$TOKENRIG_VRIG_DIR/state.ini")
if [ -n "$pid" ] && [ "$pid" -gt 1 ]; then kill -9 "$pid"; ok "killed A4's token (pid $pid) mid-suite"; else bad "no PID for A4"; fi
wait $run; rc=$?
check_eq "exit status: a token failed (A4 is not in the manifest)" "$rc" 1
check_eq "A1 complete and correct" "$(csv_rows "$T/r1/results.csv" A1 | tr '\n' ' ')" "in manifest|pass|- select|pass|- loop|pass|- "
check "A2 ends io.mute" grep -q '|error|io.mute' <(csv_rows "$T/r1/results.csv" A2)
check_eq "A2 (mute) still lists every test" "$(csv_rows "$T/r1/results.csv" A2 | cut -d'|' -f1 | sort | tr '\n' ' ')" "in manifest loop select "
check "A3 ends io.removed" grep -q '|error|io.removed' <(csv_rows "$T/r1/results.csv" A3)
check "A4 (killed) ends with an error" grep -q '|error|' <(csv_rows "$T/r1/results.csv" A4)
check_eq "A4 is not in the manifest" "$(csv_rows "$T/r1/results.csv" A4 | grep '^in manifest')" "in manifest|fail|manifest.unknown-token"
check "the manifest entry without a token is reported" grep -q 'manifest.no-token' "$T/r1/results.csv"
check "summary.csv has a verdict per token" test "$(grep -c '^' "$T/r1/summary.csv")" -ge 5
check "junit.xml is valid against junit-10.xsd" xmllint --noout --schema "$XSD" "$T/r1/junit.xml"
check "the verdict table is printed" grep -q 'batch yield' "$T/out1"

# --- exit codes -----------------------------------------------------------------------
printf 'test "t" {\n  00 A4 04 00 08 ${AID} 00 expect 9000\n  00 20 00 81 expect 9000 classify pin.demo\n}\n' > "$T/fail.tsuite"
"$TR" run --rig "$RIG" --slots A1 --out "$T/r2" --quiet "$T/fail.tsuite" > /dev/null 2>&1
check_eq "exit status when a token fails" "$?" 1
printf 'test "t" {\n  00 A4 04 00 08 ${AID} 00 expect 9000\n}\n' > "$T/pass.tsuite"
"$TR" run --rig "$RIG" --slots A1 --out "$T/r3" --quiet "$T/pass.tsuite" > /dev/null 2>&1
check_eq "exit status when every token passes" "$?" 0
printf 'test "t" {\n  00 A4 04 00 08 ${AID} 00 expect 9000\n  expect 90ZZ\n}\n' > "$T/bad.tsuite"
err=$("$TR" run --rig "$RIG" --slots A1 --out "$T/r4" "$T/bad.tsuite" 2>&1 >/dev/null); rc=$?
check_eq "exit status of a suite with a syntax error" "$rc" 2
check "the syntax error names file:line:col ($err)" grep -q "bad.tsuite:3:[0-9]" <<<"$err"
printf '[rig]\nname = x\n[slot A1]\nrole = boss\n' > "$T/bad.ini"
err=$("$TR" run --rig "$T/bad.ini" "$T/pass.tsuite" 2>&1 >/dev/null); rc=$?
check_eq "exit status of a bad rig file" "$rc" 2
check "the rig error names file:line ($err)" grep -q "bad.ini:4:" <<<"$err"
{ printf '[rig]\nname = big\n'; for i in $(seq 1 17); do printf '[slot S%d]\nserial = BIG%013d\n' "$i" "$i"; done; } > "$T/big.ini"
# one pcscd serves at most 16 readers: a rig of 17 has two, and is still one
# batch (issue 14; ci/tests/94-many-slots.sh has the full proof)
"$TR" run --rig "$T/big.ini" --out "$T/big" "$T/pass.tsuite" > /dev/null 2>&1; rc=$?
check_eq "a virtual rig of 17 slots (two pcscds): one run, exit status 0" "$rc" 0
check_eq "a virtual rig of 17 slots: every token passed, in one summary" \
  "$(grep -c ',PASS,' "$T/big/summary.csv" 2>/dev/null)" 17
"$TR" run --no-such-option > /dev/null 2>&1
check_eq "exit status of a usage error" "$?" 2

# --- tokenrig script on a mute token does not hang either -----------------------------------
printf 'repeat 100 {\n  00 A4 04 00 08 F0 54 4F 4B 52 49 47 01 00\n}\n' > "$T/one.txt"
start=$(date +%s)
timeout 60 "$TR" script "$T/one.txt" --rig "$RIG" --slots A2 --out "$T/s" -D LOOPS=1 > /dev/null 2> "$T/s.err"; rc=$?
check_eq "script on a token that goes mute: exit status 2" "$rc" 2
check "script on a token that goes mute: io.mute reported" grep -q 'io.mute' "$T/s.err"
check "script on a token that goes mute: ends within seconds" test $(( $(date +%s) - start )) -lt 30

# --- Ctrl-C keeps every finished row and writes JUnit ------------------------------------
"$TR" run --rig "$RIG" --slots A1 --out "$T/r5" --quiet -D LOOPS=100000 "$SUITE" > /dev/null 2>&1 &
run=$!
for _ in $(seq 1 200); do
  n=$(grep -c ",A1," "$T/r5/trace.csv" 2>/dev/null); [ "${n:-0}" -gt 100 ] && break
  sleep 0.05
done
kill -INT $run; wait $run; rc=$?
check_eq "exit status after SIGINT" "$rc" 2
check "the finished test's row survived SIGINT" grep -q ',select,pass,' "$T/r5/results.csv"
check "junit.xml written after SIGINT and valid" xmllint --noout --schema "$XSD" "$T/r5/junit.xml"
check "the rig was taken down after SIGINT" bash -c "! test -e $TOKENRIG_VRIG_DIR/state.ini"

finish
