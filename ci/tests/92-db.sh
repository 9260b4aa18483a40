#!/usr/bin/env bash
# Issue 14: the results database with the real things.
#
# (a) SQLite, the default (reports/tokenrig.db beside the run's report
#     directories): a small virtual rig with a defective token; history
#     (table and --csv, an unknown serial), verdict of a batch (exit
#     status, yield; a token certified again: its latest run counts, both
#     runs in its history), tokenrig cycle's recognition statistics, import
#     of a directory made with --no-db (twice: nothing added the second
#     time), a database that refuses rows (the run goes on, exits 2), a run
#     SIGKILLed mid-suite leaving whole tests only and a database the next
#     run writes at once.
# (b) PostgreSQL 15, a throwaway server started here: initdb and pg_ctl in
#     a temporary directory as an unprivileged user, listening only on a
#     private Unix socket directory (no TCP), stopped by pg_ctl stop -D (or
#     by the postmaster's PID from postmaster.pid), never by name. Two rigs
#     ("bench-a" and "bench-b") write one batch into it at once, each
#     opening the fresh database (the schema made once); then `tokenrig
#     verdict --batch` over both, history, import, and a SIGKILLed run.
. "$(dirname "$0")/lib.sh"
unset TOKENRIG_DB # the default place is under test
T=$(mktemp -d /tmp/tr-db.XXXXXX)
chmod 711 "$T" # the PostgreSQL user reaches $T/pg, lists nothing
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGD=$T/pg
PG_AS=()      # runuser prefix when we are root
VRIGS=()      # "vrig dir|rig file" of every rig a run here may have left up
SUITE=$ROOT/suites/examples/basic.tsuite
LONG=$ROOT/ci/tests/suites/batch.tsuite

