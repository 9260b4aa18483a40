#!/usr/bin/env bash
# Issue 12, item 1: power types command and none. A rig of command slots
# whose power_off / power_on switch the vtokens of a separately started
# virtual rig (as a bench's YKUSH, relay or PDU command would switch a real
# token): the recognition suite passes through the commands and writes its
# cycles.csv rows; `tokenrig power` and `tokenrig cycle` use them; a failing
# command is a rig error naming it with its stderr; a hanging one is killed
# at power_timeout_ms; a stale run's recovery runs every power_on; a slot of
# type none skips recognition as not-run.no-power and its token is INCOMPLETE;
# pin-model there walks the PIN model without its power cycle and ends
# not-run.no-power too.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/tr-pcmd.XXXXXX)
VNAME=pcmd-$$
cat > "$T/vrig.ini" <<INI
[rig]
name = $VNAME
off_ms = 30
[slot A1]
serial = PCMD000000000001
[slot A2]
serial = PCMD000000000002
[slot A3]
serial = PCMD000000000003
[slot A4]
serial = PCMD000000000004
INI
rig_up "$T/vrig.ini"
CNAME=pcmd-cmd-$$
LEASE=/tmp/tokenrig-$(id -u)/rig-$CNAME.lease
trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T" "$LEASE"' EXIT

# The switch: what a bench's relay or PDU tool would be. It logs the
# variables it was given, then switches the vtoken of the same slot name.
cat > "$T/switch.sh" <<SH
#!/bin/sh
echo "\$1 \$TOKENRIG_SLOT \$TOKENRIG_PORT \$TOKENRIG_RIG" >> $T/calls
exec "$TR" power "\$1" --rig $T/vrig.ini --slot "\$TOKENRIG_SLOT"
SH
chmod +x "$T/switch.sh"
# The command rig: [rig] gives every command slot its switch; A2 and A3
# have their own (broken) power_off.
cat > "$T/cmd.ini" <<INI
[rig]
name = $CNAME
profile = ref1-sm2
off_ms = 30
ready_timeout_ms = 5000
power_off = $T/switch.sh off
power_on = $T/switch.sh on
[slot A1]
type = command
port = 7
reader = "$(vreader "$VNAME" 0)"
[slot A2]
type = command
reader = "$(vreader "$VNAME" 1)"
power_off = echo "relay 7 did not answer" >&2 && exit 4
[slot A3]
type = command
reader = "$(vreader "$VNAME" 2)"
power_off = sleep 60.$$
power_timeout_ms = 400
[slot A4]
type = none
reader = "$(vreader "$VNAME" 3)"
INI
vstatus() { "$TR" power status --rig "$T/vrig.ini" --slot "$1" 2>&1 | grep -o ' powered=[01]'; }

# --- tokenrig power / cycle through the commands -----------------------------------------------------
"$TR" power off --rig "$T/cmd.ini" --slot A1 > "$T/p.out" 2>&1; rc=$?
check_eq "power off A1 through its command: exit status" "$rc" 0
check_eq "the vtoken is off" "$(vstatus A1)" " powered=0"
check_eq "the command saw the slot's variables" "$(tail -n 1 "$T/calls")" "off A1 7 $CNAME"
"$TR" power on --rig "$T/cmd.ini" --slot A1 > "$T/p.out" 2>&1; rc=$?
check_eq "power on A1: exit status" "$rc" 0
check_eq "the vtoken is on again" "$(vstatus A1)" " powered=1"
"$TR" cycle --rig "$T/cmd.ini" --slot A1 --count 3 --out "$T/cyc" > "$T/cyc.out" 2>&1; rc=$?
check_eq "tokenrig cycle through the commands: exit status ($(tail -n 2 "$T/cyc.out" | head -n 1))" "$rc" 0
check_eq "tokenrig cycle: 3 passing rows" "$(python3 -c "
import csv; print(sum(r['verdict'] == 'pass' for r in csv.DictReader(open('$T/cyc/cycles.csv'))))")" 3
out=$("$TR" cycle --rig "$T/cmd.ini" --slot A4 --count 3 --out "$T/cyc4" 2>&1); rc=$?
check_eq "tokenrig cycle on a none slot: exit status" "$rc" 2
check "tokenrig cycle on a none slot says why ($out)" grep -q 'slot A4 has no power switch (type none)' <<<"$out"
out=$("$TR" power off --rig "$T/cmd.ini" --slot A4 2>&1); rc=$?
check_eq "power off on a none slot: exit status" "$rc" 2
out=$("$TR" power off --rig "$T/cmd.ini" --slot A2 2>&1); rc=$?
check_eq "power off with a failing command: exit status" "$rc" 2
check "... a rig error naming the command and its stderr ($out)" \
  grep -q 'slot A2: power_off command failed (exit status 4): echo "relay 7 did not answer" >&2 && exit 4: stderr: relay 7 did not answer' <<<"$out"

