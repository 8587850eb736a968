#!/usr/bin/env bash
# make-fixtures.sh -- record real slow-query logs from the local PostgreSQL 15
# and MariaDB 10.11 servers and cut them into the fixtures under
# tests/fixtures/slowlog/:
#
#   postgres-stderr.log    PostgreSQL stderr log, log_line_prefix '%m [%p] %q%u@%d '
#   postgres-csvlog.csv    the same events as csvlog
#   postgres-jsonlog.json  the same events as jsonlog
#   mariadb-slow.log       MariaDB slow query log (long_query_time = 0)
#
# What it does, in order:
#   1. installs what it needs with apt-get when missing (pgbadger,
#      percona-toolkit, pgbench, Perl DBD::mysql, JSON::XS, Text::CSV_XS);
#   2. makes sure both servers run (starting them the usual way if not);
#   3. PostgreSQL: creates database poolcap_fixtures, saves
#      postgresql.auto.conf, sets with ALTER SYSTEM
#        logging_collector = on, log_destination = 'stderr,csvlog,jsonlog',
#        log_directory = /var/lib/postgresql/poolcap-fixtures-log,
#        log_filename = poolcap-fixtures.log, no rotation,
#        log_line_prefix = '%m [%p] %q%u@%d ', log_min_duration_statement = 0
#      and restarts; runs the workload (pgbench -i; pgbench -M simple;
#      pgbench -M prepared; pg-workload.sql; pg_sleep(5.2), (5.2), (5.3) at once;
#      pgbench-params.sql with -M extended and -M prepared); then puts
#      postgresql.auto.conf back byte for byte, restarts, and checks every
#      setting it touched is back to its old value;
#   4. MariaDB: creates databases poolcap_fixtures and poolcap_fixtures_b,
#      saves the slow-log globals, sets slow_query_log_file to a file of its
#      own, long_query_time = 0, log_slow_verbosity =
#      'query_plan,explain,innodb,engine,warnings', slow_query_log = 1; runs
#      the workload (two generated load clients at once, mariadb-workload.sql,
#      SLEEP(5.2), (5.2), (5.3) at once, mariadb-prepared.pl); then restores every
#      global it changed;
#   5. drops the databases, removes its own server-side log files, and cuts
#      the raw logs with trim.py (whole entries only: up to the end marker,
#      and only entries of its own databases or of no database).
#
# Raw logs and client output stay in $WORK (default /tmp/poolcap-slowlog-fixtures).
# Re-runnable: each run starts from fresh databases and fresh log files and
# overwrites the fixtures.  If a run is interrupted, the EXIT trap restores the
# servers; should even that fail, the saved originals in $WORK are used by the
# next run (it refuses to save a configuration that is still its own).
#
# The servers are shared with the test suite and CI: the PostgreSQL restarts
# (two) interrupt other clients for a second or two each.
#
# Usage: bash scripts/slowlog-fixtures/make-fixtures.sh
# Then:  bash scripts/slowlog-fixtures/reference.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/tests/fixtures/slowlog"
WORK="${WORK:-/tmp/poolcap-slowlog-fixtures}"
DB=poolcap_fixtures
DB_B=poolcap_fixtures_b
END_MARKER='poolcap-fixtures: end of workload'

PGHOST=127.0.0.1
PGPORT=5432
export PGHOST PGPORT
PG_LOGDIR=/var/lib/postgresql/poolcap-fixtures-log
PG_LOGNAME=poolcap-fixtures.log
MY_SLOWLOG=/var/lib/mysql/poolcap-fixtures-slow.log

# settings this script changes, and so checks afterwards
PG_SETTINGS=(logging_collector log_destination log_directory log_filename
  log_rotation_age log_rotation_size log_line_prefix log_min_duration_statement)
MY_GLOBALS=(slow_query_log slow_query_log_file long_query_time log_slow_verbosity)

exec 3>&2  # progress messages go here even while client output is redirected
log() { printf '== %s\n' "$*" >&3; }
psql_su() { psql -X -q -v ON_ERROR_STOP=1 -U postgres "$@"; }
my() { mariadb -uroot -h127.0.0.1 -P3306 --default-character-set=utf8mb4 "$@"; }

mkdir -p "$WORK/raw" "$OUT"

