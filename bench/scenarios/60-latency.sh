# Issue 6, scenario 6: latency isolation. p99 of GET /health (S6a) and of an authenticated 1 KiB
# download (S6b) while single-stream 1 GiB raw uploads (scenario 3's load: curl -T POST /files)
# run back to back for the whole window; target <= 10 ms each.
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
  # The uploads are niced so that, wherever they run, they are the ones that wait.
  ( upload_loop "$stop" "$uplog" ) &
  local loop_pid=$!
  BG_PIDS+=("$loop_pid")
  sleep 1   # the first upload is streaming before the first measured request
  openloop S6-upload "$health" "$small"
  S6_LOAD=$OL_JSON
  touch "$stop"; wait "$loop_pid" 2>/dev/null || true
  S6_UPLOADS=$(awk '$1==201' "$uplog" | wc -l)
  S6_UPLOAD_FAILS=$(awk '$1!=201' "$uplog" | wc -l)
  S6_UPLOAD_BPS=$(awk -v b="$(stat -c %s "$UP_SRC")" '$1==201{s+=$2;n++} END{if(n) printf "%.0f", n*b/s; else print 0}' "$uplog")
  save_raw S6-uploads.txt < "$uplog"
  log "S6: $S6_UPLOADS uploads of 1 GiB completed during the window (+1 s before), $S6_UPLOAD_FAILS failed, $(mbs "$S6_UPLOAD_BPS") MB/s each on average"
  S6_DONE=1
}

s6_result() {
  local id=$1 name=$2 title=$3
  s6_measure
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
    "uploads_completed=$S6_UPLOADS" "upload_failures=$S6_UPLOAD_FAILS" "upload_avg_bps=$S6_UPLOAD_BPS" \
    "upload_client_core=${BENCH_S6_UPLOAD_CORE:-server}" \
    "client=openloop.mjs ${S6_RATE} req/s per route (health + download at once), ${S6_CONNS} keep-alive conns per route, latency from scheduled send time"
}

scenario_S6a() { s6_result S6a health "GET /health p99 during 1 GiB uploads (open loop)"; }
scenario_S6b() { s6_result S6b download "1 KiB download p99 during 1 GiB uploads (open loop)"; }
