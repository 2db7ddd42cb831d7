# Helpers for scenarios that need the C++ tools of bench/tools (built from the project's CMake
# into build-bench/bench/tools, not part of `all`). Node packages: lib/node.sh.

# build_bench_tool TARGET -> prints the tool's path (builds it first; ninja makes it a no-op
# when nothing changed).
build_bench_tool() {
  cmake --build "$REPO/build-bench" --target "$1" | grep -v '^\[' >&2 || true
  [ -x "$REPO/build-bench/bench/tools/$1" ] || die "could not build bench tool $1"
  printf '%s\n' "$REPO/build-bench/bench/tools/$1"
}

# percentile_of P VALUE... -> the P-th percentile (linear interpolation) of the values
percentile_of() {
  local p=$1; shift
  printf '%s\n' "$@" | sort -g | awk -v p="$p" '{a[NR]=$1} END{
    r=p/100*(NR-1); lo=int(r); hi=(lo+1<NR)?lo+1:lo; printf "%.3f\n", a[lo+1]+(a[hi+1]-a[lo+1])*(r-lo) }'
}
