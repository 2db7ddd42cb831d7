#!/usr/bin/python3
"""`cmake --install` gives a server that runs from anywhere, as the Docker image uses it.

Installs the build into a temp prefix, starts `PREFIX/bin/sharebox serve` from `/` (so nothing
can come from the source or build tree: migrations and the web app must be in the binary), waits
for its ready line, checks GET /health and the app page, runs the Dockerfile's own HEALTHCHECK
command against it (which must pass now and fail once the server is gone), and stops it with
SIGTERM, which must end it cleanly.
Usage: install_smoke.py CMAKE_COMMAND BUILD_DIR DOCKERFILE
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.request

from server_output import READY, fail, read_stdout


def wait_ready(proc, timeout):
    """The URL from the ready line on stdout, or None once TIMEOUT passes or the server exits."""

    def visit(line):
        print("server:", line.rstrip())
        return m.group(1) if (m := READY.search(line)) else None

    return read_stdout(proc, timeout, visit)


def healthcheck_command(dockerfile, port):
    """The Dockerfile's HEALTHCHECK (shell form), aimed at PORT instead of the image's 8000."""
    text = open(dockerfile).read().replace("\\\n", " ")
    m = re.search(r"^HEALTHCHECK\s.*?\bCMD\s+(.+)$", text, re.M)
    if not m:
        fail(f"no HEALTHCHECK ... CMD in {dockerfile}")
    cmd = m.group(1).strip()
    if "/dev/tcp/127.0.0.1/8000" not in cmd:
        fail(f"HEALTHCHECK does not probe 127.0.0.1:8000 as this test expects: {cmd}")
    return cmd.replace("/dev/tcp/127.0.0.1/8000", f"/dev/tcp/127.0.0.1/{port}")


def main(cmake, build_dir, dockerfile):
    # Removed on every exit, failures included (fail() raises SystemExit): it holds a copy of
    # the binary.
    with tempfile.TemporaryDirectory(prefix="sharebox-install-") as tmp:
        run(cmake, build_dir, dockerfile, tmp)
    print("install smoke: OK")


def run(cmake, build_dir, dockerfile, tmp):
    prefix, data = os.path.join(tmp, "prefix"), os.path.join(tmp, "data")
    subprocess.run([cmake, "--install", build_dir, "--prefix", prefix], check=True,
                   stdout=subprocess.DEVNULL)
    binary = os.path.join(prefix, "bin", "sharebox")
    if not os.access(binary, os.X_OK):
        fail(f"cmake --install did not install {binary}")
    # A clean environment: no SHAREBOX_*/RABBITMQ_* settings of the caller; events off so that
    # no broker another test runs on this machine is contacted.
    env = {"PATH": "/usr/bin:/bin", "HOME": tmp}
    stderr = open(os.path.join(tmp, "stderr.log"), "w+")
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
                             "--events", "off"], cwd="/", env=env, stdout=subprocess.PIPE,
                            stderr=stderr, text=True)
    try:
        url = wait_ready(proc, 10)
        if url is None:
            stderr.seek(0)
            fail("no 'listening on' line within 10 s; stderr:\n" + stderr.read())
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            body = r.read().decode()
            if r.status != 200:
                fail(f"GET /health: {r.status} {body}")
            print("GET /health:", r.status, body[:200].strip())
        with urllib.request.urlopen(url + "/", timeout=5) as r:
            if r.status != 200 or "text/html" not in r.headers.get("Content-Type", ""):
                fail(f"GET /: {r.status} {r.headers.get('Content-Type')}")
        check = healthcheck_command(dockerfile, url.rsplit(":", 1)[1])
        if subprocess.run(["/bin/sh", "-c", check], timeout=5).returncode != 0:
            fail(f"the Dockerfile's HEALTHCHECK fails against a healthy server: {check}")
        print("Dockerfile HEALTHCHECK: passes")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        if code != 0:
            fail(f"exit status {code} after SIGTERM")
        print("SIGTERM: exited 0")
        if subprocess.run(["/bin/sh", "-c", check], timeout=5,
                          stderr=subprocess.DEVNULL).returncode == 0:
            fail("the Dockerfile's HEALTHCHECK passes with no server running")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main(*sys.argv[1:4])
