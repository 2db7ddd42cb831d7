#!/usr/bin/python3
"""Checks that the Dockerfile's runtime stage installs every shared library the binary needs.

The image cannot be built in CI (no Docker engine), so this reads the real binary instead:
every library `ldd` resolves (plus libvips's dlopen'ed loader modules, e.g. HEIF, which ldd
cannot see) is mapped to its Debian package with `dpkg -S`, then
  - a package of a library the binary links directly (ELF NEEDED) must be named in the runtime
    stage's `apt-get install`: the binary's own needs must not hang on another package's
    dependencies;
  - a package of an indirect library must be named there too or be a hard dependency
    (Depends/Pre-Depends, recursively, as `apt-get install --no-install-recommends` follows them)
    of a named one.
BASE_IMAGE packages need not be named: they are in debian:12-slim, because apt (priority
required, present in every Debian image, slim included) depends on all three, and every
other package depends on libc6.
Usage: runtime_libs.py SHAREBOX_BINARY DOCKERFILE
"""
import glob
import os
import re
import shlex
import subprocess
import sys

BASE_IMAGE = {"libc6", "libgcc-s1", "libstdc++6"}


def runtime_install_list(dockerfile):
    """Package names of `apt-get install` in the last stage (the runtime image)."""
    # Whole-line comments first (Docker drops them, even inside a continued RUN), then join the
    # continued lines so that each instruction is one line.
    lines = [ln for ln in open(dockerfile).read().splitlines() if not ln.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    stages = re.split(r"^\s*FROM\s", text, flags=re.M | re.I)
    packages = set()
    for line in stages[-1].splitlines():
        if not re.match(r"\s*RUN\s", line, re.I):
            continue
        words = shlex.split(line)
        for i, w in enumerate(words):
            if w == "install" and i > 0 and words[i - 1] in ("apt-get", "apt"):
                for arg in words[i + 1:]:
                    if arg in ("&&", ";", "||", "|"):
                        break
                    if not arg.startswith("-"):
                        packages.add(arg)
    return packages


def needed(binary):
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                         check=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out))


def resolved_libs(binary):
    """{soname: path} as the dynamic loader resolves them; fails on 'not found'."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            if m.group(2) == "not":
                sys.exit(f"FAIL: ldd cannot resolve {m.group(1)} for {binary}")
            libs[m.group(1)] = m.group(2)
    return libs


def owners(paths):
    """{path: package} from one dpkg -S call. Debian 12 is merged-/usr, so a library ldd finds
    in /lib may be registered as /usr/lib (or the reverse), and ldd may report a symlink."""
    variants = {}
    for p in paths:
        for v in {p, os.path.realpath(p)}:
            variants[v] = p
            variants[v[4:] if v.startswith("/usr/") else "/usr" + v] = p
    out = subprocess.run(["dpkg", "-S", *variants], capture_output=True, text=True).stdout
    result = {}
    for line in out.splitlines():
        m = re.match(r"([^:\s,]+)(?::[a-z0-9]+)?: (/.*)$", line)
        if m and m.group(2) in variants:
            result[variants[m.group(2)]] = m.group(1)
    return result


def depends_closure(packages):
    """The packages apt installs for PACKAGES without recommends (hard dependencies only)."""
    out = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *sorted(packages)],
        capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"FAIL: apt-cache depends: {out.stderr.strip()}")
    return {line.split(":")[0] for line in out.stdout.splitlines()
            if line and not line[0].isspace() and not line.startswith("<")}


def main(binary, dockerfile):
    listed = runtime_install_list(dockerfile)
    if not listed:
        return [f"no apt-get install list found in the last stage of {dockerfile}"]
    libs = resolved_libs(binary)
    direct = needed(binary)
    # libvips loads some image loaders (HEIF among them) as modules at run time.
    modules = []
    if "libvips.so.42" in libs:
        vips_dir = os.path.dirname(os.path.realpath(libs["libvips.so.42"]))
        for module in glob.glob(os.path.join(vips_dir, "vips-modules-*", "*.so")):
            modules.append(module)
            libs.update(resolved_libs(module))
    pkg_of = owners(list(libs.values()) + modules)
    errors = [f"{path}: no Debian package owns it" for path in list(libs.values()) + modules
              if path not in pkg_of]
    closure = depends_closure(listed)
    for soname, path in sorted(libs.items()):
        pkg = pkg_of.get(path)
        if pkg is None or pkg in BASE_IMAGE:
            continue
        if soname in direct and pkg not in listed:
            errors.append(f"{soname} (linked directly) is in package {pkg}, "
                          "not in the runtime stage's apt-get install list")
        elif pkg not in closure:
            errors.append(f"{soname} is in package {pkg}, which the runtime stage's "
                          "apt-get install list does not bring in")
    for module in modules:
        if pkg_of.get(module) not in closure | BASE_IMAGE:
            errors.append(f"{module} ({pkg_of.get(module)}) is not installed by the list")
    print(f"{len(libs)} libraries ({len(direct)} direct, {len(modules)} vips modules) from "
          f"{len(set(pkg_of.values()))} packages; runtime stage installs {sorted(listed)}")
    return errors


if __name__ == "__main__":
    problems = main(sys.argv[1], sys.argv[2])
    for p in problems:
        print("FAIL:", p)
    sys.exit(1 if problems else 0)
