#!/usr/bin/env bash
# make test-tsan: the unit tests given as arguments and the batch
# integration test (a worker per slot, the watchdog, a mute, a dropped and a
# killed token, Ctrl-C) on the ThreadSanitizer build in $1
# (make BUILD=build-tsan TSAN=1). Any ThreadSanitizer report fails the run,
# whatever the tests said: each unit test's output is searched, and under
# the integration test, whose processes' stderr is not ours to see
# (tokenrig, the vtokens), every process writes its reports to a file of its
# own under $1/tsan-log. (Not the unit tests: check_usbhub re-runs itself
# under umockdev's preload library, where TSan with log_path set neither
# logs to the file nor reads the suppressions.)
# ci/tsan.supp lists the races inside uninstrumented system libraries, each
# with why it is not ours.
#
# check_usbhub runs umockdev's testbed, whose worker thread hands data to
# the main thread through glib (GMutex/GCond are futex based, reference
# counts are atomics): TSan sees none of that synchronization in the
# uninstrumented glib and umockdev and reports their own memory as raced
# (g_realloc, g_strdup, g_rec_mutex_clear, libudev's random seed — a new
# one on every run). For that program only, ignore_noninstrumented_modules
# makes TSan ignore memory accesses that uninstrumented libraries make
# through its interceptors; every access of our own code, including the
# simulated hub's ioctl handler that umockdev's worker thread calls, is
# still checked (taking the lock out of that handler is reported at once).
set -u
B=$(cd "${1:?usage: ci/tsan.sh BUILD-DIR UNIT-TEST...}" && pwd); shift
cd "$(dirname "$0")/.."
LOG=$B/tsan-log
rm -rf "$LOG" && mkdir -p "$LOG"
export TSAN_OPTIONS="suppressions=$PWD/ci/tsan.supp exitcode=66 ${TSAN_OPTIONS:-}"
failed=0 programs=0
run() { # NAME COMMAND...: run it, keep its output in $LOG/NAME.out
  local name=$1; shift
  echo "== $name"
  programs=$((programs + 1))
  "$@" 2>&1 | tee "$LOG/$name.out"
  [ "${PIPESTATUS[0]}" -eq 0 ] || failed=$((failed + 1))
}
for t in "$@"; do
  opts=$TSAN_OPTIONS
  [ "$(basename "$t")" = check_usbhub ] && opts="$opts ignore_noninstrumented_modules=1"
  run "$(basename "$t")" env TSAN_OPTIONS="$opts" TR_PKI="$B/pki" TR_BUILD="$B" TOKENRIG_LIBEXEC="$B" "$t"
done
run 50-batch env B="$B" TSAN_OPTIONS="$TSAN_OPTIONS log_path=$LOG/report" bash ci/tests/50-batch.sh
warnings=$(cat "$LOG"/* | grep -c '^WARNING: ThreadSanitizer')
for f in "$LOG"/report.*; do
  [ -e "$f" ] || continue
  echo "== ThreadSanitizer report file $f"
  cat "$f"
done
echo "test-tsan: $programs test programs, $failed failed, $warnings ThreadSanitizer warning(s)"
[ "$failed" -eq 0 ] && [ "$warnings" -eq 0 ] && ! ls "$LOG"/report.* > /dev/null 2>&1
