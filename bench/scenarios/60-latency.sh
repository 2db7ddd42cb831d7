# Issue 6, scenario 6: latency isolation. p99 of GET /health (S6a) and of an authenticated 1 KiB
# download (S6b) while single-stream 1 GiB raw uploads (scenario 3's load: curl -T POST /files)
# run back to back for the whole window; target <= 10 ms each. Three 10 s windows under the
# same load (BENCH_S6_WINDOWS, odd), the median of their p99s.
# Open loop (bench/tools/openloop.mjs): each route gets BENCH_S6_RATE requests/s (default 200)
# on a schedule that never waits for answers; latency runs from the scheduled send time, so
# queueing behind a stalled server counts. Both routes are measured at once. The same
# measurement without uploads, and the client against nginx (the client's own floor), are
# reported alongside.


ALL_SCENARIOS+=(S6a S6b)

S6_DONE=""
S6_RATE=${BENCH_S6_RATE:-200}
S6_CONNS=${BENCH_S6_CONNS:-16}
# The measuring client runs at a higher priority than anything else on its core (the upload
# load, other processes of the machine), so its own scheduling delay stays out of the figures
# as far as possible; what is left shows as dispatch lateness and in the nginx baseline.
S6_CLIENT_NICE=()
[ "$(id -u)" -eq 0 ] && S6_CLIENT_NICE=(nice -n -10)

# openloop LABEL NAME=URL... -> sets OL_JSON (the tool's output), raw output to results/raw/
openloop() {
  local label=$1; shift
  local secs; secs=$(awk -v d="${BENCH_DURATION:-10s}" 'BEGIN{sub(/s$/,"",d); print d+0}')
  OL_JSON=$(cd "$BENCH_DIR/tools" && "${CLIENT_PIN[@]}" "${S6_CLIENT_NICE[@]}" node openloop.mjs --rate "$S6_RATE" \
    --duration "$secs" --warmup 1 --connections "$S6_CONNS" \
    --header "Authorization: Bearer $SB_KEY" "$@") || die "openloop $label failed"
  printf '%s\n' "$OL_JSON" | save_raw "$label.json"
  local t
  for t in $(node -e 'console.log(Object.keys(JSON.parse(process.argv[1]).targets).join(" "))' "$OL_JSON"); do
    log "$(node -e 'const o=JSON.parse(process.argv[1]).targets[process.argv[2]];
      console.log(`${process.argv[3]} ${process.argv[2]}: sent ${o.sent} p50 ${o.p50_ms} p99 ${o.p99_ms} max ${o.max_ms} ms; errors ${o.non2xx+o.errors+o.timeouts+o.unfinished}; client dispatch late p99 ${o.dispatch_late_p99_ms} ms`)' \
      "$OL_JSON" "$t" "$label")"
  done
}
ol() { json_get "$1" "targets.$2"; }   # ol JSON NAME.FIELD

# Back-to-back single-stream 1 GiB uploads until $1 exists; each finished upload is deleted.
# Writes one line per upload (HTTP code, seconds) to $2.
upload_loop() {
  local stop=$1 log_file=$2 out code secs id
  while [ ! -e "$stop" ]; do
    out=$("${S6_UPLOAD_PIN[@]}" nice -n 5 curl -sS -X POST -T "$UP_SRC" -H 'Expect:' -H "Authorization: Bearer $SB_KEY" \
      -H 'Content-Type: application/octet-stream' -w '\n%{http_code} %{time_total}' \
      "$SB_URL/files?name=s6-load.bin" 2>&1) || true
    read -r code secs <<<"$(tail -n1 <<<"$out")"
    echo "$code $secs" >> "$log_file"
    id=$(json_get "$(head -n1 <<<"$out")" id 2>/dev/null || true)
    [ -n "$id" ] && curl -sS -o /dev/null -X DELETE -H "Authorization: Bearer $SB_KEY" "$SB_URL/files/$id"
  done
}

