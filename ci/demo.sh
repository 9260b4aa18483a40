#!/usr/bin/env bash
# make demo: certify the demo batch (rigs/demo.ini) on a private virtual rig,
# write reports + plots + report.html, print the batch verdict and the
# page's path. The batch holds faulty tokens on purpose, so tokenrig's exit
# status 1 is the expected outcome; anything else (0: a defect was missed,
# 2: the rig broke) fails the demo.
set -u
B=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.."
mkdir -p reports
export TOKENRIG_VRIG_DIR=/tmp/tokenrig-demo-$$
start=$(date +%s.%N)
"$B/tokenrig" run --rig rigs/demo.ini --allow-destructive --plots
rc=$?
end=$(date +%s.%N)
echo
printf 'demo: %.1f s wall time\n' "$(echo "$end - $start" | bc -l 2>/dev/null || python3 -c "print($end-$start)")"
case $rc in
  1) echo "demo: the defective tokens were caught (exit status 1: a token failed), see reports/latest/"
     echo "demo: HTML report: $PWD/reports/$(readlink reports/latest)/report.html (also reports/latest/report.html)"
     exit 0 ;;
  0) echo "demo: every token passed, but the batch holds defective tokens: something was missed" >&2; exit 1 ;;
  *) echo "demo: the run did not complete (exit status $rc)" >&2; exit 1 ;;
esac
