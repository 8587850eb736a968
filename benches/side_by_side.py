#!/usr/bin/env python3
"""poolcap and its peers side by side on the same files (issue 21: "Ahead of
every peer, side by side").

    python3 benches/side_by_side.py [--rounds 2] [--only plan|postgres|mariadb ...]
                                    [--no-reference] [--generated] [--bin PATH]

It does not build: run `cargo build --release` first (or pass --bin PATH; the
default is target/release/poolcap under the repository root).

Inputs, made into bench-out/ when missing (reused when present):

* plan: bench-50x15s-rfc3339.csv, one month of 15-second samples for 50
  instances (8.9 M rows, 469 MB), by `poolcap generate bench` as in
  plan_throughput.py;
* postgres: real-postgres.log, the real PostgreSQL 15 stderr log
  tests/fixtures/slowlog/postgres-stderr.log written 1760 times (194 MB);
* mariadb: real-mariadb.log, the real MariaDB slow log
  tests/fixtures/slowlog/mariadb-slow.log written 590 times (103 MB);
* with --generated also postgres-1G.log and mariadb-1G.log by
  `poolcap generate slowlog --size 1G` as in slowlog_throughput.py (they are
  measured like the real logs, reference tools included: on 1 GB pgBadger and
  pt-query-digest take many minutes per run; add --no-reference to skip them).

Pairs, measured alternately, A B A B ...: each round runs every poolcap variant
(A) once and then each peer (B) once, so every A has the same B runs to compare
with. The table gives the MEDIAN wall time of the --rounds runs of each row,
the highest peak RSS of them (os.wait4 of the child) and MB/s = input MB /
median wall.

* plan: A = `poolcap plan --config benches/bench.toml --metrics CSV --month
  2026-10 --format json`; B = DuckDB (Python, `python3 -c`) computing only a
  per-instance mean of checked_out / pool_size; B' = DuckDB computing per
  instance the mean, p95 (quantile_cont), max and share of rows over 0.8.
  B' runs in the same rounds right after B (A B B' A B B'), so both ratios use
  the same poolcap runs. Skipped, with a notice, when duckdb is not importable.
* postgres: A = `poolcap slowlog --threads 1 LOG`, `--threads 2` and
  `taskset -c 0 poolcap slowlog --threads 1` (strictly one core); B = pgBadger
  `-f stderr -j 1 --prefix '%m [%p] %q%u@%d ' -o TMP.json` (about 100 s a run
  on 194 MB).
* mariadb: the same three A, B = `pt-query-digest --output json` on the whole
  file.

--no-reference skips pgBadger and pt-query-digest (not DuckDB). Reference
tools are Debian packages: apt-get install pgbadger percona-toolkit.

Prints a `machine:` line, one `input:` line per input, a Markdown table for
docs/benchmarks.md and the ratios of the median wall times. Progress goes to
stderr. A child that fails stops the benchmark with its stderr tail.

Peak RSS note: Linux counts the RSS a child had before its exec (the parent's,
for a child forked or vforked from this Python), so this script keeps itself
small: it never imports duckdb nor holds an input in memory.
"""

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plan_throughput import machine  # same directory

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out"
FIXTURES = ROOT / "tests" / "fixtures" / "slowlog"
BIN = ROOT / "target" / "release" / "poolcap"
GROUPS = ("plan", "postgres", "mariadb")
REAL = {"postgres": ("postgres-stderr.log", "real-postgres.log", 1760),
        "mariadb": ("mariadb-slow.log", "real-mariadb.log", 590)}
PG_PREFIX = "%m [%p] %q%u@%d "

