#!/usr/bin/python3
"""Ground truth for `poolcap loadtest`'s "exhaustion" scenario: runs it against a
REAL SQLAlchemy QueuePool (create_engine) on the machine's PostgreSQL or MariaDB
and writes what happened as a JSON fixture.

    /usr/bin/python3 scripts/loadtest-sqlalchemy.py --db postgres \\
        --out tests/fixtures/loadtest/sqlalchemy-exhaustion-postgres.json
    /usr/bin/python3 scripts/loadtest-sqlalchemy.py --db mariadb \\
        --out tests/fixtures/loadtest/sqlalchemy-exhaustion-mariadb.json

Flags: --pool-size N (5), --max-overflow M (2), --pool-timeout T (1.0 s),
--long L (9), --during K (3), --statement-timeout S (1.0 s). What it does:
 0. create_engine(url, pool_size=N, max_overflow=M, pool_timeout=T,
    pool_pre_ping=False); a `connect` listener sets the statement timeout on
    each new connection (PostgreSQL `SET statement_timeout` ms, MariaDB `SET
    SESSION max_statement_time` s) and on MariaDB records its CONNECTION_ID().
    A warm-up checkout (dialect init, server version) runs before t=0.
 1. t=0 (time.perf_counter): L "long" threads; each times engine.connect(),
    begins a transaction, SELECT 1, idles in it until t=2T, rolls back, closes.
 2. t=T/2: K "during" threads, each connect -> SELECT 1 -> close.
 3. once all long threads returned: N+M "after" threads at once, the same.
 4. one checkout runs pg_sleep(1.5*S) / SLEEP(1.5*S): the statement timeout.
 A monitor thread (own autocommit driver connection) counts the test's server
 connections every 50 ms (pg_stat_activity rows with application_name
 poolcap-loadtest-sqlalchemy; MariaDB PROCESSLIST rows whose ID is a recorded
 CONNECTION_ID()) and keeps the peak. A timed-out checkout is a
 sqlalchemy.exc.TimeoutError, its str(e) stored verbatim. If a check fails
 (counts as expected, peak <= N+M, statement timeout fired) nothing is
 written: the JSON goes to stderr and the exit status is 1.

Servers: PostgreSQL 127.0.0.1:5432 user postgres (trust), MariaDB 127.0.0.1:3306
user root (empty password), database test; --host/--port/--user/--password/
--dbname override. Needs Debian's python3-sqlalchemy (1.4) and python3-psycopg2
/ python3-pymysql: if missing, it re-runs under /usr/bin/python3 and, as root,
apt-get installs them.
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import threading
import time

APP_NAME = "poolcap-loadtest-sqlalchemy"
SYSTEM_PYTHON = "/usr/bin/python3"
DBS = {  # driver module, Debian package, default port, default user
    "postgres": ("psycopg2", "python3-psycopg2", 5432, "postgres"),
    "mariadb": ("pymysql", "python3-pymysql", 3306, "root"),
}


def ensure_modules(driver, package):
    """Import sqlalchemy and the driver; else re-run under the system python or apt-get install them."""
    try:
        return __import__("sqlalchemy") and __import__(driver)
    except ImportError:
        packages = ["python3-sqlalchemy", package]
    stage = os.environ.get("POOLCAP_LOADTEST_REEXEC", "")
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and not stage:
        os.environ["POOLCAP_LOADTEST_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    if stage == "2" or os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("loadtest-sqlalchemy: needs %s (apt-get install -y %s)" % (driver, " ".join(packages)))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", POOLCAP_LOADTEST_REEXEC="2")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq"] + packages, env=env, check=True)
    os.execve(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv, env)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=sorted(DBS), required=True)
    ap.add_argument("--out", required=True, help="fixture file to write (JSON)")
    ap.add_argument("--pool-size", type=int, default=5)
    ap.add_argument("--max-overflow", type=int, default=2)
    ap.add_argument("--pool-timeout", type=float, default=1.0, help="seconds")
    ap.add_argument("--long", type=int, default=9, help="long transactions started at t=0")
    ap.add_argument("--during", type=int, default=3, help="checkouts started at t=T/2")
    ap.add_argument("--statement-timeout", type=float, default=1.0, help="seconds")
    for flag, default in (("--host", "127.0.0.1"), ("--port", None), ("--user", None), ("--password", ""),
                          ("--dbname", "test")):
        ap.add_argument(flag, default=default, type=int if flag == "--port" else str)
    a = ap.parse_args()
    driver_name, package, port, user = DBS[a.db]
    a.port, a.user = a.port or port, a.user or user
    ensure_modules(driver_name, package)

    import sqlalchemy
    from sqlalchemy import create_engine, event, text
    from sqlalchemy.engine import URL
    from sqlalchemy.exc import TimeoutError as PoolTimeout, DBAPIError
    driver = __import__(driver_name)

    N, M, T, L, K, S = a.pool_size, a.max_overflow, a.pool_timeout, a.long, a.during, a.statement_timeout
    pg = a.db == "postgres"
    conn_ids, lock = set(), threading.Lock()  # MariaDB CONNECTION_ID()s of the pool's connections
    engine = create_engine(
        URL.create("postgresql+psycopg2" if pg else "mysql+pymysql", username=a.user, password=a.password or None,
                   host=a.host, port=a.port, database=a.dbname),
        pool_size=N, max_overflow=M, pool_timeout=T, pool_pre_ping=False,
        connect_args={"application_name": APP_NAME} if pg else {})
    plain = dict(host=a.host, port=a.port, user=a.user, password=a.password)  # the monitor's own connection
    if pg:
        monitor_conn = driver.connect(dbname=a.dbname, application_name="poolcap-loadtest-monitor", **plain)
        monitor_conn.autocommit = True  # else pg_stat_activity is one snapshot per transaction
    else:
        monitor_conn = driver.connect(database=a.dbname, autocommit=True, **plain)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        if pg:
            cur.execute("SET statement_timeout = %d" % round(S * 1000))
        else:
            cur.execute("SET SESSION max_statement_time = %r" % float(S))
            cur.execute("SELECT CONNECTION_ID()")
            with lock:
                conn_ids.add(cur.fetchone()[0])
        cur.close()
        dbapi_conn.commit()  # psycopg2 opened a transaction: commit so a rollback cannot undo the SET

    # Warm-up checkout (outside the timeline): dialect initialisation + server version.
    with engine.connect() as c:
        server = c.exec_driver_sql("SELECT version()").scalar()

    # Monitor: the test's connections as the server sees them, every 50 ms.
    peak, samples, stop = [0], [0], threading.Event()

    def monitor():
        cur = monitor_conn.cursor()
        while not stop.is_set():
            if pg:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,))
                n = cur.fetchone()[0]
            else:
                cur.execute("SELECT ID FROM information_schema.PROCESSLIST")
                with lock:
                    n = sum(1 for (pid,) in cur.fetchall() if pid in conn_ids)
            peak[0], samples[0] = max(peak[0], n), samples[0] + 1
            stop.wait(0.05)

    outcomes = []  # (phase, served, wait_s, error text or None)
    other_errors = []

    def checkout(phase, hold_until=None):
        t = time.perf_counter()
        try:
            conn = engine.connect()
        except PoolTimeout as e:
            with lock:
                outcomes.append((phase, False, time.perf_counter() - t, str(e)))
            return
        except Exception as e:  # a harness failure, not a pool outcome
            other_errors.append("%s %s: %s" % (phase, type(e).__name__, e))
            return
        with lock:
            outcomes.append((phase, True, time.perf_counter() - t, None))
        try:
            if hold_until is None:
                conn.execute(text("SELECT 1")).scalar()
            else:
                trans = conn.begin()
                conn.execute(text("SELECT 1")).scalar()
                time.sleep(max(0.0, hold_until - time.perf_counter()))  # idle in transaction
                trans.rollback()
        except Exception as e:
            other_errors.append("%s %s: %s" % (phase, type(e).__name__, e))
        finally:
            conn.close()  # returns the connection to the pool

    def start(n, phase, hold_until=None):  # n threads at once, in order
        threads = [threading.Thread(target=checkout, args=(phase, hold_until), daemon=True) for _ in range(n)]
        for th in threads:
            th.start()
        return threads

    mon = threading.Thread(target=monitor, daemon=True)
    mon.start()
    time.sleep(0.1)  # a first sample before t=0
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    long_threads = start(L, "long", hold_until=t0 + 2 * T)                  # 1. t=0
    time.sleep(max(0.0, t0 + T / 2 - time.perf_counter()))
    during_threads = start(K, "during")                                     # 2. t=T/2
    for th in long_threads + during_threads:
        th.join()
    for th in start(N + M, "after"):                                        # 3. the pool serves again
        th.join()
    stmt = {"code": None, "message": None, "elapsed_s": None}               # 4. statement timeout
    with engine.connect() as c:
        sql = "SELECT pg_sleep(%r)" % (1.5 * S) if pg else "SELECT SLEEP(%r)" % (1.5 * S)
        t = time.perf_counter()
        try:
            c.exec_driver_sql(sql).scalar()
        except DBAPIError as e:
            stmt["elapsed_s"] = round(time.perf_counter() - t, 3)
            # PostgreSQL: SQLSTATE + primary message; MariaDB (pymysql): args = (errno, message)
            stmt["code"] = e.orig.pgcode if pg else str(e.orig.args[0])
            stmt["message"] = (e.orig.diag.message_primary if pg else str(e.orig.args[1])).splitlines()[0]
    time.sleep(0.1)
    stop.set()
    mon.join()
    engine.dispose()
    monitor_conn.close()

    count = lambda phase, served: sum(1 for p, ok, _w, _e in outcomes if p == phase and ok == served)  # noqa: E731
    texts = [e for _p, ok, _w, e in outcomes if not ok]
    waits = [w for _p, ok, w, _e in outcomes if not ok]
    results = {
        "long_served": count("long", True), "long_timed_out": count("long", False),
        "during_timed_out": count("during", False),
        "after_served": count("after", True), "after_timed_out": count("after", False),
        "timeout_error_text": texts[0] if texts else None,
        "timeout_error_texts": list(dict.fromkeys(texts)),
        "timeout_waits_s": {"min": round(min(waits), 4), "max": round(max(waits), 4),
                            "mean": round(sum(waits) / len(waits), 4)} if waits else None,
        "statement_timeout": stmt,
        "peak_server_connections": peak[0],
    }
    # Checks: the expected outcome of the scenario.
    cap = N + M
    expected = {"long_served": min(L, cap), "long_timed_out": max(0, L - cap), "after_served": cap,
                "after_timed_out": 0, "statement_timeout.code": "57014" if pg else "1969"}
    if L >= cap:
        expected["during_timed_out"] = K  # the pool stays exhausted until 2T > T/2 + T
    got = dict(results, **{"statement_timeout.code": stmt["code"]})
    failures = ["%s = %r, expected %r" % (k, got[k], v) for k, v in expected.items() if got[k] != v]
    if peak[0] > cap:
        failures.append("peak_server_connections = %d > pool_size + max_overflow = %d" % (peak[0], cap))
    failures += ["harness error: " + e for e in other_errors]

    command = "/usr/bin/python3 scripts/loadtest-sqlalchemy.py " + " ".join(sys.argv[1:])
    fixture = {
        "about": "Made by scripts/loadtest-sqlalchemy.py on %s: poolcap loadtest's exhaustion scenario run "
                 "against a real SQLAlchemy QueuePool (create_engine, pool_pre_ping=False) on the local %s, "
                 "one thread per checkout, waits timed with time.perf_counter around engine.connect(); a warm-up "
                 "checkout precedes t=0; peak_server_connections from %d samples (every 50 ms) of %s. "
                 "Command: %s"
                 % (started.strftime("%Y-%m-%dT%H:%M:%SZ"), "PostgreSQL" if pg else "MariaDB", samples[0],
                    "pg_stat_activity (application_name = '%s')" % APP_NAME if pg else
                    "information_schema.PROCESSLIST (IDs = the pool connections' CONNECTION_ID())", command),
        "sqlalchemy": sqlalchemy.__version__,
        "driver": "%s %s" % (driver_name, driver.__version__.split()[0]),
        "server": server,
        "pool": {"pool_size": N, "max_overflow": M, "pool_timeout_s": T},
        "scenario": {"long_transactions": L, "during": K, "after": cap, "long_until_s": 2 * T,
                     "statement_timeout_s": S},
        "results": results,
    }
    body = json.dumps(fixture, indent=2, ensure_ascii=False) + "\n"
    if failures:
        print(body + "\nchecks failed, fixture not written:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(body)
    print("wrote %s: %s" % (a.out, json.dumps(results, ensure_ascii=False)), file=sys.stderr)


if __name__ == "__main__":
    main()
