# Node tools of the suite (bench/tools/*.mjs) and their npm packages (bench/package.json,
# pinned by bench/package-lock.json). Sourced by the scenario files that use them.

# need_node_modules: `npm ci` in bench/ when node_modules is missing or older than the lock file.
need_node_modules() {
  local stamp="$BENCH_DIR/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ ! "$BENCH_DIR/package-lock.json" -nt "$stamp" ]; then return 0; fi
  log "installing the suite's npm packages (npm ci in bench/)"
  (cd "$BENCH_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in bench/"
}

# json_get JSON PATH -> prints the value at PATH (dot-separated keys), empty when absent.
json_get() {
  node -e 'let v=JSON.parse(process.argv[1]); for (const k of process.argv[2].split(".")) v=v==null?v:v[k];
    if (v!==undefined && v!==null) console.log(v)' "$1" "$2"
}
