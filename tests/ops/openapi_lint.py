#!/usr/bin/python3
"""Lints docs/openapi.yaml with @redocly/cli, as pinned by docs/package-lock.json.

    openapi_lint.py NPX DOCS_DIR

docs/redocly.yaml is the configuration (recommended-strict: warnings are errors too) and
docs/.redocly.lint-ignore.yaml lists the deliberate exceptions. The linter comes from
docs/node_modules (`npm ci` in docs/, which scripts/test runs); nothing is downloaded here.
"""
import os
import pathlib
import subprocess
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    npx, docs = sys.argv[1], pathlib.Path(sys.argv[2])
    if not (docs / "node_modules" / ".bin" / "redocly").exists():
        sys.exit(f"{docs}/node_modules has no redocly: run `npm ci` in docs/ (scripts/test does)")
    env = dict(os.environ, REDOCLY_SUPPRESS_UPDATE_NOTICE="true", REDOCLY_TELEMETRY="off")
    result = subprocess.run(
        [npx, "--no-install", "redocly", "lint", "--format=codeframe", "openapi.yaml"],
        cwd=docs,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    print(result.stdout)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
