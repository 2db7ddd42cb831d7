# Issue 6, scenario 8: image intake over /ws/intake. SESSIONS concurrent sessions (default 8)
# each send FILES different 2-megapixel JPEGs (default 10, the per-session limit), one after the
# other, waiting for each verdict. Reports images/s accepted, verdict latency (last byte sent ->
# verdict) and the decode time per picture of the server's own analyze() (measured by
# bench/tools/image_bench on the same pictures, on the server's core, with the server idle).
# No target: figures only (kind report).
# Environment: BENCH_S8_SESSIONS, BENCH_S8_FILES.

ALL_SCENARIOS+=(S8a S8b S8c)

S8_DONE=""
s8_measure() {
  [ -n "$S8_DONE" ] && return 0
  local sessions=${BENCH_S8_SESSIONS:-8} files=${BENCH_S8_FILES:-10}
  local n=$((sessions * files)) tool dir
  tool=$(build_bench_tool image_bench)
  need_node_modules
  need_sharebox
  dir="$TMP/s8-pictures"
  # Two more than sent, for the warm-up session; every picture is different (dead-leaves
  # drawings with their own large-scale structure), so none is refused as a duplicate.
  "${CLIENT_PIN[@]}" "$tool" generate "$dir" $((n + 2)) 1600 1252 90
  local pics=("$dir"/*.jpg)
  S8_PIC_BYTES=$(cat "${pics[@]:2}" | wc -c)
  log "S8: $n pictures of 1600x1252, $((S8_PIC_BYTES / n / 1024)) KiB on average"
  # Warm-up: one session, the two extra pictures (they are stored too).
  "${CLIENT_PIN[@]}" node "$BENCH_DIR/tools/intake_client.mjs" "$SB_URL" "$SB_KEY" 1 2 \
    "${pics[@]:0:2}" > "$RAW_DIR/S8-warmup.json"
  S8_JSON=$("${CLIENT_PIN[@]}" node "$BENCH_DIR/tools/intake_client.mjs" "$SB_URL" "$SB_KEY" \
    "$sessions" "$files" "${pics[@]:2}")
  printf '%s\n' "$S8_JSON" | save_raw S8-intake.json
  log "S8: $S8_JSON"
  # analyze() alone, on the core the server runs on, while the server is idle.
  "${SERVER_PIN[@]}" "$tool" analyze "${pics[@]:2}" > "$RAW_DIR/S8-analyze.txt"
  S8_ANALYZE=$(grep '^analyze_summary' "$RAW_DIR/S8-analyze.txt")
  log "S8: $S8_ANALYZE"
  S8_SENT=$n
  S8_DONE=1
}

s8_field() { node -e 'const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(typeof v==="object"?JSON.stringify(v):v)' "$S8_JSON" "$1"; }
s8_analyze_field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$S8_ANALYZE"; }

scenario_S8a() {
  s8_measure
  local accepted; accepted=$(s8_field accepted)
  [ "$accepted" = "$S8_SENT" ] || log "warning: S8 accepted $accepted of $S8_SENT: $(s8_field rejected)"
  result_add S8a "image intake: 2 MP JPEGs, ${BENCH_S8_SESSIONS:-8} sessions x ${BENCH_S8_FILES:-10}" \
    "accepted pictures" "images/s" "$(s8_field images_per_s)" - - report - \
    "sent=$S8_SENT" "accepted=$accepted" "rejected=$(s8_field rejected)" \
    "wall_s=$(s8_field wall_s)" "mb_per_s=$(s8_field mb_per_s)" \
    "avg_picture_bytes=$((S8_PIC_BYTES / S8_SENT))" \
    "client=bench/tools/intake_client.mjs (ws), one file at a time per session"
}

scenario_S8b() {
  s8_measure
  result_add S8b "image intake: verdict latency p99 (last byte sent -> verdict)" \
    "latency p99" "ms" "$(s8_field verdict_p99_ms)" - - report - \
    "p50_ms=$(s8_field verdict_p50_ms)" "max_ms=$(s8_field verdict_max_ms)" \
    "samples=$(s8_field accepted)"
}

scenario_S8c() {
  s8_measure
  result_add S8c "image intake: analyze() per 2 MP JPEG (validate + phash + thumbnail)" \
    "decode time median" "ms" "$(s8_analyze_field median_ms)" - - report - \
    "p99_ms=$(s8_analyze_field p99_ms)" "max_ms=$(s8_analyze_field max_ms)" \
    "samples=$(s8_analyze_field n)" \
    "method=bench/tools/image_bench analyze: images::analyze() with a thumbnail, one at a time, server core, server idle"
}
