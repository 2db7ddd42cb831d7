#!/usr/bin/python3
"""Bounded soak of a real sharebox server: every route, many connections, then leak checks.

Starts `sharebox serve` on loopback on a fresh temporary data dir (with a private RabbitMQ from
scripts/start-rabbitmq unless --events off), creates a few users, and runs two phases of the
same workload over --connections concurrent connections: a warm-up, after which every client
disconnects and the server's idle descriptors are counted (the baseline), then the main phase,
after which they are counted again. Throughout, the server's VmRSS is sampled every second.

The run fails (exit status 1) if
  - any answer was neither 2xx/304 nor one of the expected ones (each listed with its reason),
    or a connection failed, a download differed from what was uploaded, an intake verdict was
    wrong, or a held-open event stream was ended by the server or received nothing;
  - memory kept growing: the highest VmRSS of the main phase's last third exceeds the highest
    of its second third by more than max(RSS_TOLERANCE_MIB, RSS_TOLERANCE_FRACTION of it);
  - the idle descriptor count after the main phase differs from the baseline by more than
    FD_TOLERANCE, SQLite's pooled reader connections apart (see FD_TOLERANCE);
  - once idle, a connection, stream or upload is still counted open (/metrics, /health), a temp
    or staging file is left in the data dir, the outbox has not drained (events on), /metrics
    counted a 5xx, the server logged an error, or /health does not answer;
  - the server does not exit cleanly on SIGTERM.
Usage: soak.py --binary PATH [--duration S] [--connections N] [--events on|off] [--seed N]
"""
import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "ops"))

from server_output import READY, read_stdout  # noqa: E402
from soak_client import HttpConnection  # noqa: E402
from soak_workload import (Context, IntakeClient, Model, Stats, Subscriber,  # noqa: E402
                           Worker)

ADMIN_KEY = re.compile(r"initial admin API key: (\S+)")

# Memory: after the first third of the main phase (caches, SQLite's page caches, malloc's
# arenas reach their working size), the highest RSS of the last third may exceed the highest of
# the second third only by this much. Maxima, not single samples, so that glibc handing memory
# back in steps does not matter; without a leak the difference measured here stayed within
# 6 MiB (75-second runs, where RSS still creeps up as the reader pool grows) and 0.4 MiB (the
# 10-minute run). A leak of 1 KiB per request, at the ~1,000 requests a second of this shared
# 2-core VM, grows RSS by ~60 MiB in a third of the 10-minute run; a leak of 4 KiB per request
# put into the server on purpose failed a 45-second run by 24 MiB.
RSS_TOLERANCE_MIB = 16
RSS_TOLERANCE_FRACTION = 0.10
# Descriptors: the idle count after the main phase must equal the baseline taken after the
# warm-up, both taken the same way (every client gone, the download cache emptied by a commit,
# the count stable for 2 s), within FD_TOLERANCE. SQLite's connections are judged apart: the
# server keeps a pool of reader connections that grows to the highest number of reads ever
# made at once and is never shrunk (each holds the database and its WAL open), so it may grow
# after the warm-up, but never beyond one connection per thread of the process (a thread holds
# at most one at a time) plus the writer's.
FD_TOLERANCE = 2
SQLITE_FILES = ("data/sharebox.db", "data/sharebox.db-wal")


T0 = time.monotonic()


def log(*a):
    print(f"soak [{time.monotonic() - T0:5.0f} s]:", *a, file=sys.stderr, flush=True)


class Server:
    def __init__(self, binary, data_dir, broker_url, log_path):
        args = [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
                "--log-level", "warn", "--log-format", "json"]
        if broker_url:
            args += ["--rabbitmq-url", broker_url]
        else:
            args += ["--events", "off"]
        self.log_path = log_path
        self.stderr = open(log_path, "w+")
        env = {"PATH": "/usr/bin:/bin", "HOME": os.path.dirname(data_dir)}
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     env=env)
        self.pid = self.proc.pid
        key = None

        def visit(line):
            nonlocal key
            if m := ADMIN_KEY.search(line):
                key = m.group(1)
            return m.group(1) if (m := READY.search(line)) else None

        url = read_stdout(self.proc, 60, visit)
        if not url or not key:
            self.stop()
            raise RuntimeError(f"server did not start:\n{self.log_tail()}")
        self.url, self.admin_key = url, key
        self.host, port = url.split("//")[1].rsplit(":", 1)
        self.port = int(port)

    def log_tail(self, n=4000):
        self.stderr.flush()
        with open(self.log_path) as f:
            return f.read()[-n:]

    def stop(self, timeout=60):
        """SIGTERM, then the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


def rss_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "RssAnon:", "RssFile:", "RssShmem:")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0])
    return out


def fd_classes(pid, data_dir):
    """{class: count} of the process's open descriptors."""
    out = collections.Counter()
    base = f"/proc/{pid}/fd"
    for fd in os.listdir(base):
        try:
            target = os.readlink(f"{base}/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:"):
            out["socket"] += 1
        elif target.startswith("anon_inode:"):
            out[target] += 1
        elif target.startswith("pipe:"):
            out["pipe"] += 1
        elif target.startswith(data_dir):
            rel = os.path.relpath(target, data_dir)
            out["data/" + (rel.split("/")[0] + "/*" if "/" in rel else rel)] += 1
        else:
            out[target] += 1
    return out


