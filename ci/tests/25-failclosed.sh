#!/usr/bin/env bash
# Issue 11, part 8: fail closed on bad input. Each of these once gave PASS
# or exit 0 where tokenrig should refuse; now each exits 2 with a message
# naming what and where, before any token is touched:
#   --slots with a name that is not a slot of the rig; a manifest row with an
#   empty notAfter, a manifest missing a column; a profile missing a
#   variable a suite needs (and one slipping through to run time: `config`);
#   a rig file naming a fault that is not the fault table's (or a value out of
#   its range: refused when the file is read, not after a 30 s wait for a
#   token that never came); an abbreviated option, for every command
#   (recover --forget given twice, too).
# And a run that left out tests it was asked for (destructive ones without
# --allow-destructive, a slot nobody said which token it should hold) is
# INCOMPLETE, not PASS: console table, summary.csv, JUnit, exit 2.
. "$(dirname "$0")/lib.sh"
rig_up "$ROOT/rigs/virtual-4.ini"
T=$(mktemp -d /tmp/tr-failclosed.XXXXXX); trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T"' EXIT
XSD=$ROOT/harness/tests/junit-10.xsd
PROFILE=$ROOT/fixtures/profiles/ref1-sm2.ini
# run ARGS... : exit status in $rc, stdout in $T/out, stderr in $T/err
run() { "$TR" run --rig "$RIG" "$@" > "$T/out" 2> "$T/err"; rc=$?; }
# no_token_touched DIR: nothing was written (the refusal came first)
no_token_touched() { test ! -e "$1/results.csv"; }

# --- --slots: every name a slot of the rig -------------------------------------------------
run --slots A1,Z9 --out "$T/slots" identity
check_eq "--slots A1,Z9: exit status 2" "$rc" 2
check "--slots A1,Z9: names Z9 and lists the rig's slots ($(cat "$T/err"))" \
  grep -q "tokenrig: --slots A1,Z9: 'Z9' is not a slot of .*virtual-4.ini (its slots: A1, A2, A3, A4)" "$T/err"
check "--slots A1,Z9: no token touched" no_token_touched "$T/slots"
run --slots A1, --out "$T/slots2" identity
check_eq "--slots A1, (an empty name): exit status 2" "$rc" 2
check "--slots A1,: says an empty slot name" grep -q "an empty slot name" "$T/err"

# --- the manifest: every row complete --------------------------------------------------------
printf 'serial,role,org,not_after\nTRV0000000000001,main,Example,\n' > "$T/empty-na.csv"
run --slots A1 --manifest "$T/empty-na.csv" --out "$T/m1" identity cert-expiry
check_eq "manifest row with an empty notAfter: exit status 2" "$rc" 2
check "manifest row with an empty notAfter: file:line and the column ($(cat "$T/err"))" \
  grep -q "empty-na.csv:2: row has no not_after" "$T/err"
check "manifest row with an empty notAfter: no token touched" no_token_touched "$T/m1"
printf 'serial,role,org\nTRV0000000000001,main,Example\n' > "$T/no-col.csv"
run --slots A1 --manifest "$T/no-col.csv" --out "$T/m2" identity
check_eq "manifest missing a column: exit status 2" "$rc" 2
check "manifest missing a column: file:line and the column ($(cat "$T/err"))" \
  grep -q "no-col.csv:1: the header row has no 'not_after' column" "$T/err"
printf 'serial,role,org,not_after\nTRV0000000000001,main,Example,2031-02-29\n' > "$T/bad-date.csv"
run --slots A1 --manifest "$T/bad-date.csv" --out "$T/m3" identity
check_eq "manifest with a day that does not exist: exit status 2" "$rc" 2
check "manifest with a day that does not exist: says so" grep -q "bad-date.csv:2: not_after '2031-02-29'" "$T/err"

# --- a profile missing a variable a suite needs ------------------------------------------------
grep -v '^DO_SERIAL ' "$PROFILE" > "$T/no-serial.ini"
run --slots A1 --profile "$T/no-serial.ini" --out "$T/p1"
check_eq "profile without DO_SERIAL: exit status 2 (was: token verdicts)" "$rc" 2
# identity reads it through the apdu token operations (suites/lib/ops-apdu.tsuite)
line=$(grep -n 'DO_SERIAL' "$ROOT/suites/lib/ops-apdu.tsuite" | head -n 1 | cut -d: -f1)
check "profile without DO_SERIAL: names the file:line:col, the profile and the variable ($(cat "$T/err"))" \
  grep -q "ops-apdu.tsuite:$line:20: profile ref1-sm2 (.*no-serial.ini) does not set DO_SERIAL, which suite identity reads (slot A1" "$T/err"
