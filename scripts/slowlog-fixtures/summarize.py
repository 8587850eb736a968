#!/usr/bin/env python3
"""Build tests/fixtures/slowlog/expected.json from the reference tools'
JSON and count.py's counts (called by reference.sh).

Usage: summarize.py WORKDIR FIXTURE_DIR

WORKDIR holds pgbadger-{stderr,csvlog,jsonlog}.json, pt-query-digest.json,
pt-query-digest-over-5s.json, count.json and versions.txt.

Where each tool number comes from:
  pgBadger (overall_stat.<instance>, normalyzed_info.<instance>, top_slowest):
    statements    overall_stat.queries_number
    total_ms      overall_stat.queries_duration.execute
    over_5s       entries of top_slowest (the 20 slowest) with duration > 5000
    ts_min/max    overall_stat.first_query_ts / last_query_ts (whole seconds)
    fingerprints  number of keys of normalyzed_info
  pt-query-digest (--output json):
    statements    global.query_count
    total_ms      global.metrics.Query_time.sum * 1000
    over_5s       global.query_count of the run with --filter 'Query_time > 5'
    ts_min/max    min of classes[].ts_min / max of classes[].ts_max
    fingerprints  global.unique_query_count
"""

import json
import os
import sys

PG_FILES = {
    "postgres-stderr.log": ("stderr", "pgbadger-stderr.json"),
    "postgres-csvlog.csv": ("csvlog", "pgbadger-csvlog.json"),
    "postgres-jsonlog.json": ("jsonlog", "pgbadger-jsonlog.json"),
}
FIELDS = ("statements", "total_ms", "over_5s", "ts_min", "ts_max", "fingerprints")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def only(d, instance="postgres"):
    """pgBadger keys its sections by report name ('postgres' unless it is
    told to split per database); overall_stat also has other keys beside it."""
    return d[instance]


