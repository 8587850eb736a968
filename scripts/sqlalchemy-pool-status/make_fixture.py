#!/usr/bin/python3
"""Makes tests/fixtures/metrics/sqlalchemy-pool-status.log from the real thing:
SQLAlchemy's QueuePool against the local PostgreSQL, under a load that rises
past the pool's capacity, with a monitor thread logging `engine.pool.status()`
twice a second through the standard `logging` module (the way a backend logs
it), interleaved with the application's own log lines and the QueuePool
timeout errors the load provokes.

Run once (it is not part of CI); Debian's packages give the libraries:

    apt-get install python3-sqlalchemy python3-psycopg2
    /usr/bin/python3 scripts/sqlalchemy-pool-status/make_fixture.py [--url postgresql://postgres@127.0.0.1:5432/postgres] [--seconds 30]

The pool: pool_size 5, max_overflow 3, pool_timeout 2 s. The load: workers
that each hold a connection for 0.5-2.5 s (`SELECT pg_sleep`), 2 workers at
first, one more every 1.5 s up to 24, so the pool fills, overflows, and from
about 20 s on checkouts wait longer than pool_timeout and time out. The app
logs each timeout as one WARNING line carrying the exception's class and text
(`sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 3 reached,
connection timed out, timeout 2.00 (Background on this error at: …)`), the
way a request handler that answers 503 logs it; a `logger.exception`
traceback ends in the same text, which is what poolcap counts.
"""

import argparse
import logging
import random
import threading
import time
from pathlib import Path

import sqlalchemy
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "tests" / "fixtures" / "metrics" / "sqlalchemy-pool-status.log"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(OUT, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    monitor_log = logging.getLogger("app.pool_monitor")
    app_log = logging.getLogger("app.api")

    engine = sqlalchemy.create_engine(args.url, pool_size=5, max_overflow=3, pool_timeout=2, pool_pre_ping=True)
    stop = threading.Event()
    rng = random.Random(7)

    def worker(n):
        while not stop.is_set():
            hold = rng.uniform(0.5, 2.5)
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT pg_sleep(:s)"), {"s": hold})
                app_log.info("GET /api/ward/%d/patients 200 (%.0f ms)", n, hold * 1000)
            except PoolTimeout as e:
                app_log.warning(
                    "GET /api/ward/%d/patients 503: %s.%s: %s", n, type(e).__module__, type(e).__qualname__, e
                )
            time.sleep(rng.uniform(0.0, 0.3))

    # The monitor outlives the workers (as it outlives requests in a backend),
    # so the last status lines come after the last timeout.
    monitor_stop = threading.Event()

    def monitor():
        while not monitor_stop.is_set():
            monitor_log.info("%s", engine.pool.status())
            time.sleep(0.5)

    monitor_thread = threading.Thread(target=monitor, daemon=True)
    monitor_thread.start()
    threads = []
    started = time.monotonic()
    workers = 0
    while time.monotonic() - started < args.seconds:
        wanted = min(24, 2 + int((time.monotonic() - started) / 1.5))
        while workers < wanted:
            t = threading.Thread(target=worker, args=(workers,), daemon=True)
            t.start()
            threads.append(t)
            workers += 1
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(timeout=5)
    time.sleep(1.0)
    monitor_stop.set()
    monitor_thread.join(timeout=5)
    engine.dispose()
    lines = OUT.read_text().splitlines()
    status = sum("Pool size: " in line for line in lines)
    timeouts = sum("QueuePool limit of size" in line for line in lines)
    print(
        f"wrote {OUT} ({len(lines)} lines, {status} pool.status() lines, {timeouts} timeouts;"
        f" SQLAlchemy {sqlalchemy.__version__})"
    )


if __name__ == "__main__":
    main()
