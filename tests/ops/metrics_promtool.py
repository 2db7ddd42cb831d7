#!/usr/bin/python3
"""GET /metrics after a representative workload passes `promtool check metrics` without a word.

Starts `sharebox serve` on loopback with a broker address where nothing listens (so events wait
in the outbox and publishing fails), drives an upload, downloads, a 404, a chunked upload, an
open tus upload, an image intake verdict over a WebSocket and an SSE stream, then scrapes
/metrics, runs Prometheus' own linter on it (Debian's `prometheus` package) and checks that the
key series are there with plausible values, and that the connection and stream gauges come back
down once the clients have left.
Usage: metrics_promtool.py SHAREBOX_BINARY
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from server_output import READY, fail, read_stdout

ADMIN_KEY = re.compile(r"initial admin API key: (\S+)")
# Loopback, port 1: refused at once; never a broker someone else runs.
NO_BROKER = "amqp://guest:guest@127.0.0.1:1/"


def wait_ready(proc, timeout):
    """(url, admin key) from the server's stdout, or (None, None) after TIMEOUT."""
    key = None

    def visit(line):
        nonlocal key
        if m := ADMIN_KEY.search(line):
            key = m.group(1)
        return m.group(1) if (m := READY.search(line)) else None

    url = read_stdout(proc, timeout, visit)
    return (url, key) if url else (None, None)


class client:
    def __init__(self, url, key):
        self.url, self.key = url, key
        self.host, self.port = url.split("//")[1].split(":")
        self.port = int(self.port)

    def call(self, method, path, body=None, headers=None, auth=True):
        h = dict(headers or {})
        if auth:
            h["Authorization"] = "Bearer " + self.key
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def expect(self, status, method, path, body=None, headers=None, auth=True):
        got, data, hdrs = self.call(method, path, body, headers, auth)
        if got != status:
            fail(f"{method} {path}: {got} (wanted {status}) {data[:300]!r}")
        return data, hdrs

    def scrape(self):
        data, hdrs = self.expect(200, "GET", "/metrics", auth=False)
        ctype = hdrs.get("Content-Type")
        if ctype != "text/plain; version=0.0.4; charset=utf-8":
            fail(f"GET /metrics: Content-Type {ctype}")
        return data.decode()

    def connect(self, path, upgrade):
        """A raw connection that sent GET PATH (a WebSocket upgrade or an SSE request)."""
        s = socket.create_connection((self.host, self.port), timeout=10)
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Authorization: Bearer " + self.key]
        if upgrade:
            lines += ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                      "Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode()]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                fail(f"GET {path}: connection closed during the response header")
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if not status.startswith(b"HTTP/1.1 101" if upgrade else b"HTTP/1.1 200"):
            fail(f"GET {path}: {status!r}")
        return s, rest


# --- a minimal WebSocket client: text frames only (RFC 6455) ---

def ws_send(s, text):
    payload, mask = text.encode(), os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x81, 0x80 | n])
    else:
        head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def ws_recv(s, buf):
    """(text of the next text message, rest of the buffer); server frames are unmasked."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                fail("WebSocket closed by the server")
            buf += chunk

    while True:
        need(2)
        opcode, n, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if n == 126:
            need(4)
            n, at = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            need(10)
            n, at = int.from_bytes(buf[2:10], "big"), 10
        need(at + n)
        payload, buf = buf[at:at + n], buf[at + n:]
        if opcode == 1:
            return payload.decode(), buf


def series(text, name):
    """{labels text: value} of every sample of NAME."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$", line)
        if not m:
            fail(f"unparsable sample line: {line!r}")
        if m.group(1) == name:
            out[m.group(2) or ""] = float(m.group(3))
    return out


def value(text, name, labels=""):
    v = series(text, name).get(labels)
    if v is None:
        fail(f"no sample {name}{labels} in:\n{text}")
    return v


def workload(c):
    """Drives one of everything /metrics reports on; returns the open streams to close later."""
    body = b"x" * 4096
    data, _ = c.expect(201, "POST", "/files?name=a.bin", body)
    fid = json.loads(data)["id"]
    for _ in range(3):
        c.expect(200, "GET", "/files/" + fid)
    c.expect(404, "GET", "/files/" + "a" * 26)
    c.expect(404, "GET", "/no-such-route")

    data, _ = c.expect(201, "POST", "/v1/uploads/init", b'{"filename":"c.bin","size":10}',
                       {"Content-Type": "application/json"})
    up = "/v1/uploads/" + json.loads(data)["upload_id"]
    c.expect(200, "PUT", up + "/chunks/0", b"0123456789")
    c.expect(201, "POST", up + "/complete")
    # Left open: a resumable upload in the database.
    c.expect(201, "POST", "/tus/", b"", {"Tus-Resumable": "1.0.0", "Upload-Length": "100"})

    ws, buf = c.connect("/ws/intake", upgrade=True)
    hello, buf = ws_recv(ws, buf)
    if json.loads(hello).get("type") != "session":
        fail(f"/ws/intake: first message {hello}")
    ws_send(ws, json.dumps({"type": "file", "client_file_id": "f1", "name": "big.jpg",
                            "size": 1 << 30}))
    verdict, buf = ws_recv(ws, buf)
    if json.loads(verdict).get("code") != "too_large":
        fail(f"/ws/intake: verdict {verdict}")

    sse, rest = c.connect("/events", upgrade=False)
    while b": stream open" not in rest:
        rest += sse.recv(4096)
    return [ws, sse]


