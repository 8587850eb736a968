#!/usr/bin/env python3
"""Throughput benchmark of `poolcap plan` (issue 2's target), against DuckDB.

Input: one month of 15-second samples for 50 instances (8.9 M rows), made by
`poolcap generate bench` (seeded, so every run measures the same bytes).

    python3 benches/plan_throughput.py [--runs 3] [--timestamps rfc3339|unix] [--no-duckdb]

It builds poolcap in release mode, generates the input into bench-out/ when
missing, runs `poolcap plan` --runs times (wall clock and peak RSS of the
child), and runs DuckDB computing only a plain per-instance mean of
checked_out / pool_size over the same file (`pip install duckdb`). It prints a
Markdown table for docs/benchmarks.md. Targets (2-core machine): ≥ 250 MB/s end to end,
peak RSS ≤ 256 MB.
"""

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out"
BIN = ROOT / "target" / "release" / "poolcap"


def run_child(argv):
    """Runs argv; returns (wall seconds, peak RSS in MiB of that child)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} failed: {err}")
    return wall, usage.ru_maxrss / 1024


def machine():
    """`machine: N cores (CPU model), OS release` for the benchmark's header."""
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timestamps", choices=["rfc3339", "unix"], default="rfc3339")
    ap.add_argument("--no-duckdb", action="store_true")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    OUT.mkdir(exist_ok=True)
    data = OUT / f"bench-50x15s-{args.timestamps}.csv"
    if not data.exists():
        subprocess.run(
            [str(BIN), "generate", "bench", "--out", str(data), "--instances", "50", "--interval", "15s",
             "--month", "2026-10", "--timestamps", args.timestamps],
            cwd=ROOT, check=True)
    size_mb = data.stat().st_size / 1e6
    rows = sum(1 for _ in open(data, "rb")) - 1

    plan = [str(BIN), "plan", "--config", "benches/bench.toml", "--metrics", str(data), "--month", "2026-10",
            "--format", "json"]
    results = [run_child(plan) for _ in range(args.runs)]
    best = min(w for w, _ in results)
    rss = max(r for _, r in results)

    duck = None
    if not args.no_duckdb:
        script = (
            "import duckdb, sys\n"
            "duckdb.connect().execute(\"select instance, avg(checked_out::double / pool_size) "
            "from read_csv(?) group by instance\", [sys.argv[1]]).fetchall()\n"
        )
        try:
            import duckdb  # noqa: F401
            duck_runs = [run_child([sys.executable, "-c", script, str(data)]) for _ in range(args.runs)]
            duck = (min(w for w, _ in duck_runs), max(r for _, r in duck_runs), duckdb.__version__)
        except ImportError:
            print("duckdb not installed (pip install duckdb): comparison skipped", file=sys.stderr)

    print(machine())
    print(f"input: {data.name}, {rows:,} rows, {size_mb:.0f} MB; best of {args.runs} runs\n")
    print("| tool | work | wall (s) | MB/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    print(f"| poolcap plan | full analysis + policy | {best:.2f} | {size_mb / best:.0f} | {rss:.0f} |")
    if duck:
        print(f"| DuckDB {duck[2]} (Python) | per-instance mean only | {duck[0]:.2f} | {size_mb / duck[0]:.0f} | {duck[1]:.0f} |")
        print(f"\nratio poolcap / DuckDB wall time: {best / duck[0]:.2f}")


if __name__ == "__main__":
    main()
