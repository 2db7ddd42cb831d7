#!/usr/bin/python3
"""Validates docker-compose.yml as CI can without a Docker engine.

`docker-compose config -q` (Debian 12's docker-compose 1.29) rejects a file it would refuse to
run; then the normalized config is checked for what the deployment relies on and compose would
accept silently without: a health check on each service, sharebox starting only once the broker
is healthy and knowing its URL, and each service's state in a named volume.
Usage: compose_config.py COMPOSE_FILE
"""
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

import yaml  # python3-yaml, a dependency of docker-compose


def main(path):
    exe = shutil.which("docker-compose")
    if exe is None:
        return ["docker-compose not found (scripts/bootstrap --test installs it)"]
    # No parent .env or COMPOSE_* settings from the caller's environment may change the result.
    env = {"PATH": "/usr/bin:/bin"}
    check = subprocess.run([exe, "-f", path, "config", "-q"], env=env,
                           capture_output=True, text=True)
    if check.returncode != 0:
        return ["docker-compose config -q failed:\n" + check.stderr]
    out = subprocess.run([exe, "-f", path, "config"], env=env, capture_output=True, text=True,
                         check=True).stdout
    cfg = yaml.safe_load(out)
    services, volumes = cfg.get("services", {}), cfg.get("volumes") or {}
    errors = []
    for name in ("sharebox", "rabbitmq"):
        svc = services.get(name)
        if svc is None:
            errors.append(f"service {name} missing")
            continue
        if not (svc.get("healthcheck") or {}).get("test"):
            errors.append(f"{name}: no healthcheck")
        named = [v.split(":")[0] for v in svc.get("volumes", []) if isinstance(v, str)]
        if not any(v in volumes for v in named):
            errors.append(f"{name}: no named volume (volumes: {svc.get('volumes')})")
    sb = services.get("sharebox", {})
    if "build" not in sb:
        errors.append("sharebox: not built from the Dockerfile")
    cond = ((sb.get("depends_on") or {}).get("rabbitmq") or {}).get("condition")
    if cond != "service_healthy":
        errors.append(f"sharebox: depends_on rabbitmq condition is {cond!r}, not service_healthy")
    url = (sb.get("environment") or {}).get("RABBITMQ_URL", "")
    if urlsplit(url).hostname != "rabbitmq":
        errors.append(f"sharebox: RABBITMQ_URL {url!r} does not point at the rabbitmq service")
    rmq = services.get("rabbitmq", {})
    if not str(rmq.get("image", "")).startswith("rabbitmq:3-management"):
        errors.append("rabbitmq: not the rabbitmq:3-management image")
    if not any(p.get("target") == 15672 for p in rmq.get("ports", []) if isinstance(p, dict)):
        errors.append("rabbitmq: management UI port 15672 not published")
    return errors


if __name__ == "__main__":
    problems = main(sys.argv[1])
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print("docker-compose config: OK")
    sys.exit(1 if problems else 0)