class Sampler:
    """VmRSS and the descriptor count, once a second, for the whole run."""

    def __init__(self, pid):
        self.pid = pid
        self.samples = []  # (monotonic, phase, VmRSS, RssAnon, descriptors, sockets)
        self.phase = "setup"

    async def run(self):
        while True:
            try:
                r = rss_kib(self.pid)
                fds = fd_classes(self.pid, "/")
            except OSError:
                return
            self.samples.append((time.monotonic(), self.phase, r["VmRSS"], r.get("RssAnon", 0),
                                 sum(fds.values()), fds["socket"]))
            await asyncio.sleep(1.0)


async def call(server, method, target, key=None, body=b"", headers=()):
    conn = HttpConnection(server.host, server.port, 60)
    h = list(headers)
    if key:
        h.append(("Authorization", "Bearer " + key))
    try:
        return await conn.request(method, target, h, body)
    finally:
        await conn.aclose()


async def create_users(server, count):
    users = {}
    for i in range(count):
        name = f"soak{i}"
        resp = await call(server, "POST", "/admin/users", server.admin_key,
                          json.dumps({"name": name}).encode(),
                          [("Content-Type", "application/json")])
        if resp.status != 201:
            raise RuntimeError(f"POST /admin/users: {resp.status} {resp.body[:300]!r}")
        users[name] = json.loads(resp.body)["key"]["key"]
    return users


