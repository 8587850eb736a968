#!/usr/bin/env bash
# reference.sh -- run the reference tools over the slow-log fixtures and write
# tests/fixtures/slowlog/expected.json.
#
#   pgBadger 12.0       postgres-stderr.log   -f stderr --prefix '%m [%p] %q%u@%d '
#                       postgres-csvlog.csv   -f csv
#                       postgres-jsonlog.json -f jsonlog
#                       (all three with -j 1 and JSON output, -o FILE.json,
#                       which needs Perl JSON::XS; csv needs Text::CSV_XS)
#   pt-query-digest     mariadb-slow.log      --output json --limit 100%
#                       and once more with --filter '($event->{Query_time} || 0) > 5'
#                       to count the statements over 5 s
#   count.py            the same numbers counted by hand (standard library)
#
# The tools' JSON goes to tests/fixtures/slowlog/reference/ (keys sorted, so
# re-runs diff cleanly; content unchanged), and summarize.py puts the tools'
# numbers and count.py's side by side in expected.json.  Runs offline, reads
# only the fixture files; make-fixtures.sh need not have run on this machine.
#
# Usage: bash scripts/slowlog-fixtures/reference.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIX="$(cd "$HERE/../../tests/fixtures/slowlog" && pwd)"
REF="$FIX/reference"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$REF"

need=()
command -v pgbadger >/dev/null || need+=(pgbadger)
command -v pt-query-digest >/dev/null || need+=(percona-toolkit)
perl -MJSON::XS -e1 2>/dev/null || need+=(libjson-xs-perl)
perl -MText::CSV_XS -e1 2>/dev/null || need+=(libtext-csv-xs-perl)
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cd "$FIX"  # relative file names, so no machine path ends up in the outputs
PREFIX='%m [%p] %q%u@%d '
pgb() {  # pgb FORMAT FIXTURE OUT.json [extra args]
  local fmt=$1 in=$2 out=$3
  shift 3
  pgbadger --quiet -f "$fmt" -j 1 "$@" -o "$TMP/$out" "$in"
}
pgb stderr postgres-stderr.log pgbadger-stderr.json --prefix "$PREFIX"
pgb csv postgres-csvlog.csv pgbadger-csvlog.json
pgb jsonlog postgres-jsonlog.json pgbadger-jsonlog.json

pt-query-digest --output json --limit 100% mariadb-slow.log >"$TMP/pt-query-digest.json"
pt-query-digest --output json --limit 100% --filter '($event->{Query_time} || 0) > 5' \
  mariadb-slow.log >"$TMP/pt-query-digest-over-5s.json"

python3 "$HERE/count.py" "$FIX" >"$TMP/count.json"

{
  echo "pgbadger=$(pgbadger --version | sed -n 's/^pgBadger version //p')"
  echo "pt-query-digest=$(pt-query-digest --version | awk '{print $2}')"
} >"$TMP/versions.txt"

python3 "$HERE/summarize.py" "$TMP" "$FIX"
ls -l "$FIX/expected.json" "$REF"
