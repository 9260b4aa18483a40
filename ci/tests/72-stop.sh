#!/usr/bin/env bash
# Issue 10 (2, stale rigs), the audit's follow-up: the orderly stop holds
# from the start of `tokenrig run` to its end, and `tokenrig rig up` clears
# what a dead run left.
#  - SIGTERM while the run brings its rig up: the run stops before it
#    touches a token (every test a `cancelled` row, no APDU in trace.csv),
#    writes JUnit and the summary, takes the rig down, releases its lease,
#    exits 2.
#  - A run SIGKILLed mid-way leaves its rig and its lease; `tokenrig rig up`
#    takes the dead run's rig down, brings it up again and clears the lease
#    (saying so): the next run finds a healthy rig (no "left by a dead
#    process"), passes, and leaves the user's rig up.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/tr-stop.XXXXXX)
export TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-stop
RIG=$ROOT/ci/tests/rigs/crash.ini
LEASE=$TOKENRIG_VRIG_DIR.lease
trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T" "$LEASE"' EXIT

# --- a signal while the rig comes up -----------------------------------------------------
"$TR" run --rig "$RIG" --allow-destructive --out "$T/up" identity default-pin > "$T/up.out" 2> "$T/up.err" &
p=$!
# the rig's directory appears when the bring-up starts (PKI, pcscd and the
# tokens take over a second after it)
for _ in $(seq 1 500); do [ -d "$TOKENRIG_VRIG_DIR" ] && break; sleep 0.01; done
check "the run started bringing the rig up" test -d "$TOKENRIG_VRIG_DIR"
kill -TERM $p
wait $p; rc=$?
check_eq "SIGTERM during the rig's bring-up: exit status" "$rc" 2
check "it says no token was touched ($(grep -m1 stopped "$T/up.err"))" \
  grep -q 'stopped by signal 15 before the tests started: no token was touched' "$T/up.err"
check "junit.xml and summary.csv are written" test -s "$T/up/junit.xml" -a -s "$T/up/summary.csv"
check "every test of both tokens is a cancelled row" python3 - "$T/up/results.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
assert len(rows) > 2 and {r['slot'] for r in rows} == {'A1', 'A2'}, rows
assert all(r['verdict'] == 'error' and r['classification'] == 'cancelled' for r in rows), rows
PY
check_eq "no APDU was sent (trace.csv has its header only)" "$(wc -l < "$T/up/trace.csv")" 1
check "the verdict table is printed" grep -qE '^A1 +CRASH00000000001 .* ERROR ' "$T/up.out"
check "the rig was taken down" test ! -e "$TOKENRIG_VRIG_DIR/state.ini"
check "the lease was released" test ! -e "$LEASE"

# --- rig up after a run that died ----------------------------------------------------------
"$TR" run --rig "$RIG" --allow-destructive --out "$T/k" identity default-pin pin-lockout > /dev/null 2>&1 &
p=$!
wait_for_test "$T/k/trace.csv" default-pin 1000
kill -KILL $p
wait $p 2>/dev/null
check "the killed run left its lease" grep -q "^PID $p," "$LEASE"
out=$("$TR" rig up --rig "$RIG" 2>&1); rc=$?
check_eq "rig up on the dead run's rig: exit status" "$rc" 0
check "rig up takes the dead run's rig down (${out:0:300})" \
  grep -q "was left by a dead process (its owner, PID $p, is gone): taking it down" <<<"$out"
check "rig up clears the dead run's lease" grep -q "the run that used it (PID $p, .*) died: its lease is cleared" <<<"$out"
check "no lease is left" test ! -e "$LEASE"
"$TR" run --rig "$RIG" --out "$T/next" identity > "$T/next.out" 2> "$T/next.err"; rc=$?
check_eq "the next run passes" "$rc" 0
check "the next run finds a healthy rig (no stale-rig recovery): $(grep -m1 dead "$T/next.err")" \
  bash -c "! grep -q 'dead process\|died' '$T/next.err'"
check "the rig that rig up brought up stays up after the run" test -e "$TOKENRIG_VRIG_DIR/state.ini"
out=$("$TR" rig up --rig "$RIG" 2>&1); rc=$?
check_eq "rig up on a healthy rig that is up: refused" "$rc" 2
check "... saying it is up (${out:0:200})" grep -q 'a virtual rig is already up' <<<"$out"
finish
