#!/usr/bin/env bash
# Issue 3, "done when": tokenrig script runs a plain scriptor file; tokenrig
# run with a small suite on a 4-slot virtual rig writes every report, the
# JUnit validates against junit-10.xsd, results.csv reads back with Python's
# csv module, PINs never reach a report, a syntax error exits 2 with
# file:line:col.
. "$(dirname "$0")/lib.sh"
rig_up "$ROOT/rigs/virtual-4.ini"
T=$(mktemp -d /tmp/tr-harness.XXXXXX); trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T"' EXIT
XSD=$ROOT/harness/tests/junit-10.xsd

# --- a plain scriptor script ----------------------------------------------------------
out=$("$TR" script "$ROOT/suites/examples/scriptor-select.txt" --rig "$RIG" --out "$T/s" 2>&1); rc=$?
check_eq "scriptor script: exit status" "$rc" 0
check "scriptor script: answers printed like scriptor (> command, < answer)" grep -q '^< .*9000$' <<<"$out"
check_eq "scriptor script: one trace row per APDU" "$(($(wc -l < "$T/s/trace.csv") - 1))" 6
reader=$("$TR" rig status --rig "$RIG" | awk '$1 == "A3" {print $2, $3, $4, $5, $6}')
out=$("$TR" script "$ROOT/suites/examples/scriptor-select.txt" --reader "$reader" --out "$T/s2" 2>&1); rc=$?
check_eq "scriptor script on a named reader ($reader): exit status" "$rc" 0
check "scriptor script on a named reader: trace names the reader" grep -q "$reader" "$T/s2/results.csv"

# --- a suite on 4 slots ------------------------------------------------------------------
# --allow-destructive: basic.tsuite has a destructive test, and without it
# the tokens are INCOMPLETE (exit 2; ci/tests/25-failclosed.sh)
"$TR" run --rig "$RIG" --allow-destructive --out "$T/r" "$ROOT/suites/examples/basic.tsuite" > "$T/out" 2> "$T/err"; rc=$?
check_eq "run basic.tsuite on 4 slots: exit status" "$rc" 0
for f in results.csv trace.csv samples.csv cycles.csv junit.xml summary.csv provenance.csv cycles-summary.csv; do
  check "run writes $f" test -s "$T/r/$f"
done
check "junit.xml validates against junit-10.xsd" xmllint --noout --schema "$XSD" "$T/r/junit.xml"
check_eq "junit.xml has one testsuite per slot" "$(grep -c '<testsuite ' "$T/r/junit.xml")" 4
check "results.csv reads back with Python's csv module, one verdict row per slot x test" python3 - "$T/r/results.csv" <<'PY'
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
verdicts = [r for r in rows if not r['metric']]
per_slot = collections.Counter(r['slot'] for r in verdicts)
assert set(per_slot) == {'A1', 'A2', 'A3', 'A4'}, per_slot
assert len(set(per_slot.values())) == 1, per_slot
assert all(r['verdict'] in ('pass', 'skip') for r in verdicts), [r for r in verdicts if r['verdict'] not in ('pass', 'skip')]
assert all(r['run_id'] and r['time'] and r['file'].endswith('basic.tsuite') and int(r['line']) > 0 for r in verdicts)
PY
check "progress: one line per slot per test on stderr" test "$(grep -c '^\[A[1-4]\] basic / ' "$T/err")" -ge 8
check "the verdict table and the yield are printed" grep -q 'batch yield: 4/4' "$T/out"

# --- provenance: what the run was measured against (issue 14) ----------------------------------
check "provenance.csv: run-wide facts, file hashes, each slot's variables with their source" python3 - "$T/r/provenance.csv" "$RIG" "$ROOT" <<'PY'
import csv, hashlib, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
assert rows and set(rows[0]) == {'slot', 'name', 'value', 'source'}, rows[:1]
run = {r['name']: r for r in rows if not r['slot']}
for k in ('tool.version', 'command', 'host', 'run_id', 'rig', 'rig.sha256', 'suite.basic.sha256', 'ops.apdu.sha256',
          'allow_destructive'):
    assert run.get(k, {}).get('value'), k
