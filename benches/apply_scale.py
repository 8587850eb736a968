#!/usr/bin/env python3
"""Scale benchmark of `poolcap apply` (issue 13): many services, one change log.

Input: a deployment of N services, each with its own `.env` target holding
20 + 10, and either one change log shared by all (`shared`) or one per service
(`separate`); and one month of 3-hourly samples per service at 70 % of a pool of
20 (mean above the 60 % line, so every service escalates to 25 + 13 and every
service's file and change-log entry change). Made here, deterministically,
under bench-out/apply-scale/.

    python3 benches/apply_scale.py [--runs 3] [--sizes 250,1000,2000] [--old PATH]

It builds poolcap in release mode and, for each N and layout, times
`poolcap apply --dry-run` and `poolcap apply` (each on a fresh copy of the
deployment; wall clock of the poolcap process only), best of --runs. With
--old PATH it times that binary too (e.g. one built from the commit before the
change), so the table shows before and after. It prints a Markdown table for
docs/benchmarks.md. Target: 2 000 services with one change log about as fast as with
separate logs.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "apply-scale"
BIN = ROOT / "target" / "release" / "poolcap"
MONTH_START = 1790812800  # 2026-10-01T00:00:00Z
MONTH_END = 1793491200  # 2026-11-01T00:00:00Z
STEP = 3 * 3600


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


def metrics(n):
    """One month of 3-hourly samples at 14 of 20 for services svc-0000 … (shared by both layouts)."""
    path = OUT / f"metrics-{n}.csv"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write("ts,service,instance,pool_size,max_overflow,checked_out,checked_in,overflow,waiting,timeouts\n")
        for i in range(n):
            name = f"svc-{i:04d}"
            for ts in range(MONTH_START - STEP, MONTH_END + STEP, STEP):
                f.write(f"{ts},{name},{name}-0,20,10,14,6,0,0,0\n")
    tmp.rename(path)
    return path


def deployment(n, layout):
    """The template tree for N services: poolcap.toml, deploy/*.env, no change log yet."""
    tree = OUT / f"tree-{n}-{layout}"
    if tree.exists():
        return tree
    tmp = OUT / f"tree-{n}-{layout}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "deploy").mkdir(parents=True)
    (tmp / "changelogs").mkdir()
    lines = [
        "# apply_scale.py: N services, each with its own env target.",
        "[policy]",
        'timezone = "UTC"',
        "[database]",
        "max_connections = 262143",
        "",
    ]
    for i in range(n):
        name = f"svc-{i:04d}"
        log = "CHANGELOG-capacity.md" if layout == "shared" else f"changelogs/{name}.md"
        lines += [
            "[[services]]",
            f'name = "{name}"',
            "replicas = 1",
            "processes_per_replica = 1",
            "[services.targets]",
            f'env = {{ path = "deploy/{name}.env" }}',
            f'changelog = "{log}"',
            "",
        ]
        (tmp / "deploy" / f"{name}.env").write_text(
            f"# {name}\nDATABASE_URL=postgresql://app:secret@db/{name}\nDB_POOL_SIZE=20\nDB_MAX_OVERFLOW=10\n"
        )
    (tmp / "poolcap.toml").write_text("\n".join(lines))
    tmp.rename(tree)
    return tree


def timed(binary, tree, data, dry_run):
    """Copies the tree, runs apply on the copy; returns wall seconds."""
    work = OUT / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(tree, work)
    argv = [str(binary), "apply", "--config", str(work / "poolcap.toml"), "--metrics", str(data),
            "--month", "2026-10", "--author", "Bench"]
    if dry_run:
        argv.append("--dry-run")
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=work)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{binary} apply failed: {proc.stderr.decode()}")
    if not dry_run:
        logs = [work / "CHANGELOG-capacity.md"] if (work / "CHANGELOG-capacity.md").exists() else \
            list((work / "changelogs").iterdir())
        entries = sum(p.read_text().count("<!-- poolcap:id=") for p in logs)
        n = len(list((work / "deploy").iterdir()))
        if entries != n:
            sys.exit(f"{binary}: {entries} change-log entries for {n} services")
    shutil.rmtree(work)
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="250,1000,2000")
    ap.add_argument("--old", type=Path, help="a poolcap binary to time as 'before'")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    binaries = [("before", args.old)] if args.old else []
    binaries.append(("after", BIN))

    print(machine())
    print(f"best of {args.runs} runs; wall clock of `poolcap apply --month 2026-10` in seconds\n")
    print("| services | change logs | binary | apply --dry-run | apply |")
    print("|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        data = metrics(n)
        for layout in ("shared", "separate"):
            tree = deployment(n, layout)
            for label, binary in binaries:
                dry = min(timed(binary, tree, data, True) for _ in range(args.runs))
                real = min(timed(binary, tree, data, False) for _ in range(args.runs))
                logs = "1 shared" if layout == "shared" else f"{n:,} separate"
                print(f"| {n:,} | {logs} | {label} | {dry:.2f} | {real:.2f} |", flush=True)


if __name__ == "__main__":
    main()
