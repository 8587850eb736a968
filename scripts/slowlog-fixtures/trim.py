#!/usr/bin/env python3
"""Cut a raw server log down to a fixture, keeping the servers' bytes.

Usage:
    trim.py FORMAT RAW OUT --keep-db NAME [--keep-db NAME ...] --end-marker TEXT

FORMAT is one of: stderr, csvlog, jsonlog (PostgreSQL), mariadb-slow.

The log is split into whole entries (a PostgreSQL stderr line with its
TAB-indented continuation lines; a csvlog record, which may span lines; a
jsonlog line; a MariaDB slow-log entry from its `# Time:`/`# User@Host:` line
up to the next one, or a `started with:` header block).  An entry is kept when

  * it comes no later than the first entry that contains END-MARKER (that
    entry included), and
  * it belongs to one of the --keep-db databases, or to no database at all
    (server start-up lines, the checkpointer, MariaDB's file headers).

Everything kept is written out byte for byte; no line is ever changed.  Other
clients of the shared servers (another database) are what gets dropped.
"""

import argparse
import csv
import io
import json
import re
import sys

PG_PREFIX = re.compile(
    rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+ \[\d+\] (?:(\S*)@(\S*) )?[A-Z]+:  "
)
CSV_DB_COLUMN = 2  # log_time, user_name, database_name, ...
MARIA_HEADER = re.compile(rb"^\S+, Version: .* started with:$")
MARIA_SCHEMA = re.compile(rb"^# Thread_id: \d+\s+Schema: (\S*)")


def split_stderr(data):
    entries = []
    for line in data.splitlines(keepends=True):
        m = PG_PREFIX.match(line)
        if m or not entries:
            db = m.group(2).decode() if m and m.group(2) is not None else ""
            entries.append([db, line])
        else:  # a TAB continuation line of the entry above
            entries[-1][1] += line
    return entries


def split_csvlog(data):
    entries, pending = [], b""
    for line in data.splitlines(keepends=True):
        pending += line
        if pending.count(b'"') % 2 == 0:  # not inside a quoted field
            row = next(csv.reader(io.StringIO(pending.decode("utf-8"))))
            entries.append([row[CSV_DB_COLUMN], pending])
            pending = b""
    if pending:
        sys.exit("csvlog ends inside a quoted field")
    return entries


def split_jsonlog(data):
    return [[json.loads(line).get("dbname", ""), line]
            for line in data.splitlines(keepends=True)]


def split_mariadb(data):
    entries = []  # [schema or None, bytes, is_header]
    lines = data.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        if MARIA_HEADER.match(line.rstrip(b"\n")):
            entries.append(["", b"".join(lines[i:i + 3]), True])  # 3-line header
            i += 3
            continue
        starts = line.startswith(b"# Time: ") or (
            line.startswith(b"# User@Host: ")
            and not lines[i - 1].startswith(b"# Time: "))
        if starts or not entries or entries[-1][2]:
            entries.append([None, line, False])
        else:
            entries[-1][1] += line
        m = MARIA_SCHEMA.match(line)
        if m and entries[-1][0] is None:
            entries[-1][0] = m.group(1).decode()
        i += 1
    return [[db or "", text] for db, text, _ in entries]


SPLITTERS = {
    "stderr": split_stderr,
    "csvlog": split_csvlog,
    "jsonlog": split_jsonlog,
    "mariadb-slow": split_mariadb,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("format", choices=sorted(SPLITTERS))
    ap.add_argument("raw")
    ap.add_argument("out")
    ap.add_argument("--keep-db", action="append", required=True)
    ap.add_argument("--end-marker", required=True)
    a = ap.parse_args()

    with open(a.raw, "rb") as f:
        data = f.read()
    entries = SPLITTERS[a.format](data)
    if b"".join(text for _, text in entries) != data:
        sys.exit("internal error: entries do not add up to the raw file")

    marker = a.end_marker.encode()
    end = next((i for i, (_, text) in enumerate(entries) if marker in text), None)
    if end is None:
        sys.exit(f"end marker {a.end_marker!r} not found in {a.raw}")

    kept, dropped_db = [], 0
    for db, text in entries[:end + 1]:
        if db == "" or db in a.keep_db:
            kept.append(text)
        else:
            dropped_db += 1
    with open(a.out, "wb") as f:
        f.write(b"".join(kept))
    print(f"{a.out}: kept {len(kept)} of {len(entries)} entries "
          f"({dropped_db} of other databases, {len(entries) - end - 1} after the end marker)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
