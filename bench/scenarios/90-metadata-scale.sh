# Issue 6, scenario 9: scale of metadata. A data dir with 100,000 files (real blobs on disk) and
# 10,000 shares, populated by bench/tools/seed_metadata through the server's own storage layer
# (schema from the migrations, rows through sqlite_store): alice owns 90,000 files, 10,000 of
# them (spread over her whole history) are shared with bob, who owns about 1,100 himself; eight
# more users own the rest.
#   S9a: start to ready: spawn of `sharebox serve` to the first `GET /health` 200, median of
#        BENCH_S9_STARTS starts (default 9), each stopped before the next; target <= 500 ms.
#   S9b: paged GET /files as alice (owner of many files), S9c: as bob (own files merged with
#        files shared with him): every page's URL is collected by following the Link chain
#        (default page size, 100), then wrk cycles through them (first page to the deepest),
#        BENCH_S9_CONNS connections (default 1: the latency of one client paging; with 4 on one
#        server core, p99 is mostly queueing behind the other 3); target p99 <= 5 ms.
# Environment: BENCH_S9_FILES, BENCH_S9_SHARES (defaults 100000, 10000).

ALL_SCENARIOS+=(S9a S9b S9c)

S9_DIR=""; S9_URL=""; S9_PID=""
declare -A S9_KEY=()
s9_seed() {
  [ -n "$S9_DIR" ] && return 0
  local tool files=${BENCH_S9_FILES:-100000} shares=${BENCH_S9_SHARES:-10000} t0 t1
  tool=$(build_bench_tool seed_metadata)
  S9_DIR="$TMP/s9"
  mkdir -p "$S9_DIR"
  t0=$(date +%s.%N)
  "$tool" "$S9_DIR/data" "$files" "$shares" > "$S9_DIR/keys.txt" 2> "$S9_DIR/seed.log" \
    || { cat "$S9_DIR/seed.log" >&2; die "seeding failed"; }
  t1=$(date +%s.%N)
  local user key
  while read -r user key; do S9_KEY[$user]=$key; done < "$S9_DIR/keys.txt"
  log "S9: $(cat "$S9_DIR/seed.log") ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s)"
}

s9_serve_args() {
  printf '%s\n' serve --listen "127.0.0.1:$1" --data-dir "$S9_DIR/data" --events off \
    --shutdown-timeout 2 --log-level warn
  [ "${#SERVER_PIN[@]}" -gt 0 ] && printf '%s\n' --threads "$SERVER_CORES"
  return 0
}

# A server on the seeded data dir, kept for S9b/S9c.
s9_need_server() {
  [ -n "$S9_URL" ] && return 0
  s9_seed
  local port args
  port=$(free_port)
  mapfile -t args < <(s9_serve_args "$port")
  "${SERVER_PIN[@]}" "$SHAREBOX_BIN" "${args[@]}" >"$S9_DIR/stdout" 2>"$S9_DIR/stderr" &
  S9_PID=$!
  BG_PIDS+=("$S9_PID")
  S9_URL="http://127.0.0.1:$port"
  local i
  for i in $(seq 100); do
    curl -sf -o /dev/null "$S9_URL/health" && break
    kill -0 "$S9_PID" 2>/dev/null || { cat "$S9_DIR/stderr" >&2; die "sharebox (S9) exited at start"; }
    sleep 0.1
  done
  # The orphan-blob sweep runs in the background after start: let it finish before measuring.
  sleep 2
}

scenario_S9a() {
  s9_seed
  local runs=${BENCH_S9_STARTS:-9} port args out
  port=$(free_port)
  mapfile -t args < <(s9_serve_args "$port")
  # One start first, so the binary and the database are in page cache like the data is.
  node "$BENCH_DIR/tools/start_to_ready.mjs" "$port" 1 "${SERVER_PIN[@]}" "$SHAREBOX_BIN" \
    "${args[@]}" >/dev/null
  out=$(node "$BENCH_DIR/tools/start_to_ready.mjs" "$port" "$runs" "${SERVER_PIN[@]}" \
    "$SHAREBOX_BIN" "${args[@]}")
  printf '%s\n' "$out" | save_raw S9a-start.json
  log "S9a: $out"
  local j='const o=JSON.parse(process.argv[1]); console.log(o[process.argv[2]])'
  result_add S9a "start to ready: 100k files, 10k shares (median of $runs starts)" \
    "exec -> GET /health 200" "ms" "$(node -e "$j" "$out" median_ms)" - - max 500 \
    "max_ms=$(node -e "$j" "$out" max_ms)" "min_ms=$(node -e "$j" "$out" min_ms)" \
    "runs_ms=$(node -e 'console.log(JSON.parse(process.argv[1]).runs_ms.join(","))' "$out")" \
    "statistic=median"
}

# s9_pages ID USER TITLE: walk USER's listing, then wrk over all of its pages.
s9_pages() {
  local id=$1 user=$2 title=$3
  s9_need_server
  local key=${S9_KEY[$user]} summary
  node "$BENCH_DIR/tools/walk_pages.mjs" "$S9_URL" "$key" > "$S9_DIR/$user-pages.txt" \
    2> "$S9_DIR/$user-walk.json" || { cat "$S9_DIR/$user-walk.json" >&2; die "walking $user's pages failed"; }
  summary=$(cat "$S9_DIR/$user-walk.json")
  log "$id: $user's listing: $summary"
  # wrk cycles through every page, first to deepest, each connection from its own offset.
  {
    echo 'local paths = {'
    sed 's/.*/  "&",/' "$S9_DIR/$user-pages.txt"
    echo '}'
    echo 'local i = 0'
    echo 'setup = function(thread) end'
    echo 'init = function() i = math.random(#paths) end'
    echo 'request = function() i = i % #paths + 1; return wrk.format("GET", paths[i]) end'
  } > "$S9_DIR/$user-pages.lua"
  local conns=${BENCH_S9_CONNS:-1} auth=(-H "Authorization: Bearer $key")
  run_wrk "$id-warmup" "$conns" 2s "$S9_URL/files" "${auth[@]}" -s "$S9_DIR/$user-pages.lua"
  run_wrk "$id" "$conns" "$BENCH_DURATION" "$S9_URL/files" "${auth[@]}" -s "$S9_DIR/$user-pages.lua"
  local j='const o=JSON.parse(process.argv[1]); console.log(o[process.argv[2]])'
  result_add "$id" "$title" "latency p99" "ms" "$WRK_P99_MS" - - max 5 \
    "p50_ms=$WRK_P50_MS" "rps=$WRK_RPS" "errors=$((WRK_NON2XX + WRK_SOCKERR))" \
    "pages=$(node -e "$j" "$summary" pages)" "items=$(node -e "$j" "$summary" items)" \
    "shared_items=$(node -e "$j" "$summary" shared)" "walk_ms=$(node -e "$j" "$summary" walk_ms)" \
    "client=wrk -t1 -c$conns -d$BENCH_DURATION over every page (limit 100)"
}

scenario_S9b() {
  s9_pages S9b alice "GET /files pages, owner of 90k files (100k files in db)"
}

scenario_S9c() {
  s9_pages S9c bob "GET /files pages, ~1.1k own + 10k shared files (merged)"
}
