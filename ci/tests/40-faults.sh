#!/usr/bin/env bash
# Issue 4 (and issue 11's and 15's new checks), the proof: every certification suite
# (suites/DEFAULT) on healthy tokens of every algorithm and both roles, and
# on one token per defect of the REF-1 fault table. Healthy: every test
# passes (or is skipped because the token's role makes it not apply, or —
# decrypt — because an ecdsa token has no encryption pair). Defective: the
# defect's own classification fails and nothing else does (a token that
# cannot answer at all — mute, dropped, never back from a power cycle — may
# end the rest of its tests as errors of that same classification). Prints
# the detection table and the signing and decryption rates measured per
# algorithm.
#
# Every rigs/faults*.ini, run at once, each under its own private pcscd:
# one pcscd serves at most 16 readers (see rigs/faults.ini).
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/tr-faults.XXXXXX)
# every rigs/faults*.ini, each under its own private pcscd (16 readers each)
mapfile -t RIGS < <(ls "$ROOT"/rigs/faults*.ini | sort -V)
# tokenrig run takes its rigs down itself; this is for a run that crashed
cleanup() {
  for i in "${!RIGS[@]}"; do
    TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-faults$i "$TR" rig down --rig "${RIGS[$i]}" >/dev/null 2>&1
  done
  rm -rf "$T"
}
trap cleanup EXIT

t0=$(date +%s.%N)
pids=()
for i in "${!RIGS[@]}"; do
  TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-faults$i "$TR" run --rig "${RIGS[$i]}" --allow-destructive --out "$T/r$i" \
    > "$T/out$i" 2> "$T/err$i" &
  pids[$i]=$!
  # The next rig comes up once this one is (its "run ... ->" line): two
  # bring-ups at the same instant could pick the same free vpcd ports.
  for _ in $(seq 1 600); do
    grep -q '^tokenrig: run ' "$T/err$i" 2>/dev/null && break
    kill -0 "${pids[$i]}" 2>/dev/null || break
    sleep 0.05
  done
done
for i in "${!RIGS[@]}"; do
  wait "${pids[$i]}"; rc=$?
  check_eq "$(basename "${RIGS[$i]}"): exit status 1 (defective tokens failed)" "$rc" 1
  check "$(basename "${RIGS[$i]}"): junit.xml written" test -s "$T/r$i/junit.xml"
done
t1=$(date +%s.%N)
echo "# proof runtime: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (${#RIGS[@]} rigs, up, all suites, down)"
args=()
for i in "${!RIGS[@]}"; do args+=("${RIGS[$i]}" "$T/r$i/results.csv"); done

