# Helpers for scenarios that need bench/tools: the C++ tools (built from the project's CMake into
# build-bench/bench/tools, not part of `all`) and the Node clients (npm packages in bench/).

# build_bench_tool TARGET -> prints the tool's path (builds it first; ninja makes it a no-op
# when nothing changed).
build_bench_tool() {
  cmake --build "$REPO/build-bench" --target "$1" | grep -v '^\[' >&2 || true
  [ -x "$REPO/build-bench/bench/tools/$1" ] || die "could not build bench tool $1"
  printf '%s\n' "$REPO/build-bench/bench/tools/$1"
}

# Installs bench/package.json's packages (exact versions from package-lock.json) when missing.
need_node_modules() {
  [ -d "$BENCH_DIR/node_modules" ] && return 0
  log "installing bench/ npm packages (npm ci)"
  (cd "$BENCH_DIR" && npm ci --no-audit --no-fund >&2) || die "npm ci in bench/ failed"
}

# percentile_of P VALUE... -> the P-th percentile (linear interpolation) of the values
percentile_of() {
  local p=$1; shift
  printf '%s\n' "$@" | sort -g | awk -v p="$p" '{a[NR]=$1} END{
    r=p/100*(NR-1); lo=int(r); hi=(lo+1<NR)?lo+1:lo; printf "%.3f\n", a[lo+1]+(a[hi+1]-a[lo+1])*(r-lo) }'
}
