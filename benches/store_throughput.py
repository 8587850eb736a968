#!/usr/bin/env python3
"""Benchmark of the history store (issue 6's targets): ingest of the benchmark
month (`poolcap generate bench`: 50 instances every 15 s for October 2026,
8.9 M rows) into SQLite and into PostgreSQL, and the monthly aggregation of
that month inside PostgreSQL.

    python3 benches/store_throughput.py [--postgres postgres://postgres@127.0.0.1:5432/postgres] [--runs 2]

The aggregation is measured as `poolcap plan --month 2026-11` on a store that
holds the benchmark month and one November sample per instance: plan streams
November and has PostgreSQL aggregate October and September, and prints how
long that took. Each PostgreSQL run uses a fresh database, dropped after.

Targets (2-core machine): >= 500 k rows/s into SQLite, >= 300 k rows/s into
PostgreSQL, memory flat; the month's aggregation in PostgreSQL <= 5 s.
Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out"
BIN = ROOT / "target" / "release" / "poolcap"
CONFIG = ROOT / "benches" / "bench.toml"


def run_child(argv):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(map(str, argv))} failed: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, err


def psql(admin_url, sql):
    subprocess.run(["psql", "-X", "-q", admin_url, "-c", sql], check=True, stdout=subprocess.DEVNULL)


def fresh_database(admin_url, name):
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(admin_url, f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", default=os.environ.get("POOLCAP_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    OUT.mkdir(exist_ok=True)
    bench = OUT / "store-bench.csv"
    if not bench.exists():
        subprocess.run([BIN, "generate", "bench", "--out", bench], check=True, stdout=subprocess.DEVNULL)
    rows = sum(1 for _ in open(bench)) - 1
    # One November sample per instance, so that `plan --month 2026-11` has a month to stream.
    november = OUT / "store-bench-november.csv"
    with open(bench) as f, open(november, "w") as out:
        header = f.readline()
        out.write(header)
        cols = header.strip().split(",")
        seen = set()
        for line in f:
            fields = line.rstrip("\n").split(",")
            key = (fields[cols.index("service")], fields[cols.index("instance")])
            if key in seen:
                break
            seen.add(key)
            fields[cols.index("ts")] = "2026-11-01T00:00:00Z"
            out.write(",".join(fields) + "\n")

    results = []

    def ingest(store, label):
        best = None
        for _ in range(args.runs):
            if store == "sqlite":
                tmp = tempfile.mkdtemp()
                location = os.path.join(tmp, "poolcap.db")
            else:
                location = fresh_database(args.postgres, "poolcap_bench_store")
            wall, rss, _ = run_child([BIN, "--config", CONFIG, "ingest", "metrics", bench, "--store", location])
            if best is None or wall < best[0]:
                best = (wall, rss)
        results.append((label, best[0], rows / best[0], best[1]))
        return location

    ingest("sqlite", "SQLite (file), ingest")
    location = ingest("postgres", "PostgreSQL (fresh database), ingest")
    wall, rss, _ = run_child([BIN, "--config", CONFIG, "ingest", "metrics", bench, "--store", location])
    results.append(("PostgreSQL, the same file again (all already present)", wall, rows / wall, rss))
    run_child([BIN, "--config", CONFIG, "ingest", "metrics", november, "--store", location])
    aggregation = []
    for _ in range(3):
        wall, rss, err = run_child([BIN, "--config", CONFIG, "plan", "--month", "2026-11", "--store", location])
        m = re.search(r"aggregated in the database in ([0-9.]+) s", err)
        if not m:
            sys.exit(f"no aggregation note in plan's output:\n{err}")
        aggregation.append((float(m.group(1)), wall, rss))
    psql(args.postgres, "DROP DATABASE IF EXISTS poolcap_bench_store WITH (FORCE)")

    print(f"benchmark month: {rows} rows ({bench.stat().st_size / 1e6:.0f} MB)\n")
    print("| step | wall (s) | rows/s | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for label, wall, rate, rss in results:
        print(f"| {label} | {wall:.1f} | {rate / 1000:.0f} k | {rss:.0f} |")
    best = min(aggregation)
    print(f"\naggregation of the month in PostgreSQL (best of {len(aggregation)}): {best[0]:.2f} s "
          f"(all runs: {', '.join(f'{a[0]:.2f}' for a in aggregation)}); whole `plan --month 2026-11`: {best[1]:.2f} s, peak RSS {best[2]:.0f} MiB")


if __name__ == "__main__":
    main()