s6_measure() {
  [ -n "$S6_DONE" ] && return 0
  # Where the upload's curl runs. On two cores the server, the upload client and the measuring
  # client cannot have one each. With the upload on the client core (BENCH_S6_UPLOAD_CORE=client)
  # the measuring client itself fell 10-13 ms behind its schedule at p99 (curl and the loopback
  # work Linux does on the sender's core starve it), so the figure was the client's. By default
  # the upload runs beside the server instead: harsher for the server, which now shares its core
  # with the upload's sender, and the measuring client keeps its core.
  S6_UPLOAD_PIN=("${SERVER_PIN[@]}")
  [ "${BENCH_S6_UPLOAD_CORE:-server}" = client ] && S6_UPLOAD_PIN=("${CLIENT_PIN[@]}")
  need_fixture small.bin 1K; need_node_modules; need_upload_source
  local health="health=$SB_URL/health" small="download=$(sb_file_url small.bin)"
  # The client's own floor: the same schedule against nginx serving the same 1 KiB.
  openloop S6-client-baseline-nginx "nginx=$(ngx_file_url small.bin)"
  S6_BASE=$OL_JSON
  openloop S6-no-upload "$health" "$small"
  S6_IDLE=$OL_JSON
  local stop="$TMP/s6-stop" uplog="$TMP/s6-uploads.txt"
  rm -f "$stop"; : > "$uplog"
  # Each upload writes into memory the previous one freed, except the first: primed like every
  # measured upload (see prime_memory), since faulting 1 GiB back from the host stalled the whole
  # VM, the measuring client included (dispatch lateness p99 133-147 ms right after S4).
  prime_memory
  # The uploads are niced so that, wherever they run, they are the ones that wait.
  ( upload_loop "$stop" "$uplog" ) &
  local loop_pid=$!
  BG_PIDS+=("$loop_pid")
  sleep 1   # the first upload is streaming before the first measured request
  # Several windows under the same load; each route reports the window with its median p99, as
  # other scenarios report the median of their runs: one stall of this VM (it happens, see
  # BENCHMARKS.md) then moves one window, not the figure.
  local w
  S6_LOADS=()
  for w in $(seq "${BENCH_S6_WINDOWS:-3}"); do
    openloop "S6-upload-$w" "$health" "$small"
    S6_LOADS+=("$OL_JSON")
  done
  touch "$stop"; wait "$loop_pid" 2>/dev/null || true
  S6_UPLOADS=$(awk '$1==201' "$uplog" | wc -l)
  S6_UPLOAD_FAILS=$(awk '$1!=201' "$uplog" | wc -l)
  S6_UPLOAD_BPS=$(awk -v b="$(stat -c %s "$UP_SRC")" '$1==201{s+=$2;n++} END{if(n) printf "%.0f", n*b/s; else print 0}' "$uplog")
  save_raw S6-uploads.txt < "$uplog"
  log "S6: $S6_UPLOADS uploads of 1 GiB completed during the window (+1 s before), $S6_UPLOAD_FAILS failed, $(mbs "$S6_UPLOAD_BPS") MB/s each on average"
  S6_DONE=1
}

# s6_median_window NAME: sets S6_LOAD to the window whose p99 for route NAME is the median, and
# S6_P99S to every window's p99 (comma-separated).
s6_median_window() {
  local name=$1 j p99s=() m
  for j in "${S6_LOADS[@]}"; do p99s+=("$(ol "$j" "$name.p99_ms")"); done
  m=$(median "${p99s[@]}")
  local best="" d
  for j in "${S6_LOADS[@]}"; do   # the window closest to the median (equal to it, for odd counts)
    d=$(awk -v a="$(ol "$j" "$name.p99_ms")" -v b="$m" 'BEGIN{x=a-b; print (x<0?-x:x)}')
    if [ -z "$best" ] || awk -v a="$d" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$d; S6_LOAD=$j; fi
  done
  S6_P99S=$(join_comma "${p99s[@]}")
}

s6_result() {
  local id=$1 name=$2 title=$3
  s6_measure
  s6_median_window "$name"
  local errs
  errs=$(node -e 'const o=JSON.parse(process.argv[1]).targets[process.argv[2]]; console.log(o.non2xx+o.errors+o.timeouts+o.unfinished)' "$S6_LOAD" "$name")
  local idle_errs
  idle_errs=$(node -e 'const o=JSON.parse(process.argv[1]).targets[process.argv[2]]; console.log(o.non2xx+o.errors+o.timeouts+o.unfinished)' "$S6_IDLE" "$name")
  result_add "$id" "$title" "p99 latency" "ms" "$(ol "$S6_LOAD" "$name.p99_ms")" - - max 10 \
    "sharebox_p50_ms=$(ol "$S6_LOAD" "$name.p50_ms")" "sharebox_max_ms=$(ol "$S6_LOAD" "$name.max_ms")" \
    "sharebox_p999_ms=$(ol "$S6_LOAD" "$name.p999_ms")" "sharebox_errors=$errs" \
    "requests=$(ol "$S6_LOAD" "$name.sent")" \
    "no_upload_p50_ms=$(ol "$S6_IDLE" "$name.p50_ms")" "no_upload_p99_ms=$(ol "$S6_IDLE" "$name.p99_ms")" \
    "no_upload_max_ms=$(ol "$S6_IDLE" "$name.max_ms")" "no_upload_errors=$idle_errs" \
    "client_baseline_nginx_p50_ms=$(ol "$S6_BASE" nginx.p50_ms)" \
    "client_baseline_nginx_p99_ms=$(ol "$S6_BASE" nginx.p99_ms)" \
    "client_baseline_nginx_max_ms=$(ol "$S6_BASE" nginx.max_ms)" \
    "client_dispatch_late_p99_ms=$(ol "$S6_LOAD" "$name.dispatch_late_p99_ms")" \
    "statistic=median of ${#S6_LOADS[@]} windows' p99" "p99_windows_ms=$S6_P99S" \
    "uploads_completed=$S6_UPLOADS" "upload_failures=$S6_UPLOAD_FAILS" "upload_avg_bps=$S6_UPLOAD_BPS" \
    "upload_client_core=${BENCH_S6_UPLOAD_CORE:-server}" \
    "client=openloop.mjs ${S6_RATE} req/s per route (health + download at once), ${S6_CONNS} keep-alive conns per route, latency from scheduled send time"
}

scenario_S6a() { s6_result S6a health "GET /health p99 during 1 GiB uploads (open loop)"; }
scenario_S6b() { s6_result S6b download "1 KiB download p99 during 1 GiB uploads (open loop)"; }