# ---------------------------------------------------------------- 1. tools
need=()
command -v pgbadger >/dev/null || need+=(pgbadger)
command -v pt-query-digest >/dev/null || need+=(percona-toolkit)
command -v pgbench >/dev/null || need+=(postgresql-contrib)
perl -MDBD::mysql -e1 2>/dev/null || need+=(libdbd-mysql-perl)
perl -MJSON::XS -e1 2>/dev/null || need+=(libjson-xs-perl)
perl -MText::CSV_XS -e1 2>/dev/null || need+=(libtext-csv-xs-perl)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ---------------------------------------------------------------- 2. servers
pg_version="$(ls /etc/postgresql | sort -V | tail -n1)"
pg_ready() { pg_isready -q -h "$PGHOST" -p "$PGPORT"; }
wait_pg() { for _ in $(seq 60); do pg_ready && return 0; sleep 0.5; done; echo "PostgreSQL did not come up" >&2; return 1; }
# 3>&-: a server started from here must not inherit the progress fd
pg_restart() { pg_ctlcluster --skip-systemctl-redirect "$pg_version" main restart 3>&-; wait_pg; }
if ! pg_ready; then
  log "starting PostgreSQL $pg_version"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start 3>&-
  wait_pg
fi
if ! mariadb-admin -uroot -h127.0.0.1 ping >/dev/null 2>&1; then
  log "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd 3>&-
  for _ in $(seq 60); do mariadb-admin -uroot -h127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

pg_datadir="$(psql_su -Atc 'SHOW data_directory' postgres)"
pg_auto="$pg_datadir/postgresql.auto.conf"

pg_snapshot() {  # name=setting for every setting this script touches
  local list
  list="$(printf "'%s'," "${PG_SETTINGS[@]}")"
  psql_su -Atc "SELECT name || '=' || setting FROM pg_settings WHERE name IN (${list%,}) ORDER BY name" postgres
}
my_snapshot() {
  local v
  for v in "${MY_GLOBALS[@]}"; do
    printf '%s=%s\n' "$v" "$(my -N -B -e "SELECT @@GLOBAL.$v")"
  done
}

