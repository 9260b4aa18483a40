#!/usr/bin/env bash
# Issue 14: a virtual rig of more than 16 slots is one batch. 20 virtual
# tokens (ci/tests/rigs/many-20.ini), four of them defective, behind two
# private pcscds (one serves at most 16 readers); one `tokenrig run`
# certifies all of them (suites/DEFAULT, --allow-destructive) — one child
# process per pcscd, their rows written by the run into one report
# directory — with the fault table's verdicts (faultcheck.py). Then a run
# stopped by SIGTERM in the middle of the destructive suites gives every
# token back in factory state, and the commands that take one slot or every
# slot (list, recover, cycle, script) reach the tokens behind either pcscd.
. "$(dirname "$0")/lib.sh"
rig_up "$ROOT/ci/tests/rigs/many-20.ini"
T=$(mktemp -d /tmp/tr-many.XXXXXX); trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T"' EXIT
state=$TOKENRIG_VRIG_DIR/state.ini
ini() { awk -v s="[$1]" -v k="$2" '$0 == s { f = 1; next } /^\[/ { f = 0 } f && $1 == k { print $3 }' "$state"; }

# --- the rig: two pcscds, slots 17-20 behind the second -----------------------------------
p0=$(ini rig pcscd_pid) p1=$(ini "pcscd 1" pid)
check "two private pcscds, both running (PIDs $p0 $p1)" \
  bash -c "test -n '$p1' && test '$p0' != '$p1' && kill -0 $p0 && kill -0 $p1"
check_eq "slots M01-M16 behind pcscd 0, M17-M20 behind pcscd 1" \
  "$(for i in $(seq -w 1 20); do printf '%s' "$(ini "slot M$i" pcscd)"; done)" "00000000000000001111"
env_out=$("$TR" rig env --rig "$RIG")
check "rig env: export lines for the first pcscd, a comment naming the second" \
  bash -c "grep -q '^export PCSCLITE_CSOCK_NAME=' <<<'$env_out' && grep -q '^# slots M17 to M20 are behind pcscd 1: ' <<<'$env_out'"

# --- one run certifies all 20 --------------------------------------------------------------
t0=$(date +%s.%N)
"$TR" run --rig "$RIG" --allow-destructive --out "$T/r" > "$T/out" 2> "$T/err"; rc=$?
echo "# 20 tokens, suites/DEFAULT: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
check_eq "exit status 1 (defective tokens failed)" "$rc" 1
check_eq "the verdict table has every token" "$(grep -cE '^M[0-9]{2} +TRM' "$T/out")" 20
check "the yield: 16/20" grep -q 'batch yield: 16/20 tokens passed (80.0%)' "$T/out"
check_eq "summary.csv: one row per token" "$(($(wc -l < "$T/r/summary.csv") - 1))" 20
check_eq "summary.csv: the verdicts" \
  "$(awk -F, 'NR > 1 && $6 != "PASS" {print $3 ":" $6 ":" $7}' "$T/r/summary.csv" | tr '\n' ' ')" \
  "M05:FAIL:pin.no-lockout M12:FAIL:seal.present-on-secondary M17:FAIL:sign.bad-signature M19:FAIL:cert.expired "
# the fault table's checker; the faults no token of this rig carries are 40-faults' business
checker_lines "$(python3 "$ROOT/ci/tests/faultcheck.py" apdu "$ROOT" "$RIG" "$T/r/results.csv" |
                 grep -v 'no token of the rigs has it' | grep -v '^info|')"
check "junit.xml: valid, one testsuite per token" bash -c \
  "xmllint --noout --schema '$ROOT/harness/tests/junit-10.xsd' '$T/r/junit.xml' 2>/dev/null && test \$(grep -c '<testsuite ' '$T/r/junit.xml') = 20"
check "every CSV file holds whole rows only, of the tokens of both pcscds" python3 - "$T/r" <<'PY'
import csv, sys
for name in ('results.csv', 'trace.csv', 'cycles.csv', 'samples.csv', 'provenance.csv'):
    rows = list(csv.reader(open(f'{sys.argv[1]}/{name}', newline='')))
    assert all(len(r) == len(rows[0]) for r in rows), name
    slots = {r[rows[0].index('slot')] for r in rows[1:]}
    want = {f'M{i:02d}' for i in range(1, 21)} if name != 'samples.csv' else None
    assert want is None or want <= slots, (name, sorted(want - slots))
PY
check "provenance: every token's variables, with the second pcscd's tokens too" \
  test "$(grep -c ',var.SLOT,' "$T/r/provenance.csv")" = 20
check "progress lines from both pcscds' processes on stderr" \
  bash -c "grep -q '^\[M01\] identity / ' '$T/err' && grep -q '^\[M20\] identity / ' '$T/err'"

# --- SIGTERM in the middle: the children stop in order, the tokens are given back --------------
"$TR" run --rig "$RIG" --allow-destructive --out "$T/stop" default-pin pin-lockout > "$T/stop.out" 2> "$T/stop.err" &
pid=$!
for _ in $(seq 1 400); do
  grep -q '^\[M1[7-9]\] pin-lockout / ' "$T/stop.err" 2>/dev/null && break
  sleep 0.05
done
kill -TERM "$pid"
wait "$pid"; rc=$?
check_eq "SIGTERM: exit status 2" "$rc" 2
check "SIGTERM: said interrupted" grep -q 'interrupted; finished rows are in' "$T/stop.err"
check "SIGTERM: junit.xml written" test -s "$T/stop/junit.xml"
status=$("$TR" rig status --rig "$RIG")
check_eq "SIGTERM: every token back at its factory PIN state (10 tries, default flag)" \
  "$(grep -c 'user_tries=10 so_tries=10 max_tries=10 default_flag=1' <<<"$status")" 20
out=$("$TR" recover --rig "$RIG" 2>&1); rc=$?
check_eq "recover afterwards: nothing left in the journal (exit 0)" "$rc" 0
check "recover: 0 tokens left mid-way ($(head -n 1 <<<"$out"))" grep -q ': 0 token(s) left mid-way' <<<"$out"

# --- one slot, every slot ------------------------------------------------------------------
out=$("$TR" list --rig "$RIG" 2>&1); rc=$?
check_eq "tokenrig list: exit status" "$rc" 0
check_eq "tokenrig list: every token answers, behind either pcscd" \
  "$(grep -c 'the token says: serial TRM00000000000[0-2][0-9]' <<<"$out")" 20
"$TR" cycle --rig "$RIG" --slot M18 --count 2 --out "$T/c" > /dev/null 2>&1; rc=$?
check_eq "tokenrig cycle on M18 (second pcscd): exit status" "$rc" 0
"$TR" run --rig "$RIG" --slots M16,M17 --out "$T/two" identity > /dev/null 2>&1; rc=$?
check_eq "run --slots M16,M17 (one slot behind each pcscd): exit status" "$rc" 0
check_eq "run --slots M16,M17: both tokens PASS" "$(grep -c ',PASS,' "$T/two/summary.csv")" 2
"$TR" run --rig "$RIG" --slots M20 --out "$T/one" identity > /dev/null 2>&1; rc=$?
check_eq "run --slots M20 (the second pcscd only, in this process): exit status" "$rc" 0
finish
