#!/usr/bin/env python3
"""Throughput benchmark of `poolcap slowlog` (issue 4's targets), side by side
with pgBadger and pt-query-digest on the same files.

Inputs: a 1 GiB PostgreSQL stderr log and a 1 GiB MariaDB slow log made by
`poolcap generate slowlog` (seeded). pgBadger runs on the full PostgreSQL log
with -j 1 (that takes minutes); pt-query-digest runs on a 100 MiB slice (it is
slower still), and its MB/s is reported for that slice.

    python3 benches/slowlog_throughput.py [--runs 3] [--no-reference] [--size 1G]

Targets (2-core machine): >= 500 MB/s on one core, near twice that on two,
peak RSS <= 128 MB. Prints a Markdown table for docs/benchmarks.md.
Reference tools are Debian packages: apt-get install pgbadger percona-toolkit.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out"
BIN = ROOT / "target" / "release" / "poolcap"


def run_child(argv, stdout=subprocess.DEVNULL):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} failed: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def best(argv, runs):
    results = [run_child(argv) for _ in range(runs)]
    return min(w for w, _ in results), max(r for _, r in results)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", default="1G")
    ap.add_argument("--no-reference", action="store_true", help="skip pgBadger and pt-query-digest")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    OUT.mkdir(exist_ok=True)
    logs = {}
    for dialect in ["postgres", "mariadb"]:
        path = OUT / f"{dialect}-{args.size}.log"
        if not path.exists():
            subprocess.run([str(BIN), "generate", "slowlog", "--dialect", dialect, "--size", args.size,
                            "--out", str(path)], cwd=ROOT, check=True)
        logs[dialect] = path

    rows = []
    for dialect, path in logs.items():
        mb = path.stat().st_size / 1e6
        for threads in (1, 2):
            wall, rss = best([str(BIN), "slowlog", str(path), "--threads", str(threads), "--format", "json",
                              "--config", "benches/bench.toml"], args.runs)
            rows.append((f"poolcap slowlog --threads {threads}", dialect, f"{mb:.0f}", wall, mb / wall, rss))

    if not args.no_reference:
        pg = logs["postgres"]
        mb = pg.stat().st_size / 1e6
        if shutil.which("pgbadger"):
            out = OUT / "pgbadger.json"
            wall, rss = run_child(["pgbadger", "-f", "stderr", "-j", "1", "--prefix", "%m [%p] %q%u@%d ",
                                   "-o", str(out), str(pg)])
            rows.append(("pgBadger -j 1", "postgres", f"{mb:.0f}", wall, mb / wall, rss))
        else:
            print("pgbadger not installed: skipped", file=sys.stderr)
        if shutil.which("pt-query-digest"):
            slice_path = OUT / "mariadb-100M.log"
            # Cut the first 100 MiB at an entry boundary, in a child process: a
            # child forked from this Python after it read 100 MiB would report
            # that memory as its own peak RSS.
            subprocess.run([sys.executable, "-c",
                            "import sys; d = open(sys.argv[1], 'rb').read(100 << 20); c = d.rfind(b'\\n# Time:'); "
                            "open(sys.argv[2], 'wb').write(d[:c + 1] if c > 0 else d)",
                            str(logs["mariadb"]), str(slice_path)], check=True)
            smb = slice_path.stat().st_size / 1e6
            wall, rss = run_child(["pt-query-digest", "--output", "json", str(slice_path)])
            rows.append(("pt-query-digest", "mariadb (100 MiB slice)", f"{smb:.0f}", wall, smb / wall, rss))
            wall, rss = best([str(BIN), "slowlog", str(slice_path), "--threads", "1", "--format", "json",
                              "--config", "benches/bench.toml"], args.runs)
            rows.append(("poolcap slowlog --threads 1", "mariadb (100 MiB slice)", f"{smb:.0f}", wall, smb / wall, rss))
        else:
            print("pt-query-digest not installed: skipped", file=sys.stderr)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {os.cpu_count()} cores ({cpu}); best of {args.runs} runs for poolcap, one run for the reference tools\n")
    print("| tool | log | MB | wall (s) | MB/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for tool, log, mb, wall, rate, rss in rows:
        print(f"| {tool} | {log} | {mb} | {wall:.2f} | {rate:.0f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
