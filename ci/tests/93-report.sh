#!/usr/bin/env bash
# Issue 14, the HTML report: `tokenrig run` on a small virtual batch with
# faulty tokens (ci/tests/rigs/report.ini) writes report.html; the page is
# self-contained (nothing external, one script of its own) and holds no
# PIN; a real browser (Debian's chromium-headless-shell, --dump-dom) opens it
# without a script error and the DOM is checked by ci/tests/domcheck.py: one
# row per token, failing tokens first and linked to their details (message,
# next step, trace), the SVG plots (latency strip, recognition per token on
# an integer cycle axis or as distributions, FIRST_APDU_MAX_MS drawn), the
# sortable table (sorted through the page's own script); the yield of an
# earlier run of the same profiles beside it (and not of a newer one);
# `tokenrig report` on its own; provenance.csv rendered with PINs masked and
# its limits used.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/tr-report.XXXXXX)
rig_up "$ROOT/ci/tests/rigs/report.ini"
trap '"$TR" rig down --rig "$RIG" >/dev/null 2>&1; rm -rf "$T"' EXIT
DOMCHECK=$ROOT/ci/tests/domcheck.py

# the browser: Debian's headless shell (ci/deps.sh), else a full chromium
CHROME=
for c in chromium-headless-shell /usr/lib/chromium/chromium-headless-shell chromium; do
  if command -v "$c" >/dev/null 2>&1; then CHROME=$(command -v "$c"); break; fi
done
if [ -z "$CHROME" ]; then
  bad "no chromium-headless-shell (bash ci/deps.sh installs it)"
  finish
  exit 1
fi
# browse URL DOM LOG: the DOM after the page loaded, the console on LOG.
# As root Chromium needs --no-sandbox; nothing leaves the machine: every
# host name resolves to nothing.
browse() {
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$T/chrome" \
    --host-resolver-rules='MAP * ~NOTFOUND' --enable-logging=stderr --v=0 --dump-dom "$1" > "$2" 2> "$3"
}
# domcheck ARGS...: the Python checks, counted like ours
domcheck() {
  local out
  out=$(python3 "$DOMCHECK" "$@" 2>&1)
  echo "$out"
  pass=$((pass + $(grep -c '^ok   - ' <<<"$out")))
  fail=$((fail + $(grep -c '^FAIL - ' <<<"$out")))
  grep -qE '^(ok   - |FAIL - )' <<<"$out" || bad "domcheck $1: no checks ran"
}
no_console_error() {
  check "$1: no error on the browser's console" bash -c "! grep -E 'CONSOLE' '$2' | grep -qiE 'uncaught|error'"
}

# --- earlier and later runs beside it: the history chart --------------------------------------
results_head=run_id,time,rig,slot,reader,serial,role,profile,suite,test,verdict,classification,duration_s,metric,value,unit,message,file,line
summary_head=run_id,rig,slot,serial,role,verdict,classifications,tests,passed,failed,errored,skipped,duration_s,not_run
fake_run() { # DIR TIME VERDICT-A1 VERDICT-A2 VERDICT-A3 VERDICT-A4
  local d=$T/reports/$1 i=1 v prof
  mkdir -p "$d"
  echo "$results_head" > "$d/results.csv"
  echo "$summary_head" > "$d/summary.csv"
  shift
  local time=$1; shift
  for v in "$@"; do
    prof=$(sed -n "${i}p" <<<$'ref1-sm2\nref1-sm2\nref1-ecdsa\nref1-rsa')
    echo "$(basename "$d"),$time,report,A$i,r,REPORT000000000$i,main,$prof,identity,t,pass,,0,,,,,s,1" >> "$d/results.csv"
    echo "$(basename "$d"),report,A$i,REPORT000000000$i,main,$v,,1,1,0,0,0,0,0" >> "$d/summary.csv"
    i=$((i + 1))
  done
}
fake_run r0 2020-01-01T00:00:00.000Z PASS PASS FAIL PASS
fake_run r9 2099-01-01T00:00:00.000Z FAIL FAIL FAIL FAIL

# --- the run writes the page ----------------------------------------------------------------------
# (no database: the yield history comes from the run directories beside it, r0 and r9)
"$TR" run --no-db --rig "$RIG" --allow-destructive --out "$T/reports/r1" identity pin-lockout sign-throughput recognition \
  > "$T/out" 2> "$T/err"; rc=$?
check_eq "run: exit status 1 (two tokens fail)" "$rc" 1
H=$T/reports/r1/report.html
check "run writes report.html and prints its path" grep -qx "report:  $H" "$T/out"
check_eq "run: nothing about report.html on stderr" "$(grep -c 'report.html' "$T/err")" 0

# --- self-contained, no PIN -------------------------------------------------------------------------
check "nothing external: no http:, https:, ftp: or //host/ in the page" \
  bash -c "! grep -qiE 'https?:|ftp:|file://|//[a-z0-9.-]+\.[a-z]{2,}/' '$H'"
