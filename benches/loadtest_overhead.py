#!/usr/bin/python3
"""Per-checkout overhead of `poolcap loadtest`'s pool beside a real SQLAlchemy
1.4 QueuePool (psycopg2), on the same PostgreSQL, with the same pool and load.

    /usr/bin/python3 benches/loadtest_overhead.py [--users 5 20] [--duration 10] [--json out.json]

It does not build poolcap: it runs the existing target/release/poolcap. For
each --users U it runs, one after the other:

- poolcap: `poolcap loadtest --scenario load --pool-size 5 --max-overflow 2
  --pool-timeout 30s --users U --hold 1ms --duration 10s --format json`:
  U workers in a closed loop, each checkout → `SELECT pg_sleep(0.001)` →
  return (poolcap rolls back on return only a transaction left open);
- SQLAlchemy: this script in a child /usr/bin/python3 process,
  create_engine(pool_size=5, max_overflow=2, pool_timeout=30) and U threads
  looping for the same time: engine.connect() (timed: the wait), one
  `SELECT pg_sleep(0.001)`, conn.close() (SQLAlchemy's reset-on-return
  rollback). A warm-up checkout initialises the dialect, then the pool is
  disposed so both pools start empty, as poolcap's does.

Wait is from asking for a connection to having it (opening included);
response is wait + the statement (the return is in neither, for both). Both
use nearest-rank percentiles; wait max shows starvation, and for SQLAlchemy
the checkouts per thread (min/median/max) are printed under the table. checkouts/s is all checkouts (served, timed out,
failed) ÷ --duration. Peak RSS is the child process's (os.wait4 ru_maxrss):
poolcap's whole process, or the Python process running SQLAlchemy. Everything
(poolcap or Python, PostgreSQL's backends, this script) shares the machine's
cores, so the numbers are this machine's, not the pools' alone.

It prints the machine line (cores, CPU model, kernel), the PostgreSQL server
and the poolcap / SQLAlchemy / psycopg2 versions, then a Markdown table (rows:
tool × users) for docs/benchmarks.md; --json FILE writes the raw numbers.
Needs a PostgreSQL at --database-url (default postgres://postgres@127.0.0.1:5432/test)
and Debian's python3-sqlalchemy and python3-psycopg2.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from simulate_throughput import machine

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "poolcap"
SYSTEM_PYTHON = "/usr/bin/python3"
URL = "postgres://postgres@127.0.0.1:5432/test"
STATEMENT = "SELECT pg_sleep(0.001)"


def millis(seconds):
    """p50/p95/p99/max in ms by nearest rank, as poolcap's report computes them."""
    s = sorted(seconds)
    if not s:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    rank = lambda q: s[min(max(math.ceil(q * len(s)), 1), len(s)) - 1] * 1000.0
    return {"p50": rank(0.5), "p95": rank(0.95), "p99": rank(0.99), "max": rank(1.0)}


