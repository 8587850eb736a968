#!/usr/bin/env python3
"""`poolcap plan` reading a synthetic fleet straight from a real Prometheus
server (issue 19, item 5).

1. A synthetic fleet, S services × P pools (SQLAlchemy gauges
   `sqlalchemy_pool_checked_out`, `sqlalchemy_pool_size`,
   `sqlalchemy_pool_max_overflow`, labels service/instance/job), one sample a
   minute for whole calendar months ending with --month, is written as
   OpenMetrics, one file per UTC day (promtool 2.42 reads its whole input again
   for every 2-hour block, so one big file costs quadratic time), and
   backfilled with `promtool tsdb create-blocks-from openmetrics`, two days at a
   time. Each day's blocks are cached under --cache (blocks-S-P/), and each
   fleet's TSDB (tsdb-S-P-MONTHS) is assembled from them and then compacted
   once by a Prometheus left idle until its compactor has nothing left to do,
   so that the measured runs see the blocks a long-running server holds and no
   compaction competes with them.
2. For each row a copy of that TSDB is served by `prometheus` on 127.0.0.1
   (a free port), and `poolcap plan --prometheus URL` is run --runs times
   under `/usr/bin/time -v` (wall clock and the child's peak RSS), with
   `[discovery] from = "metrics"` so every service in the server is planned.
   From plan.json it reads provenance.prometheus (queries, requests, bytes,
   series, rows) and the services whose recommendation changes.

Rows: 100, 250, 500 and 1000 pools (5 a service) with one month, and 500
pools with 2 and 3 months in the server (the earlier months are aggregated
in the server, so the bytes transferred should hardly grow).

    python3 benches/fleet_prometheus.py [--runs 3] [--bin target/release/poolcap]
        [--sizes 100,250,500,1000] [--months 3] [--month 2026-10]

Needs prometheus and promtool (Debian: `apt-get install prometheus`) and a
release build of poolcap (`cargo build --release`). Prints a Markdown table
for docs/benchmarks.md on stdout, progress on stderr. Targets (2-core
machine): 500 pools × 1 month in ≤ 60 s wall and ≤ 512 MB peak RSS.
"""

import argparse
import concurrent.futures
import datetime as dt
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "poolcap"
TZ = ZoneInfo("Europe/London")
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TIME = "/usr/bin/time"
POOLS_PER_SERVICE = 5
POOL_SIZE = 20
MAX_OVERFLOW = 10
CEILING = POOL_SIZE + MAX_OVERFLOW
DAY = 86_400

POOLCAP_TOML = """\
[policy]
timezone = "Europe/London"
[database]
max_connections = 5000
headroom = 10
[defaults]
processes_per_replica = 1
current = { pool_size = 20, max_overflow = 10 }
[discovery]
from = "metrics"
"""
PROMETHEUS_YML = "global: {scrape_interval: 1m}\n"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the fleet


def month_start(year, month):
    """Local midnight on the 1st, as a Unix timestamp."""
    return int(dt.datetime(year, month, 1, tzinfo=TZ).timestamp())


def window(month, months):
    """[start, end) of `months` calendar months ending with `month` (YYYY-MM), in London time."""
    y, m = map(int, month.split("-"))
    end = month_start(y + (m == 12), m % 12 + 1)
    for _ in range(months - 1):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return month_start(y, m), end


