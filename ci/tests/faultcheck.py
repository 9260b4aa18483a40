#!/usr/bin/env python3
"""ci/tests/faultcheck.py INTERFACE ROOT RIG RESULTS [RIG RESULTS ...]

The fault table's checker (ci/tests/40-faults.sh over APDUs, 88-skf-faults.sh
through the REF-1 SKF library): healthy tokens pass everything (or skip what
their role, the run or their interface makes inapplicable), each defective
token fails with exactly its defect's classification, the same over every
interface that can observe it. Prints "ok|...", "bad|..." and "info|..."
lines, and the detection table.
"""
import collections, configparser, csv, re, sys

iface = sys.argv[1]
root = sys.argv[2]
runs = list(zip(sys.argv[3::2], sys.argv[4::2]))
if iface not in ('apdu', 'skf'):
    sys.exit(f'faultcheck.py: interface {iface!r}: expected apdu or skf')

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
    'change-ignores-block': 'pin.no-lockout',  # rigs/faults-8.ini, skf-faults-11.ini
    # issue 11, item 7: the rest of the PIN state model's properties (rigs/faults-7.ini)
    'power-keeps-verified': 'pin.verified-after-power',
    'unblock-keeps-verified': 'pin.verified-after-unblock',
    'so-counter-not-restored': 'pin.so-counter-not-restored',
    'counter-reset-on-reset': 'pin.counter-reset-by-reset',
    'old-pin-accepted': 'pin.old-pin-accepted',
    'reverify-refused': 'pin.right-pin-refused',
    'counter-not-restored': 'pin.counter-not-restored',
    'so-pin-unchecked': 'pin.so-wrong-pin-accepted',
    'logout-refused': 'pin.logout-failed',
    'pin-info-ends-verified': 'pin.verified-state-lost',
    'sign-refused-after-change': 'sign.refused-after-verify',
    'seal-refused-after-unblock': 'seal.refused-after-verify',
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
# The fault table's SKF column: the defects a GM/T 0016 library cannot let
# through to the caller, or that its API has no way to see. Every other
# defect is caught through SKF with the same classification as over APDUs
# (rigs/faults-skf*.ini).
SKF_NOT = {
    'bad-atr': 'the ATR is below the library (GM/T 0016 has no ATR)',
    'reset-keeps-verified': 'GM/T 0016 has no reset (and no query of the verified state)',
    'endless-61xx': 'a protocol defect the library handles below its API',
    '6cxx-loop': 'a protocol defect the library handles below its API',
    'trailing-bytes': 'a protocol defect the library handles below its API',
    'short-read-9000': 'a protocol defect the library handles below its API',
    'slow-start': 'through a library power-on to the first answer is dominated by the library listing the '
                  'device again (FIRST_APDU_MAX_MS 5000 in the SKF profiles)',
    'counter-reset-on-reset': 'GM/T 0016 has no reset',
    'logout-refused': 'the SKF ops open every session with a log out (SKF_ClearSecureState): a token that refuses '
                      'it fails wherever a session opens (enum.no-select), not as one property',
}
# Defects SKF sees as another property than APDUs do, and why.
SKF_CLASS = {
    # no query of the verified state over SKF: a state that is gone shows as
    # the key refusing to sign
    'pin-info-ends-verified': 'sign.refused-after-verify',
}
FAULT_CLASS_ALL = dict(FAULT_CLASS)
if iface == 'skf':
    FAULT_CLASS = {f: SKF_CLASS.get(f, c) for f, c in FAULT_CLASS.items() if f not in SKF_NOT}
# Time defects: the failing metric row of results.csv carries the measured
# time (value) and the profile limit it broke (message).
TIME_METRIC = {'slow-start': ('first_apdu_ms', 'FIRST_APDU_MAX_MS'),
               'slow-apdu': ('apdu_ms', 'APDU_MAX_MS')}
# How much of a failing row's message is printed: enough for the library's
# own words after the test's (CI once cut them at 160 and hid the cause).
MSG_MAX = 400
# Defects after which the token cannot answer any more.
LOST = {'flaky-power', 'mute-after', 'drop-after'}
# Why a healthy token may skip a test: its role, no batch manifest, or (decrypt)
# no encryption pair on an ecdsa token.
HEALTHY_SKIP = re.compile(r'^(not a (main|secondary) key|no batch manifest given|'
                          r'no notAfter date|no encryption pair)')
if iface == 'skf': # and what GM/T 0016 cannot express (suites/lib/ops-skf.tsuite)
    HEALTHY_SKIP = re.compile(HEALTHY_SKIP.pattern + r'|^requires INTERFACE == "apdu"|^the interface cannot read|'
                              r'^the interface has no reset|^not run: ROLE is not set')