def keep_raw(data, ref_dir, name):
    """Store a tool's JSON with sorted keys (Perl hash order changes per run)."""
    with open(os.path.join(ref_dir, name), "w", encoding="utf-8") as f:
        json.dump(data, f, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    return "reference/" + name


def pgbadger_numbers(d):
    o = only(d["overall_stat"])
    slowest = only(d["top_slowest"]) if d.get("top_slowest") else []
    over = [row for row in slowest if float(row[0]) > 5000.0]
    if len(slowest) >= 20 and over and len(over) == len(slowest):
        raise SystemExit("top_slowest is full of >5 s statements; raise pgBadger's -t")
    return {
        "statements": o["queries_number"],
        "total_ms": round(float(o["queries_duration"]["execute"]), 3),
        "over_5s": len(over),
        "ts_min": o["first_query_ts"],
        "ts_max": o["last_query_ts"],
        "fingerprints": len(only(d["normalyzed_info"])),
        "also": {
            "parse_ms": o["queries_duration"].get("prepare"),
            "bind_ms": o["queries_duration"].get("bind"),
            "first_log_ts": o.get("first_log_ts"),
            "last_log_ts": o.get("last_log_ts"),
            "errors_number": o.get("errors_number"),
            "normalyzed_info_count_sum": sum(v["count"] for v in only(d["normalyzed_info"]).values()),
        },
    }


def pt_numbers(d, over):
    g = d["global"]
    classes = d["classes"]
    return {
        "statements": g["query_count"],
        "total_ms": round(float(g["metrics"]["Query_time"]["sum"]) * 1000.0, 3),
        "over_5s": over["global"]["query_count"],
        "ts_min": min(c["ts_min"] for c in classes if c.get("ts_min")),
        "ts_max": max(c["ts_max"] for c in classes if c.get("ts_max")),
        "fingerprints": g["unique_query_count"],
        "also": {
            "classes_listed": len(classes),
            "classes_query_count_sum": sum(c["query_count"] for c in classes),
        },
    }


def same(field, tool, mine):
    if field == "total_ms":
        return abs(float(tool) - float(mine)) < 0.0005
    if field in ("ts_min", "ts_max"):  # pgBadger has whole seconds only
        return str(mine)[:19] == str(tool)[:19]
    return tool == mine


def main():
    work, fix = sys.argv[1], sys.argv[2]
    ref = os.path.join(fix, "reference")
    counts = load(os.path.join(work, "count.json"))
    versions = dict(line.strip().split("=", 1) for line in open(os.path.join(work, "versions.txt")))
    servers_path = os.path.join(fix, "servers.json")
    servers = load(servers_path) if os.path.exists(servers_path) else {}

    out = {
        "about": "Reference numbers for the slow-log fixtures in this directory: what the "
                 "reference tool reports (tool) and what scripts/slowlog-fixtures/count.py "
                 "counts from the raw file (count_py). Where they differ, README.md says which "
                 "is right and why. Made by scripts/slowlog-fixtures/reference.sh.",
        "definitions": {
            "statements": "count_py: PostgreSQL 'duration: ... statement:' and 'duration: ... execute ...:' "
                          "messages (not parse/bind, not bare 'duration:'); MariaDB entries with '# Query_time:'",
            "total_ms": "sum of those statements' durations, milliseconds",
            "over_5s": "statements whose duration is over 5000 ms",
            "ts_min": "earliest statement timestamp, UTC (pgBadger: whole seconds)",
            "ts_max": "latest statement timestamp, UTC",
            "fingerprints": "distinct normalised statements; each tool normalises its own way",
        },
        "servers": servers,
        "fixtures": {},
    }

    for name, (fmt, raw) in PG_FILES.items():
        d = load(os.path.join(work, raw))
        tool = pgbadger_numbers(d)
        tool_raw = keep_raw(d, ref, raw)
        out["fixtures"][name] = {
            "format": fmt,
            "tool": {"name": "pgBadger", "version": versions["pgbadger"],
                     "command": f"pgbadger -f {'csv' if fmt == 'csvlog' else fmt} -j 1"
                                + (" --prefix '%m [%p] %q%u@%d '" if fmt == "stderr" else "")
                                + f" -o {raw} {name}",
                     "raw_output": tool_raw, **tool},
            "count_py": counts[name],
        }

    d = load(os.path.join(work, "pt-query-digest.json"))
    over = load(os.path.join(work, "pt-query-digest-over-5s.json"))
    tool = pt_numbers(d, over)
    out["fixtures"]["mariadb-slow.log"] = {
        "format": "mariadb-slow",
        "tool": {"name": "pt-query-digest", "version": versions["pt-query-digest"],
                 "command": "pt-query-digest --output json --limit 100% mariadb-slow.log "
                            "(over_5s: same with --filter '($event->{Query_time} || 0) > 5')",
                 "raw_output": keep_raw(d, ref, "pt-query-digest.json"), **tool},
        "count_py": counts["mariadb-slow.log"],
    }

    for entry in out["fixtures"].values():
        entry["differs"] = [f for f in FIELDS if not same(f, entry["tool"][f], entry["count_py"][f])]

    # pgBadger's statements and total, rebuilt from count.py's own numbers
    # (README.md, "Differences", explains each term)
    for name in PG_FILES:
        e = out["fixtures"][name]
        c, o = e["count_py"], e["count_py"]["other"]
        statements = c["statements"] - o["deallocate"] + o["bare_duration"] + o["log_statement"]
        total = round(c["total_ms"] - o["deallocate_ms"] + o["bare_duration_ms"], 3)
        e["reconciliation"] = {
            "statements": "count_py.statements - deallocate + bare_duration + log_statement",
            "statements_value": statements,
            "statements_matches_tool": statements == e["tool"]["statements"],
            "total_ms": "count_py.total_ms - deallocate_ms + bare_duration_ms",
            "total_ms_value": total,
            "total_ms_matches_tool": abs(total - e["tool"]["total_ms"]) < 0.0005,
            "total_ms_left_over": round(e["tool"]["total_ms"] - total, 3),
        }

    with open(os.path.join(fix, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")
    for name, entry in out["fixtures"].items():
        print(f"{name:24} tool/count.py: " + ", ".join(
            f"{k} {entry['tool'][k]}/{entry['count_py'][k]}" for k in FIELDS), file=sys.stderr)


if __name__ == "__main__":
    main()