check "profile without DO_SERIAL: no token touched" no_token_touched "$T/p1"
# without AID the first test errored and the next one failed as identity.no-serial, exit 1
grep -v '^AID ' "$PROFILE" > "$T/no-aid.ini"
run --slots A1 --profile "$T/no-aid.ini" --out "$T/p2"
check_eq "profile without AID: exit status 2, not 1 (identity.no-serial)" "$rc" 2
check "profile without AID: a configuration error, not a token verdict" grep -q "does not set AID" "$T/err"
check "profile without AID: no token touched" no_token_touched "$T/p2"
run --slots A1 --profile "$T/no-aid.ini" -D AID=F0544F4B52494701 --out "$T/p3" --allow-destructive
check_eq "profile without AID, given with -D: the run goes ahead (exit 0)" "$rc" 0
# what a defined() elsewhere lets through is caught at run time: config, exit 2
printf 'test "fails" {\n  fail "a real defect" classify demo.defect\n}\ntest "guarded" {\n  if defined(OPT) {\n    log "${OPT}"\n  }\n}\ntest "unguarded" {\n  00 ${OPT} 00 00\n}\n' > "$T/opt.tsuite"
run --slots A1 --out "$T/p4" "$T/opt.tsuite"
check_eq "a variable slipping through to run time: exit status 2 (config beats a failed token)" "$rc" 2
check "a variable slipping through to run time: the row says config" \
  grep -q ',unguarded,error,config,.*variable OPT is not set: give it in the profile' "$T/p4/results.csv"

# --- a fault name that is not the fault table's: refused when the rig file is read -------------------
# (it once started the rig and waited ~30 s for a token that vtoken refused to be)
printf '[rig]\nname = badfault\n\n[slot B1]\nserial = TRV0000000000099\nfaults = no-lockout, no-such-fault\n' \
  > "$T/badfault.ini"
for cmd in "rig up" "run --out $T/bf --allow-destructive"; do
  t0=$(date +%s)
  # shellcheck disable=SC2086 # the command and its options are words
  TOKENRIG_VRIG_DIR=$T/vrig-badfault "$TR" $cmd --rig "$T/badfault.ini" > "$T/out" 2> "$T/err"; rc=$?
  cmd=${cmd%% --*}
  check_eq "faults = no-such-fault, tokenrig $cmd: exit status 2" "$rc" 2
  check "faults = no-such-fault, tokenrig $cmd: file:line, the name and the valid ones ($(head -c 200 "$T/err"))" \
    grep -q "badfault.ini:6: faults: unknown fault 'no-such-fault' (the faults are: counter-reset-on-power, no-lockout, .*, bad-signature=K, .*seal-refused-after-unblock, .*enc-cert-other-key;" "$T/err"
  check "faults = no-such-fault, tokenrig $cmd: refused at once, nothing started" \
    test "$(($(date +%s) - t0))" -le 5 -a ! -e "$T/vrig-badfault/state.ini" -a ! -e "$T/bf/results.csv"
done
printf '[rig]\nname = badfault\n\n[slot B1]\nserial = TRV0000000000099\nfaults = bad-signature=0\n' > "$T/badarg.ini"
TOKENRIG_VRIG_DIR=$T/vrig-badfault "$TR" rig up --rig "$T/badarg.ini" > "$T/out" 2> "$T/err"
check_eq "faults = bad-signature=0: exit status 2" "$?" 2
check "faults = bad-signature=0: says the range ($(head -c 200 "$T/err"))" \
  grep -q "badarg.ini:6: faults: fault 'bad-signature=0': bad-signature=K, K in 1..1000000000" "$T/err"

# --- options are spelled out, for every command ---------------------------------------------------
abbrev() { # WHAT EXPECTED-MESSAGE ARGS...
  local what=$1 msg=$2; shift 2
  local err; err=$("$TR" "$@" 2>&1 >/dev/null); local st=$?
  check_eq "$what: exit status 2" "$st" 2
  check "$what: $msg" grep -qF "$msg" <<<"$err"
}
abbrev "run --allow" "tokenrig run: option '--allow' must be spelled out (--allow-destructive)" \
  run --rig "$RIG" --slots A1 --out "$T/o1" --allow identity
check "run --allow: nothing run (destructive tests not switched on)" no_token_touched "$T/o1"
abbrev "run --allow=1" "option '--allow' must be spelled out" run --allow=1
abbrev "run --sl" "tokenrig run: option '--sl' must be spelled out (--slots)" run --sl A1
abbrev "script --out DIR --qu" "tokenrig script: option '--qu' must be spelled out (--quiet)" \
  script "$ROOT/suites/examples/scriptor-select.txt" --out "$T/o2" --qu
abbrev "recover --ri" "tokenrig recover: option '--ri' must be spelled out (--rig)" recover --ri "$RIG"
abbrev "recover --forg" "tokenrig recover: option '--forg' must be spelled out (--forget)" recover --rig "$RIG" --forg A1
abbrev "recover --forget twice" "tokenrig recover: --forget is given twice (one list, comma-separated)" \
  recover --rig "$RIG" --forget A1 --forget A2