def day_chunks(start, end):
    """The UTC days that [start, end) touches, each clipped to it."""
    t = start
    while t < end:
        nxt = min((t // DAY + 1) * DAY, end)
        yield t, nxt
        t = nxt


def temperature(i):
    """A service's load class from its number: a few hot (escalate), some warm, most cool."""
    if i % 16 == 3:
        return "hot"
    if i % 4 == 1:
        return "warm"
    return "cool"


# (night level, day level, noise sd) of checked-out connections per pool.
LEVELS = {"cool": (2.0, 7.0, 1.3), "warm": (5.0, 11.0, 1.3), "hot": (12.0, 22.0, 1.8)}


def shape(ts):
    """How busy the fleet is at ts: 0 at night, 1 from 08:00 to 18:00 London time
    (ramping over the half-hours either side); weekends at 30 %."""
    local = dt.datetime.fromtimestamp(ts, TZ)
    h = local.hour + local.minute / 60
    s = max(0.0, min(1.0, h - 7.5, 18.5 - h))
    return s * (0.3 if local.weekday() >= 5 else 1.0)


def pool_values(service, pool, day_start, shapes):
    """The checked-out series of one pool over one chunk: deterministic, seeded per pool and day."""
    night, busy, sd = LEVELS[temperature(service)]
    scale = random.Random(f"pool-{service}-{pool}").uniform(0.85, 1.15)
    rng = random.Random(f"day-{service}-{pool}-{day_start // DAY}")
    daily = rng.uniform(0.9, 1.1)
    lo, hi = night * scale, busy * scale * daily
    gauss = rng.gauss
    out = []
    for s in shapes:
        v = round(lo + (hi - lo) * s + gauss(0.0, sd))
        out.append(0 if v < 0 else CEILING if v > CEILING else v)
    return out


def write_day(path, services, pools, start, end):
    """One OpenMetrics file of [start, end): the samples of one family together, then the next."""
    stamps = list(range(start, end, 60))
    shapes = [shape(t) for t in stamps]
    labels = [
        (i, k, f'{{service="svc-{i:03d}",instance="svc-{i:03d}-{k}",job="fleet"}}')
        for i in range(1, services + 1)
        for k in range(1, pools + 1)
    ]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", buffering=1 << 22) as f:
        f.write("# TYPE sqlalchemy_pool_checked_out gauge\n")
        for i, k, lab in labels:
            head = "sqlalchemy_pool_checked_out" + lab + " "
            f.write("".join(f"{head}{v} {t}\n" for v, t in zip(pool_values(i, k, start, shapes), stamps)))
        for name, value in (("sqlalchemy_pool_size", POOL_SIZE), ("sqlalchemy_pool_max_overflow", MAX_OVERFLOW)):
            f.write(f"# TYPE {name} gauge\n")
            for _, _, lab in labels:
                head = f"{name}{lab} {value} "
                f.write("".join(f"{head}{t}\n" for t in stamps))
        f.write("# EOF\n")
    tmp.rename(path)
    return len(labels) * 3 * len(stamps)


BLOCK_DURATION = "24h"  # set by --max-block-duration


def promtool_cmd(dayfile, outdir):
    # --max-block-duration (hidden in promtool 2.42) cuts the day into 18-hour blocks instead of
    # 2-hour ones: the input is read 2 or 3 times instead of 12 (3.3 times faster for a day of 500
    # pools). The TSDB is compacted before it is measured, so the blocks served are the same.
    extra = [] if BLOCK_DURATION == "2h" else [f"--max-block-duration={BLOCK_DURATION}"]
    return [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "--quiet", *extra, str(dayfile), str(outdir)]


def day_blocks(cache, services, pools, start, end, jobs):
    """Backfills every chunk of [start, end) not yet in the cache; returns their block dirs and timings."""
    base = cache / f"blocks-{services}-{pools}"
    base.mkdir(parents=True, exist_ok=True)
    chunks = list(day_chunks(start, end))
    dirs = []
    todo = []
    for a, b in chunks:
        name = f"{dt.datetime.fromtimestamp(a, dt.timezone.utc):%Y%m%dT%H%M}-{dt.datetime.fromtimestamp(b, dt.timezone.utc):%Y%m%dT%H%M}"
        d = base / name
        dirs.append(d)
        if not (d / ".done").exists():
            todo.append((a, b, d))
    stats = {"days": len(todo), "generate_s": 0.0, "promtool_s": 0.0, "samples": 0, "om_bytes": 0}
    if not todo:
        return dirs, stats
    log(f"backfilling {len(todo)} day(s) of {services}×{pools} pools ({jobs} promtool at a time)")
    started = time.perf_counter()
    failure = []
    lock = threading.Lock()

    def backfill(dayfile, d):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        t0 = time.perf_counter()
        proc = subprocess.run(promtool_cmd(dayfile, d), capture_output=True, text=True)
        took = time.perf_counter() - t0
        dayfile.unlink()
        if proc.returncode != 0:
            failure.append(f"{' '.join(promtool_cmd(dayfile, d))} failed:\n{proc.stderr}")
            return
        (d / ".done").write_text("")
        with lock:
            stats["promtool_s"] += took

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = set()
        for n, (a, b, d) in enumerate(todo, 1):
            if failure:
                break
            dayfile = base / f"{d.name}.om"
            t0 = time.perf_counter()
            stats["samples"] += write_day(dayfile, services, pools, a, b)
            stats["generate_s"] += time.perf_counter() - t0
            stats["om_bytes"] += dayfile.stat().st_size
            # At most `jobs` files waiting besides the ones being read.
            while len(pending) >= jobs:
                done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            pending.add(pool.submit(backfill, dayfile, d))
            log(f"  day {n}/{len(todo)} {d.name} written ({dayfile.stat().st_size / 1e6:.0f} MB), "
                f"{time.perf_counter() - started:.0f} s so far")
        concurrent.futures.wait(pending)
    if failure:
        sys.exit(failure[0])
    stats["wall_s"] = time.perf_counter() - started
    return dirs, stats


# ---------------------------------------------------------------- Prometheus


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A prometheus serving `tsdb` on 127.0.0.1; stopped by stop() (always called in a finally)."""

    def __init__(self, tsdb, workdir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "p.yml"
        config.write_text(PROMETHEUS_YML)
        self.argv = [
            PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
            "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{self.port}",
            "--query.max-samples=50000000",
        ]
        self.log = open(workdir / "prometheus.log", "w")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"prometheus exited with {self.proc.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        sys.exit(f"prometheus not ready after {timeout} s; see {self.log.name}")

    def metrics(self):
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=30) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def peak_rss_mib(self):
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def settle(tsdb, workdir):
    """Serves tsdb until Prometheus' compactor (every minute) has nothing left to do: at least
    70 s after ready, and one whole minute with under 1 CPU-second spent."""
    prom = Prometheus(tsdb, workdir)
    try:
        prom.wait_ready()
        ready = time.monotonic()
        cpu = []  # (time, cpu seconds)
        while True:
            m = prom.metrics()
            now = time.monotonic()
            cpu.append((now, m.get("process_cpu_seconds_total", 0.0)))
            old = [c for c in cpu if now - c[0] >= 65]
            if now - ready >= 70 and old and cpu[-1][1] - old[-1][1] < 1.0:
                return {"blocks": int(m.get("prometheus_tsdb_blocks_loaded", 0)),
                        "compactions": int(m.get("prometheus_tsdb_compactions_total", 0))}
            if len(cpu) % 6 == 0:
                log(f"  compacting: {int(m.get('prometheus_tsdb_blocks_loaded', 0))} blocks loaded, "
                    f"{int(m.get('prometheus_tsdb_compactions_total', 0))} compactions, "
                    f"{cpu[-1][1]:.0f} CPU-s")
            if now - ready > 3600:
                sys.exit("prometheus still compacting after an hour")
            time.sleep(5)
    finally:
        prom.stop()


def build_tsdb(cache, services, pools, month, months, jobs):
    """The cached TSDB of the fleet (built when missing), and how its build went."""
    tsdb = cache / f"tsdb-{services}-{pools}-{months}"
    meta = cache / f"tsdb-{services}-{pools}-{months}.json"
    if tsdb.exists() and meta.exists():
        return tsdb, json.loads(meta.read_text()) | {"cached": True}
    start, end = window(month, months)
    dirs, stats = day_blocks(cache, services, pools, start, end, jobs)
    partial = cache / f"{tsdb.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    for d in dirs:
        for block in d.iterdir():
            if block.is_dir():
                shutil.copytree(block, partial / block.name)
    log(f"compacting {tsdb.name} ({sum(1 for _ in partial.iterdir())} blocks) in an idle Prometheus")
    t0 = time.perf_counter()
    work = cache / "settle"
    work.mkdir(exist_ok=True)
    settled = settle(partial, work)
    stats["settle_s"] = time.perf_counter() - t0
    stats |= settled
    stats["tsdb_mb"] = sum(p.stat().st_size for p in partial.rglob("*") if p.is_file()) / 1e6
    stats["window"] = [start, end]
    partial.rename(tsdb)
    meta.write_text(json.dumps(stats, indent=1))
    return tsdb, stats | {"cached": False}


# ---------------------------------------------------------------- poolcap


def plan_cmd(binary, url, month, fmt):
    return [str(binary), "--config", "poolcap.toml", "--format", fmt, "plan", "--month", month,
            "--prometheus", url, "--step", "60s"]


class PoolcapFailed(Exception):
    """A poolcap run that failed: its command line, exit status and whole stderr."""

    def __init__(self, command, status, stderr):
        super().__init__(command)
        self.command, self.status, self.stderr = command, status, stderr


def busy_cpu_s():
    """CPU-seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid):
    """CPU-seconds (user + system) of one live process."""
    try:
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def wait_quiet(prom, limit):
    """Waits (at most `limit` seconds) until processes other than the served Prometheus use under a
    tenth of a core over 5 s: the machine may be shared with builds. Returns the seconds waited."""
    started = time.perf_counter()
    said = 0.0
    while True:
        busy0, prom0 = busy_cpu_s(), process_cpu_s(prom.proc.pid)
        time.sleep(5)
        other = busy_cpu_s() - busy0 - (process_cpu_s(prom.proc.pid) - prom0)
        waited = time.perf_counter() - started
        if other < 0.5 or waited >= limit:
            if other >= 0.5:
                log(f"  machine still busy after {waited:.0f} s ({other / 5:.1f} cores): measuring anyway")
            return waited
        if waited - said >= 60:
            said = waited
            log(f"  waiting for the machine to be quiet: other processes use {other / 5:.1f} cores")


def run_plan(argv, workdir, prom=None):
    """Runs argv under /usr/bin/time -v in workdir: (wall s, peak RSS MiB, stdout, stderr notes,
    CPU-s, CPU-s spent meanwhile by processes other than poolcap and the Prometheus served)."""
    busy0, prom0 = busy_cpu_s(), process_cpu_s(prom.proc.pid) if prom else 0.0
    start = time.perf_counter()
    # In a session of its own, so that an interrupted benchmark ends poolcap too, not only time(1).
    proc = subprocess.Popen([TIME, "-v", *argv], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    proc.stdout, proc.stderr = stdout, stderr
    wall = time.perf_counter() - start
    busy = busy_cpu_s() - busy0
    prom_cpu = (process_cpu_s(prom.proc.pid) - prom0) if prom else 0.0
    if proc.returncode != 0:
        raise PoolcapFailed(f"cd {workdir} && {' '.join(argv)}", proc.returncode, proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    notes = [line for line in proc.stderr.splitlines() if not line.startswith("\t")
             and "Command being timed" not in line]
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr))
    return wall, int(rss.group(1)) / 1024, proc.stdout, "\n".join(notes), cpu, busy - cpu - prom_cpu


def measure(args, services, months, table_lines=False):
    tsdb, build = build_tsdb(args.cache, services, POOLS_PER_SERVICE, args.month, months, args.jobs)
    workdir = args.cache / f"run-{services}-{POOLS_PER_SERVICE}-{months}"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / "poolcap.toml").write_text(POOLCAP_TOML)
    log(f"copying {tsdb.name}")
    shutil.copytree(tsdb, workdir / "tsdb")
    prom = Prometheus(workdir / "tsdb", workdir)
    try:
        t0 = time.perf_counter()
        prom.wait_ready()
        ready_s = time.perf_counter() - t0
        argv = plan_cmd(args.bin, prom.url, args.month, "json")
        runs = []
        for n in range(args.runs):
            waited = wait_quiet(prom, args.quiet_wait) if args.quiet_wait > 0 else 0.0
            wall, rss, out, notes, cpu, other = run_plan(argv, workdir, prom)
            (workdir / "plan.json").write_text(out)
            (workdir / f"stderr-{n + 1}.txt").write_text(notes)
            runs.append((wall, rss, cpu, other, waited))
            log(f"  {services * POOLS_PER_SERVICE} pools, {months} month(s): run {n + 1}/{args.runs} "
                f"{wall:.1f} s, {rss:.0f} MiB, poolcap {cpu:.0f} CPU-s, other processes {other:.0f} CPU-s")
        plan = json.loads(out)
        table = None
        if table_lines:
            _, _, text, _, _, _ = run_plan(plan_cmd(args.bin, prom.url, args.month, "table"), workdir)
            (workdir / "plan.txt").write_text(text)
            table = text.splitlines()[:15]
        prom_rss = prom.peak_rss_mib()
    finally:
        prom.stop()
        shutil.rmtree(workdir / "tsdb", ignore_errors=True)
    p = plan["provenance"]["prometheus"]
    svcs = plan["services"]
    return {
        "pools": services * POOLS_PER_SERVICE, "services": services, "months": months,
        "wall": statistics.median(r[0] for r in runs), "walls": [r[0] for r in runs],
        "rss": statistics.median(r[1] for r in runs), "rsses": [r[1] for r in runs],
        "cpus": [r[2] for r in runs], "others": [r[3] for r in runs], "waited": [r[4] for r in runs],
        "queries": p["queries"], "requests": p["requests"], "bytes": p["bytes"], "series": p["series"],
        "rows": p["rows"], "used": p.get("used"), "aggregated": p.get("aggregated_in_server", []),
        "planned": len(svcs), "changed": sum(1 for s in svcs if s.get("changes") is True),
        "budget_ok": plan.get("budget", {}).get("ok"), "notes": notes, "table": table,
        "build": build, "ready_s": ready_s, "prom_rss": prom_rss, "url": prom.url,
        "argv": argv, "prom_argv": prom.argv,
    }