# ---------------------------------------------------------------- restore (trap)
PG_TOUCHED=0
MY_TOUCHED=0
restore_pg() {
  ((PG_TOUCHED)) || return 0
  log "PostgreSQL: restoring postgresql.auto.conf and restarting"
  cp -p "$WORK/postgresql.auto.conf.orig" "$pg_auto"
  pg_restart
  PG_TOUCHED=0
  if [[ "$(pg_snapshot)" != "$(cat "$WORK/pg-settings.orig")" ]]; then
    echo "PostgreSQL settings differ from the saved ones:" >&2
    diff <(cat "$WORK/pg-settings.orig") <(pg_snapshot) >&2 || true
    return 1
  fi
  rm -f "$WORK/postgresql.auto.conf.orig"
  rm -rf "$PG_LOGDIR"
}
restore_my() {
  ((MY_TOUCHED)) || return 0
  log "MariaDB: restoring slow-log globals"
  local line name value
  my -e "SET GLOBAL slow_query_log = 0"
  while IFS= read -r line; do
    name="${line%%=*}"
    value="${line#*=}"
    [[ "$name" == slow_query_log ]] && continue
    if [[ "$value" =~ ^[0-9.]+$ ]]; then
      my -e "SET GLOBAL $name = $value"
    else
      my -e "SET GLOBAL $name = '${value//\'/\'\'}'"
    fi
  done <"$WORK/my-globals.orig"
  my -e "SET GLOBAL slow_query_log = $(sed -n 's/^slow_query_log=//p' "$WORK/my-globals.orig")"
  MY_TOUCHED=0
  if [[ "$(my_snapshot)" != "$(cat "$WORK/my-globals.orig")" ]]; then
    echo "MariaDB globals differ from the saved ones:" >&2
    diff <(cat "$WORK/my-globals.orig") <(my_snapshot) >&2 || true
    return 1
  fi
  rm -f "$WORK/my-globals.orig" "$MY_SLOWLOG"
}
drop_dbs() {
  PGOPTIONS="-c client_min_messages=warning" psql_su -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres || true
  my -e "DROP DATABASE IF EXISTS $DB; DROP DATABASE IF EXISTS $DB_B" || true
}
cleanup() {
  local rc=$?
  set +e
  restore_pg || rc=1
  restore_my || rc=1
  drop_dbs
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 3. PostgreSQL
log "PostgreSQL $pg_version: saving settings"
if grep -q "$PG_LOGDIR" "$pg_auto"; then
  # an earlier run did not get to restore: the saved original is the truth
  [[ -f "$WORK/postgresql.auto.conf.orig" ]] || { echo "$pg_auto holds this script's settings and no saved original exists" >&2; exit 1; }
  PG_TOUCHED=1
  restore_pg
fi
cp -p "$pg_auto" "$WORK/postgresql.auto.conf.orig"
pg_snapshot >"$WORK/pg-settings.orig"

PGOPTIONS="-c client_min_messages=warning" psql_su -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres
psql_su -c "CREATE DATABASE $DB" postgres

rm -rf "$PG_LOGDIR"
install -d -o postgres -g postgres -m 0700 "$PG_LOGDIR"
PG_TOUCHED=1
psql_su postgres <<SQL
ALTER SYSTEM SET logging_collector = on;
ALTER SYSTEM SET log_destination = 'stderr,csvlog,jsonlog';
ALTER SYSTEM SET log_directory = '$PG_LOGDIR';
ALTER SYSTEM SET log_filename = '$PG_LOGNAME';
ALTER SYSTEM SET log_rotation_age = 0;
ALTER SYSTEM SET log_rotation_size = 0;
ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d ';
ALTER SYSTEM SET log_min_duration_statement = 0;
SQL
log "PostgreSQL: restarting with logging_collector = on"
pg_restart

log "PostgreSQL: workload"
{
  pgbench -U postgres -i -s 1 "$DB"
  pgbench -U root -M simple -c 2 -j 1 -t 15 "$DB"
  pgbench -U postgres -M prepared -c 2 -j 1 -t 8 -n "$DB"
  psql -X -U root -f "$HERE/pg-workload.sql" "$DB"
  # statements over 5 s, three at once
  psql -X -U postgres -c 'SELECT pg_sleep(5.2)' "$DB" &
  psql -X -U root -c "SELECT pg_sleep(5.2) /* langsam ✓ */, 'slow' AS label" "$DB" &
  psql -X -U postgres "$DB" <<<"SELECT pg_sleep(5.3),
	'遅いクエリ' AS label;" &
  wait
  pgbench -U postgres -M extended -c 1 -t 3 -n -f "$HERE/pgbench-params.sql" \
    -D ward=W7 -D "memo=Überweisung ✓ 患者's" "$DB"
  pgbench -U root -M prepared -c 1 -t 3 -n -f "$HERE/pgbench-params.sql" \
    -D ward=W8 -D "memo=転棟 $(printf 'tab\there')" "$DB"
  psql -X -U postgres -c "SELECT '$END_MARKER' AS marker" "$DB"
} >"$WORK/pg-clients.out" 2>&1 || { cat "$WORK/pg-clients.out" >&2; exit 1; }
sleep 1  # let the logging collector flush
for ext in log csv json; do
  cp "$PG_LOGDIR/${PG_LOGNAME%.log}.$ext" "$WORK/raw/postgres.$ext"
done
restore_pg
PGOPTIONS="-c client_min_messages=warning" psql_su -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres

# ---------------------------------------------------------------- 4. MariaDB
my_version="$(my -N -B -e 'SELECT VERSION()')"
log "MariaDB $my_version: saving globals"
if [[ "$(my -N -B -e 'SELECT @@GLOBAL.slow_query_log_file')" == "$MY_SLOWLOG" ]]; then
  [[ -f "$WORK/my-globals.orig" ]] || { echo "MariaDB slow log already points at $MY_SLOWLOG and no saved original exists" >&2; exit 1; }
  MY_TOUCHED=1
  restore_my
fi
my_snapshot >"$WORK/my-globals.orig"

my <<SQL
DROP DATABASE IF EXISTS $DB;
DROP DATABASE IF EXISTS $DB_B;
CREATE DATABASE $DB DEFAULT CHARACTER SET utf8mb4;
CREATE DATABASE $DB_B DEFAULT CHARACTER SET utf8mb4;
USE $DB;
CREATE TABLE $DB.accounts (id INT PRIMARY KEY, balance INT NOT NULL, owner VARCHAR(40) NOT NULL);
INSERT INTO $DB.accounts SELECT seq, seq * 10, CONCAT('owner-', seq) FROM seq_1_to_1000;
CREATE TABLE $DB.history (id INT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL, delta INT NOT NULL, note VARCHAR(40), KEY (account_id));
CREATE TABLE $DB_B.audit_events (id INT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(20), body VARCHAR(200)) DEFAULT CHARSET = utf8mb4;
INSERT INTO $DB_B.audit_events (kind, body) VALUES ('login', 'ok'), ('transfer', 'Überweisung');
SQL

gen_load() {  # gen_load SEED COUNT: a mix of short statements
  local seed=$1 n=$2 i k ids
  for ((i = 1; i <= n; i++)); do
    k=$(((i * 37 + seed) % 1000 + 1))
    case $((i % 6)) in
      0) echo "SELECT balance FROM accounts WHERE id = $k;" ;;
      1) echo "UPDATE accounts SET balance = balance + $((i % 50)) WHERE id = $k;" ;;
      2) ids=$(seq -s, "$k" $((k + i % 9))); echo "SELECT id, balance FROM accounts WHERE id IN ($ids);" ;;
      3) echo "INSERT INTO history (account_id, delta, note) VALUES ($k, $((i % 50)), 'tx-$seed-$i');" ;;
      4) echo "SELECT COUNT(*) FROM history WHERE account_id = $k;" ;;
      5) echo "SELECT owner FROM accounts WHERE owner = 'owner-$k';" ;;
    esac
  done
}
gen_load 1 120 >"$WORK/my-load-1.sql"
gen_load 2 120 >"$WORK/my-load-2.sql"

