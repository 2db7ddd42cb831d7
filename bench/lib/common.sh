# Shared helpers for bench/run: logging, packages, build, temp dir and cleanup, pinning, results.
# Sourced by bench/run; every function here is safe under `set -euo pipefail`.

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# --- packages -------------------------------------------------------------------------------
# Same check as scripts/bootstrap: install only what dpkg does not report as installed.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing ${missing[*]}"
  # nginx is only ever run by this script, with its own config: keep the package's service from
  # starting during the install (policy-rc.d, the Debian mechanism), and disable it afterwards.
  local made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local rc=0
  { $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; } || rc=$?
  [ -n "$made_policy" ] && $sudo rm -f /usr/sbin/policy-rc.d
  if [[ " ${missing[*]} " == *" nginx"* ]] && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  return $rc
}

# --- build ----------------------------------------------------------------------------------
# Release build in build-bench/ (warnings are errors, as in every other build).
build_sharebox() {
  "$REPO/scripts/bootstrap"
  log "building sharebox (Release) in build-bench/"
  cmake -S "$REPO" -B "$REPO/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHAREBOX_WERROR=ON \
    -DSHAREBOX_TESTS=OFF >/dev/null
  cmake --build "$REPO/build-bench" --target sharebox | grep -v '^\[' >&2 || true
  [ -x "$REPO/build-bench/sharebox" ] || die "build failed"
  SHAREBOX_BIN="$REPO/build-bench/sharebox"
}

# prime_memory: writes and deletes 1.25 GiB of scratch just before a measured upload.
# This VM hands memory that has been free for about a second back to its hypervisor
# (virtio-balloon free page reporting, /sys/module/page_reporting); the first write to such a
# page then faults in the host. A 1 GiB write into the page cache took 3.5 s on memory freed
# 3 s earlier and 0.26 s on memory freed 0.2 s earlier (BENCHMARKS.md, "Memory the host took
# back"), which swamped every upload figure. Each measured upload and each write anchor runs
# right after this, so all of them write into recently freed memory, as on a busy server whose
# page cache recycles its own pages. BENCH_PRIME=0 turns it off.
prime_memory() {
  [ "${BENCH_PRIME:-1}" = 1 ] || return 0
  local f="$TMP/prime-memory.bin"
  "${SERVER_PIN[@]}" dd if=/dev/zero of="$f" bs=1M count=1280 status=none
  rm -f "$f"
}

# --- temp dir, background processes, cleanup ------------------------------------------------
BG_PIDS=()
TMP=""
make_tmp() {
  TMP=$(mktemp -d /tmp/sharebox-bench.XXXXXX)
  chmod 755 "$TMP"   # nginx workers (user nobody) must reach their root inside it
}
cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${BG_PIDS[@]}"; do
    local i
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  BG_PIDS=()
  # Keep the servers' last log lines for diagnosis (sharebox logs one line per request).
  if [ -n "$TMP" ] && [ -n "${RAW_DIR:-}" ] && [ -d "$RAW_DIR" ]; then
    [ -f "$TMP/sharebox/stderr" ] && tail -n 200 "$TMP/sharebox/stderr" > "$RAW_DIR/sharebox-log-tail.txt"
    [ -f "$TMP/nginx/error.log" ] && tail -n 200 "$TMP/nginx/error.log" > "$RAW_DIR/nginx-error-log-tail.txt"
  fi
  [ -n "$TMP" ] && rm -rf "$TMP"
  TMP=""
}
install_traps() {
  trap cleanup EXIT
  trap 'log "interrupted"; exit 130' INT
  trap 'exit 143' TERM
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# --- pinning --------------------------------------------------------------------------------
# BENCH_PIN=1 (default): servers on core 0, load generators on core 1. BENCH_PIN=0: no pinning.
setup_pinning() {
  local n; n=$(nproc)
  if [ "${BENCH_PIN:-1}" = "1" ] && [ "$n" -ge 2 ]; then
    SERVER_PIN=(taskset -c 0); CLIENT_PIN=(taskset -c 1); SERVER_CORES=1
    PIN_DESC="servers on core 0, load generator on core 1 (taskset)"
  else
    SERVER_PIN=(); CLIENT_PIN=(); SERVER_CORES=$n
    PIN_DESC="no pinning (servers and load generator share all $n cores)"
  fi
}

# --- results --------------------------------------------------------------------------------
# result_add ID TITLE METRIC UNIT SHAREBOX ANCHOR ANCHOR_NAME KIND TARGET [key=value ...]
#   KIND ratio: met when SHAREBOX/ANCHOR >= TARGET (higher is better)
#   KIND max:   met when SHAREBOX <= TARGET (absolute; ANCHOR may be "-")
#   KIND min:   met when SHAREBOX >= TARGET (absolute)
#   KIND report: figure only, no target
# Extra key=value pairs land in the scenario's "extra" object in latest.json.
result_add() {
  local IFS=$'\t'
  printf '%s\n' "$*" >> "$RESULTS_TSV"
}

# Raw tool output kept next to the report, for diagnosis.
save_raw() { cat > "$RAW_DIR/$1"; }
join_comma() { local IFS=,; echo "$*"; }
