#!/usr/bin/env bash
# Issue 10, part 8, for a real bench: the rig's `pcscd_restart` names the
# command that restarts the system pcscd. A rig of command slots (a
# bench's switch) whose "system" pcscd is one this test started itself: the
# pcscd of a separately started virtual rig (its tokens are the bench's
# tokens; PCSCLITE_CSOCK_NAME points at it). restart.sh is what
# `systemctl restart pcscd` is on a bench: it stops that pcscd by PID and
# starts it again the same way. The checks:
#  (a) pcscd killed mid-run: the run runs pcscd_restart, every slot
#      resumes, the run ends with the baseline verdicts and says so;
#  (b) a power_on that leaves the token away until pcscd restarts (the
#      quirk of some kernels after a hub power cycle; here the switch
#      leaves the vtoken off and restart.sh switches it on): the run runs
#      pcscd_restart once per power cycle, the token comes back,
#      recognition passes; the report and trace say so; `tokenrig cycle`
#      does the same;
#  (c) a pcscd_restart that fails or hangs: a rig error naming the command
#      (rig.pcsc-lost when pcscd is gone too), exit 2, never a token
#      verdict; a token left mid-way is listed, and restored by `tokenrig
#      recover` once the bench is fixed.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/tr-prst.XXXXXX)
VNAME=prst-$$
cat > "$T/vrig.ini" <<INI
[rig]
name = $VNAME
off_ms = 30
[slot A1]
serial = PRST000000000001
[slot A2]
serial = PRST000000000002
INI
rig_up "$T/vrig.ini"
VDIR=$TOKENRIG_VRIG_DIR
CNAME=prst-cmd-$$
LEASE=/tmp/tokenrig-$(id -u)/rig-$CNAME.lease

# A token's power, through its vtoken's control socket (no tokenrig: it
# would take the virtual rig's lease, and a run switches two slots at once).
cat > "$T/vpower.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1] + '/' + sys.argv[2] + '.ctl')
s.sendall((sys.argv[3] + '\n').encode())
reply = s.makefile().readline().strip()
sys.exit(0 if reply.startswith('ok') else 1)
PY
# The bench's switch. A slot with a stuck-SLOT file has the quirk: after
# power_on its token stays away until pcscd is restarted.
cat > "$T/switch.sh" <<SH
#!/bin/sh
echo "\$1 \$TOKENRIG_SLOT" >> $T/calls
if [ "\$1" = on ] && [ -e "$T/stuck-\$TOKENRIG_SLOT" ]; then
  touch "$T/pending-\$TOKENRIG_SLOT"
  exit 0
fi
exec python3 $T/vpower.py $VDIR "\$TOKENRIG_SLOT" "\$1"
SH
# pcscd_restart: restart-fails / restart-hangs make it fail / hang
UNSHARE=-rm; [ "$(id -u)" = 0 ] && UNSHARE=-m
cat > "$T/restart.sh" <<SH
#!/bin/sh
echo restart >> $T/restarts
if [ -e $T/restart-fails ]; then echo "pcscd.service: start request repeated too quickly" >&2; exit 3; fi
if [ -e $T/restart-hangs ]; then exec sleep 60.$$; fi
old=\$(awk -F' = ' '/^pcscd_pid/ {print \$2}' $VDIR/state.ini)
kill \$old 2>/dev/null
for i in \$(seq 1 200); do kill -0 \$old 2>/dev/null || break; sleep 0.02; done
rm -f $VDIR/run/pcscd.comm
# as the virtual rig starts it (vrig.c): in its own mount namespace, its
# socket in the rig's run directory; its own session, so it outlives this
# command's process group
setsid unshare $UNSHARE sh -c 'mount --make-rprivate / 2>/dev/null; if [ -d /run/pcscd ]; then mount --bind "\$1" /run/pcscd || exit 97; else mount -t tmpfs -o mode=755 tokenrig-run /run && mkdir /run/pcscd && mount --bind "\$1" /run/pcscd || exit 97; fi; exec pcscd --foreground --config "\$2"' tokenrig-pcscd $VDIR/run $VDIR/conf >> $VDIR/pcscd.log 2>&1 < /dev/null &
sed -i "s/^pcscd_pid = .*/pcscd_pid = \$!/" $VDIR/state.ini
for i in \$(seq 1 250); do [ -S $VDIR/run/pcscd.comm ] && break; sleep 0.02; done
for f in $T/pending-*; do
  [ -e "\$f" ] || continue
  python3 $T/vpower.py $VDIR "\${f##*/pending-}" on && rm -f "\$f"
