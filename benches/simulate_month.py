#!/usr/bin/env python3
"""Time of `poolcap simulate --month` on the sample October (issue 16):
every service, 10 candidate sizes, and how the cost grows with the hours and
the sizes.

    python3 benches/simulate_month.py [--runs 3]

It builds poolcap in release mode and runs `simulate --month 2026-10` on the
sample data with the October slow log (the README's review inputs), --runs
times per case, and prints the best wall time, the checkouts simulated per
size (every size sees the same checkouts), the sizes that had to be
simulated in full at some point (a size never at its limit costs nothing:
docs/simulate.md, "exact coupling") and peak RSS, as a Markdown table for
docs/benchmarks.md. The wall time includes reading and analysing the three
metric files and the slow log (`plan` alone: the first row's "plan" column).
"""

import argparse
import json
import subprocess
from pathlib import Path

from simulate_throughput import machine, run

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "poolcap"
INPUTS = ["--config", "data/poolcap.toml", "--metrics", "data/metrics/2026-08.csv.gz",
          "data/metrics/2026-09.csv.gz", "data/metrics/2026-10.csv.gz",
          "--slowlog", "data/slowlog/postgresql-2026-10.log.gz"]

CASES = [
    # The target: every service, 10 candidate sizes, the default 24 busiest instance-hours.
    ("10 sizes (10..55), busiest:24", ["--pool-sizes", "10..55", "--hours", "busiest:24"]),
    ("10 sizes (10..55), busiest:48", ["--pool-sizes", "10..55", "--hours", "busiest:48"]),
    ("20 sizes (10..57:5 and 12..57:5), busiest:24", ["--pool-sizes", ",".join(str(p) for p in sorted(set(range(10, 58, 5)) | set(range(12, 58, 5)))), "--hours", "busiest:24"]),
    ("5 sizes above the demand (30..50), busiest:24", ["--pool-sizes", "30..50", "--hours", "busiest:24"]),
]


def best_of(runs, argv):
    best = None
    for _ in range(runs):
        r = run(argv)
        if best is None or r[0] < best[0]:
            best = r
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    print(machine())
    print(f"best of {args.runs} runs\n")
    plan_wall, _, _ = best_of(args.runs, [str(BIN), "plan", "--month", "2026-10", "--format", "json", *INPUTS])
    print(f"plan (the analysis + the check at the review chart's sizes): {plan_wall:.2f} s\n")
    print("| case | sizes per service | checkouts per size (all services) | sizes that ran in full | wall (s) | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for name, flags in CASES:
        wall, rss, out = best_of(args.runs, [str(BIN), "simulate", "--month", "2026-10", "--format", "json",
                                             *INPUTS, *flags])
        report = json.loads(out)
        sizes = [len(s["sizes"]) for s in report["services"]]
        checkouts = sum(s["sizes"][0]["checkouts"] for s in report["services"])
        # A size that waited at some point ran in full for a while.
        limited = sum(1 for s in report["services"] for r in s["sizes"] if r["p_wait"] > 0)
        print(f"| {name} | {'/'.join(map(str, sizes))} | {checkouts:,} | {limited} | {wall:.2f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