assert run['command']['value'].startswith('tokenrig run --rig '), run['command']
assert run['rig.sha256']['value'] == hashlib.sha256(open(sys.argv[2], 'rb').read()).hexdigest()
assert run['allow_destructive']['value'] == 'yes'
for slot in ('A1', 'A2', 'A3', 'A4'):
    mine = {r['name']: r for r in rows if r['slot'] == slot}
    assert mine['profile.sha256']['source'].endswith('.ini'), mine['profile.sha256']
    assert mine['var.APDU_MAX_MS']['source'].startswith('profile ') and mine['var.APDU_MAX_MS']['value'] == '500'
    assert mine['var.DEFAULT_PIN']['value'] == '<pin>' and mine['var.SO_PIN']['value'] == '<pin>'
    assert mine['var.PIN_MAX_TRIES']['value'] == '10'
    assert mine['var.EXPECTED_SERIAL']['source'] == f'rig {sys.argv[2]} [slot {slot}]', mine['var.EXPECTED_SERIAL']
    assert mine['var.SLOT']['source'].startswith('built-in') and mine['var.CA_ROOT']['source'].startswith('virtual rig')
    assert mine['destructive_tests_run']['value'] == '1', mine['destructive_tests_run']
PY
check "junit.xml: the provenance as properties of each testsuite" \
  test "$(grep -c '<property name="var.APDU_MAX_MS" value="500 (profile ' "$T/r/junit.xml")" = 4
check "results.csv: a metric's limit beside its value (columns limit, limit_kind)" \
  grep -q '^run_id,.*,line,limit,limit_kind$' "$T/r/results.csv"
"$TR" run --rig "$RIG" --slots A1 --out "$T/id" --quiet -D SIGN_COUNT=7 -D USER_PIN=13572468 identity > /dev/null 2>&1
check "provenance: -D is a source, its PIN masked in the variables and the command line" python3 - "$T/id/provenance.csv" <<'PY'
import csv, sys
rows = {(r['slot'], r['name']): r for r in csv.DictReader(open(sys.argv[1], newline=''))}
assert rows[('A1', 'var.SIGN_COUNT')]['value'] == '7' and rows[('A1', 'var.SIGN_COUNT')]['source'] == 'command line -D'
assert rows[('A1', 'var.USER_PIN')]['value'] == '<pin>'
assert "USER_PIN=<pin>" in rows[('', 'command')]['value'], rows[('', 'command')]
assert rows[('A1', 'firmware')]['value'] == '0100', rows.get(('A1', 'firmware'))
assert rows[('A1', 'firmware')]['source'] == 'the token: read_info over apdu (suite identity)'
PY
check "provenance: the -D PIN is in no report" bash -c "! grep -rq 13572468 '$T/id'"

# --- PINs never reach a report -------------------------------------------------------------
printf 'test "pin" {\n  00 A4 04 00 08 ${AID} 00 expect 9000\n  00 20 00 ${USER_PIN_REF} 10 ${pin:DEFAULT_PIN} expect 9000\n  00 20 00 ${USER_PIN_REF} 10 ${pin:DEFAULT_PIN} expect 6A80\n}\n' > "$T/pin.tsuite"
"$TR" run --rig "$RIG" --slots A1 --out "$T/p" --quiet "$T/pin.tsuite" > /dev/null 2>&1
check "a PIN test ran (and failed on purpose)" grep -q ',pin,fail,' "$T/p/results.csv"
check "trace shows <pin>" grep -q '<pin>' "$T/p/trace.csv"
check "no PIN bytes in any report (3132333435363738)" bash -c "! grep -rqi -e '31 32 33 34 35 36 37 38' -e 3132333435363738 -e 12345678 $T/p"

# --- errors ------------------------------------------------------------------------------------
printf 'test "broken" {\n  00 A4 04 00 08 ${AID} 00 expect 9000\n  expect sw 9O00\n}\n' > "$T/syntax.tsuite"
err=$("$TR" run --rig "$RIG" --out "$T/x" "$T/syntax.tsuite" 2>&1 >/dev/null); rc=$?
check_eq "syntax error: exit status 2" "$rc" 2
check "syntax error: file:line:col and what was expected ($err)" grep -qE "syntax.tsuite:3:[0-9]+: expected" <<<"$err"
check "syntax error: no token touched (no report written)" test ! -e "$T/x/results.csv"
err=$("$TR" run --rig "$RIG" --out "$T/y" no-such-suite 2>&1 >/dev/null); rc=$?
check_eq "unknown suite: exit status 2" "$rc" 2
check "unknown suite: says where it looked ($err)" grep -q "no suite named 'no-such-suite'" <<<"$err"
out=$("$TR" list --rig "$RIG" 2>&1); rc=$?
check_eq "tokenrig list: exit status" "$rc" 0
check_eq "tokenrig list: each slot's token says its serial and role" "$(grep -c 'the token says: serial TRV000000000000[1-4]  role \(main\|secondary\)' <<<"$out")" 4
for c in list run script recover power cycle hubs rig; do
  check "tokenrig $c --help" bash -c "'$TR' $c --help | grep -q usage"
done
finish
