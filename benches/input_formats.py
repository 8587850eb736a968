#!/usr/bin/env python3
"""Throughput of the four metric inputs through `poolcap plan` (issue 7).

Input: one month of 15-second samples for 10 instances (1.8 M samples), made by
`poolcap generate bench` (seeded), then written in each format from that CSV:

- csv: as generated (Unix-seconds times);
- jsonl: one /api/metrics body a line (`ts`, `service`, `instance`,
  `pool_size`, `checked_out_connections`, `max_overflow`);
- prometheus: one query_range answer holding, per instance, the
  sqlalchemy_pool_checked_out and sqlalchemy_pool_size series;
- pool-status: one application log per instance (the file name is the
  instance), every status line between two other log lines, Python logging
  format, times in UTC.

    python3 benches/input_formats.py [--runs 3]

It builds poolcap in release mode, writes the inputs into bench-out/ when
missing, runs `poolcap plan` on each --runs times (wall clock and peak RSS of
the child) and prints a Markdown table for docs/benchmarks.md: samples per second and
input MB per second (uncompressed bytes of that format).
"""

import argparse
import csv
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from plan_throughput import machine, run_child  # same directory

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "inputs"
BIN = ROOT / "target" / "release" / "poolcap"
INSTANCES = 10


def rows(path):
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            yield row


def write_inputs(source):
    """Writes the other three formats from the generated CSV (once)."""
    jsonl = OUT / "bench.jsonl"
    prom = OUT / "bench-query-range.json"
    done = OUT / "inputs-written"
    if not done.exists():
        series = {}
        handles = {}
        with open(jsonl, "w") as out:
            for row in rows(source):
                ts = int(row["ts"])
                inst = row["instance"]
                out.write(json.dumps({
                    "ts": ts, "service": row["service"], "instance": inst,
                    "pool_size": int(row["pool_size"]),
                    "checked_out_connections": int(row["checked_out"]),
                    "max_overflow": int(row["max_overflow"]),
                }) + "\n")
                co, ps = series.setdefault((row["service"], inst), ([], []))
                co.append([ts, row["checked_out"]])
                ps.append([ts, row["pool_size"]])
                log = handles.get(inst)
                if log is None:
                    log = handles[inst] = open(OUT / f"{inst}.log", "w")
                when = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + ",125"
                size, out_ = int(row["pool_size"]), int(row["checked_out"])
                log.write(f"{when} INFO [app.api] GET /api/ward/3/patients 200 (41 ms)\n")
                log.write(f"{when} INFO [app.pool_monitor] Pool size: {size}  Connections in pool: "
                          f"{max(size - out_, 0)} Current Overflow: {out_ - size} Current Checked out "
                          f"connections: {out_}\n")
        for h in handles.values():
            h.close()
        result = []
        for (service, inst), (co, ps) in series.items():
            for name, values in (("sqlalchemy_pool_checked_out", co), ("sqlalchemy_pool_size", ps)):
                result.append({"metric": {"__name__": name, "service": service, "instance": inst},
                               "values": values})
        with open(prom, "w") as out:
            json.dump({"status": "success", "data": {"resultType": "matrix", "result": result}}, out,
                      separators=(",", ":"))
        done.touch()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write-inputs", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write_inputs:
        write_inputs(OUT / f"bench-{INSTANCES}x15s-unix.csv")
        return

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / f"bench-{INSTANCES}x15s-unix.csv"
    if not source.exists():
        subprocess.run(
            [str(BIN), "generate", "bench", "--out", str(source), "--instances", str(INSTANCES),
             "--interval", "15s", "--month", "2026-10", "--timestamps", "unix"],
            cwd=ROOT, check=True)
    samples = sum(1 for _ in open(source, "rb")) - 1
    # In a child process: a child forked from a large Python process would
    # report the parent's pages as its own peak RSS.
    subprocess.run([sys.executable, __file__, "--write-inputs"], check=True)
    files = {"csv": [source], "jsonl": [OUT / "bench.jsonl"], "prometheus": [OUT / "bench-query-range.json"],
             "pool-status": sorted(OUT.glob("*.log"))}

    print(machine())
    print(f"input: {samples:,} samples ({INSTANCES} instances, 15 s, October 2026); best of {args.runs} runs\n")
    print("| format | files | MB | wall (s) | samples/s | MB/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for fmt, paths in files.items():
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        plan = [str(BIN), "plan", "--config", "benches/bench.toml", "--month", "2026-10", "--format", "json",
                "--service", "backend", "--metrics", *map(str, paths)]
        results = [run_child(plan) for _ in range(args.runs)]
        best = min(w for w, _ in results)
        rss = max(r for _, r in results)
        print(f"| {fmt} | {len(paths)} | {size_mb:.0f} | {best:.2f} | {samples / best / 1e3:,.0f} k | "
              f"{size_mb / best:.0f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