DUCK_MEAN = (
    "import duckdb, sys\n"
    "duckdb.connect().execute(\"select instance, avg(checked_out::double / pool_size) "
    "from read_csv(?) group by instance\", [sys.argv[1]]).fetchall()\n"
)
DUCK_FULL = (
    "import duckdb, sys\n"
    "duckdb.connect().execute(\"select instance, avg(u), quantile_cont(u, 0.95), max(u), "
    "avg(case when u > 0.8 then 1.0 else 0.0 end) "
    "from (select instance, checked_out::double / pool_size as u from read_csv(?)) "
    "group by instance\", [sys.argv[1]]).fetchall()\n"
)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_child(argv, stdout=subprocess.DEVNULL):
    """Runs argv; returns (wall seconds, peak RSS in MiB of that child).

    stderr goes to a temporary file, not a pipe: pgBadger's progress bar would
    fill a pipe that nobody reads while we wait. On failure it prints the tail
    of the child's stderr and exits non-zero.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0, os.SEEK_END)
            err.seek(max(0, err.tell() - 4000))
            tail = err.read().decode(errors="replace")
            how = f"exit {code}" if code > 0 else f"signal {-code}"
            sys.exit(f"{' '.join(argv)}\nfailed ({how}); end of its stderr:\n{tail}")
    return wall, usage.ru_maxrss / 1024


def count_lines(path):
    """Newlines in path, read in 1 MiB chunks (this also warms the page cache)."""
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def make(path, argv):
    """Unless path exists, runs argv with "{out}" standing for NAME.partial.EXT beside
    path, and renames that to path when argv succeeds (so an interrupted run is
    not reused)."""
    if path.exists():
        return
    partial = path.with_name(path.stem + ".partial" + path.suffix)
    log(f"making {path.relative_to(ROOT)} ...")
    argv = [a if a != "{out}" else str(partial) for a in argv]
    if subprocess.run(argv, cwd=ROOT).returncode != 0:
        partial.unlink(missing_ok=True)
        sys.exit(f"{' '.join(argv)}\nfailed: {path.name} not made")
    os.replace(partial, path)


def concatenated(fixture, name, times):
    """bench-out/NAME = the fixture's bytes written `times` times (streamed)."""
    src = FIXTURES / fixture
    path = OUT / name
    size = src.stat().st_size
    if path.exists() and path.stat().st_size == size * times:
        return path
    if path.exists():
        log(f"{path.relative_to(ROOT)} has the wrong size: remaking it")
    log(f"making {path.relative_to(ROOT)} ({fixture} × {times}) ...")
    data = src.read_bytes()
    partial = path.with_name(path.stem + ".partial" + path.suffix)
    with open(partial, "wb") as f:
        for _ in range(times):
            f.write(data)
    os.replace(partial, path)
    return path


def version(argv, prefix=""):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.splitlines()[-1].removeprefix(prefix).strip() if out else ""


class Row:
    def __init__(self, tool, work, argv, check=None, short=None):
        self.tool, self.work, self.argv, self.check = tool, work, argv, check
        self.short = short or tool  # the name in the ratio lines
        self.walls, self.rss = [], 0.0

    def run(self, input_name, rnd, rounds):
        wall, rss = run_child(self.argv)
        if self.check:
            self.check()
        self.walls.append(wall)
        self.rss = max(self.rss, rss)
        log(f"  round {rnd}/{rounds}: {self.tool} [{self.work}] on {input_name}: {wall:.2f} s, {rss:.0f} MiB")

    @property
    def median(self):
        return statistics.median(self.walls)


def fmt_ratio(x):
    return f"{x:.0f}" if x >= 10 else f"{x:.2f}"