# The checker prints "ok|...", "bad|..." and "info|..." lines.
verdicts=$(python3 - "$ROOT" "${args[@]}" <<'PY'
import collections, configparser, csv, re, sys

root = sys.argv[1]
runs = list(zip(sys.argv[2::2], sys.argv[3::2]))

# The REF-1 fault table (../shared/REFERENCE-TOKEN.md): what each defect
# must be caught as.
FAULT_CLASS = {
    'counter-reset-on-power': 'pin.counter-reset-by-power',
    'no-lockout': 'pin.no-lockout',
    'non-default-pin': 'pin.not-factory-default',
    'default-flag-stuck': 'pin.default-flag-wrong',
    'seal-on-secondary': 'seal.present-on-secondary',
    'no-seal-on-main': 'seal.missing-on-main',
    'bad-seal-signature': 'seal.bad-signature',
    'bad-signature': 'sign.bad-signature',
    'slow-sign': 'sign.too-slow',
    'expired-cert': 'cert.expired',
    'renewal-due': 'cert.renewal-due',
    'cert-other-ca': 'cert.untrusted-ca',
    'rogue-seal-maker': 'seal.untrusted-maker',
    'sign-without-pin': 'sign.no-pin-required',
    'flaky-power': 'enum.no-card',
    'bad-atr': 'enum.bad-atr',
    'mute-after': 'io.mute',
    'drop-after': 'io.removed',
    # the PIN state model (suites/pin-model.tsuite)
    'logout-ignored': 'pin.verified-after-logout',
    'reset-keeps-verified': 'pin.verified-after-reset',
    'so-no-lockout': 'pin.so-no-lockout',
    'change-not-persistent': 'pin.change-not-persistent',
    'wrong-pin-keeps-verified': 'pin.verified-after-wrong-pin',
    'seal-without-pin': 'seal.no-pin-required',
    # issue 11: time and protocol (rigs/faults-4.ini)
    'slow-start': 'time.slow-start',
    'slow-apdu': 'time.slow-apdu',
    'endless-61xx': 'proto.endless-61xx',
    '6cxx-loop': 'proto.6cxx-loop',
    'trailing-bytes': 'proto.trailing-bytes',
    'short-read-9000': 'proto.short-read',
    # issue 15: decryption (rigs/faults-6.ini)
    'decrypt-without-pin': 'enc.no-pin-required',
    'decrypt-with-sign-key': 'enc.uses-sign-key',
    'no-enc-key': 'enc.missing',
    'enc-cert-other-key': 'enc.decrypt-failed',
}
# Time defects: the failing metric row of results.csv carries the measured
# time (value) and the profile limit it broke (message).
TIME_METRIC = {'slow-start': ('first_apdu_ms', 'FIRST_APDU_MAX_MS'),
               'slow-apdu': ('apdu_ms', 'APDU_MAX_MS')}
# Defects after which the token cannot answer any more.
LOST = {'flaky-power', 'mute-after', 'drop-after'}
# Why a healthy token may skip a test: its role, no batch manifest, or (decrypt)
# no encryption pair on an ecdsa token.
HEALTHY_SKIP = re.compile(r'^(not a (main|secondary) key|no batch manifest given|'
                          r'no notAfter date|no encryption pair)')

def say(kind, text):
    print(f'{kind}|{text}')

# Every test of every default suite, in order.
suite_tests = []
for name in open(f'{root}/suites/DEFAULT'):
    name = name.strip()
    if not name or name.startswith('#'):
        continue
    for line in open(f'{root}/suites/{name}.tsuite'):
        m = re.match(r'\s*test\s+"([^"]+)"', line)
        if m:
            suite_tests.append((name, m.group(1)))
say('info', f'{len(suite_tests)} tests in {len(set(s for s, _ in suite_tests))} suites per token')

faults_seen = set()
detections = []
rates = {'sign.rate': collections.defaultdict(list), 'decrypt.rate': collections.defaultdict(list)}
for rig_path, results in runs:
    rig = configparser.ConfigParser(inline_comment_prefixes=(';',))
    rig.read(rig_path)
    slots = {}
    for sec in rig.sections():
        if sec.startswith('slot '):
            s = rig[sec]
            faults = [f.strip() for f in s.get('faults', '').split(',') if f.strip()]
            slots[sec[5:]] = (faults, s.get('alg', 'sm2'), s.get('role', 'main'), s.getboolean('t0', False))
    rows = list(csv.DictReader(open(results, newline='')))
    for slot, (faults, alg, role, t0) in slots.items():
        desc = f'{slot} ({alg} {role}{" T=0" if t0 else ""}{", " + ",".join(faults) if faults else ", healthy"})'
        mine = [r for r in rows if r['slot'] == slot]
        # a recovery row (journal: a token an earlier run left mid-way) must pass
        # and is not a test of the certification
        for r in mine:
            if r['suite'] == 'recovery' and not r['metric'] and r['verdict'] != 'pass':
                say('bad', f"{desc}: recovery {r['verdict']}: {r['message'][:160]}")
        mine = [r for r in mine if r['suite'] != 'recovery']
        tests = [r for r in mine if not r['metric']]
        keys = [(r['suite'], r['test']) for r in tests]
        dups = [k for k, n in collections.Counter(keys).items() if n > 1]
        say('bad' if dups else 'ok', f'{desc}: one verdict per test' + (f' (twice: {dups[:3]})' if dups else ''))
        unknown = [k for k in keys if k not in suite_tests]
        if unknown:
            say('bad', f'{desc}: rows for tests that are not in the suites: {unknown[:3]}')
        nonpass = [r for r in tests if r['verdict'] in ('fail', 'error')]
        if not faults:
            missing = [k for k in suite_tests if k not in keys]
            say('bad' if missing else 'ok', f'{desc}: every test has a verdict' + (f' (missing {missing[:3]})' if missing else ''))
            bad_skips = [r for r in tests if r['verdict'] == 'skip' and not HEALTHY_SKIP.match(r['message'])]
            if nonpass or bad_skips:
                for r in (nonpass + bad_skips)[:5]:
                    say('bad', f"{desc}: {r['suite']} / {r['test']}: {r['verdict']} {r['classification']} {r['message'][:160]}")
            else:
                n_skip = sum(r['verdict'] == 'skip' for r in tests)
                say('ok', f'{desc}: {len(tests) - n_skip} passed, {n_skip} skipped (role / no manifest), nothing failed')
            bad_metrics = [r for r in mine if r['metric'] and r['verdict'] != 'pass']
            say('bad' if bad_metrics else 'ok', f'{desc}: every metric within its threshold')
            for r in mine:
                if r['metric'] in rates:
                    rates[r['metric']][alg].append((slot, float(r['value'])))
            continue
        if len(faults) != 1:
            say('bad', f'{desc}: a defective slot carries exactly one fault')
            continue
        fault = faults[0].split('=')[0]
        faults_seen.add(fault)
        want = FAULT_CLASS[fault]
        caught = [r for r in nonpass if r['classification'] == want]
        others = [r for r in nonpass if r['classification'] != want]
        if fault not in LOST:
            caught = [r for r in caught if r['verdict'] == 'fail']
            others += [r for r in nonpass if r['verdict'] == 'error']
            missing = [k for k in suite_tests if k not in keys]
            if missing:
                say('bad', f'{desc}: tests without a verdict: {missing[:3]}')
        say('ok' if caught else 'bad', f'{desc}: caught as {want}' +
            (f" by {caught[0]['suite']} / {caught[0]['test']}" if caught else ''))
        if others:
            for r in others[:5]:
                say('bad', f"{desc}: also {r['verdict']} {r['classification']} in {r['suite']} / {r['test']}: {r['message'][:160]}")
        else:
            say('ok', f'{desc}: nothing else failed ({len(caught)} test(s) {want}, '
                      f"{sum(r['verdict'] == 'pass' for r in tests)} passed, {sum(r['verdict'] == 'skip' for r in tests)} skipped)")
        if fault in TIME_METRIC:
            metric, limit_name = TIME_METRIC[fault]
            rows_m = [r for r in mine if r['metric'] == metric and r['verdict'] == 'fail'
                      and r['classification'] == want]
            good = []
            for r in rows_m:
                m = re.search(rf'over {limit_name} ([0-9.]+) ms', r['message'])
                if m and float(r['value']) > float(m.group(1)):
                    good.append((float(r['value']), float(m.group(1))))
            in_test = all(re.search(rf'over {limit_name} [0-9.]+ ms', r['message']) for r in caught)
            say('ok' if good and len(good) == len(rows_m) and in_test else 'bad',
                f'{desc}: results.csv carries the time and the limit' +
                (f' ({metric} {good[0][0]:.1f} ms > {limit_name} {good[0][1]:g} ms, {len(good)} row(s))' if good else ''))
        if caught:
            first = caught[0]
            detections.append((faults[0], slot, f"{first['suite']} / {first['test']}", want,
                               first['verdict'], len(caught)))

for f in FAULT_CLASS:
    if f not in faults_seen:
        say('bad', f'fault {f}: no token of the rigs has it')
say('info', '')
say('info', 'Fault detection table')
say('info', '| fault | slot | first caught by (suite / test) | classification | verdict | tests |')
say('info', '|---|---|---|---|---|---|')
order = list(FAULT_CLASS)
for d in sorted(detections, key=lambda d: order.index(d[0].split('=')[0])):
    say('info', f'| `{d[0]}` | {d[1]} | {d[2]} | `{d[3]}` | {d[4]} | {d[5]} |')
say('info', '')
for metric, what, algs in (('sign.rate', 'Signing rate (healthy tokens, sign-throughput', ('sm2', 'ecdsa', 'rsa')),
                           ('decrypt.rate', 'Decryption rate (healthy tokens, decrypt', ('sm2', 'rsa'))):
    say('info', f'{what} metric {metric})')
    for alg in algs:
        if not rates[metric][alg]:
            say('bad', f'no {metric} measured for {alg}')
            continue
        vals = ', '.join(f'{s} {v:.0f}/s' for s, v in rates[metric][alg])
        say('info', f'  {alg}: {vals}')
    if metric == 'decrypt.rate':
        say('info', '  ecdsa: none (no encryption pair: the decrypt suite is skipped)')
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
if [ "$fail" -ne 0 ]; then
  for i in "${!RIGS[@]}"; do
    echo "# --- $(basename "${RIGS[$i]}") progress (stderr) ---"; grep -v ': pass$' "$T/err$i" | head -60
  done
fi
finish