def say(kind, text):
    print(f'{kind}|{text}')

def check_readme_table():
    """README's "Fault detection table" and FAULT_CLASS say the same: every
    row's fault and class are FAULT_CLASS's, every fault has a row, and the
    "through SKF" column is `same`, the SKF_CLASS class or (SKF_NOT) a dash."""
    text = open(f'{root}/README.md', encoding='utf-8').read()
    m = re.search(r'^## Fault detection table\n(.*?)(?=^## )', text, re.S | re.M)
    if not m:
        say('bad', 'README.md has no "## Fault detection table" section')
        return
    rows = {}
    for line in m.group(1).splitlines():
        if not line.startswith('| `'):
            continue
        cells = [c.strip() for c in line.strip().strip('|').split(' | ')]
        fault = re.match(r'`([^`=]+)', cells[0]).group(1)
        if fault in rows:
            say('bad', f'README fault table: `{fault}` has two rows')
        rows[fault] = cells
    bad = []
    for fault, cells in rows.items():
        cls = re.match(r'`([^`]+)`', cells[2]) if len(cells) == 4 else None
        if len(cells) != 4 or not cls:
            bad.append(f'`{fault}`: expected 4 columns, the third the `class`')
            continue
        if fault not in FAULT_CLASS_ALL:
            bad.append(f'`{fault}` is not in faultcheck.py FAULT_CLASS')
        elif cls.group(1) != FAULT_CLASS_ALL[fault]:
            bad.append(f'`{fault}`: README says {cls.group(1)}, FAULT_CLASS {FAULT_CLASS_ALL[fault]}')
        skf = cells[3]
        if fault in SKF_NOT and not skf.startswith('—'):
            bad.append(f'`{fault}`: SKF_NOT, but the SKF column does not start with a dash: {skf[:40]}')
        elif fault in SKF_CLASS and f'`{SKF_CLASS[fault]}`' not in skf:
            bad.append(f'`{fault}`: the SKF column does not name `{SKF_CLASS[fault]}` (SKF_CLASS)')
        elif fault not in SKF_NOT and fault not in SKF_CLASS and not skf.startswith('same'):
            bad.append(f'`{fault}`: the SKF column is not "same" ({skf[:40]}), nor in SKF_NOT / SKF_CLASS')
    bad += [f'`{f}` of FAULT_CLASS has no README row' for f in FAULT_CLASS_ALL if f not in rows]
    for b in bad:
        say('bad', f'README fault table: {b}')
    if not bad:
        say('ok', f'README fault table and FAULT_CLASS agree ({len(rows)} faults, classes and SKF column)')

check_readme_table()

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
                say('bad', f"{desc}: recovery {r['verdict']}: {r['message'][:MSG_MAX]}")
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
                    say('bad', f"{desc}: {r['suite']} / {r['test']}: {r['verdict']} {r['classification']} {r['message'][:MSG_MAX]}")
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
                say('bad', f"{desc}: also {r['verdict']} {r['classification']} in {r['suite']} / {r['test']}: {r['message'][:MSG_MAX]}")
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
say('info', f'Fault detection table ({iface})')
say('info', '| fault | slot | first caught by (suite / test) | classification | verdict | tests |')
say('info', '|---|---|---|---|---|---|')
order = list(FAULT_CLASS)
if iface == 'skf':
    for f, why in SKF_NOT.items():
        say('info', f'not over SKF: `{f}`: {why}')
for d in sorted(detections, key=lambda d: order.index(d[0].split('=')[0])):
    say('info', f'| `{d[0]}` | {d[1]} | {d[2]} | `{d[3]}` | {d[4]} | {d[5]} |')
say('info', '')
RATES = (('sign.rate', 'Signing rate (healthy tokens, sign-throughput', ('sm2', 'ecdsa', 'rsa')),
         ('decrypt.rate', 'Decryption rate (healthy tokens, decrypt', ('sm2', 'rsa')))
if iface == 'skf': # SM2 and RSA, the SKF algorithms
    RATES = (('sign.rate', 'Signing rate through SKF (healthy tokens, sign-throughput', ('sm2', 'rsa')),
             ('decrypt.rate', 'Decryption rate through SKF (healthy tokens, decrypt', ('sm2', 'rsa')))
for metric, what, algs in RATES:
    say('info', f'{what} metric {metric})')
    for alg in algs:
        if not rates[metric][alg]:
            say('bad', f'no {metric} measured for {alg}')
            continue
        vals = ', '.join(f'{s} {v:.0f}/s' for s, v in rates[metric][alg])
        say('info', f'  {alg}: {vals}')
    if metric == 'decrypt.rate':
        say('info', '  ecdsa: none (no encryption pair: the decrypt suite is skipped)')