check "no src=, <link, url( or @import" bash -c "! grep -qiE '[[:space:]]src=|<link|url\(|@import' '$H'"
check "every href is a place in the page (#...)" bash -c "! grep -oE 'href=\"[^\"]*\"' '$H' | grep -qv 'href=\"#'"
check_eq "one script: the page's own" "$(grep -c '<script' "$H")" 1
check "no PIN in the page (factory, new, wrong and SO PIN; as text or hex)" \
  bash -c "! grep -qE '12345678|24681357|99999999|88888888|31 ?32 ?33 ?34 ?35 ?36 ?37 ?38|32 ?34 ?36 ?38 ?31 ?33 ?35 ?37' '$H'"
check "the trace excerpts show PINs masked" grep -q '&lt;pin&gt;' "$H"
check "each failed test's next step is beside it" grep -q 'Next step (pin.counter-reset-by-power)' "$H"

# --- in the browser -----------------------------------------------------------------------------------
browse "file://$H" "$T/dom.html" "$T/console.log"
check_eq "the browser opened the page" "$?" 0
no_console_error "report.html" "$T/console.log"
domcheck page "$T/dom.html" "$T/reports/r1/summary.csv" "$T/reports/r1/cycles.csv" A3
browse "file://$H#sort=serial:desc" "$T/dom-sorted.html" "$T/console-sorted.log"
no_console_error "report.html#sort=serial:desc" "$T/console-sorted.log"
domcheck sorted "$T/dom-sorted.html" serial desc
browse "file://$H#sort=duration" "$T/dom-sorted2.html" "$T/console-sorted2.log"
domcheck sorted "$T/dom-sorted2.html" duration asc
domcheck history "$T/dom.html" "ref1-sm2=2/2;1/2,ref1-ecdsa=0/1;0/1,ref1-rsa=1/1;1/1" r9

# --- tokenrig report on its own ---------------------------------------------------------------------------
out=$("$TR" report --no-db --dir "$T/reports/r1" -o "$T/again.html" 2>&1); rc=$?
check_eq "report --dir -o: exit status" "$rc" 0
check_eq "report --dir -o: prints the page's path" "$out" "report: $T/again.html"
check "the same page again (but for the footer's writer and time)" \
  diff <(grep -v '^<footer>' "$H") <(grep -v '^<footer>' "$T/again.html")
# with a database (the tests' $TOKENRIG_DB): the yield history is the database's
"$TR" report --dir "$T/reports/r1" -o "$T/db.html" > /dev/null 2>&1
check_eq "report with the results database: exit status" "$?" 0
check "... its yield history comes from the database" grep -q "the results database ($TOKENRIG_DB)" "$T/db.html"
out=$(cd "$T" && "$TR" report --run r1 2>&1); rc=$?
check_eq "report --run ID (reports/ID under the current directory): exit status" "$rc" 0
check_eq "report --run ID: the page in that run's directory" "$out" "report: reports/r1/report.html"
out=$("$TR" report --dir "$T/nowhere" 2>&1); rc=$?
check_eq "report on a missing directory: exit status 2" "$rc" 2
check "report on a missing directory: says so ($out)" grep -q "nowhere" <<<"$out"
mkdir -p "$T/empty"
out=$("$TR" report --dir "$T/empty" 2>&1); rc=$?
check_eq "report on a directory without reports: exit status 2" "$rc" 2
check "... not a report directory ($out)" grep -q "not a report directory" <<<"$out"
out=$("$TR" report --run ../r1 2>&1); rc=$?
check_eq "report --run with a path: exit status 2" "$rc" 2
check "tokenrig report --help" bash -c "'$TR' report --help | grep -q '^usage: tokenrig report'"

# --- provenance.csv (written by runs that record it): shown, PINs masked, its limits used --------------------
P=$T/prov/r1
mkdir -p "$T/prov" && cp -r "$T/reports/r1" "$P" && rm -f "$P/report.html"
cat > "$P/provenance.csv" <<'EOF'
slot,name,value,source
,tool_version,tokenrig test,build
,command_line,tokenrig run -D USER_PIN=13572468 --allow-destructive,argv
A1,DEFAULT_PIN,12345678,profile
A1,FIRST_APDU_MAX_MS,1500,profile
A2,FIRST_APDU_MAX_MS,1500,profile
A3,FIRST_APDU_MAX_MS,1600,-D
A4,SO_PIN,88888888,profile
EOF
"$TR" report --dir "$P" > /dev/null 2>&1
check_eq "report with provenance.csv: written" "$?" 0
check "provenance: no PIN from it in the page (nor from the command line's -D)" \
  bash -c "! grep -qE '12345678|13572468|88888888' '$P/report.html'"
browse "file://$P/report.html" "$T/dom-prov.html" "$T/console-prov.log"
no_console_error "report.html with provenance" "$T/console-prov.log"
domcheck provenance "$T/dom-prov.html" A1=1500 A3=1600
domcheck page "$T/dom-prov.html" "$P/summary.csv" "$P/cycles.csv" A1 A2 A3
finish
