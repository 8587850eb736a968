#!/usr/bin/env python3
"""Memory per service/instance pair (issue 12): the figure behind
`--max-series` and the Limits table of docs/config.md.

For N distinct instances of the sample's `backend` service (N = 1 000,
10 000, 50 000, 100 000), each reporting every 5 minutes for one day of
October 2026, it runs `poolcap plan` (release build) and reads the child's
peak RSS; the slope between the smallest and the largest N is the cost of
one more pair. It also checks that N = limit + 1 fails with the
--max-series error instead of growing.

    python3 benches/series_memory.py
"""

import subprocess
import sys
from pathlib import Path

from plan_throughput import machine, run_child  # same directory

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "series"
BIN = ROOT / "target" / "release" / "poolcap"
START = 1_791_014_400  # 2026-10-03T10:00:00Z: a weekday morning
SAMPLES = 12  # one hour at 5-minute intervals


def write(n):
    path = OUT / f"instances-{n}.csv"
    if not path.exists():
        with open(path, "w") as f:
            f.write("ts,service,instance,pool_size,max_overflow,checked_out\n")
            for k in range(SAMPLES):
                ts = START + k * 300
                for i in range(n):
                    f.write(f"{ts},backend,backend-{i},20,10,{(i + k) % 18}\n")
    return path


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    print(machine())
    print()
    print("| instances | samples | wall s | peak RSS MiB |")
    print("|---:|---:|---:|---:|")
    points = []
    for n in (1_000, 10_000, 50_000, 100_000):
        path = write(n)
        wall, rss = run_child([str(BIN), "plan", "--config", "data/poolcap.toml", "--month", "2026-10",
                               "--metrics", str(path), "--max-series", str(n)])
        points.append((n, rss))
        print(f"| {n:,} | {n * SAMPLES:,} | {wall:.2f} | {rss:.0f} |")
    (n0, r0), (n1, r1) = points[0], points[-1]
    print()
    print(f"cost of one more pair: {(r1 - r0) * 1024 * 1024 / (n1 - n0) / 1000:.2f} KB "
          f"(slope of peak RSS from {n0:,} to {n1:,} instances)")
    over = subprocess.run([str(BIN), "plan", "--config", "data/poolcap.toml", "--month", "2026-10",
                           "--metrics", str(write(10_000)), "--max-series", "9999"],
                          cwd=ROOT, capture_output=True, text=True)
    if over.returncode != 1 or "--max-series" not in over.stderr:
        sys.exit(f"--max-series 9999 on 10 000 instances did not fail as it should: {over.stderr}")
    print(f"--max-series 9999 on 10 000 instances: exit 1, \"{over.stderr.strip().splitlines()[-1][:120]}…\"")


if __name__ == "__main__":
    main()
