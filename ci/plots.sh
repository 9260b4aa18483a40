#!/usr/bin/env bash
# ci/plots.sh RUN_DIR — draw the PNG plots of one run with gnuplot:
#   RUN_DIR/sign-latency.png  (samples.csv)  signing latency histogram per slot
#   RUN_DIR/cycles.png        (cycles.csv)   power-cycle stage times per cycle
#   RUN_DIR/batch.png         (summary.csv)  verdict per token, batch yield
# A plot whose CSV is missing or has no data rows is skipped with a note.
# Without gnuplot (Debian: gnuplot-nox) it prints a note and exits 0:
# plots are a convenience, never a reason for a run to fail.
set -u
dir=${1:-}
if [ -z "$dir" ]; then
    echo "usage: ci/plots.sh RUN_DIR" >&2
    exit 2
fi
if [ ! -d "$dir" ]; then
    echo "ci/plots.sh: $dir is not a directory" >&2
    exit 2
fi
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "ci/plots.sh: gnuplot not found (apt-get install gnuplot-nox); no plots drawn"
    exit 0
fi
here=$(cd "$(dirname "$0")/.." && pwd)
scripts=${TR_PLOT_SCRIPTS:-$here/reports}
# gnuplot takes dir as a string literal: refuse a quote that would end it
case "$dir" in *\'*|*\\*) echo "ci/plots.sh: cannot pass a directory name with ' or \\ to gnuplot" >&2; exit 2;; esac

# gnuplot does not understand CSV quoting (a test name may hold a comma):
# hand it tab-separated copies made by Python's csv module.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
to_tsv() { # CSV TSV SLOT-COLUMN: tabs/newlines inside cells become spaces; rows
           # sorted by slot (stable) so each slot's rows are contiguous and its
           # lines connect (an undefined point between them would break them)
    python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8", errors="replace")))
col = int(sys.argv[2])
body = sorted(rows[1:], key=lambda r: r[col] if len(r) > col else "")
for row in rows[:1] + body:
    sys.stdout.write("\t".join(c.replace("\t", " ").replace("\r", " ").replace("\n", " ") for c in row) + "\n")
' "$1" "$3" > "$2"
}

# cycles_meta TSV META: for cycles.gp, the slots (in the order of the
# sorted copy) and per slot the stage columns that hold a time, the limit
# (0: none) and whether a cycle failed: a series with no point would only
# be an empty entry in the key (and a gnuplot warning).
cycles_meta() {
    python3 -c '
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")][1:]
slots = []
for r in rows:
    if r[1] not in slots:
        slots.append(r[1])
cell = lambda r, c: r[c - 1] if len(r) >= c else ""
out = ["slots = \"%s\"" % " ".join(s.replace("\"", "") for s in slots)]
for i, s in enumerate(slots, 1):
    mine = [r for r in rows if r[1] == s]
    cols = [str(c) for c in (6, 7, 8, 9) if any(cell(r, c) for r in mine)]
    out.append("stages%d = \"%s\"" % (i, " ".join(cols)))
    limits = [float(cell(r, 18)) for r in mine if cell(r, 18)]
    out.append("limit%d = %s" % (i, repr(max(limits)) if limits else "0"))
    out.append("failed%d = %d" % (i, any(cell(r, 13) != "pass" for r in mine)))
print("\n".join(out))
' "$1" > "$2"
}

status=0
plot() { # plot SCRIPT CSV SLOT-COLUMN
    local gp=$1 csv=$2 slotcol=$3
    if [ ! -f "$dir/$csv" ] || [ "$(head -c 1M "$dir/$csv" | wc -l)" -lt 2 ]; then
        echo "ci/plots.sh: no data in $dir/$csv; skipping $gp"
        return
    fi
    if ! to_tsv "$dir/$csv" "$tmp/${csv%.csv}.tsv" "$slotcol"; then
        echo "ci/plots.sh: cannot read $dir/$csv; skipping $gp" >&2
        status=1
        return
    fi
    local meta=0
    if [ "$gp" = cycles.gp ] && cycles_meta "$tmp/cycles.tsv" "$tmp/cycles-meta.gp"; then
        meta=1
    fi
    if gnuplot -e "dir='$dir'; data='$tmp'; tsv=1; meta=$meta" "$scripts/$gp"; then
        echo "ci/plots.sh: wrote $dir/${gp%.gp}.png"
    else
        echo "ci/plots.sh: gnuplot failed on $scripts/$gp" >&2
        status=1
    fi
}
plot sign-latency.gp samples.csv 1
plot cycles.gp cycles.csv 1
plot batch.gp summary.csv 2
exit $status