def parse_only(values):
    chosen = []
    for v in values or []:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            if part not in GROUPS:
                sys.exit(f"--only: unknown choice {part!r} (choose from {', '.join(GROUPS)})")
            if part not in chosen:
                chosen.append(part)
    return [g for g in GROUPS if g in chosen] if chosen else list(GROUPS)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2, help="A B rounds (default 2: A B A B)")
    ap.add_argument("--only", action="append", metavar="plan|postgres|mariadb",
                    help="inputs to measure (repeatable or a comma list; default all)")
    ap.add_argument("--no-reference", action="store_true", help="skip pgBadger and pt-query-digest")
    ap.add_argument("--generated", action="store_true", help="also the generated 1 GB postgres/mariadb logs")
    ap.add_argument("--bin", help="poolcap binary (default: target/release/poolcap under the repository root)")
    args = ap.parse_args()
    if args.rounds < 1:
        sys.exit("--rounds must be at least 1")
    groups = parse_only(args.only)
    binary = Path(args.bin).resolve() if args.bin else BIN
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        sys.exit(f"{binary}: no poolcap binary there (cargo build --release, or --bin PATH)")
    bin_ = str(binary)

    OUT.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="poolcap-side-by-side-"))  # pgBadger's report
    try:
        measure(args, groups, bin_, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(args, groups, bin_, tmp):
    # (group, path, "rows" or "lines", where it came from, Rows in the order they run each round)
    inputs = []
    notes = []

    if "plan" in groups:
        data = OUT / "bench-50x15s-rfc3339.csv"
        make(data, [bin_, "generate", "bench", "--out", "{out}", "--instances", "50", "--interval", "15s",
                    "--month", "2026-10", "--timestamps", "rfc3339"])
        rows = [Row("poolcap plan", "full analysis + policy",
                    [bin_, "plan", "--config", "benches/bench.toml", "--metrics", str(data), "--month", "2026-10",
                     "--format", "json"])]
        if importlib.util.find_spec("duckdb") is None:
            log("duckdb not importable (pip install duckdb): DuckDB rows skipped")
            notes.append("DuckDB rows skipped: duckdb is not importable")
        else:
            # Asked in a child, so that this process stays small (see the peak RSS note above).
            duck = f"DuckDB {version([sys.executable, '-c', 'import duckdb; print(duckdb.__version__)'])} (Python)"
            rows.append(Row(duck, "per-instance mean only", [sys.executable, "-c", DUCK_MEAN, str(data)]))
            rows.append(Row(duck, "per-instance mean, p95, max, share > 0.8",
                            [sys.executable, "-c", DUCK_FULL, str(data)]))
        inputs.append(("plan", data, "rows", None, rows))

    for dialect in ("postgres", "mariadb"):
        if dialect not in groups:
            continue
        fixture, name, times = REAL[dialect]
        paths = [(concatenated(fixture, name, times), f"{fixture} × {times}")]
        if args.generated:
            gen = OUT / f"{dialect}-1G.log"
            make(gen, [bin_, "generate", "slowlog", "--dialect", dialect, "--size", "1G", "--out", "{out}"])
            paths.append((gen, "poolcap generate slowlog --size 1G"))
        for path, origin in paths:
            rows = [
                Row("poolcap slowlog --threads 1", "fingerprint digest",
                    [bin_, "slowlog", "--threads", "1", str(path)]),
                Row("poolcap slowlog --threads 2", "fingerprint digest",
                    [bin_, "slowlog", "--threads", "2", str(path)]),
            ]
            if shutil.which("taskset"):
                rows.append(Row("taskset -c 0 poolcap slowlog --threads 1", "fingerprint digest, one core",
                                ["taskset", "-c", "0", bin_, "slowlog", "--threads", "1", str(path)]))
            else:
                log("taskset not found: the one-core row is skipped")
                notes.append("one-core row skipped: taskset not found")
            if args.no_reference:
                pass
            elif dialect == "postgres" and shutil.which("pgbadger"):
                out = tmp / "pgbadger.json"

                def pgbadger_wrote(out=out):
                    if not out.exists() or out.stat().st_size == 0:
                        sys.exit(f"pgbadger exited 0 but wrote no report to {out}")
                    out.unlink()

                ver = version(["pgbadger", "--version"], "pgBadger version")
                rows.append(Row(f"pgBadger {ver} -j 1".replace("  ", " "), "full report (JSON)",
                                ["pgbadger", "-f", "stderr", "-j", "1", "--prefix", PG_PREFIX, "-o", str(out),
                                 str(path)], check=pgbadger_wrote, short="pgBadger -j 1"))
            elif dialect == "mariadb" and shutil.which("pt-query-digest"):
                ver = version(["pt-query-digest", "--version"], "pt-query-digest")
                rows.append(Row(f"pt-query-digest {ver}".strip(), "digest (JSON)",
                                ["pt-query-digest", "--output", "json", str(path)], short="pt-query-digest"))
            else:
                peer = "pgbadger" if dialect == "postgres" else "pt-query-digest"
                log(f"{peer} not installed: skipped")
                notes.append(f"{peer} skipped: not installed")
            inputs.append((dialect, path, "lines", origin, rows))

    # Count (and warm the page cache) before the first timed run.
    described = []
    for group, path, unit, origin, rows in inputs:
        n = count_lines(path)
        if unit == "rows":
            n -= 1  # the CSV header
        mb = path.stat().st_size / 1e6
        described.append((group, path, unit, origin, rows, n, mb))

    for group, path, unit, origin, rows, n, mb in described:
        log(f"{path.name}: {len(rows)} tool(s), {args.rounds} round(s)")
        for rnd in range(1, args.rounds + 1):
            for row in rows:  # poolcap first, then the peer(s): A B A B ...
                row.run(path.name, rnd, args.rounds)

    print(machine())
    for group, path, unit, origin, rows, n, mb in described:
        extra = f" ({origin})" if origin else ""
        print(f"input: {path.name}, {n:,} {unit}, {mb:.0f} MB{extra}")
    for note in notes:
        print(f"note: {note}")
    print()
    print(f"| input | tool | work | wall (s), median of {args.rounds} | MB/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for group, path, unit, origin, rows, n, mb in described:
        for row in rows:
            print(f"| {path.name} | {row.tool} | {row.work} | {row.median:.2f} | {mb / row.median:.0f} "
                  f"| {row.rss:.0f} |")

    ratios = []
    for group, path, unit, origin, rows, n, mb in described:
        if group == "plan":
            plan = rows[0]
            for row in rows[1:]:
                what = "mean-only" if row.work == "per-instance mean only" else "mean+p95+max+share>0.8"
                ratios.append(f"poolcap plan / DuckDB {what}: {fmt_ratio(plan.median / row.median)}×")
        else:
            ours = [r for r in rows if "poolcap" in r.tool]
            for peer in (r for r in rows if "poolcap" not in r.tool):
                for row in ours:
                    x = peer.median / row.median
                    how = f"{fmt_ratio(x)}× faster" if x >= 1 else f"{fmt_ratio(1 / x)}× slower"
                    ratios.append(f"{row.short} vs {peer.short}: {how} ({path.name})")
    if ratios:
        print()
        print("ratios of the median wall times:")
        for line in ratios:
            print(line)


if __name__ == "__main__":
    main()