# --- a run: recognition through the commands ---------------------------------------------------------
ncalls=$(wc -l < "$T/calls")
t0=$(date +%s%N)
"$TR" run --rig "$T/cmd.ini" --out "$T/run" recognition > "$T/run.out" 2> "$T/run.err"; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq "run: exit status 2 (rig errors, an INCOMPLETE token)" "$rc" 2
rows() { python3 - "$T/run/results.csv" "$1" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    if r['slot'] == sys.argv[2] and not r['metric'] and r['suite'] == 'recognition':
        print(r['verdict'], r['classification'] or '-', r['message'], sep='|')
PY
}
check_eq "A1: recognition passes through the commands" "$(rows A1 | cut -d'|' -f1,2)" "pass|-"
check_eq "A1: one cycles.csv row per cycle (CYCLES = 3), all passing" "$(python3 -c "
import csv; print(sum(r['slot'] == 'A1' and r['verdict'] == 'pass' and float(r['to_atr_ms']) >= 0
          for r in csv.DictReader(open('$T/run/cycles.csv'))))")" 3
check_eq "A1: each of the 3 cycles ran power_off then power_on" \
  "$(tail -n +$((ncalls + 1)) "$T/calls" | cut -d' ' -f1,2 | tr '\n' ,)" "off A1,on A1,off A1,on A1,off A1,on A1,"
a2=$(rows A2)
check "A2: failing power_off is an error naming the command (${a2:0:200})" \
  grep -qE '^error\|rig\.port-not-switched\|.*power_off command failed \(exit status 4\): echo "relay 7 did not answer".*stderr: relay 7 did not answer' <<<"$a2"
a3=$(rows A3)
check "A3: hanging power_off killed at power_timeout_ms (${a3:0:200})" \
  grep -qE '^error\|.*power_off command did not end within 400 ms \(power_timeout_ms\): killed it .*sleep 60\.'"$$" <<<"$a3"
check "A3: the hung command is gone (killed by its process group)" bash -c "! pgrep -f 'sleep 60\.$$'"
check "the run did not wait for the hung command (${ms} ms)" test "$ms" -lt 30000
check_eq "A4 (none): recognition not run" "$(rows A4 | cut -d'|' -f1,2)" "skip|not-run.no-power"
check "A4: the skip says why" grep -q 'slot A4 has no power switch (type none)' <<<"$(rows A4)"
check_eq "A4: no cycles.csv row" "$(grep -c ',A4,' "$T/run/cycles.csv")" 0
check "summary.csv: A1 PASS, A2 and A3 ERROR, A4 INCOMPLETE (not-run.no-power)" python3 - "$T/run/summary.csv" <<'PY'
import csv, sys
v = {r['slot']: (r['verdict'], r['classifications']) for r in csv.DictReader(open(sys.argv[1], newline=''))}
assert v['A1'][0] == 'PASS' and v['A2'][0] == 'ERROR' and v['A3'][0] == 'ERROR', v
assert v['A4'] == ('INCOMPLETE', 'not-run.no-power'), v
PY
check "console: what A4 was not given to run" grep -q '^INCOMPLETE A4: not-run.no-power' "$T/run.out"

# --- the PIN state model on the none slot: walked without its power cycle --------------------------
"$TR" run --rig "$T/cmd.ini" --slots A4 --allow-destructive --out "$T/pm" pin-model > "$T/pm.out" 2> "$T/pm.err"; rc=$?
check_eq "pin-model on A4 (none): exit status 2 (INCOMPLETE)" "$rc" 2
pm=$(python3 - "$T/pm/results.csv" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    if r['slot'] == 'A4' and r['suite'] == 'pin-model' and not r['metric']:
        print(r['verdict'], r['classification'], r['message'], sep='|')
PY
)
check_eq "A4: pin-model not-run.no-power, not a pass" "$(cut -d'|' -f1,2 <<<"$pm")" "skip|not-run.no-power"
check "A4: the skip says the walk ran and what it left out (${pm:0:300})" \
  grep -qE "slot A4 has no power switch \(type none\): the PIN model without its power cycle \([0-9]+ of the model's [0-9]+ .*no deviation in [0-9]+ steps; left out: power cycle\)" <<<"$pm"
check "summary.csv: A4 INCOMPLETE (not-run.no-power)" python3 - "$T/pm/summary.csv" <<'PY'
import csv, sys
v = {r['slot']: (r['verdict'], r['classifications']) for r in csv.DictReader(open(sys.argv[1], newline=''))}
assert v == {'A4': ('INCOMPLETE', 'not-run.no-power')}, v
PY

# --- a stale run: recovery runs every command slot's power_on ----------------------------------------
"$TR" power off --rig "$T/cmd.ini" --slot A1 > /dev/null 2>&1
check_eq "A1 left off" "$(vstatus A1)" " powered=0"
mkdir -p "$(dirname "$LEASE")" && echo "PID 999999, started 0" > "$LEASE"
out=$("$TR" power status --rig "$T/cmd.ini" --slot A1 2>&1); rc=$?
check_eq "after a dead run: exit status" "$rc" 0
check "recovery ran A1's power_on ($out)" grep -q 'slot A1: commands: .*power_on command exited 0' <<<"$out"
check_eq "A1 is on again" "$(vstatus A1)" " powered=1"
finish
