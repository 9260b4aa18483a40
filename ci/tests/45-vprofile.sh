#!/usr/bin/env bash
# Issue 11, part 9: a virtual token for every profile. The whole
# certification (suites/DEFAULT, --allow-destructive) on
# ci/tests/rigs/vprofile.ini:
#   M1  modelled on fixtures/profiles/ref1-sm2-t5.ini (5 user / 3 SO tries,
#       its own PINs, a T=0-only ATR, another AID and firmware, T=0 style)
#       through the rig keys: passes with zero failures;
#   X1  a token with 5 user tries certified against ref1-sm2 (10 tries):
#       caught, with the classifications the suites give that difference
#       and nothing else.
# Then the rig file checks: a bad value names file:line, an unknown key
# lists the keys of the slot's type, and every key listed is documented in
# README.md's "Rig files" block.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/tr-vprofile.XXXXXX)
RIG=$ROOT/ci/tests/rigs/vprofile.ini
export TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-vprofile
cleanup() {
  "$TR" rig down --rig "$RIG" >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT

"$TR" run --rig "$RIG" --allow-destructive --out "$T/r" > "$T/out" 2> "$T/err"
check_eq "exit status 1 (X1 does not match its profile)" "$?" 1

verdicts=$(python3 - "$ROOT" "$T/r/results.csv" "$T/r/cycles.csv" <<'PY'
import csv, re, sys
root, results, cycles = sys.argv[1:4]

def say(kind, text):
    print(f'{kind}|{text}')

suite_tests = []
for name in open(f'{root}/suites/DEFAULT'):
    name = name.strip()
    if name and not name.startswith('#'):
        for line in open(f'{root}/suites/{name}.tsuite'):
            m = re.match(r'\s*test\s+"([^"]+)"', line)
            if m:
                suite_tests.append((name, m.group(1)))
rows = list(csv.DictReader(open(results, newline='')))
profile = {}
for line in open(f'{root}/fixtures/profiles/ref1-sm2-t5.ini'):
    m = re.match(r'\s*([A-Z_0-9]+)\s*=\s*(\S+)', line)
    if m:
        profile[m.group(1)] = m.group(2)

# M1: every test has a verdict; nothing fails; skips only for its role or
# for the missing batch manifest; every metric within its threshold.
m1 = [r for r in rows if r['slot'] == 'M1']
tests = [r for r in m1 if not r['metric']]
missing = [k for k in suite_tests if k not in [(r['suite'], r['test']) for r in tests]]
say('bad' if missing else 'ok', f'M1: every one of the {len(suite_tests)} tests has a verdict'
    + (f' (missing {missing[:3]})' if missing else ''))
say('ok' if m1 and all(r['profile'] == 'ref1-sm2-t5' for r in m1) else 'bad',
    'M1: certified against ref1-sm2-t5')
healthy_skip = re.compile(r'^(not a (main|secondary) key|no batch manifest given|no notAfter date)')
bad = [r for r in tests if r['verdict'] in ('fail', 'error')
       or (r['verdict'] == 'skip' and not healthy_skip.match(r['message']))]
for r in bad[:8]:
    say('bad', f"M1: {r['suite']} / {r['test']}: {r['verdict']} {r['classification']} {r['message'][:160]}")
if not bad:
    n_skip = sum(r['verdict'] == 'skip' for r in tests)
    say('ok', f'M1: {len(tests) - n_skip} passed, {n_skip} skipped (role / no manifest), zero failures')
# the destructive suites really ran (they skip when the token is not in the
# profile's factory state)
for suite, test in (('pin-lockout', 'wrong PINs block the PIN, one try each'),
                    ('pin-lockout', 'the SO PIN unblocks to the factory PIN'),
                    ('default-pin', 'ships with the factory PIN')):
    v = [r['verdict'] for r in tests if r['suite'] == suite and r['test'] == test]
    say('ok' if v == ['pass'] else 'bad', f'M1: {suite} / {test}: {v}')
bad_metrics = [r for r in m1 if r['metric'] and r['verdict'] != 'pass']
say('bad' if bad_metrics else 'ok', 'M1: every metric within its threshold')
atrs = {r.get('atr') for r in csv.DictReader(open(cycles, newline='')) if r['slot'] == 'M1'}
say('ok' if atrs == {profile['ATR']} else 'bad', f"M1: the ATR of every power cycle is the profile's ({sorted(map(str, atrs))})")

# X1: the tries differ from the profile: caught as the suites classify it,
# as failures (no errors), and nothing else fails.
want = {'pin.not-factory-default', 'pin.wrong-max-tries'}
x1 = [r for r in rows if r['slot'] == 'X1' and not r['metric']]
nonpass = [r for r in x1 if r['verdict'] in ('fail', 'error')]
got = {r['classification'] for r in nonpass}
say('ok' if got == want else 'bad', f'X1: caught as {sorted(got)} (expected {sorted(want)})')
say('ok' if nonpass and all(r['verdict'] == 'fail' for r in nonpass) else 'bad',
    f'X1: {len(nonpass)} failure(s), no errors')
for r in nonpass:
    say('info', f"X1: {r['suite']} / {r['test']}: {r['classification']}: {r['message'][:140]}")
PY
)
while IFS='|' read -r kind text; do
  case $kind in
    ok) ok "$text" ;;
    bad) bad "$text" ;;
    *) echo "# $text" ;;
  esac
