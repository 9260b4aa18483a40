# Shared helpers of the integration tests (sourced). Each test prints one
# line per check and ends with "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-$ROOT/build}
TR=$B/tokenrig
APDU=$B/apdu
pass=0
fail=0
ok() { echo "ok   - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$3', got '$2'"; fi; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
finish() { echo "$(basename "$0"): $pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
# The results database the tests' runs write (tokenrig run and cycle write
# one by default): one throwaway SQLite file, never the developer's
# reports/tokenrig.db nor a $TOKENRIG_DB of theirs (ci/tests/92-db.sh, the
# test of the database, chooses its own).
export TOKENRIG_DB=/tmp/tr-it-tokenrig-$(id -u).db
# checker_lines TEXT: a results checker's "ok|...", "bad|..." and "info|..."
# lines (ci/tests/faultcheck.py) as checks and comments; nothing is a failure
checker_lines() {
  local kind text
  while IFS='|' read -r kind text; do
    case $kind in
      ok) ok "$text" ;;
      bad) bad "$text" ;;
      *) echo "# $text" ;;
    esac
  done <<< "$1"
  [ -n "$1" ] || bad "the results checker printed nothing"
}

# A rig of our own for this test file, torn down on exit whatever happens.
rig_up() {
  RIG=$1
  export TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-$(basename "$0" .sh | cut -c1-12)
  local out
  if ! out=$("$TR" rig up --rig "$RIG" 2>&1); then
    echo "FAIL - rig up $RIG: $out"
    exit 1
  fi
  # `rig up` prints `export NAME=value` lines (shell-quoted), as `rig env` does
  eval "$(echo "$out" | grep -E '^(export )?(PCSCLITE_CSOCK_NAME|TOKENRIG_VRIG_DIR)=')"
  export PCSCLITE_CSOCK_NAME
  trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1 || true' EXIT
}
# Reader of the i-th slot (0-based) of a virtual rig named $1.
vreader() { echo "tokenrig $1 $(($2 / 2)) 00 0$(($2 % 2))"; }
# SW of the last line / data of the last line printed by apdu.
last_sw() { tail -n 1 | awk '{print $2}'; }
pin16() { printf '%s' "$1" | xxd -p | tr -d '\n' | awk '{s=$0; while (length(s) < 32) s = s "FF"; print toupper(s)}'; }

# The crash rig (ci/tests/rigs/crash.ini) with its tokens' NV memory in $1/nv:
# writes $1/crash.ini and prints its path.
nv_crash_rig() {
  sed "s|^name = crash|name = crash\nnv_dir = $1/nv|" "$ROOT/ci/tests/rigs/crash.ini" > "$1/crash.ini"
  echo "$1/crash.ini"
}
# On exit: the rig RIG down (a run that crashed leaves it), T and its lease gone.
nv_crash_cleanup() {
  "$TR" rig down --rig "$RIG" >/dev/null 2>&1
  rm -rf "$T" "$TOKENRIG_VRIG_DIR.lease"
}
# verdicts RESULTS.CSV -> "slot|suite|test|verdict|class" of the certification
# rows (not metrics, not recovery rows), sorted: what two runs are compared by
verdicts() { python3 - "$1" <<'PY'
import csv, sys
rows = []
for r in csv.DictReader(open(sys.argv[1], newline='')):
    if not r['metric'] and r['suite'] != 'recovery':
        rows.append('|'.join([r['slot'], r['suite'], r['test'], r['verdict'], r['classification'] or '-']))
print('\n'.join(sorted(rows)))
PY
}

# wait_for_test TRACE.CSV TEST [TRIES]: until a running run's trace has a
# row of suite TEST (10 ms a try, 500 tries by default), then return
wait_for_test() {
  for _ in $(seq 1 "${3:-500}"); do grep -q ",$2," "$1" 2>/dev/null && return 0; sleep 0.01; done
  return 1
}
# baseline_ok WHAT RC OUT: the run in OUT exited 0 with $T/base.v's verdicts
# (OUT.v written)
baseline_ok() {
  verdicts "$3/results.csv" > "$3.v"
  if [ "$2" = 0 ] && cmp -s "$T/base.v" "$3.v"; then
    ok "$1"
  else
    bad "$1: exit $2, verdicts differ: $(diff "$T/base.v" "$3.v" | head -4 | tr '\n' ' ')"
  fi
}

# PKCS#11 targets (ci/p11): field NAME LINE is the value of NAME=... in a
# "# token" line of up's output; p11_rig_head NAME MODULE [JOURNAL] and
# p11_slot_section SLOT LINE [VAR=VALUE...] write a rig of reload slots
# (the module restarted as the power cycle), with the target's PKI roots
# (TOKENRIG_P11_CA_ROOT, TOKENRIG_P11_SEAL_MAKER_ROOT from up's output).
field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# p11_slot_section NAME "# token ..." [VAR=VALUE...]: a [slot] of type reload for
# the token of that line, its CA and seal-maker roots from the target's PKI.
p11_slot_section() {
  local name=$1 line=$2 v
  shift 2
  printf '\n[slot %s]\ntype = reload\npkcs11_token = %s\nserial = %s\nrole = %s\nalg = %s\n' \
    "$name" "$(field label "$line")" "$(field serial "$line")" "$(field role "$line")" "$(field alg "$line")"
  printf 'var.CA_ROOT = %s\nvar.SEAL_MAKER_ROOT = %s\n' "$TOKENRIG_P11_CA_ROOT" "$TOKENRIG_P11_SEAL_MAKER_ROOT"
  for v in "$@"; do printf 'var.%s\n' "$v"; done
}

p11_rig_head() {
  printf '[rig]\nname = %s\ninterface = pkcs11\npkcs11_module = %s\nready_timeout_ms = 10000\noff_ms = 100\n' "$1" "$2"
  [ -z "${3:-}" ] || printf 'journal = %s\n' "$3"
}
