#!/usr/bin/env python3
"""Count the slow-log fixtures by hand, independently of pgBadger and
pt-query-digest (standard library only).

Usage: count.py FIXTURE_DIR   -> JSON on stdout, one object per fixture file

Rules (kept deliberately simple, so they can be checked by reading):

PostgreSQL (stderr, csvlog, jsonlog): take every message of severity LOG.
  statement  = a message starting  "duration: <ms> ms  statement: "
               or                  "duration: <ms> ms  execute <name>: "
  Not statements: "duration: ... parse/bind ...", bare "duration: <ms> ms"
  (log_duration), "statement: ..." (log_statement), errors.  Those are
  counted separately under "other" (so is DEALLOCATE, which *is* a
  statement and is counted as one).
MariaDB slow log: statement = an entry with a "# Query_time: <s>" line.

For each file:
  statements            number of statements (as above)
  total_ms              sum of their durations in milliseconds (3 decimals)
  over_5s               statements with duration > 5000 ms
  ts_min / ts_max       earliest / latest timestamp of a statement, as
                        "YYYY-MM-DD HH:MM:SS[.mmm]" UTC.  PostgreSQL: the
                        line's %m / log_time / timestamp (written when the
                        statement ended).  MariaDB: the "# Time:" line that
                        applies to the entry (the last one above it).
  fingerprints          distinct statements after a naive normalisation:
                        comments dropped, string and number literals
                        (with their minus sign) and $n become ?, IN (...)
                        and VALUES (...)[, (...)] lists of ? become (?+),
                        whitespace collapsed, lower-cased.  Approximate by nature; the
                        tools' own counts are the reference.
"""

import csv
import io
import json
import os
import re
import sys
from datetime import datetime, timezone

PG_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \S+ \[\d+\] (?:\S*@\S* )?(?P<sev>[A-Z]+):  (?P<msg>.*)$"
)
PG_DURATION = re.compile(r"^duration: (?P<ms>\d+\.\d+) ms(?:  (?P<kind>statement|execute|parse|bind)\b[^:]*: (?P<sql>.*))?$", re.S)


def fingerprint(sql, backslash_escapes):
    s = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    s = re.sub(r"(--|#)[^\n]*", " ", s)
    if backslash_escapes:  # MariaDB: 'it\'s'
        s = re.sub(r"'(?:[^'\\]|\\.|'')*'", "?", s)
    else:                  # PostgreSQL standard strings: 'it''s'
        s = re.sub(r"'(?:[^']|'')*'", "?", s)
    s = re.sub(r"\$\d+", "?", s)
    s = re.sub(r"([(,=<>+*/]\s*)-(\d)", r"\1\2", s)  # a negative literal: "+ -5"
    s = re.sub(r"\b\d+(?:\.\d+)?\b", "?", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(";").strip().lower()
    lst = r"\(\s*\?(?:\s*,\s*\?)*\s*\)"  # (?, ?, ?)
    s = re.sub(r"\b(in|values)\s*" + lst + r"(?:\s*,\s*" + lst + ")*", r"\1 (?+)", s)
    return s


def pg_messages(path, fmt):
    """Yield (timestamp, severity, message) for every log message."""
    with open(path, encoding="utf-8", newline="") as f:
        data = f.read()
    if fmt == "stderr":
        current = None
        for line in data.split("\n"):
            m = PG_LINE.match(line)
            if m:
                if current:
                    yield current
                current = [m["ts"], m["sev"], m["msg"]]
            elif line.startswith("\t") and current:  # continuation line
                current[2] += "\n" + line[1:]
        if current:
            yield current
    elif fmt == "csvlog":
        for row in csv.reader(io.StringIO(data)):
            # log_time, ..., error_severity is column 12, message column 14
            yield row[0][:23], row[11], row[13]
    elif fmt == "jsonlog":
        for line in data.splitlines():
            o = json.loads(line)
            yield o["timestamp"][:23], o["error_severity"], o["message"]


def count_pg(path, fmt):
    durations, stamps, prints = [], [], set()
    other = {"parse": 0, "bind": 0, "bare_duration": 0, "bare_duration_ms": 0.0,
             "log_statement": 0, "error": 0, "deallocate": 0, "deallocate_ms": 0.0}
    for ts, sev, msg in pg_messages(path, fmt):
        if sev == "ERROR":
            other["error"] += 1
        if sev != "LOG":
            continue
        if msg.startswith("statement: "):
            other["log_statement"] += 1
            continue
        m = PG_DURATION.match(msg)
        if not m:
            continue
        if m["kind"] is None:
            other["bare_duration"] += 1
            other["bare_duration_ms"] = round(other["bare_duration_ms"] + float(m["ms"]), 3)
        elif m["kind"] in ("parse", "bind"):
            other[m["kind"]] += 1
        else:
            durations.append(float(m["ms"]))
            stamps.append(ts)
            if m["sql"].upper().startswith("DEALLOCATE"):  # listed apart too; pgBadger skips these
                other["deallocate"] += 1
                other["deallocate_ms"] = round(other["deallocate_ms"] + float(m["ms"]), 3)
            prints.add(fingerprint(m["sql"], backslash_escapes=False))
    return summary(durations, stamps, prints, other)


def count_mariadb(path):
    durations, stamps, prints = [], [], set()
    time_line, in_entry, sql = None, False, []
    set_ts = []

    def finish():
        if in_entry:
            prints.add(fingerprint("\n".join(sql), backslash_escapes=True))

    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for line in lines:
        if line.startswith("# Time: "):
            # "# Time: 261127  8:18:26" -> 2026-11-27 08:18:26
            time_line = datetime.strptime(" ".join(line[8:].split()), "%y%m%d %H:%M:%S")
        elif line.startswith("# Query_time: "):
            finish()
            in_entry, sql = True, []
            durations.append(float(line.split()[2]) * 1000.0)
            stamps.append(time_line.strftime("%Y-%m-%d %H:%M:%S"))
        elif line.startswith("SET timestamp=") and in_entry:
            set_ts.append(int(line[len("SET timestamp="):].rstrip(";")))
            sql = []  # the statement text starts after this line
        elif line.startswith("# User@Host: ") or line.endswith("started with:"):
            finish()
            in_entry = False
        elif in_entry:
            sql.append(line)  # metadata before SET timestamp= is dropped there
    finish()
    extra = {
        "set_timestamp_min": datetime.fromtimestamp(min(set_ts), timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "set_timestamp_max": datetime.fromtimestamp(max(set_ts), timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
    }
    return summary(durations, stamps, prints, extra)


def summary(durations, stamps, prints, other):
    return {
        "statements": len(durations),
        "total_ms": round(sum(durations), 3),
        "over_5s": sum(1 for d in durations if d > 5000.0),
        "ts_min": min(stamps),
        "ts_max": max(stamps),
        "fingerprints": len(prints),
        "other": other,
    }


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/slowlog"
    out = {
        "postgres-stderr.log": count_pg(os.path.join(d, "postgres-stderr.log"), "stderr"),
        "postgres-csvlog.csv": count_pg(os.path.join(d, "postgres-csvlog.csv"), "csvlog"),
        "postgres-jsonlog.json": count_pg(os.path.join(d, "postgres-jsonlog.json"), "jsonlog"),
        "mariadb-slow.log": count_mariadb(os.path.join(d, "mariadb-slow.log")),
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