rm -f "$MY_SLOWLOG"
MY_TOUCHED=1
my <<SQL
SET GLOBAL slow_query_log = 0;
SET GLOBAL slow_query_log_file = '$MY_SLOWLOG';
SET GLOBAL long_query_time = 0;
SET GLOBAL log_slow_verbosity = 'query_plan,explain,innodb,engine,warnings';
SET GLOBAL slow_query_log = 1;
SQL

log "MariaDB: workload"
{
  my "$DB" <"$WORK/my-load-1.sql" >/dev/null &
  my "$DB" <"$WORK/my-load-2.sql" >/dev/null &
  wait
  my --comments --force "$DB" <"$HERE/mariadb-workload.sql"
  # statements over 5 s, three at once
  my "$DB" -e 'SELECT SLEEP(5.2)' &
  my --comments "$DB" -e "SELECT SLEEP(5.2) /* langsam ✓ */, 'slow' AS label" &
  my --comments "$DB_B" <<<"SELECT SLEEP(5.3),
	'遅いクエリ' AS label;" &
  wait
  perl "$HERE/mariadb-prepared.pl" "$DB"
  my "$DB" -e "SELECT '$END_MARKER' AS marker"
} >"$WORK/my-clients.out" 2>&1 || true  # the workload has statements that fail on purpose
grep -q "$END_MARKER" "$WORK/my-clients.out" || { cat "$WORK/my-clients.out" >&2; exit 1; }
my -e "SET GLOBAL slow_query_log = 0"
cp "$MY_SLOWLOG" "$WORK/raw/mariadb-slow.log"
restore_my
my -e "DROP DATABASE IF EXISTS $DB; DROP DATABASE IF EXISTS $DB_B"

# ---------------------------------------------------------------- 5. fixtures
log "cutting fixtures"
trim() { python3 "$HERE/trim.py" "$1" "$2" "$OUT/$3" --keep-db "$DB" --keep-db "$DB_B" --end-marker "$END_MARKER"; }
trim stderr "$WORK/raw/postgres.log" postgres-stderr.log
trim csvlog "$WORK/raw/postgres.csv" postgres-csvlog.csv
trim jsonlog "$WORK/raw/postgres.json" postgres-jsonlog.json
trim mariadb-slow "$WORK/raw/mariadb-slow.log" mariadb-slow.log

# where the fixtures came from; summarize.py copies this into expected.json
PG_V="$(psql_su -Atc 'SELECT version()' postgres)" MY_V="$my_version" PGBENCH_V="$(pgbench --version)" \
  python3 - "$OUT/servers.json" <<'PY'
import json, os, sys
from datetime import datetime, timezone
json.dump({
    "recorded": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "postgresql": {
        "version": os.environ["PG_V"],
        "pgbench": os.environ["PGBENCH_V"],
        "settings": {
            "log_destination": "stderr,csvlog,jsonlog",
            "logging_collector": "on",
            "log_line_prefix": "%m [%p] %q%u@%d ",
            "log_min_duration_statement": "0",
            "log_timezone": "Etc/UTC",
            "log_parameter_max_length": "-1 (default)",
        },
    },
    "mariadb": {
        "version": os.environ["MY_V"],
        "settings": {
            "slow_query_log": "1",
            "long_query_time": "0",
            "log_slow_verbosity": "query_plan,explain,innodb,engine,warnings",
            "log_slow_admin_statements": "ON (default)",
            "log_slow_filter": "(default: all types)",
        },
    },
}, open(sys.argv[1], "w"), indent=2)
PY

for f in postgres-stderr.log postgres-csvlog.csv postgres-jsonlog.json mariadb-slow.log; do
  size=$(stat -c %s "$OUT/$f")
  ((size < 1000000)) || { echo "$f is $size bytes, over 1 MB" >&2; exit 1; }
  printf '%8d  %s\n' "$size" "$OUT/$f"
done
log "done; servers restored (PostgreSQL settings and MariaDB globals checked against the saved ones)"
