#!/usr/bin/env bash
# Makes tests/fixtures/metrics/prometheus-query-range-2026-09-16.json: the
# real answer of a real Prometheus to a query_range over the sample data's
# incident day (2026-09-16, Europe/London; the backend saturates 09:05-10:00).
#
#   1. the rows of data/metrics/2026-09.csv.gz from 2026-09-15T22:00Z to
#      2026-09-17T00:00Z, as OpenMetrics text (to_openmetrics.py);
#   2. `promtool tsdb create-blocks-from openmetrics` into a temporary TSDB;
#   3. `prometheus` on that TSDB (no scrape targets, retention 100y so the
#      2026 blocks are kept), on a free port of 127.0.0.1;
#   4. GET /api/v1/query_range?query={__name__=~"sqlalchemy_pool_.*"}
#      &start=2026-09-15T23:00:00Z&end=2026-09-16T23:00:00Z&step=60
#      (the local day), written as it came;
#   5. prometheus stopped, the temporary directory removed.
#
# Needs prometheus and promtool (Debian bookworm: `apt-get install prometheus`,
# 2.42), python3 and curl. Run from anywhere: scripts/prometheus-query-range/make_fixture.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/tests/fixtures/metrics/prometheus-query-range-2026-09-16.json"
start=2026-09-15T23:00:00Z
end=2026-09-16T23:00:00Z

work=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

prometheus --version 2>&1 | head -1
python3 "$here/to_openmetrics.py" "$root/data/metrics/2026-09.csv.gz" 2026-09-15T22:00:00Z 2026-09-17T00:00:00Z >"$work/day.om"
echo "openmetrics: $(wc -l <"$work/day.om") lines"
promtool tsdb create-blocks-from openmetrics "$work/day.om" "$work/tsdb" >"$work/promtool.log"
tail -n 3 "$work/promtool.log"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'global:\n  scrape_interval: 1m\nscrape_configs: []\n' >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$port" \
    >"$work/prometheus.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 60); do
    curl -fsS "$url/-/ready" >/dev/null 2>&1 && break
    sleep 1
done
curl -fsS "$url/-/ready" >/dev/null || { cat "$work/prometheus.log"; exit 1; }

curl -fsS -G "$url/api/v1/query_range" \
    --data-urlencode 'query={__name__=~"sqlalchemy_pool_.*"}' \
    --data-urlencode "start=$start" --data-urlencode "end=$end" --data-urlencode step=60 \
    -o "$work/answer.json"
python3 - "$work/answer.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["status"] == "success", doc
series = doc["data"]["result"]
assert series, "the backfilled data is not queryable"
print(f"{len(series)} series, {sum(len(s['values']) for s in series)} points")
PY
mkdir -p "$(dirname "$out")"
rm -f "$out" "$out.gz"
size=$(wc -c <"$work/answer.json")
if [ "$size" -gt 1048576 ]; then
    gzip -9n <"$work/answer.json" >"$out.gz"
    echo "wrote $out.gz ($size bytes before gzip)"
else
    cp "$work/answer.json" "$out"
    echo "wrote $out ($size bytes)"
fi