pg_stop() {
  [ -f "$PGD/data/postmaster.pid" ] || return 0
  local pid
  pid=$(head -n 1 "$PGD/data/postmaster.pid")
  "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PGD/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    { [ -n "$pid" ] && [ "$pid" -gt 1 ] && kill "$pid" 2>/dev/null; }
}
cleanup() {
  local r
  pg_stop
  for r in "${VRIGS[@]}"; do TOKENRIG_VRIG_DIR=${r%%|*} "$TR" rig down --rig "${r#*|}" >/dev/null 2>&1; done
  rm -rf /tmp/tr-it-$$-db*
  if [ -n "${KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

# rig NAME SLOT SERIAL[:FAULTS] ...: a virtual rig file in $T (its own rig dir)
rig() {
  local name=$1 s
  shift
  { printf '[rig]\nname = %s\napdu_timeout_ms = 5000\nready_timeout_ms = 10000\noff_ms = 50\n' "$name"
    for s in "$@"; do
      printf '\n[slot %s]\nserial = %s\n' "${s%%=*}" "$(cut -d: -f1 <<<"${s#*=}")"
      [[ $s == *:* ]] && printf 'faults = %s\n' "${s#*:}"
    done; } > "$T/$name.ini"
  VRIGS+=("/tmp/tr-it-$$-$name|$T/$name.ini")
}
# trun RIG ARGS...: tokenrig run on that rig's own private virtual rig
trun() {
  local r=$1
  shift
  TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-$r "$TR" run --rig "$T/$r.ini" --allow-destructive --quiet "$@"
}
rig db-a A1=DBA0000000000001 A2=DBA0000000000002:bad-atr
rig db-a2 A2=DBA0000000000002               # the same token again, repaired
rig db-b B1=DBB0000000000001 B2=DBB0000000000002

# ---------------------------------------------------------------------------------------------
# (a) SQLite at reports/tokenrig.db
# ---------------------------------------------------------------------------------------------
mkdir -p "$T/work"
cd "$T/work" || exit 1
DB=reports/tokenrig.db
sq() { sqlite3 -cmd '.timeout 10000' "$DB" "$1"; }

trun db-a --batch lot-a "$SUITE" > "$T/a1.out" 2> "$T/a1.err"; rc=$?
check_eq "sqlite: the run exits 1 (A2's ATR is not the profile's)" "$rc" 1
check "sqlite: the default database is reports/tokenrig.db" test -s "$DB"
check "sqlite: the run says where its rows went ($(grep database: "$T/a1.out"))" \
  grep -q '^database: reports/tokenrig.db (run .*, batch lot-a)$' "$T/a1.out"
check_eq "sqlite: in WAL mode" "$(sq 'PRAGMA journal_mode')" wal
run_a1=$(sed -n 's/^database: .*(run \(.*\), batch .*/\1/p' "$T/a1.out")
check_eq "sqlite: one row per results.csv row" "$(sq "SELECT COUNT(*) FROM results WHERE run_id = '$run_a1'")" \
  "$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))))' "reports/$run_a1/results.csv") - 1))"
check_eq "sqlite: the run's row" "$(sq "SELECT kind || ' ' || rig || ' ' || exit_status || ' ' || destructive FROM runs WHERE run_id = '$run_a1'")" \
  "run db-a 1 1"
check "sqlite: the command line is recorded" \
  grep -q -- "--batch lot-a" <(sq "SELECT command_line FROM runs WHERE run_id = '$run_a1'")

out=$("$TR" history DBA0000000000002 2>&1); rc=$?
check_eq "history: exit 0" "$rc" 0
check "history: the run, FAIL ($out)" grep -q "$run_a1 .*FAIL" <<<"$out"
check "history: the failed test with its class" grep -q "failed: basic / ATR matches the profile: enum.bad-atr" <<<"$out"
out=$("$TR" history DBA0000000000002 --csv 2>&1)
check_eq "history --csv: a header and one row" "$(wc -l <<<"$out")" 2
check_eq "history --csv: the verdict column" \
  "$(python3 -c 'import csv,sys; r=list(csv.DictReader(sys.stdin)); print(r[0]["verdict"], r[0]["host"] == sys.argv[1])' "$(hostname)" <<<"$out")" \
  "FAIL True"
err=$("$TR" history NOSUCHSERIAL0001 2>&1 >/dev/null); rc=$?
check_eq "history of an unknown serial: exit 1" "$rc" 1
check "history of an unknown serial: says so ($err)" grep -q "no run of serial NOSUCHSERIAL0001 in reports/tokenrig.db" <<<"$err"
err=$("$TR" history X --db "$T/none.db" 2>&1); rc=$?
check_eq "history on a database that does not exist: exit 2" "$rc" 2
check "history on a database that does not exist: no file made" test ! -e "$T/none.db"
err=$("$TR" run --db mysql://h/x "$SUITE" 2>&1); rc=$?
check_eq "run --db mysql://...: exit 2 before any token ($err)" "$rc:$(grep -c 'only postgresql://' <<<"$err")" "2:1"
printf '[rig]\nname = bad\ndb = sqlite://x\n[slot A1]\nserial = BAD0000000000001\n' > "$T/bad.ini"
err=$("$TR" run --rig "$T/bad.ini" "$SUITE" 2>&1); rc=$?
check "a bad db = in the rig file names file:line ($err)" grep -q "bad.ini:3: db = sqlite://x" <<<"$err"

out=$("$TR" verdict --batch lot-a 2>&1); rc=$?
check_eq "verdict lot-a: exit 1 (a token failed)" "$rc" 1
check "verdict lot-a: the yield ($(tail -n 1 <<<"$out"))" grep -q "batch lot-a: 1 run; yield: 1/2 tokens passed (50.0%)" <<<"$out"
err=$("$TR" verdict --batch no-such-lot 2>&1); rc=$?
check_eq "verdict of a batch with no run: exit 2" "$rc" 2

trun db-a2 --batch lot-a "$SUITE" > "$T/a2.out" 2>&1
check_eq "the repaired token passes" "$?" 0
out=$("$TR" verdict --batch lot-a 2>&1); rc=$?
check_eq "verdict lot-a after the token was certified again: exit 0" "$rc" 0
check "verdict: the latest run counts, RUNS 2 ($(grep DBA0000000000002 <<<"$out"))" \
  grep -q "DBA0000000000002 .*PASS *2" <<<"$out"
check_eq "history shows both runs, newest first" \
  "$("$TR" history DBA0000000000002 --csv | python3 -c 'import csv,sys; print(" ".join(r["verdict"] for r in csv.DictReader(sys.stdin)))')" \
  "PASS FAIL"

out=$(TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-db-a "$TR" cycle --rig "$T/db-a.ini" --slot A1 --count 3 --batch lot-a-cycles 2>&1); rc=$?
check_eq "cycle: exit 0" "$rc" 0
check_eq "history: the recognition loop's cycles and first-APDU p50/p95" \
  "$("$TR" history DBA0000000000001 --csv | python3 -c '
import csv, sys
r = [x for x in csv.DictReader(sys.stdin) if x["kind"] == "cycle"][0]
print(r["cycles"], r["cycles_failed"], float(r["ready_p50_ms"]) > 0, float(r["ready_p95_ms"]) >= float(r["ready_p50_ms"]))')" \
  "3 0 True True"

# --- import --------------------------------------------------------------------------------
runs_before=$(sq "SELECT COUNT(*) FROM runs")
trun db-b --no-db --out "$T/offline" "$SUITE" > /dev/null 2>&1
check_eq "run --no-db writes no row" "$(sq "SELECT COUNT(*) FROM runs")" "$runs_before"
out=$("$TR" import "$T/offline" 2>&1); rc=$?
check "import: loaded ($out)" grep -q "imported into reports/tokenrig.db" <<<"$out"
check_eq "import: exit 0" "$rc" 0
counts=$(sq "SELECT (SELECT COUNT(*) FROM runs) || ' ' || (SELECT COUNT(*) FROM results) || ' ' || (SELECT COUNT(*) FROM run_slots)")
out=$("$TR" import "$T/offline" 2>&1); rc=$?
check "import again: nothing added, and says so ($out)" grep -q "is already in reports/tokenrig.db: nothing added" <<<"$out"
check_eq "import again: exit 0, the same rows" "$rc $(sq "SELECT (SELECT COUNT(*) FROM runs) || ' ' || (SELECT COUNT(*) FROM results) || ' ' || (SELECT COUNT(*) FROM run_slots)")" "0 $counts"
check "import: the imported token's history" grep -q "PASS" <("$TR" history DBB0000000000001)

# --- a database that refuses rows (a full disk, a server gone): the run goes on, exits 2 ---
"$TR" import "$T/offline" --db "$T/fire.db" > /dev/null 2>&1 # the schema, and a run in it
sqlite3 "$T/fire.db" "CREATE TRIGGER fire BEFORE INSERT ON results BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
trun db-b --slots B1 --db "$T/fire.db" "$SUITE" > "$T/fire.out" 2> "$T/fire.err"; rc=$?
check_eq "a database that refuses rows: exit 2" "$rc" 2
check "  the first failure is said at once" grep -q "disk on fire .*(the run goes on; the CSV files have every row)" "$T/fire.err"
check "  and again at the end, with the count" grep -q "database incomplete: .*disk on fire .*(and [0-9]* more failed writes)" "$T/fire.err"
check "  the verdicts are still printed" grep -q "batch yield: 1/1 tokens passed" "$T/fire.out"

# --- SIGKILL mid-suite: whole tests only, and the next run is not blocked ------------------
# killed DBQUERY LABEL DBARGS...: a long run on db-b's B1 killed with SIGKILL once
# its first tests are in the database; then the database's state
killed() {
  local q=$1 label=$2 n p
  shift 2
  # started directly (not through a function): $! is tokenrig's own PID
  TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-db-b "$TR" run --rig "$T/db-b.ini" --slots B1 --quiet -D LOOPS=200000 "$@" "$LONG" \
    > /dev/null 2>&1 &
  p=$!
  for _ in $(seq 1 400); do
    n=$($q "SELECT COUNT(*) FROM results r JOIN runs u ON u.run_id = r.run_id WHERE u.ended IS NULL" 2>/dev/null)
    [ "${n:-0}" -ge 2 ] && break
    sleep 0.05
  done
  sleep 0.3
  kill -9 "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  check_eq "$label: the killed run's tests are in ($n rows before the kill)" "$([ "${n:-0}" -ge 2 ] && echo yes)" yes
  check_eq "$label: no metric row without its test's verdict row" \
    "$($q "SELECT COUNT(*) FROM results m WHERE m.metric IS NOT NULL AND NOT EXISTS (SELECT 1 FROM results v WHERE v.run_id = m.run_id AND v.slot = m.slot AND v.test = m.test AND v.metric IS NULL)")" 0
  check_eq "$label: the killed run's summary matches its rows" \
    "$($q "SELECT COUNT(*) FROM run_slots s JOIN runs u ON u.run_id = s.run_id WHERE u.ended IS NULL AND s.tests <> (SELECT COUNT(*) FROM results r WHERE r.run_id = s.run_id AND r.slot = s.slot AND r.metric IS NULL)")" 0
  check_eq "$label: the killed run has no end" "$($q "SELECT COUNT(*) FROM runs WHERE ended IS NULL")" 1
  timeout 120 "$TR" run --rig "$T/db-b.ini" --slots B1 --allow-destructive --quiet "$@" "$SUITE" > "$T/next-$label.out" \
    2>&1 </dev/null
  check_eq "$label: the next run writes at once (exit status; $(tail -n 1 "$T/next-$label.out"))" "$?" 0
  check_eq "$label: the next run's row has its end" "$($q "SELECT COUNT(*) FROM runs WHERE ended IS NULL")" 1
}
export TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-db-b
killed sq sqlite
check_eq "sqlite: integrity_check after the kill" "$(sq 'PRAGMA integrity_check')" ok
check "history shows the killed run as open" grep -qE " open( |$)" <("$TR" history DBB0000000000001)
unset TOKENRIG_VRIG_DIR

# ---------------------------------------------------------------------------------------------
# (b) PostgreSQL 15, a throwaway server
# ---------------------------------------------------------------------------------------------
if [ ! -x "$PGBIN/initdb" ]; then
  bad "PostgreSQL 15 is not installed ($PGBIN/initdb; bash ci/deps.sh installs postgresql-15)"
  finish
  exit
fi
mkdir -p "$PGD/data" "$PGD/sock"
if [ "$(id -u)" = 0 ]; then # the server never runs as root
  PGUSER_OS=postgres
  id -u "$PGUSER_OS" >/dev/null 2>&1 || PGUSER_OS=nobody
  chown -R "$PGUSER_OS" "$PGD"
  PG_AS=(runuser -u "$PGUSER_OS" --)
fi
"${PG_AS[@]}" "$PGBIN/initdb" -D "$PGD/data" -U tokenrig --auth=trust -E UTF8 --no-locale > "$T/initdb.log" 2>&1
check "postgresql: initdb" test -f "$PGD/data/PG_VERSION"
"${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories=$PGD/sock -c fsync=off" start > /dev/null 2>&1
check "postgresql: the server is up on its socket" test -S "$PGD/sock/.s.PGSQL.5432"
pgpid=$(head -n 1 "$PGD/data/postmaster.pid")
check "postgresql: no TCP listener (postmaster $pgpid)" test -z "$(ss -Hltnp 2>/dev/null | grep "pid=$pgpid,")"
"${PG_AS[@]}" "$PGBIN/createdb" -h "$PGD/sock" -U tokenrig tokenrig
URL="postgresql://tokenrig@/tokenrig?host=$PGD/sock"
pq() { "$PGBIN/psql" -X -A -t -q -h "$PGD/sock" -U tokenrig -d tokenrig -c "$1"; }

# --- the database API of check_db against the server --------------------------------------------
checks() { sed -n 's/^100%: Checks: \([0-9]*\), Failures: 0, Errors: 0$/\1/p' <<<"$1"; }
alone=$(checks "$("$B/tests/check_db" 2>&1)")
out=$(TR_TEST_PG_URL=$URL "$B/tests/check_db" 2>&1)
with=$(checks "$out")
check "postgresql: check_db's tests of the API pass on the server too (${alone:-?} alone, ${with:-failed: $(grep -m 2 ':F:\|:E:' <<<"$out")} with it)" \
  test "${with:-0}" -gt "${alone:-0}"

# --- two rigs, one batch, at once --------------------------------------------------------------
TOKENRIG_HOST=bench-a trun db-a --db "$URL" -D LOOPS=3000 "$LONG" "$SUITE" --batch lot-pg > "$T/pa.out" 2> "$T/pa.err" &
pa=$!
TOKENRIG_HOST=bench-b trun db-b --db "$URL" -D LOOPS=3000 "$LONG" "$SUITE" --batch lot-pg > "$T/pb.out" 2> "$T/pb.err" &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
check_eq "postgresql: bench-a exits 1 (A2), bench-b 0" "$ra $rb" "1 0"
check_eq "postgresql: the schema was made once" "$(pq 'SELECT COUNT(*) FROM schema_version')" 1
check_eq "postgresql: both runs in batch lot-pg, on two hosts" \
  "$(pq "SELECT COUNT(*) || ' ' || COUNT(DISTINCT host) FROM runs WHERE batch = 'lot-pg'")" "2 2"
check_eq "postgresql: the two runs wrote at the same time" \
  "$(pq "SELECT COUNT(*) FROM runs a JOIN runs b ON a.run_id < b.run_id WHERE a.batch = 'lot-pg' AND b.batch = 'lot-pg' AND a.started < b.ended AND b.started < a.ended")" 1
for r in pa pb; do
  id=$(sed -n 's/^database: .*(run \(.*\), batch .*/\1/p' "$T/$r.out")
  dir=$(sed -n 's/^reports: //p' "$T/$r.out")
  check_eq "postgresql: run $r: every results.csv row" "$(pq "SELECT COUNT(*) FROM results WHERE run_id = '$id'")" \
    "$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))))' "$dir/results.csv") - 1))"
done
check "postgresql: the database is named without a password" grep -q "^database: postgresql://tokenrig@/tokenrig" "$T/pa.out"
out=$("$TR" verdict --batch lot-pg --db "$URL" 2>&1); rc=$?
check_eq "postgresql: verdict --batch over both rigs: exit 1" "$rc" 1
check "postgresql: verdict: four tokens, yield 3/4 ($(tail -n 1 <<<"$out"))" \
  grep -q "batch lot-pg: 2 runs; yield: 3/4 tokens passed (75.0%)" <<<"$out"
check "postgresql: verdict: each token with its host" \
  test "$(grep -c 'DBA000000000000[12] .*bench-a' <<<"$out")$(grep -c 'DBB000000000000[12] .*bench-b' <<<"$out")" = 22
out=$("$TR" verdict --batch lot-pg --db "$URL" --csv | python3 -c 'import csv,sys; print(sorted((r["serial"], r["verdict"]) for r in csv.DictReader(sys.stdin)))')
check_eq "postgresql: verdict --csv" "$out" \
  "[('DBA0000000000001', 'PASS'), ('DBA0000000000002', 'FAIL'), ('DBB0000000000001', 'PASS'), ('DBB0000000000002', 'PASS')]"
# the batch's page over both hosts (report --batch)
out=$("$TR" report --batch lot-pg --db "$URL" -o "$T/lot-pg.html" 2>&1); rc=$?
check_eq "postgresql: report --batch over both rigs: exit 0" "$rc" 0
check "postgresql: report --batch: the batch verdict FAIL, yield 3/4" \
  bash -c "grep -q 'data-verdict=\"FAIL\">Batch verdict: FAIL' '$T/lot-pg.html' && grep -q '<b>3/4</b> tokens passed' '$T/lot-pg.html'"
check_eq "postgresql: report --batch: one row per token, the failing one first" \
  "$(grep -o '<tr data-verdict="[a-zA-Z]*"><td>[A-Z0-9]*' "$T/lot-pg.html" | sed 's/.*"\([a-zA-Z]*\)"><td>/\1 /' | tr '\n' ' ')" \
  "FAIL DBA0000000000002 PASS DBA0000000000001 PASS DBB0000000000001 PASS DBB0000000000002 "
check "postgresql: report --batch: the failing token's tests with what to do next" \
  grep -q 'class="hint"' "$T/lot-pg.html"
check "postgresql: report --batch: nothing external" bash -c "! grep -qE 'https?:|src=' '$T/lot-pg.html'"
out=$(TOKENRIG_DB=$URL "$TR" history DBB0000000000002 --csv)
check_eq "postgresql: history through \$TOKENRIG_DB" \
  "$(python3 -c 'import csv,sys; r=list(csv.DictReader(sys.stdin)); print(len(r), r[0]["host"], r[0]["batch"], r[0]["verdict"])' <<<"$out")" \
  "1 bench-b lot-pg PASS"

# --- db = in the rig file, import, a SIGKILLed run ------------------------------------------------
sed -i "s|^name = db-b\$|name = db-b\ndb = $URL|" "$T/db-b.ini"
out=$("$TR" import "$T/offline" --rig "$T/db-b.ini" --batch lot-offline 2>&1)
check "postgresql: import through the rig's db = ($out)" grep -q "imported into postgresql://tokenrig@/tokenrig" <<<"$out"
out=$("$TR" import "$T/offline" --db "$URL" 2>&1); rc=$?
check_eq "postgresql: import again adds nothing" "$rc $(grep -c 'nothing added' <<<"$out")" "0 1"
export TOKENRIG_VRIG_DIR=/tmp/tr-it-$$-db-b
killed pq postgresql # db = in db-b.ini
unset TOKENRIG_VRIG_DIR
check_eq "postgresql: the run through db = went to the server" \
  "$(pq "SELECT COUNT(*) FROM runs WHERE rig = 'db-b' AND ended IS NOT NULL AND batch <> 'lot-pg' AND source = 'live'")" 1

pg_stop
check "postgresql: stopped" test ! -e "$PGD/data/postmaster.pid"
finish