# ---------------------------------------------------------------- report


def machine():
    cpu = "unknown"
    mem = 0
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) / 1024 / 1024
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"machine: nproc {nproc} ({cpu}), {mem:.1f} GiB memory, {platform.system()} {platform.release()}"


def version(argv):
    proc = subprocess.run(argv, capture_output=True, text=True)
    return (proc.stdout or proc.stderr).splitlines()[0].strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", type=Path, default=BIN, help="the poolcap binary (default: target/release/poolcap)")
    ap.add_argument("--sizes", default="100,250,500,1000", help="pool counts measured with one month (5 a service)")
    ap.add_argument("--months", type=int, default=3,
                    help="the 500-pool fleet is also measured with 2..N months in the server (1: none)")
    ap.add_argument("--month", default="2026-10", help="the month planned, the last one in the server")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/fleetbench"))
    ap.add_argument("--jobs", type=int, default=2, help="promtool processes at a time")
    ap.add_argument("--max-block-duration", default=BLOCK_DURATION,
                    help="promtool's block length (2h: promtool's default, 3 times slower to build)")
    ap.add_argument("--prometheus-bin", default=PROMETHEUS, help="the prometheus binary (default: from PATH)")
    ap.add_argument("--quiet-wait", type=float, default=900,
                    help="before each run, wait up to this many seconds for other processes to go quiet (0: never)")
    args = ap.parse_args()
    globals()["BLOCK_DURATION"] = args.max_block_duration
    globals()["PROMETHEUS"] = args.prometheus_bin
    args.bin = args.bin.resolve()
    args.cache = args.cache.resolve()
    args.cache.mkdir(parents=True, exist_ok=True)
    for tool in (PROMETHEUS, PROMTOOL, TIME, str(args.bin)):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} not found (prometheus/promtool: apt-get install prometheus; "
                     "poolcap: cargo build --release)")
    def stop(signum, _frame):
        log(f"stopped by signal {signum}")
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    # The 500-pool history rows right after the 500-pool row, larger fleets last.
    rows_wanted = [(n // POOLS_PER_SERVICE, 1) for n in sizes if n <= 500]
    rows_wanted += [(500 // POOLS_PER_SERVICE, m) for m in range(2, args.months + 1)]
    rows_wanted += [(n // POOLS_PER_SERVICE, 1) for n in sizes if n > 500]
    reference = (500 // POOLS_PER_SERVICE, 1)
    if reference not in rows_wanted:
        reference = rows_wanted[0]

    # Each row is printed as soon as it is measured.
    print(machine())
    print(f"{version([PROMETHEUS, '--version'])}; poolcap: {version([str(args.bin), '--version'])}")
    print(f"fleet: 5 pools a service (pool_size {POOL_SIZE}, max_overflow {MAX_OVERFLOW}), one sample a minute, "
          f"months ending {args.month} (Europe/London); median of {args.runs} runs\n")
    print("| pools | services | months in TSDB | wall s | peak RSS MiB | queries | requests | "
          "transferred MB | series | rows | services changed |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    began = time.perf_counter()
    results = []
    failed = None
    for services, months in rows_wanted:
        t0 = time.perf_counter()
        try:
            r = measure(args, services, months, table_lines=(services, months) == reference)
        except PoolcapFailed as e:
            # Stop measuring; report the rows measured and the failure as it came.
            failed = (services * POOLS_PER_SERVICE, months, e)
            log(f"poolcap failed (exit {e.status}):\n  {e.command}\n--- stderr ---\n{e.stderr}")
            break
        r["row_s"] = time.perf_counter() - t0
        results.append(r)
        print(f"| {r['pools']:,} | {r['services']} | {r['months']} | {r['wall']:.2f} | {r['rss']:.0f} | "
              f"{r['queries']} | {r['requests']} | {r['bytes'] / 1e6:.1f} | {r['series']:,} | {r['rows']:,} | "
              f"{r['changed']} of {r['planned']} |", flush=True)
        log(f"row {r['pools']} pools × {months} month(s) done in {r['row_s']:.0f} s")
    total = time.perf_counter() - began
    if failed:
        pools, months, e = failed
        print(f"| {pools:,} | {pools // POOLS_PER_SERVICE} | {months} | poolcap failed (exit {e.status}) "
              "| | | | | | | |")
    print()
    for r in results:
        b = r["build"]
        how = "cached, built earlier" if b.get("cached") else "built now"
        read = re.search(r"transferred, ([\d.]+) s\)", r["notes"])
        hist = re.search(r"aggregated in Prometheus in ([\d.]+) s", r["notes"])
        split = ""
        if read and hist:
            rs, hs = float(read.group(1)), float(hist.group(1))
            split = (f"; last run: reading {rs:.1f} s, earlier months {hs:.1f} s, "
                     f"the rest (discovery, analysis, queueing check) {r['walls'][-1] - rs - hs:.1f} s")
        print(f"- {r['pools']} pools × {r['months']} month(s): runs {', '.join(f'{w:.2f}' for w in r['walls'])} s, "
              f"RSS {', '.join(f'{x:.0f}' for x in r['rsses'])} MiB, poolcap CPU {', '.join(f'{x:.0f}' for x in r['cpus'])} s, "
              f"CPU-s of other processes meanwhile {', '.join(f'{x:.0f}' for x in r['others'])} "
              f"(after waiting {', '.join(f'{x:.0f}' for x in r['waited'])} s for quiet){split}; Prometheus ready in {r['ready_s']:.1f} s, "
              f"its peak RSS {r['prom_rss']:.0f} MiB; {len(r['aggregated'])} earlier months aggregated in the server; "
              f"budget ok: {r['budget_ok']}; TSDB {b.get('tsdb_mb', 0):.0f} MB in {b.get('blocks')} blocks "
              f"({how}: {b.get('days', 0)} day(s) backfilled, generating {b.get('generate_s', 0):.0f} s, "
              f"promtool {b.get('promtool_s', 0):.0f} s summed / {b.get('wall_s', 0):.0f} s wall, "
              f"compaction {b.get('settle_s', 0):.0f} s); row {r['row_s']:.0f} s in all")
        for line in r["notes"].splitlines():
            if line.strip():
                print(f"  - poolcap (last run): {line.strip()}")
    by = {(r["pools"], r["months"]): r for r in results}
    print()
    ref = by.get((500, 1))
    if ref:
        wall_ok = ref["wall"] <= 60
        rss_ok = ref["rss"] * 1024 * 1024 <= 512e6
        print(f"targets, 500 pools × 1 month: wall {ref['wall']:.1f} s ≤ 60 s: {'met' if wall_ok else 'MISSED'}; "
              f"peak RSS {ref['rss']:.0f} MiB ({ref['rss'] * 1.048576:.0f} MB) ≤ 512 MB: {'met' if rss_ok else 'MISSED'}")
    if ref and (500, 2) in by:
        growth = ", ".join(f"{m} months {by[(500, m)]['bytes'] / 1e6:.1f} MB"
                           for m in range(1, args.months + 1) if (500, m) in by)
        print(f"bytes transferred with more months in the server (500 pools): {growth}")
    print(f"benchmark time: {total / 60:.1f} min (TSDB builds included)\n")
    if not results:
        print_failure(failed)
        return
    r = results[0]
    print("commands:\n")
    print("```")
    print(" ".join(promtool_cmd("DAYFILE.om", "DAYBLOCKS/")) + "   # one UTC day a file, 2 at a time")
    port = r["url"].rsplit(":", 1)[1]
    print(" ".join(r["prom_argv"]).replace(f"127.0.0.1:{port}", "127.0.0.1:PORT").replace(str(args.cache), "CACHE"))
    print("/usr/bin/time -v " + " ".join(plan_cmd(args.bin, "http://127.0.0.1:PORT", args.month, "json"))
          + " > plan.json")
    print("```")
    ref = by.get((reference[0] * POOLS_PER_SERVICE, reference[1]))
    if ref and ref["table"]:
        print(f"\n`--format table`, {ref['pools']} pools × {ref['months']} month, first 15 lines:\n")
        print("```")
        print("\n".join(ref["table"]))
        print("```")
    print_failure(failed)


def print_failure(failed):
    if failed:
        pools, months, e = failed
        print(f"\npoolcap failed at {pools} pools × {months} month(s) (exit {e.status}), and the benchmark stopped:\n")
        print("```")
        print(e.command)
        print(e.stderr.rstrip())
        print("```")
        sys.exit(1)


if __name__ == "__main__":
    main()
