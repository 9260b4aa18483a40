#!/usr/bin/env bash
# Issue 10 (6): a disk that fills up during a run. On a 64 KiB tmpfs the
# trace of a long loop fills the disk, then results.csv runs out of room
# too: the run says which file and why, exits 2, every row left in the CSV
# files is whole, the tests go on to their end (the verdict table and yield
# are printed, the tokens pass) and the rig is taken down. A disk full from
# the start stops the run before a token is touched. Needs root (tmpfs).
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
  bad "needs root to mount a tmpfs"
  finish
  exit 1
fi
T=$(mktemp -d /tmp/tr-fullfs.XXXXXX)
M=$T/mnt
export TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-fullfs
trap 'umount "$M" 2>/dev/null; rm -rf "$T"' EXIT
RIG=$ROOT/ci/tests/rigs/batch.ini
mkdir "$M"
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$M" || { bad "mount a tmpfs on $M"; finish; exit 1; }

# A long loop (its trace fills the disk) then 30 short tests: their result
# rows need more room than results.csv's last page has left.
{
  printf 'suite "fullfs"\n\ntest "loop" {\n  repeat ${LOOPS} {\n'
  printf '    00 A4 04 00 08 ${AID} 00 expect 9000\n    00 CA 01 ${DO_SERIAL} 00 expect 9000\n  }\n}\n'
  for i in $(seq -w 1 30); do
    printf '\ntest "short test number %s with a long name" {\n  00 A4 04 00 08 ${AID} 00 expect 9000\n}\n' "$i"
  done
} > "$T/fullfs.tsuite"

# whole_rows FILE COLUMNS -> "rows=N" when every row has COLUMNS cells and
# the file ends with a newline, else what is wrong
whole_rows() { python3 - "$1" "$2" <<'PY'
import csv, sys
path, cols = sys.argv[1], int(sys.argv[2])
data = open(path, newline='').read()
if data and not data.endswith('\n'):
    print('no newline at the end'); sys.exit()
rows = list(csv.reader(data.splitlines(keepends=True), strict=True))
bad = [i for i, r in enumerate(rows) if len(r) != cols]
print('rows=%d' % len(rows) if not bad else 'torn rows: %s' % bad)
PY
}

# --- the disk fills up during the run ---------------------------------------------------
"$TR" run --rig "$RIG" --slots A1,A4 --out "$M/r" -D LOOPS=1500 "$T/fullfs.tsuite" > "$T/out" 2> "$T/err"
check_eq "exit status 2 when the reports could not be written" "$?" 2
check "stderr names trace.csv and the reason" grep -q "$M/r/trace.csv: No space left on device" "$T/err"
check "stderr names the other files that failed" \
  grep -q 'also failed: results.csv, junit.xml, summary.csv' "$T/err"
check "the verdict table is printed" grep -qE '^A1 +BATCH00000000001 +(\S+ +)?PASS +31 +31 ' "$T/out"
check "both tokens in the table" grep -qE '^A4 +BATCH00000000004 +(\S+ +)?PASS +31 +31 ' "$T/out"
check "the yield is printed" grep -q 'batch yield: 2/2 tokens passed (100.0%)' "$T/out"
w=$(whole_rows "$M/r/results.csv" 21)
check "every row in results.csv is whole ($w)" grep -q '^rows=' <<<"$w"
n=${w#rows=}
check "results.csv lost rows to the full disk ($n of 63)" test "${n:-0}" -gt 1 -a "${n:-0}" -lt 63
check "the rows kept are the tests' verdicts" python3 - "$M/r/results.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
assert rows and all(r['verdict'] == 'pass' and r['slot'] in ('A1', 'A4') for r in rows), rows
PY
w=$(whole_rows "$M/r/trace.csv" 11)
check "every row in trace.csv is whole ($w)" grep -q '^rows=' <<<"$w"
check "no temporary junit.xml or summary.csv left" test -z "$(ls -A "$M/r" | grep '\.tmp\.')"
check "the rig was taken down" bash -c "! test -e $TOKENRIG_VRIG_DIR/state.ini"
rm -rf "$M/r"

# --- a disk full from the start: no token is touched ------------------------------------
dd if=/dev/zero of="$M/ballast" bs=4k 2>/dev/null
"$TR" run --rig "$RIG" --slots A1 --out "$M/r2" "$T/fullfs.tsuite" > "$T/out2" 2> "$T/err2"
check_eq "a full disk from the start: exit status 2" "$?" 2
check "a full disk from the start: names results.csv and the reason" \
  grep -q "$M/r2/results.csv: No space left on device" "$T/err2"
check "a full disk from the start: no test ran" bash -c "! grep -q 'batch yield' '$T/out2'"
finish
