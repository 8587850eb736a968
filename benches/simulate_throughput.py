#!/usr/bin/env python3
"""Throughput of the QueuePool simulator (issue 16): simulated checkouts per
second on one core, for a calm pool and an exhausted one.

    python3 benches/simulate_throughput.py [--runs 3]

It builds poolcap in release mode and runs `poolcap simulate --format json`
on two synthetic scenarios of 10 M checkouts each, --runs times; it prints the
best wall time, checkouts per second and peak RSS of the child as a Markdown
table for docs/benchmarks.md. The simulator is single-threaded, so
checkouts/s is per core.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "poolcap"

SCENARIOS = {
    # 1000/s × 0.01 s = 10 Erlangs on 20 + 10 connections: rarely waits.
    "calm (A = 10 on 20 + 10)": ["--arrivals", "poisson:1000", "--hold", "exp:0.01", "--pool-size", "20",
                                  "--max-overflow", "10", "--duration", "10000"],
    # 1000/s × 0.032 s = 32 Erlangs on 20 + 10: the pool runs out, callers time out.
    "exhausted (A = 32 on 20 + 10)": ["--arrivals", "poisson:1000", "--hold", "exp:0.032", "--pool-size", "20",
                                       "--max-overflow", "10", "--pool-timeout", "0.5", "--duration", "10000"],
}


def machine():
    """The machine line of a benchmark table."""
    cpu = "unknown"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"


def run(argv):
    """Runs argv in the repository: wall seconds, peak RSS (MiB) and stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(argv)}: {proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    print(machine())
    print(f"best of {args.runs} runs\n")
    print("| scenario | checkouts | timeouts | wall (s) | checkouts/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for name, flags in SCENARIOS.items():
        best = None
        for _ in range(args.runs):
            wall, rss, out = run([str(BIN), "simulate", "--format", "json", "--seed", "1", *flags])
            if best is None or wall < best[0]:
                best = (wall, rss, json.loads(out))
        wall, rss, report = best
        n = report["checkouts"]
        print(f"| {name} | {n:,} | {report['timeouts']:,} | {wall:.2f} | {n / wall / 1e6:.1f} M | {rss:.0f} |")


if __name__ == "__main__":
    main()