done <<< "$verdicts"
[ -n "$verdicts" ] || bad "the results checker printed nothing"

# --- rig file errors ------------------------------------------------------------
rig_error() { # body of [slot A1] -> the error tokenrig prints, exit status in $rc
  printf '[rig]\nname = x\n[slot A1]\n%b\n' "$1" > "$T/bad.ini"
  err=$("$TR" rig up --rig "$T/bad.ini" 2>&1 >/dev/null); rc=$?
}
for body in 'pin_tries = 16' 'so_tries = 0' 'default_pin = 12345' 'so_pin = 12345678901234567' \
            'atr = 3B8A8001544F4B454E52494730310E' 'atr = 3A00' 'aid = F0544F4B' 'firmware = 01'; do
  rig_error "serial = VPROFILE00000001\n$body"
  check_eq "rig key '$body': exit status 2" "$rc" 2
  check "rig key '$body': error at bad.ini:5 ($err)" grep -q "bad.ini:5: ${body%% *}" <<<"$err"
done
readme_block=$(awk '/^### Rig files/ {s=1; next} s && /^### / {exit} s' "$ROOT/README.md")
for type in virtual usb-hub pcsc-only command none skf; do
  kind="a $type" body="type = $type"
  [ "$type" = skf ] && kind="an skf virtual" body="interface = skf"
  rig_error "$body\nno_such_key = 1"
  check_eq "unknown key in a $type slot: exit status 2" "$rc" 2
  keys=$(sed -n "s/.*$kind slot takes: \([^;]*\);.*/\1/p" <<<"$err" | tr -d ,)
  if [ -z "$keys" ]; then
    bad "unknown key in a $type slot: the error lists the slot's keys ($err)"
    continue
  fi
  ok "unknown key in a $type slot: the error lists its keys: $keys"
  undocumented=""
  for k in $keys; do
    grep -qE "^(; )?${k//./\\.} *=|[ (,]${k//./\\.}[ ,)]" <<<"$readme_block" || undocumented="$undocumented $k"
  done
  check_eq "README \"Rig files\" documents every key of a $type slot" "${undocumented# }" ""
done
rig_error "serial = VPROFILE00000001\nhub = 1-1"
check "a usb-hub key in a virtual slot is refused at its line ($err)" grep -q "bad.ini:5: key 'hub' does not apply" <<<"$err"

if [ "$fail" -ne 0 ]; then
  echo "# --- progress (stderr) ---"; grep -v ': pass$' "$T/err" | head -60
fi
finish
