#!/usr/bin/env python3
"""Writes the sample pool metrics of one window as OpenMetrics text for
`promtool tsdb create-blocks-from openmetrics`.

usage: to_openmetrics.py CSV_GZ FROM TO > out.om
  FROM, TO: RFC 3339 UTC instants (e.g. 2026-09-15T22:00:00Z); rows with
  FROM <= ts < TO are written.

Each CSV column of a pool sample becomes one metric family, labelled with
`service` and `instance`, with the row's time as the sample timestamp (Unix
seconds): gauges sqlalchemy_pool_{checked_out,size,max_overflow,checked_in,
overflow,waiting} and the counter sqlalchemy_pool_timeouts_total.
"""
import csv
import datetime as dt
import gzip
import sys

GAUGES = [
    ("sqlalchemy_pool_checked_out", "checked_out", "Connections checked out of the pool."),
    ("sqlalchemy_pool_size", "pool_size", "The pool's configured pool_size."),
    ("sqlalchemy_pool_max_overflow", "max_overflow", "The pool's configured max_overflow."),
    ("sqlalchemy_pool_checked_in", "checked_in", "Idle connections in the pool."),
    ("sqlalchemy_pool_overflow", "overflow", "The pool's current overflow()."),
    ("sqlalchemy_pool_waiting", "waiting", "Callers waiting for a connection."),
]
COUNTER = ("sqlalchemy_pool_timeouts", "timeouts", "Checkouts that timed out.")


def unix(text):
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def main():
    path, start, end = sys.argv[1], unix(sys.argv[2]), unix(sys.argv[3])
    rows = []
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            ts = unix(row["ts"])
            if start <= ts < end:
                row["_ts"] = ts
                rows.append(row)
    rows.sort(key=lambda r: (r["service"], r["instance"], r["_ts"]))
    out = sys.stdout
    families = [(name, column, help_, "gauge", name) for name, column, help_ in GAUGES]
    families.append((COUNTER[0], COUNTER[1], COUNTER[2], "counter", COUNTER[0] + "_total"))
    for family, column, help_, kind, sample in families:
        if not rows or rows[0].get(column, "") == "":
            continue
        out.write(f"# HELP {family} {help_}\n# TYPE {family} {kind}\n")
        for r in rows:
            out.write(
                f'{sample}{{instance="{r["instance"]}",service="{r["service"]}"}} {r[column]} {r["_ts"]}\n'
            )
    out.write("# EOF\n")


if __name__ == "__main__":
    main()
