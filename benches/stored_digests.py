#!/usr/bin/env python3
"""What the mergeable stored digests cost and give (issue 18, item 5).

1. `ingest slowlog` of the 1 GiB benchmark PostgreSQL log into a fresh SQLite
   store, against `slowlog` of the same log (the cost of also making and
   storing the mergeable form), and the size of that form.
2. The quarterly review of the sample logs (three months) from the files and
   from the store: wall time, and that both print the same digest.

    python3 benches/stored_digests.py [--size 1G] [--runs 2]

Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out"
BIN = ROOT / "target" / "release" / "poolcap"
CONFIG = ROOT / "data" / "poolcap.toml"
LOGS = [ROOT / "data" / "slowlog" / f"postgresql-2026-{m}.log.gz" for m in ("08", "09", "10")]


def run(argv):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, argv))} failed: {err.decode(errors='replace')[-2000:]}")
    return wall, out.decode()


def best(runs, argv, setup=None):
    walls = []
    out = ""
    for _ in range(runs):
        if setup:
            setup()
        wall, out = run(argv)
        walls.append(wall)
    return min(walls), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1G")
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    log = OUT / f"postgres-{args.size}.log"
    if not log.exists():
        run([BIN, "generate", "slowlog", "--out", log, "--dialect", "postgres", "--size", args.size])
    store = OUT / "stored-digests.db"

    def fresh():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)

    mb = log.stat().st_size / 1e6
    rows = []
    wall, _ = best(args.runs, [BIN, "--config", CONFIG, "slowlog", log, "--format", "json"])
    rows.append(("slowlog (digest only)", f"{mb:.0f} MB log", wall))
    wall, _ = best(
        args.runs, [BIN, "--config", CONFIG, "--store", store, "ingest", "slowlog", log], setup=fresh
    )
    rows.append(("ingest slowlog (report + mergeable form, SQLite)", f"{mb:.0f} MB log", wall))
    db = sqlite3.connect(store)
    forms = db.execute("SELECT period, length(mergeable), length(digest) FROM slowlog_digests").fetchall()
    db.close()

    fresh()
    run([BIN, "--config", CONFIG, "--store", store, "ingest", "slowlog", *LOGS])
    wall_f, out_f = best(
        args.runs, [BIN, "--config", CONFIG, "--format", "json", "slowlog", "--quarter", "2026-Q4", *LOGS]
    )
    wall_s, out_s = best(
        args.runs, [BIN, "--config", CONFIG, "--store", store, "--format", "json", "slowlog", "--quarter", "2026-Q4"]
    )
    same = json.loads(out_f)["digest_sha256"] == json.loads(out_s)["digest_sha256"]
    rows.append(("slowlog --quarter 2026-Q4, three sample logs", "files", wall_f))
    rows.append(("slowlog --quarter 2026-Q4", "the store's digests", wall_s))

    print("| run | input | wall (s) |\n|---|---|---|")
    for what, inp, wall in rows:
        print(f"| {what} | {inp} | {wall:.2f} |")
    print()
    for period, mergeable, report in forms:
        print(f"- {period}: mergeable form {mergeable / 1e3:.0f} KB, report {report / 1e3:.0f} KB")
    print(f"- files and store give the same quarterly digest: {same}")


if __name__ == "__main__":
    main()