def main(binary):
    promtool = shutil.which("promtool")
    if not promtool:
        fail("promtool not found: install Debian's prometheus package (scripts/bootstrap --test)")
    with tempfile.TemporaryDirectory(prefix="sharebox-metrics-") as tmp:
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp}
        stderr = open(os.path.join(tmp, "stderr.log"), "w+")
        proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(tmp, "data"),
             "--rabbitmq-url", NO_BROKER, "--log-level", "warn"],
            env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            url, key = wait_ready(proc, 20)
            if url is None or key is None:
                stderr.seek(0)
                fail("no admin key and 'listening on' line within 20 s; stderr:\n" + stderr.read())
            check(client(url, key), promtool)
            proc.send_signal(signal.SIGTERM)
            if proc.wait(timeout=15) != 0:
                fail(f"exit status {proc.returncode} after SIGTERM")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print("metrics: OK")


DL = '{route="/files/{id}",method="GET"'
# (series, labels, plausible?) after workload().
EXPECTATIONS = [
    ("sharebox_http_requests_total", DL + ',status="200"}', lambda v: v == 3),
    ("sharebox_http_requests_total", DL + ',status="404"}', lambda v: v == 1),
    ("sharebox_http_requests_total", '{route="unmatched",method="GET",status="404"}',
     lambda v: v == 1),
    ("sharebox_http_requests_total",
     '{route="/v1/uploads/{id}/chunks/{index}",method="PUT",status="200"}', lambda v: v == 1),
    ("sharebox_http_request_duration_seconds_count", DL + "}", lambda v: v == 4),
    ("sharebox_http_response_bytes_total", DL + "}", lambda v: v >= 3 * 4096),
    ("sharebox_http_request_bytes_total", '{route="/files",method="POST"}',
     lambda v: v >= 4096),
    ("sharebox_open_websockets", '{route="/ws/intake"}', lambda v: v == 1),
    ("sharebox_open_sse_streams", '{route="/events"}', lambda v: v == 1),
    ("sharebox_image_verdicts_total", '{code="too_large"}', lambda v: v == 1),
    ("sharebox_resumable_uploads_open", '{protocol="tus"}', lambda v: v == 1),
    ("sharebox_resumable_uploads_open", '{protocol="chunked"}', lambda v: v == 0),
    ("sharebox_outbox_backlog", "", lambda v: v >= 2),  # two files made, no broker
    ("sharebox_outbox_published_total", "", lambda v: v == 0),
    ("sharebox_broker_connected", "", lambda v: v == 0),
    ("sharebox_sqlite_commit_duration_seconds_count", "", lambda v: v >= 3),
    # This scrape, a WebSocket and SSE; a client connection that just closed may linger.
    ("sharebox_open_connections", "", lambda v: v >= 3),
    ("process_open_fds", "", lambda v: v > 0),
    ("process_start_time_seconds", "", lambda v: abs(v - time.time()) < 600),
]


def check(c, promtool):
    streams = workload(c)
    # A request is counted just after its response is sent: scrape until the workload is in.
    deadline = time.monotonic() + 10
    while True:
        text = c.scrape()
        got = [(name, labels, series(text, name).get(labels), ok)
               for name, labels, ok in EXPECTATIONS]
        wrong = [(name, labels, v) for name, labels, v, ok in got if v is None or not ok(v)]
        if not wrong or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)
    if lint.returncode != 0 or lint.stdout.strip() or lint.stderr.strip():
        fail(f"promtool check metrics (exit {lint.returncode}):\n{lint.stdout}{lint.stderr}\n"
             f"--- scraped:\n{text}")
    print(f"promtool check metrics: clean ({len(text.splitlines())} lines)")

    for name, labels, v in wrong:
        fail(f"implausible {name}{labels} = {v}")
    for name, labels, _ in EXPECTATIONS:
        print(f"  {name}{labels} = {series(text, name)[labels]:g}")
    if not any(k.startswith('{version="') for k in series(text, "sharebox_build_info")):
        fail("no sharebox_build_info{version=...}")

    # The relay keeps trying the missing broker: failures show within its first attempts.
    deadline = time.monotonic() + 10
    while value(c.scrape(), "sharebox_outbox_publish_failures_total") < 1:
        if time.monotonic() > deadline:
            fail("sharebox_outbox_publish_failures_total stayed 0 without a broker")
        time.sleep(0.2)

    for s in streams:
        s.close()
    deadline = time.monotonic() + 10
    while True:
        text = c.scrape()
        now = (value(text, "sharebox_open_connections"),
               value(text, "sharebox_open_websockets", '{route="/ws/intake"}'),
               value(text, "sharebox_open_sse_streams", '{route="/events"}'))
        if now == (1, 0, 0):
            break
        if time.monotonic() > deadline:
            fail(f"gauges not back down after the clients left: connections, websockets, sse = "
                 f"{now}")
        time.sleep(0.1)
    print("  open connections and streams back to their baseline")


if __name__ == "__main__":
    main(sys.argv[1])
