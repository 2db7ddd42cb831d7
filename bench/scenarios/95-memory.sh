# Issue 6, scenario 4: peak RSS of a fresh sharebox through 64 concurrent 64 MiB uploads, then
# 64 concurrent 1 GiB downloads.
# It runs last: its 4 GiB of uploads and 64 GiB of downloads leave this VM's memory in a state
# (see prime_memory) that stalled the scenarios after it; S6's measuring client fell 35-147 ms
# behind its schedule right after S4, and 2-3 ms after S5b.

ALL_SCENARIOS+=(S4)

# A second sharebox instance, started for this scenario alone, so its VmHWM (peak resident set)
# is this scenario's peak and nothing earlier in the run.
s4_start() {
  start_sharebox "$TMP/sharebox-s4" "sharebox (S4)"
  S4_URL=$STARTED_URL; S4_KEY=$STARTED_KEY; S4_PID=$STARTED_PID
}

s4_kib() { awk -v k="$1:" '$1==k{print $2}' "/proc/$S4_PID/status"; }

scenario_S4() {
  need_upload_file
  s4_start
  local small="$TMP/upload-64m.bin" dir="$TMP/s4" n=64 i
  head -c 64M /dev/urandom > "$small"
  mkdir -p "$dir"
  local base_kib; base_kib=$(s4_kib VmRSS)
  # Sample the resident set meanwhile (VmHWM is the kernel's own peak; the samples are a trace).
  ( while kill -0 "$S4_PID" 2>/dev/null; do
      awk '$1=="VmRSS:"{print $2}' "/proc/$S4_PID/status" 2>/dev/null || true; sleep 0.1
    done > "$dir/rss-kib.txt" ) &
  local sampler=$!
  BG_PIDS+=("$sampler")

  local t0 t1 up_s down_s pids=()
  t0=$(date +%s.%N)
  for i in $(seq "$n"); do
    "${CLIENT_PIN[@]}" curl -sS -o "$dir/up-$i.json" -w '%{http_code}' -X POST -H 'Expect:' \
      --max-time 300 -H "Authorization: Bearer $S4_KEY" \
      -H 'Content-Type: application/octet-stream' -T "$small" "$S4_URL/files?name=u$i.bin" \
      > "$dir/up-$i.code" 2>"$dir/up-$i.err" &
    pids+=("$!")
  done
  wait "${pids[@]}" || true
  t1=$(date +%s.%N); up_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  local up_ok=0
  for i in $(seq "$n"); do
    [ "$(cat "$dir/up-$i.code")" = 201 ] && grep -q '"size":67108864' "$dir/up-$i.json" &&
      up_ok=$((up_ok + 1))
  done
  local hwm_up_kib; hwm_up_kib=$(s4_kib VmHWM)
  log "S4: $up_ok/$n uploads of 64 MiB in $up_s s; VmHWM $((hwm_up_kib / 1024)) MiB"

  local big_id
  big_id=$(curl -sS --fail-with-body -X POST -T "$UP_FILE" -H 'Expect:' \
    -H "Authorization: Bearer $S4_KEY" "$S4_URL/files?name=big.bin" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);if(!o.id)process.exit(1);console.log(o.id)})') ||
    die "S4: upload of the 1 GiB file failed"
  t0=$(date +%s.%N); pids=()
  for i in $(seq "$n"); do
    "${CLIENT_PIN[@]}" curl -sS -o /dev/null -w '%{http_code} %{size_download}' --max-time 300 \
      -H "Authorization: Bearer $S4_KEY" "$S4_URL/files/$big_id" \
      > "$dir/down-$i.out" 2>"$dir/down-$i.err" &
    pids+=("$!")
  done
  wait "${pids[@]}" || true
  t1=$(date +%s.%N); down_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  local down_ok=0
  for i in $(seq "$n"); do
    [ "$(cat "$dir/down-$i.out")" = "200 $UP_SIZE" ] && down_ok=$((down_ok + 1))
  done
  local hwm_kib; hwm_kib=$(s4_kib VmHWM)
  log "S4: $down_ok/$n downloads of 1 GiB in $down_s s; VmHWM $((hwm_kib / 1024)) MiB"
  kill "$sampler" 2>/dev/null || true
  local sampled_max; sampled_max=$(sort -n "$dir/rss-kib.txt" | tail -1)
  { echo "uploads_ok $up_ok/$n in $up_s s"; echo "downloads_ok $down_ok/$n in $down_s s"
    echo "vmrss_samples_kib $(tr '\n' ' ' < "$dir/rss-kib.txt")"
    cat "$dir"/up-*.err "$dir"/down-*.err; } | save_raw S4.txt
  # Done with the instance: stop it now (its data dir is removed with TMP).
  kill -TERM "$S4_PID" 2>/dev/null || true
  [ "$up_ok" = "$n" ] && [ "$down_ok" = "$n" ] || log "warning: S4 had failed transfers"
  result_add S4 "peak RSS: 64 x 64 MiB uploads, then 64 x 1 GiB downloads (fresh instance)" \
    "peak RSS (VmHWM)" "B" "$((hwm_kib * 1024))" - - max 134217728 \
    "baseline_rss=$((base_kib * 1024))" "vmhwm_after_uploads=$((hwm_up_kib * 1024))" \
    "sampled_max_rss=$((sampled_max * 1024))" \
    "uploads_ok=$up_ok" "uploads_total=$n" "uploads_seconds=$up_s" \
    "downloads_ok=$down_ok" "downloads_total=$n" "downloads_seconds=$down_s" \
    "sharebox_errors=$((2 * n - up_ok - down_ok))" \
    "client=curl -T (uploads), curl -o /dev/null (downloads), all at once"
}