done
SH
chmod +x "$T/switch.sh" "$T/restart.sh"
# the end: the bench fixed (its pcscd up, its tokens on), the virtual rig down
cleanup() {
  rm -f "$T"/stuck-* "$T"/restart-fails "$T"/restart-hangs
  "$T/restart.sh" > /dev/null 2>&1
  "$TR" rig down --rig "$RIG" > /dev/null 2>&1
  rm -rf "$T" "$LEASE"
}
trap cleanup EXIT
cat > "$T/cmd.ini" <<INI
[rig]
name = $CNAME
profile = ref1-sm2
off_ms = 30
ready_timeout_ms = 2000
power_timeout_ms = 3000
journal = $T/journal
pcscd_restart = $T/restart.sh
power_off = $T/switch.sh off
power_on = $T/switch.sh on
[slot A1]
type = command
reader = "$(vreader "$VNAME" 0)"
[slot A2]
type = command
reader = "$(vreader "$VNAME" 1)"
INI
SUITES="default-pin pin-lockout recognition"
pcscd_pid() { awk -F' = ' '/^pcscd_pid/ {print $2}' "$VDIR/state.ini"; }
nrestarts() { wc -l 2>/dev/null < "$T/restarts" || echo 0; }
rows() { python3 - "$1/results.csv" "$2" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    if r['slot'] == sys.argv[2] and not r['metric']:
        print(r['suite'], r['test'], r['verdict'], r['classification'] or '-', r['message'], sep='|')
PY
}

"$TR" run --rig "$T/cmd.ini" --allow-destructive --quiet --out "$T/base" $SUITES > /dev/null 2>&1; rc=$?
check_eq "baseline run through the bench's switch exits 0" "$rc" 0
verdicts "$T/base/results.csv" > "$T/base.v"
check_eq "baseline: pcscd_restart not run" "$(nrestarts)" 0

# --- (a) the system pcscd dies mid-run -------------------------------------------------------
for at in default-pin recognition; do
  out=$T/a-$at
  rm -f "$T/restarts"
  "$TR" run --rig "$T/cmd.ini" --allow-destructive --out "$out" $SUITES > "$out.stdout" 2> "$out.stderr" &
  p=$!
  wait_for_test "$out/trace.csv" "$at" 1000
  kill -9 "$(pcscd_pid)"
  wait $p; rc=$?
  baseline_ok "(a) pcscd killed in $at: the run ends with the baseline verdicts" "$rc" "$out"
  check_eq "(a) pcscd killed in $at: pcscd_restart ran once" "$(nrestarts)" 1
  check "(a) pcscd killed in $at: the run says it restarted pcscd" grep -q 'pcscd is back (restart 1)' "$out.stderr"
  check "(a) pcscd killed in $at: JUnit says a slot resumed" grep -q 'resumed after a pcscd restart' "$out/junit.xml"
  check "(a) pcscd killed in $at: no rig.* or enum.* verdict" \
    test "$(grep -c ',rig\.\|,enum\.' "$out/results.csv")" = 0
done

# --- (b) a token that comes back only after pcscd restarts ----------------------------------------
rm -f "$T/restarts"
touch "$T/stuck-A2"
out=$T/b
"$TR" run --rig "$T/cmd.ini" --out "$out" recognition > "$out.stdout" 2> "$out.stderr"; rc=$?
check_eq "(b) A2 comes back only after pcscd_restart: exit status" "$rc" 0
check_eq "(b) recognition passes on both tokens" "$(verdicts "$out/results.csv" | cut -d'|' -f1,4 | sort -u | tr '\n' ' ')" \
  "A1|pass A2|pass "
check_eq "(b) pcscd_restart ran once per power cycle of A2 (CYCLES = 3)" "$(nrestarts)" 3
check "(b) stderr says so" grep -q "\[A2\] the token is not back after power-on (.*): running pcscd_restart ($T/restart.sh)" "$out.stderr"
check "(b) each of A2's cycles passed and its row says the restart" python3 - "$out/cycles.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1], newline='')) if r['slot'] == 'A2']
assert len(rows) == 3, rows
assert all(r['verdict'] == 'pass' and 'back after pcscd_restart (times from the restart)' in r['message'] for r in rows), rows
PY
check "(b) trace.csv: a pcscd_restart row per restart, in recognition" python3 - "$out/trace.csv" "$T/restart.sh" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1], newline='')) if r['command'].startswith('pcscd_restart')]
assert len(rows) == 3, rows
assert all(r['slot'] == 'A2' and r['suite'] == 'recognition' and r['sw'] == 'ok' and
           r['command'] == 'pcscd_restart (%s)' % sys.argv[2] for r in rows), rows
PY
check "(b) JUnit: A2's property counts the restarts" \
  grep -q 'name="pcscd restarted for a token not back after power-on" value="3 time(s); last at recognition / ' "$out/junit.xml"