abbrev "list --ri" "tokenrig list: option '--ri' must be spelled out (--rig)" list --ri "$RIG"
abbrev "power --sl" "tokenrig power: option '--sl' must be spelled out (--slot)" power status --rig "$RIG" --sl A1
abbrev "cycle --cou" "tokenrig cycle: option '--cou' must be spelled out (--count)" cycle --rig "$RIG" --slot A1 --cou 1
abbrev "hubs --he" "tokenrig hubs: option '--he' must be spelled out (--help)" hubs --he
abbrev "rig --time" "tokenrig rig: option '--time' must be spelled out (--timeout)" rig status --rig "$RIG" --time 5
"$TR" run --rig "$RIG" --slots A1 --out "$T/o3" --quiet --out-of-nowhere identity > /dev/null 2>&1
check_eq "an unknown option is still a usage error (exit 2)" "$?" 2
"$TR" script "$ROOT/suites/examples/scriptor-select.txt" --rig "$RIG" --out "$T/o4" --quiet > /dev/null 2>&1
check_eq "options spelled out in full still work (script --rig --out --quiet: exit 0)" "$?" 0

# --- INCOMPLETE: the certification left tests out ---------------------------------------------------
run --out "$T/i1"
check_eq "DEFAULT without --allow-destructive: exit status 2 (not certified)" "$rc" 2
check_eq "console: every token INCOMPLETE" "$(grep -cE '^A[1-4] .* INCOMPLETE ' "$T/out")" 4
check "console: what was not run ($(grep '^INCOMPLETE' "$T/out"))" \
  grep -qE '^INCOMPLETE A1 A2 A3 A4: not-run.destructive: [0-9]+ tests \(destructive: needs --allow-destructive\)$' "$T/out"
check "console: nobody passed" grep -q 'batch yield: 0/4 tokens passed' "$T/out"
check "stderr: says the tokens are not certified" grep -q 'tokenrig: 4 token(s) INCOMPLETE' "$T/err"
check "summary.csv: INCOMPLETE, the code, how many not run" python3 - "$T/i1/summary.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
assert len(rows) == 4, rows
for r in rows:
    assert r['verdict'] == 'INCOMPLETE', r
    assert r['classifications'] == 'not-run.destructive', r
    assert int(r['not_run']) > 0 and int(r['failed']) == 0 and int(r['errored']) == 0, r
PY
check "results.csv: the destructive tests are skips classified not-run.destructive" python3 - "$T/i1/results.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1], newline='')) if not r['metric']]
nr = [r for r in rows if r['classification'] == 'not-run.destructive']
assert nr and all(r['verdict'] == 'skip' and r['suite'] in ('default-pin', 'pin-lockout', 'pin-model') for r in nr), nr[:3]
assert all(r['classification'] == '' for r in rows if r['verdict'] in ('pass',)), 'a pass with a code'
PY
check "JUnit: verdict and not-run properties, the code in <skipped>" bash -c \
  "grep -q '<property name=\"verdict\" value=\"INCOMPLETE\"/>' '$T/i1/junit.xml' &&
   grep -q '<property name=\"not run\" value=\"not-run.destructive: ' '$T/i1/junit.xml' &&
   grep -q '<skipped message=\"not-run.destructive: destructive: needs --allow-destructive\"/>' '$T/i1/junit.xml'"
check "JUnit: valid against junit-10.xsd" xmllint --noout --schema "$XSD" "$T/i1/junit.xml"
run --allow-destructive --out "$T/i2"
check_eq "DEFAULT with --allow-destructive: exit status 0" "$rc" 0
check "with --allow-destructive: every token PASS" grep -q 'batch yield: 4/4 tokens passed' "$T/out"
check "with --allow-destructive: no INCOMPLETE line" bash -c "! grep -q '^INCOMPLETE' '$T/out'"
# a failed token still makes the exit status 1
printf 'test "defect" {\n  fail "a real defect" classify demo.defect\n}\ntest "wipe" {\n  destructive\n}\n' > "$T/fail.tsuite"
run --slots A1 --out "$T/i3" "$T/fail.tsuite"
check_eq "a failed test and a left-out one: exit status 1, verdict FAIL" "$rc" 1
check "the failed token's classifications name both" grep -q 'FAIL .*demo.defect;not-run.destructive' "$T/out"
# a slot nobody said which token it should hold (a reader-only rig, no manifest)
reader=$(vreader virtual-4 0)
"$TR" script "$ROOT/suites/identity.tsuite" --reader "$reader" --out "$T/i4" --quiet > "$T/out" 2> "$T/err"; rc=$?
check_eq "identity on a reader with no expected serial or role: exit status 2" "$rc" 2
check "identity on a reader with no expected serial or role: not-run.no-expected-serial / -role" python3 - "$T/i4/summary.csv" <<'PY'
import csv, sys
(r,) = list(csv.DictReader(open(sys.argv[1], newline='')))
assert r['verdict'] == 'INCOMPLETE', r
assert r['classifications'] == 'not-run.no-expected-serial;not-run.no-expected-role', r
PY
check "identity on a reader: the manifest test is a plain skip" grep -q ',token is in the batch manifest,skip,,' "$T/i4/results.csv"
finish