async def run_phase(server, model, stats, args, seconds, phase_index):
    """SECONDS of the workload over args.connections connections; returns when every client
    has finished and disconnected."""
    ctx = Context(server.host, server.port, model, stats, server.admin_key,
                  args.seed * 10 + phase_index, args.request_timeout, args.max_requests)
    users = list(model.users)
    n = args.connections
    n_streams = max(2, n // 10)
    n_intake = max(1, n // 25)
    n_workers = max(1, n - n_streams - n_intake)
    tasks, subscribers = [], []
    for i in range(n_streams):
        # One held WebSocket and one held SSE stream per user first, then cycling ones.
        held = i < 2 * len(users)
        kind = "ws" if i % 2 == 0 else "sse"
        s = Subscriber(ctx, i, users[(i // 2) % len(users)], kind, held)
        subscribers.append(s)
        tasks.append(asyncio.ensure_future(s.run()))
    for i in range(n_intake):
        tasks.append(asyncio.ensure_future(IntakeClient(ctx, i, users[i % len(users)]).run()))
    for i in range(n_workers):
        tasks.append(asyncio.ensure_future(Worker(ctx, i, users[i % len(users)]).run()))
    log(f"phase {phase_index}: {n_workers} HTTP workers, {n_streams} event streams, "
        f"{n_intake} intake sessions for {seconds:.0f} s")
    try:
        await asyncio.wait_for(ctx.stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
    ctx.stop.set()
    # Every client finishes the operation it is in (an upload is completed or aborted, never
    # left half-way), then disconnects.
    done, pending = await asyncio.wait(tasks, timeout=args.request_timeout + 60)
    for t in pending:
        stats.fail("a client did not finish within the request timeout after the stop")
        t.cancel()
    for t in done:
        if t.exception() is not None:
            stats.fail(f"client crashed: {type(t.exception()).__name__}: {t.exception()}")
    return subscribers


async def wait_idle(pid, settle=2.0, timeout=60.0):
    """Waits until the descriptor count stayed the same for SETTLE seconds; returns it."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        n = len(os.listdir(f"/proc/{pid}/fd"))
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= settle:
            return n
        await asyncio.sleep(0.2)
    return last


async def idle_descriptors(server, data_dir):
    """The idle server's descriptors, taken the same way after each phase: once the clients'
    connections are closed, one commit (an upload and its delete) empties the download cache,
    whose open blobs depend on which downloads came last."""
    await wait_idle(server.pid)
    resp = await call(server, "POST", "/files?name=flush.bin", server.admin_key, b"x")
    if resp.status == 201:
        fid = json.loads(resp.body)["id"]
        await call(server, "DELETE", f"/files/{fid}", server.admin_key)
    await wait_idle(server.pid)
    fds = fd_classes(server.pid, data_dir)
    with open(f"/proc/{server.pid}/status") as f:
        fds_threads = next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
    return fds, fds_threads


def metric_samples(text, name):
    out = {}
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in "{ "):
            labels, _, value = line[len(name):].rpartition(" ")
            out[labels] = float(value)
    return out


async def idle_checks(server, data_dir, events_on, problems):
    """Gauges back at rest, no stray files, the outbox drained."""
    if events_on:
        deadline = time.monotonic() + 180
        while True:
            health = json.loads((await call(server, "GET", "/health")).body)
            if health["events"].get("outbox_backlog", 1) == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        ev = health["events"]
        if ev.get("broker") != "connected" or ev.get("outbox_backlog") != 0:
            problems.append(f"events not all published: {ev}")
    resp = await call(server, "GET", "/health")
    health = json.loads(resp.body) if resp.status == 200 else {}
    if resp.status != 200:
        problems.append(f"GET /health answered {resp.status} at the end")
    for k in ("live_subscribers", "upload_requests_in_flight"):
        if health.get(k) != 0:
            problems.append(f"/health {k} = {health.get(k)} once idle (want 0)")
    gauges = {"sharebox_open_connections": 1,  # this scrape's own connection
              "sharebox_open_websockets": 0, "sharebox_open_sse_streams": 0,
              "sharebox_uploads_in_progress": 0, "sharebox_resumable_uploads_open": 0}
    # The server notices a closed connection when it next reads from it: the previous
    # request's connection may still be counted for a moment.
    deadline = time.monotonic() + 15
    while True:
        text = (await call(server, "GET", "/metrics")).body.decode()
        wrong = [f"{name}{labels} = {v:g} once idle (want {want})"
                 for name, want in gauges.items()
                 for labels, v in metric_samples(text, name).items() if v != want]
        if not wrong or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    problems += wrong
    server_5xx = sum(v for labels, v in metric_samples(text, "sharebox_http_requests_total")
                     .items() if re.search(r'status="5\d\d"', labels))
    if server_5xx:
        problems.append(f"/metrics counted {server_5xx:g} answers with a 5xx status")
    for sub in ("tmp", "uploads"):
        path = os.path.join(data_dir, sub)
        left = os.listdir(path) if os.path.isdir(path) else []
        if left:
            problems.append(f"{len(left)} files left in data/{sub} once idle: {left[:5]}")
    return text


def sanitizer_of(binary):
    """'AddressSanitizer' or 'ThreadSanitizer' if BINARY was built with one (its runtime's
    entry point is in the file, linked statically by clang or named by GCC's shared one)."""
    import mmap
    with open(binary, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        for marker, name in ((b"__asan_init", "AddressSanitizer"),
                             (b"__tsan_init", "ThreadSanitizer")):
            if m.find(marker) >= 0:
                return name
    return None


def rss_verdict(samples, phase, problems, enforce=True):
    """The memory criterion (see RSS_TOLERANCE_MIB); ENFORCE false only reports it."""
    main = [s for s in samples if s[1] == phase]
    if len(main) < 9:
        problems.append(f"only {len(main)} memory samples in the main phase")
        return {}
    third = len(main) // 3
    second, last = main[third:2 * third], main[2 * third:]
    max2 = max(s[2] for s in second)
    max3 = max(s[2] for s in last)
    allowed = max(RSS_TOLERANCE_MIB * 1024, RSS_TOLERANCE_FRACTION * max2)
    # Least-squares slope over the last two thirds, reported only.
    pts = [(s[0], s[2]) for s in main[third:]]
    mt = statistics.fmean(t for t, _ in pts)
    mr = statistics.fmean(r for _, r in pts)
    den = sum((t - mt) ** 2 for t, _ in pts) or 1
    slope = sum((t - mt) * (r - mr) for t, r in pts) / den
    summary = {
        "first": main[0][2], "peak": max(s[2] for s in main), "end": main[-1][2],
        "max_first_third": max(s[2] for s in main[:third]), "max_second_third": max2,
        "max_last_third": max3, "allowed_growth": allowed, "slope_kib_s": slope,
        "anon_end": main[-1][3],
    }
    if max3 > max2 + allowed and enforce:
        problems.append(f"memory kept growing: max VmRSS of the last third {max3} KiB > "
                        f"{max2} KiB (second third) + {allowed:.0f} KiB")
    return summary


def without_sqlite(fds):
    return sum(n for k, n in fds.items() if k not in SQLITE_FILES)


def fd_verdict(base, end, threads, problems):
    diff = without_sqlite(end) - without_sqlite(base)
    if abs(diff) > FD_TOLERANCE:
        problems.append(f"idle descriptors other than SQLite's: {without_sqlite(end)} after the "
                        f"main phase vs {without_sqlite(base)} after the warm-up ({diff:+d})")
    db, wal = (end.get(k, 0) for k in SQLITE_FILES)
    if db != wal:
        problems.append(f"{db} descriptors of sharebox.db but {wal} of its WAL")
    if db > threads + 1:
        problems.append(f"{db} SQLite connections for {threads} threads")


def log_problems(server, problems):
    """Error-level lines of the server's log (JSON lines at --log-level warn); warnings are
    counted and shown but do not fail the run."""
    counts, errors, warnings = collections.Counter(), [], collections.Counter()
    with open(server.log_path) as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                counts["unparsed"] += 1
                errors.append(line.strip())
                continue
            level = entry.get("level", "?")
            counts[level] += 1
            if level in ("error", "critical"):
                errors.append(entry.get("msg", line.strip()))
            elif level == "warning" or level == "warn":
                warnings[re.sub(r"\b[0-9a-z]{26}\b", "ID", entry.get("msg", ""))[:120]] += 1
    if errors:
        problems.append(f"{len(errors)} error lines in the server log, e.g. {errors[:3]}")
    return counts, warnings


class Results:
    """Everything the run measured, for the checks and the summary."""

    def __init__(self):
        self.problems = []
        self.stats = None
        self.samples = []
        self.rss = {}
        self.fds = {}  # "before", "baseline", "end" -> Counter of descriptor classes
        self.threads = {}  # same keys -> threads of the server process
        self.subscribers = []
        self.elapsed = {}
        self.cpu = {}  # phase -> server CPU seconds
        self.main_window = (0, 0)  # monotonic start and end of the main phase
        self.sanitizer = None
        self.metrics_text = ""
        self.log_counts = collections.Counter()
        self.warnings = collections.Counter()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(args, r):
    p, stats, rss = print, r.stats, r.rss
    p("\n=== sharebox soak ===")
    p(f"connections {args.connections}, users {args.users}, duration {args.duration:.0f} s "
      f"(warm-up {args.warmup:.0f} s), events {args.events}, seed {args.seed}")
    main_s = r.elapsed["main"]
    p(f"requests: {stats.total} in {r.elapsed['warmup'] + main_s:.0f} s of load; main phase "
      f"{r.elapsed['main_requests']} in {main_s:.0f} s = "
      f"{r.elapsed['main_requests'] / max(main_s, 1e-9):.0f}/s; server CPU in the main phase "
      f"{r.cpu.get('main', 0):.0f} s ({r.cpu.get('main', 0) / max(main_s, 1e-9):.2f} cores)")
    p(f"HTTP workers opened {stats.connects} TCP connections in all (keep-alive; a new one "
      f"only after an answer with Connection: close)")
    lo, hi = r.main_window
    per_s = [stats.per_second[k] for k in range(int(lo) + 2, int(hi) - 1)]
    if per_s:
        p(f"requests per second in the main phase: min {min(per_s)}, median "
          f"{statistics.median(per_s):.0f}, max {max(per_s)}")
    p("\nby route and status:")
    routes = collections.defaultdict(dict)
    for (route, status), n in stats.by_route.items():
        routes[route][status] = n
    for route in sorted(routes):
        cells = ", ".join(f"{s}: {n}" for s, n in sorted(routes[route].items(), key=str))
        p(f"  {route:45} {cells}")
    p("\nexpected non-2xx answers:")
    for (route, status, reason), n in sorted(stats.expected.items(), key=str):
        p(f"  {n:7}  {status} {route}: {reason}")
    if stats.unexpected:
        p("\nUNEXPECTED answers:")
        for (route, status), n in sorted(stats.unexpected.items(), key=str):
            p(f"  {n:7}  {status} {route}")
    if stats.transport:
        p("\nTRANSPORT failures:", dict(stats.transport))
    p("\ncontent checks:", dict(stats.checks))
    p("intake verdicts (wanted/got):", {f"{w}/{g}": n for (w, g), n in stats.verdicts.items()})
    p("stream messages:", dict(stats.streams))
    held = [s for s in r.subscribers if s.held]
    p(f"held-open streams: {len(held)}, messages each: min "
      f"{min((s.received for s in held), default=0)}, "
      f"max {max((s.received for s in held), default=0)}")
    if rss:
        mib = lambda k: f"{k / 1024:.1f} MiB"
        p(f"\nVmRSS (main phase): start {mib(rss['first'])}, peak {mib(rss['peak'])}, end "
          f"{mib(rss['end'])}; max by third {mib(rss['max_first_third'])} / "
          f"{mib(rss['max_second_third'])} / {mib(rss['max_last_third'])} (allowed growth "
          f"{mib(rss['allowed_growth'])}); slope over the last two thirds "
          f"{rss['slope_kib_s']:+.1f} KiB/s; RssAnon at the end {mib(rss['anon_end'])}")
        if r.sanitizer:
            p(f"(built with {r.sanitizer}: memory growth reported, not checked)")
        curve = [s for s in r.samples if s[1] in ("warmup", "main")]
        step = max(1, len(curve) // 16)
        p("VmRSS curve (MiB, warm-up and main phase): " +
          " ".join(f"{s[2] / 1024:.0f}" for s in curve[::step]))
        p(f"descriptors during load: max {max(s[4] for s in curve)}, of which sockets "
          f"{max(s[5] for s in curve)} (client connections, listener, broker)")
    f = r.fds
    p(f"\nidle descriptors: before any load {sum(f['before'].values())}, after the warm-up "
      f"(baseline) {sum(f['baseline'].values())}, after the main phase "
      f"{sum(f['end'].values())}; without SQLite's: {without_sqlite(f['baseline'])} -> "
      f"{without_sqlite(f['end'])} (tolerance +/-{FD_TOLERANCE}); SQLite connections "
      f"{f['baseline'].get(SQLITE_FILES[0], 0)} -> {f['end'].get(SQLITE_FILES[0], 0)} "
      f"(at most {r.threads['end'] + 1}: threads + 1)")
    for k in sorted(set(f["baseline"]) | set(f["end"])):
        if f["baseline"].get(k, 0) != f["end"].get(k, 0):
            p(f"  {k}: {f['baseline'].get(k, 0)} -> {f['end'].get(k, 0)}")
    p(f"server log lines by level: {dict(r.log_counts)}")
    for msg, n in r.warnings.most_common(8):
        p(f"  warn x{n}: {msg}")
    published = metric_samples(r.metrics_text, "sharebox_outbox_published_total")
    if published:
        p(f"events published to the broker: {sum(published.values()):.0f}")
    p("stage times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r.elapsed.items()
                                      if k != "main_requests"))
    if stats.samples:
        p("\nfirst failures:")
        for s in stats.samples[:20]:
            p("  " + s)
    if r.problems:
        p("\nFAILED:")
        for pr in r.problems:
            p("  - " + pr)
    else:
        p("\nPASSED")


async def soak(args, server, data_dir, r):
    sampler = Sampler(server.pid)
    sampler_task = asyncio.ensure_future(sampler.run())
    users = await create_users(server, args.users)
    log(f"{len(users)} users created")
    model = Model(users)
    r.stats = stats = Stats()
    r.fds["before"], r.threads["before"] = await idle_descriptors(server, data_dir)

    sampler.phase = "warmup"
    t0 = time.monotonic()
    await run_phase(server, model, stats, args, args.warmup, 1)
    r.elapsed["warmup"] = time.monotonic() - t0
    sampler.phase = "idle"
    t0 = time.monotonic()
    r.fds["baseline"], r.threads["baseline"] = await idle_descriptors(server, data_dir)
    r.elapsed["idle after warm-up"] = time.monotonic() - t0
    log(f"warm-up done: {stats.total} requests; idle descriptors "
        f"{sum(r.fds['baseline'].values())}")

    sampler.phase = "main"
    before = stats.total
    cpu0 = cpu_seconds(server.pid)
    t0 = time.monotonic()
    r.subscribers = await run_phase(server, model, stats, args, args.duration - args.warmup, 2)
    r.elapsed["main"] = time.monotonic() - t0
    r.main_window = (t0, time.monotonic())
    r.cpu["main"] = cpu_seconds(server.pid) - cpu0
    r.elapsed["main_requests"] = stats.total - before
    sampler.phase = "end"
    log(f"main phase done: {stats.total} requests in all")
    t0 = time.monotonic()
    r.fds["end"], r.threads["end"] = await idle_descriptors(server, data_dir)
    r.metrics_text = await idle_checks(server, data_dir, args.events == "on", r.problems)
    r.elapsed["idle checks"] = time.monotonic() - t0
    sampler_task.cancel()
    r.samples = sampler.samples

    if stats.failures:
        r.problems.append(f"{stats.failures} failed requests or checks (see the first failures)")
    unexpected = sum(stats.unexpected.values())
    if unexpected:
        r.problems.append(f"{unexpected} unexpected answers")
    for s in r.subscribers:
        if s.held and s.received == 0:
            r.problems.append(f"held stream {s.name} received no message")
    # A sanitizer's runtime grows RSS by design (ASan's quarantine keeps freed memory up to
    # 256 MiB, shadow memory follows the heap): there, memory is reported, and leaks are
    # LeakSanitizer's to find.
    r.sanitizer = sanitizer_of(args.binary)
    r.rss = rss_verdict(sampler.samples, "main", r.problems, enforce=r.sanitizer is None)
    fd_verdict(r.fds["baseline"], r.fds["end"], r.threads["end"], r.problems)


def start_broker(state_dir):
    out = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "start-rabbitmq"), "--owner-pid",
                          str(os.getpid()), state_dir], stdout=subprocess.PIPE, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError("scripts/start-rabbitmq failed")
    return out.stdout.strip().splitlines()[-1]


def stop_broker(state_dir):
    """The broker and its data are thrown away: its Erlang VM (the pid it wrote) is killed at
    once rather than stopped cleanly, which takes up to a minute on a busy machine with the
    run's messages in its queue; scripts/stop-rabbitmq then ends the rest (epmd, the
    watcher)."""
    try:
        with open(os.path.join(state_dir, "rabbitmq.pid")) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    subprocess.run([os.path.join(SOURCE_DIR, "scripts", "stop-rabbitmq"), state_dir],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--duration", type=float, default=600, help="seconds of load in all")
    ap.add_argument("--warmup", type=float, help="seconds of the warm-up phase (default: 10%% "
                    "of --duration, between 10 and 60)")
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--events", choices=("on", "off"), default="on",
                    help="on: a private RabbitMQ receives the events")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--max-requests", type=int, default=None,
                    help="stop early after this many requests (default: 5000 per second of "
                    "--duration)")
    ap.add_argument("--request-timeout", type=float, default=120,
                    help="a request unanswered this long is a failure (hang detection, not a "
                    "latency limit)")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = ap.parse_args()
    if args.warmup is None:
        args.warmup = min(60.0, max(10.0, args.duration / 10))
    if args.duration < args.warmup + 15:
        ap.error("--duration must leave at least 15 s after the warm-up")
    if args.max_requests is None:
        args.max_requests = int(5000 * args.duration)
    if args.connections < 10:
        ap.error("--connections must be at least 10")

    tmp = tempfile.mkdtemp(prefix="sharebox-soak-")
    data_dir = os.path.join(tmp, "data")
    broker_dir = os.path.join(tmp, "rabbitmq")
    server = None
    status = 1
    r = Results()
    try:
        broker_url = None
        t0 = time.monotonic()
        if args.events == "on":
            log("starting a private RabbitMQ")
            broker_url = start_broker(broker_dir)
        server = Server(args.binary, data_dir, broker_url, os.path.join(tmp, "server.log"))
        r.elapsed["start"] = time.monotonic() - t0
        log(f"server pid {server.pid} on {server.url}, data in {data_dir}, seed {args.seed}")
        asyncio.run(soak(args, server, data_dir, r))
        log("load and checks done")
        r.log_counts, r.warnings = log_problems(server, r.problems)
        t0 = time.monotonic()
        code = server.stop()
        r.elapsed["server stop"] = time.monotonic() - t0
        if code != 0:
            r.problems.append(f"the server exited with {code} on SIGTERM")
        report(args, r)
        status = 1 if r.problems else 0
        if r.problems:
            print("\n---- end of the server log ----\n" + server.log_tail())
    finally:
        if server is not None:
            server.stop()
        if args.events == "on" and os.path.isdir(broker_dir):
            log("stopping the broker")
            stop_broker(broker_dir)
        log("done")
        if args.keep or status != 0:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
