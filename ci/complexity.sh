#!/usr/bin/env bash
# The house-size gate (make complexity, run by make test before the unit
# tests): no function in harness/src/*.c or harness/tokenrig.c may be longer
# than 80 lines or have a traditional McCabe complexity above 30, so every
# function still fits on a screen and in a head. Measured with pmccabe
# (Debian package pmccabe, installed by ci/deps.sh).
#
#   bash ci/complexity.sh [FILE.c ...]   default: the harness sources
#
# Exit status: 0 within the limits, 1 offenders (listed as file:line
# function, lines, complexity), 2 pmccabe missing or failing.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_LINES=80
MAX_CCN=30

if ! command -v pmccabe >/dev/null 2>&1; then
  echo "complexity: pmccabe not found (Debian package pmccabe; bash ci/deps.sh installs it)" >&2
  exit 2
fi
if [ $# -gt 0 ]; then files=("$@"); else files=(harness/src/*.c harness/tokenrig.c); fi

if ! report=$(pmccabe "${files[@]}"); then
  echo "complexity: pmccabe failed on ${files[*]}" >&2
  exit 2
fi
# pmccabe's columns (tab separated): modified McCabe, traditional McCabe,
# statements, first line, lines, "file(line): function".
summary=$(awk -F'\t' -v max_lines="$MAX_LINES" -v max_ccn="$MAX_CCN" '
  NF != 6 { bad++; next }
  {
    n++
    if ($2 > max_ccn || $5 > max_lines) {
      where = $6
      sub(/\): /, " ", where)   # "file(line): fn" -> "file:line fn"
      sub(/\(/, ":", where)
      printf "  %s: %d lines, complexity %d\n", where, $5, $2
      over++
    }
  }
  END { printf "%d %d %d\n", n, over, bad }' <<<"$report")
read -r n over bad <<<"$(tail -n 1 <<<"$summary")"
if [ "$bad" -ne 0 ] || [ "$n" -eq 0 ]; then
  echo "complexity: could not read pmccabe's report ($n functions, $bad lines not understood)" >&2
  exit 2
fi
if [ "$over" -ne 0 ]; then
  echo "complexity: $over of $n functions over $MAX_LINES lines or complexity $MAX_CCN:" >&2
  head -n -1 <<<"$summary" >&2
  exit 1
fi
echo "complexity: $n functions, none over $MAX_LINES lines or complexity $MAX_CCN"