rm -f "$T/restarts"
"$TR" cycle --rig "$T/cmd.ini" --slot A2 --count 2 --out "$T/bc" > "$T/bc.out" 2> "$T/bc.err"; rc=$?
check_eq "(b) tokenrig cycle on A2: exit status" "$rc" 0
check_eq "(b) tokenrig cycle: pcscd_restart once per cycle" "$(nrestarts)" 2
check "(b) tokenrig cycle: stderr says so" grep -q 'tokenrig cycle: the token is not back after power-on' "$T/bc.err"
check_eq "(b) tokenrig cycle: both cycles pass, their rows say the restart" "$(python3 -c "
import csv; print(sum(r['verdict'] == 'pass' and 'pcscd_restart' in r['message'] for r in csv.DictReader(open('$T/bc/cycles.csv'))))")" 2

# --- (c) a pcscd_restart that fails or hangs -------------------------------------------------------
touch "$T/restart-fails"
out=$T/cf
"$TR" run --rig "$T/cmd.ini" --allow-destructive --out "$out" $SUITES > "$out.stdout" 2> "$out.stderr"; rc=$?
check_eq "(c) failing pcscd_restart: exit status 2" "$rc" 2
a2=$(rows "$out" A2 | grep -m1 '|error|')
check "(c) failing: A2's power cycle is a rig error naming the command and its stderr (${a2:0:300})" \
  grep -qE "\|error\|rig\|.*pcscd_restart command failed \(exit status 3\): $T/restart.sh: stderr: pcscd.service: start request repeated too quickly" <<<"$a2"
check "(c) failing: no token verdict (no fail, no enum.*)" test "$(grep -c ',fail,\|,enum\.' "$out/results.csv")" = 0
check_eq "(c) failing: A1 is not disturbed" "$(grep -c '^A1 .* PASS ' "$out.stdout")" 1
check "(c) failing: A2 is listed as not in factory state, with the command that restores it" \
  grep -q "A2 .*restore: tokenrig recover --rig $T/cmd.ini" "$out.stdout"
rm -f "$T/restart-fails"
"$T/restart.sh"   # the bench fixed: its token comes back
rm -f "$T/stuck-A2"
out=$("$TR" recover --rig "$T/cmd.ini" 2>&1); rc=$?
check_eq "(c) tokenrig recover then: exit status" "$rc" 0
check "(c) tokenrig recover restores A2 (${out:0:300})" grep -q 'A2 .*restored to its factory PINs' <<<"$out"
"$TR" run --rig "$T/cmd.ini" --allow-destructive --quiet --out "$T/cf2" $SUITES > /dev/null 2>&1; rc=$?
baseline_ok "(c) the next run: the baseline verdicts" "$rc" "$T/cf2"

touch "$T/restart-hangs" "$T/stuck-A2"
out=$T/ch
t0=$(date +%s%N)
"$TR" run --rig "$T/cmd.ini" --out "$out" recognition > "$out.stdout" 2> "$out.stderr"; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq "(c) hanging pcscd_restart: exit status 2" "$rc" 2
a2=$(rows "$out" A2)
check "(c) hanging: killed at power_timeout_ms, a rig error naming it (${a2:0:300})" \
  grep -qE "\|error\|rig\|.*pcscd_restart command did not end within 3000 ms \(power_timeout_ms\): killed it .*$T/restart.sh" <<<"$a2"
check "(c) hanging: the hung command is gone" bash -c "! pgrep -f 'sleep 60\.$$'"
check "(c) hanging: the run did not wait for it (${ms} ms)" test "$ms" -lt 30000
check_eq "(c) hanging: A1 passes" "$(rows "$out" A1 | cut -d'|' -f3 | sort -u)" pass
rm -f "$T/restart-hangs" "$T/stuck-A2"
"$T/restart.sh"

# the system pcscd dies and pcscd_restart fails: rig.pcsc-lost, exit 2
touch "$T/restart-fails"
out=$T/cl
"$TR" run --rig "$T/cmd.ini" --allow-destructive --out "$out" $SUITES > "$out.stdout" 2> "$out.stderr" &
p=$!
wait_for_test "$out/trace.csv" pin-lockout 1000
kill -9 "$(pcscd_pid)"
wait $p; rc=$?
check_eq "(c) pcscd dead and pcscd_restart failing: exit status 2" "$rc" 2
check "(c) ... the rest of the tests are rig.pcsc-lost naming the command" \
  grep -q ',rig.pcsc-lost,.*pcscd went away: pcscd_restart command failed (exit status 3)' "$out/results.csv"
check "(c) ... no token verdict" test "$(grep -c ',fail,\|,enum\.' "$out/results.csv")" = 0
rm -f "$T/restart-fails"
"$T/restart.sh"
out=$("$TR" recover --rig "$T/cmd.ini" 2>&1); rc=$?
check_eq "(c) ... tokenrig recover once pcscd is back: exit status ($(tail -n 2 <<<"$out" | tr '\n' ' '))" "$rc" 0
"$TR" run --rig "$T/cmd.ini" --allow-destructive --quiet --out "$T/cl2" $SUITES > /dev/null 2>&1; rc=$?
baseline_ok "(c) ... the next run: the baseline verdicts" "$rc" "$T/cl2"
finish
