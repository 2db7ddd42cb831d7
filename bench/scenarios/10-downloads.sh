# Issue 6, scenarios 1 and 2: downloads against nginx serving the same bytes from page cache.
# Each scenario: fixtures, warm-up (one download from each server), sharebox then nginx with the
# same client parameters, then one result_add.

ALL_SCENARIOS+=(S1 S2a S2b)

BENCH_DURATION=${BENCH_DURATION:-10s}

scenario_S1() {
  need_fixture small.bin 1K
  local auth=(-H "Authorization: Bearer $SB_KEY")
  local sb ngx
  sb=$(sb_file_url small.bin); ngx=$(ngx_file_url small.bin)
  curl -sS --fail -o /dev/null "${auth[@]}" "$sb"; curl -sS --fail -o /dev/null "$ngx"
  # A short wrk pass per server first, so connections, caches and clocks are warm.
  run_wrk S1-sharebox-warmup 64 2s "$sb" "${auth[@]}"
  run_wrk S1-sharebox 64 "$BENCH_DURATION" "$sb" "${auth[@]}"
  local sb_rps=$WRK_RPS sb_p99=$WRK_P99_MS sb_p50=$WRK_P50_MS sb_bad=$((WRK_NON2XX + WRK_SOCKERR))
  run_wrk S1-nginx-warmup 64 2s "$ngx" "${auth[@]}"
  run_wrk S1-nginx 64 "$BENCH_DURATION" "$ngx" "${auth[@]}"
  result_add S1 "small downloads: 1 KiB, 64 conns, keep-alive" "requests" "req/s" \
    "$sb_rps" "$WRK_RPS" nginx ratio 0.8 \
    "sharebox_p50_ms=$sb_p50" "sharebox_p99_ms=$sb_p99" \
    "nginx_p50_ms=$WRK_P50_MS" "nginx_p99_ms=$WRK_P99_MS" \
    "sharebox_errors=$sb_bad" "nginx_errors=$((WRK_NON2XX + WRK_SOCKERR))" \
    "client=wrk -t1 -c64 -d$BENCH_DURATION"
}

scenario_S2a() {
  need_fixture medium.bin 1M
  local auth=(-H "Authorization: Bearer $SB_KEY")
  local sb ngx
  sb=$(sb_file_url medium.bin); ngx=$(ngx_file_url medium.bin)
  curl -sS --fail -o /dev/null "${auth[@]}" "$sb"; curl -sS --fail -o /dev/null "$ngx"
  run_wrk S2a-sharebox-warmup 32 2s "$sb" "${auth[@]}"
  run_wrk S2a-sharebox 32 "$BENCH_DURATION" "$sb" "${auth[@]}"
  local sb_bps=$WRK_BPS sb_rps=$WRK_RPS sb_p99=$WRK_P99_MS sb_bad=$((WRK_NON2XX + WRK_SOCKERR))
  run_wrk S2a-nginx-warmup 32 2s "$ngx" "${auth[@]}"
  run_wrk S2a-nginx 32 "$BENCH_DURATION" "$ngx" "${auth[@]}"
  result_add S2a "large downloads: 1 MiB, 32 conns" "throughput" "B/s" \
    "$sb_bps" "$WRK_BPS" "nginx (sendfile)" ratio 0.9 \
    "sharebox_rps=$sb_rps" "nginx_rps=$WRK_RPS" \
    "sharebox_p99_ms=$sb_p99" "nginx_p99_ms=$WRK_P99_MS" \
    "sharebox_errors=$sb_bad" "nginx_errors=$((WRK_NON2XX + WRK_SOCKERR))" \
    "client=wrk -t1 -c32 -d$BENCH_DURATION"
}

scenario_S2b() {
  need_fixture huge.bin 1G
  local auth=(-H "Authorization: Bearer $SB_KEY")
  local sb ngx
  sb=$(sb_file_url huge.bin); ngx=$(ngx_file_url huge.bin)
  # Warm-up: one whole download from each, so both read the 1 GiB from page cache.
  curl_speed "$sb" "${auth[@]}" >/dev/null; curl_speed "$ngx" >/dev/null
  local runs=${BENCH_S2B_RUNS:-3} i s n sbs=() ngs=()
  for i in $(seq "$runs"); do   # alternate, so drift hits both alike
    s=$(curl_speed "$sb" "${auth[@]}"); n=$(curl_speed "$ngx")
    sbs+=("$s"); ngs+=("$n")
    log "$(printf 'S2b run %d: sharebox %.0f MB/s, nginx %.0f MB/s' "$i" "$(awk -v v="$s" 'BEGIN{print v/1e6}')" "$(awk -v v="$n" 'BEGIN{print v/1e6}')")"
  done
  printf 'sharebox %s\nnginx %s\n' "${sbs[*]}" "${ngs[*]}" | save_raw S2b-curl.txt
  result_add S2b "one 1 GiB download, 1 client (median of $runs)" "throughput" "B/s" \
    "$(median "${sbs[@]}")" "$(median "${ngs[@]}")" "nginx (sendfile)" ratio 0.9 \
    "sharebox_runs=$(IFS=,; echo "${sbs[*]}")" "nginx_runs=$(IFS=,; echo "${ngs[*]}")" \
    "statistic=median" "client=curl -o /dev/null"
}
