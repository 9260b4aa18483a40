#!/usr/bin/env bash
# Run every integration test (ci/tests/NN-*.sh) against the build in $1.
# Each brings up its own virtual rig (private pcscd) and tears it down.
set -u
B=$(cd "${1:-build}" && pwd); export B
cd "$(dirname "$0")/.."
total_fail=0; total_pass=0
for t in ci/tests/[0-9][0-9]-*.sh; do
  echo "== $t"
  out=$(bash "$t" 2>&1); rc=$?
  echo "$out"
  p=$(echo "$out" | grep -c '^ok   - '); f=$(echo "$out" | grep -c '^FAIL - ')
  [ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
done
echo "integration: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
