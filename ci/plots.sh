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
    if gnuplot -e "dir='$dir'; data='$tmp'; tsv=1" "$scripts/$gp"; then
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