def child(argv, ok=(0,)):
    """Runs argv: stdout, stderr and the child's peak RSS in MiB."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        err.seek(0)
        errors = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) not in ok:
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(argv)}\n{errors}")
    return out, errors, usage.ru_maxrss / 1024


def poolcap(args, users):
    argv = [str(BIN), "loadtest", "--database-url", args.database_url, "--pool-size", str(args.pool_size),
            "--max-overflow", str(args.max_overflow), "--pool-timeout", "30s", "--scenario", "load",
            "--users", str(users), "--hold", "1ms", "--duration", f"{args.duration}s", "--format", "json"]
    out, notes, rss = child(argv, ok=(0, 3))  # 3: a control failed; the numbers still count
    report = json.loads(out)
    s = report["scenarios"][0]
    return {"tool": "poolcap", "users": users, "checkouts": s["tally"]["checkouts"],
            "timed_out": s["tally"]["timed_out"], "errors": s["tally"]["errors"],
            "elapsed_seconds": s["elapsed_seconds"], "wait_ms": s["wait_ms"], "response_ms": s["response_ms"],
            "peak_rss_mib": rss, "passed": s["passed"], "opened": s["pool"]["opened"],
            "version": report["poolcap_version"], "server": report["server"], "stderr": notes.strip()}


def sqlalchemy(args, users):
    argv = [SYSTEM_PYTHON, str(Path(__file__).resolve()), "--sqlalchemy-child", str(users),
            "--database-url", args.database_url, "--duration", str(args.duration),
            "--pool-size", str(args.pool_size), "--max-overflow", str(args.max_overflow)]
    out, _, rss = child(argv)
    return dict(json.loads(out), tool="SQLAlchemy", users=users, peak_rss_mib=rss)


def sqlalchemy_child(args, users):
    """In the child: U threads on a real QueuePool; prints the raw numbers as JSON."""
    import psycopg2
    import sqlalchemy
    from sqlalchemy import create_engine, event, text
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    url = args.database_url.replace("postgres://", "postgresql+psycopg2://", 1)
    engine = create_engine(url, pool_size=args.pool_size, max_overflow=args.max_overflow, pool_timeout=30)
    with engine.connect() as conn:  # dialect initialisation: once per engine, not per checkout
        conn.execute(text("SELECT 1"))
    engine.dispose()  # an empty pool, as poolcap's starts
    opened = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    stmt = text(STATEMENT)
    results = [([], [], [0, 0]) for _ in range(users)]  # waits, responses, [timed out, errors]
    start = threading.Barrier(users + 1)

    def worker(waits, responses, failed):
        start.wait()
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                conn = engine.connect()
            except PoolTimeout:
                waits.append(time.perf_counter() - t0)
                failed[0] += 1
                continue
            wait = time.perf_counter() - t0
            try:
                conn.execute(stmt)
            except sqlalchemy.exc.DBAPIError:
                failed[1] += 1
            responses.append(time.perf_counter() - t0)
            waits.append(wait)
            conn.close()

    threads = [threading.Thread(target=worker, args=r) for r in results]
    for t in threads:
        t.start()
    deadline = time.perf_counter() + args.duration
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    waits = [w for r in results for w in r[0]]
    responses = [x for r in results for x in r[1]]
    print(json.dumps({"checkouts": len(waits), "timed_out": sum(r[2][0] for r in results),
                      "errors": sum(r[2][1] for r in results), "elapsed_seconds": time.perf_counter() - began,
                      "wait_ms": millis(waits), "response_ms": millis(responses),
                      "opened": len(opened), "per_user_checkouts": sorted(len(r[0]) for r in results),
                      "version": f"SQLAlchemy {sqlalchemy.__version__}, psycopg2 {psycopg2.__version__.split()[0]}",
                      "switch_interval_s": sys.getswitchinterval()}))


def num(v):
    return f"{v:.2g}" if v < 1 else f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=URL)
    ap.add_argument("--users", type=int, nargs="+", default=[5, 20])
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument("--pool-size", type=int, default=5)
    ap.add_argument("--max-overflow", type=int, default=2)
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers here")
    ap.add_argument("--sqlalchemy-child", type=int, metavar="USERS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sqlalchemy_child:
        return sqlalchemy_child(args, args.sqlalchemy_child)
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: cargo build --release")
    rows = []
    for users in args.users:
        rows.append(poolcap(args, users))
        rows.append(sqlalchemy(args, users))
    pc = next(r for r in rows if r["tool"] == "poolcap")
    sa = next(r for r in rows if r["tool"] == "SQLAlchemy")
    print(machine())
    server = pc["server"]
    print(f"server: {server['version'].split(' on ')[0]} at {server['url']} (max_connections "
          f"{server['max_connections']}); poolcap {pc['version']}; {sa['version']}")
    print(f"pool {args.pool_size} + {args.max_overflow}, closed loop, checkout → `{STATEMENT}` → return, "
          f"{args.duration} s per row\n")
    print("| tool | users | checkouts/s | wait p50 (ms) | wait p95 (ms) | wait p99 (ms) | wait max (ms) "
          "| response p50 (ms) | response p99 (ms) | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        w, rs = r["wait_ms"], r["response_ms"]
        failed = f" ({r['timed_out']} timed out, {r['errors']} failed)" if r["timed_out"] or r["errors"] else ""
        print(f"| {r['tool']} | {r['users']} | {num(r['checkouts'] / args.duration)}{failed} | {num(w['p50'])} "
              f"| {num(w['p95'])} | {num(w['p99'])} | {num(w['max'])} | {num(rs['p50'])} | {num(rs['p99'])} | {r['peak_rss_mib']:.0f} |")
    print()
    for r in rows:  # fairness: poolcap hands a returned connection to the longest waiter
        if "per_user_checkouts" in r:
            n = r["per_user_checkouts"]
            print(f"SQLAlchemy, {r['users']} users: checkouts per user min {n[0]:,}, median {n[len(n) // 2]:,}, "
                  f"max {n[-1]:,}; connections opened {r['opened']} (poolcap: "
                  f"{next(p['opened'] for p in rows if p['tool'] == 'poolcap' and p['users'] == r['users'])})")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "statement": STATEMENT,
                                               "duration_seconds": args.duration, "pool_size": args.pool_size,
                                               "max_overflow": args.max_overflow, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
