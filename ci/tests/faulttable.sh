# ci/tests/faulttable.sh — the fault table's proof, shared by 40-faults.sh
# (over APDUs) and 88-skf-faults.sh (through the REF-1 SKF library): every
# rig of the table ($FAULT_RIGS, a glob under rigs/) run at once (at most
# $FAULT_PARALLEL of them), each under its own private pcscd, and the results judged by faultcheck.py for the
# interface $FAULT_IFACE ($FAULT_RUN_ARGS: more options of the runs). Sourced
# after lib.sh.
T=$(mktemp -d /tmp/tr-faults.XXXXXX)
# every rig of the table, each under its own private pcscd (16 readers each)
mapfile -t RIGS < <(ls "$ROOT"/rigs/$FAULT_RIGS | sort -V)
# tokenrig run takes its rigs down itself; this is for a run that crashed
cleanup() {
  for i in "${!RIGS[@]}"; do
    TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-$FAULT_IFACE$i "$TR" rig down --rig "${RIGS[$i]}" >/dev/null 2>&1
  done
  [ -n "${KEEP_T:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

t0=$(date +%s.%N)
pids=()
rcs=()
# at most $FAULT_PARALLEL rigs at once (default: all): the next waits for
# the oldest still running (its exit status kept for the checks below)
par=${FAULT_PARALLEL:-${#RIGS[@]}}
for i in "${!RIGS[@]}"; do
  if [ "$i" -ge "$par" ]; then
    wait "${pids[$((i - par))]}"; rcs[$((i - par))]=$?
  fi
  TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-$FAULT_IFACE$i "$TR" run --rig "${RIGS[$i]}" --allow-destructive ${FAULT_RUN_ARGS:-} --out "$T/r$i" \
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
  if [ -n "${rcs[$i]:-}" ]; then rc=${rcs[$i]}; else wait "${pids[$i]}"; rc=$?; fi
  # a rig whose only token cannot answer (a mute one, in a rig of its own:
  # rigs/skf-faults-3.ini) ends in errors, exit 2; any other, 1
  want=1
  grep -q '^faults = \(mute-after\|drop-after\)' "${RIGS[$i]}" && [ "$(grep -c '^\[slot ' "${RIGS[$i]}")" = 1 ] && want=2
  check_eq "$(basename "${RIGS[$i]}"): exit status $want (defective tokens failed)" "$rc" "$want"
  check "$(basename "${RIGS[$i]}"): junit.xml written" test -s "$T/r$i/junit.xml"
done
t1=$(date +%s.%N)
echo "# proof runtime: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (${#RIGS[@]} rigs, up, all suites, down)"
args=()
for i in "${!RIGS[@]}"; do args+=("${RIGS[$i]}" "$T/r$i/results.csv"); done

# The checker prints "ok|...", "bad|..." and "info|..." lines.
verdicts=$(python3 "$ROOT/ci/tests/faultcheck.py" "$FAULT_IFACE" "$ROOT" "${args[@]}")
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
