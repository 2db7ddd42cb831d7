# Issue 6, scenario 3: uploads.
#   S3a/S3b: one 1 GiB upload (raw body, then multipart) against the machine's limit measured in
#     the same run: the slowest of loopback TCP (curl -T to a discarding sink), SHA-256 on one
#     core (openssl, what sharebox uses) and sequential write + fsync into sharebox's data dir.
# S4 (memory) is in 95-memory.sh.

ALL_SCENARIOS+=(S3a S3b)

UP_SIZE=1073741824   # 1 GiB
UP_FILE=""

# The 1 GiB fixture, in page cache (read once), shared by S3 and S4.
need_upload_file() {
  [ -n "$UP_FILE" ] && return 0
  UP_FILE="$TMP/upload-1g.bin"
  head -c "$UP_SIZE" /dev/urandom > "$UP_FILE"
  cat "$UP_FILE" > /dev/null
}

# curl_upload URL KEY MODE FILE -> prints "bytes seconds http_code id" of one upload (client core).
# MODE raw: POST /files?name= with the file as the body; multipart: curl -F file=@FILE.
curl_upload() {
  local url=$1 key=$2 mode=$3 file=$4 out body
  local args=(-sS -X POST -H 'Expect:' -H "Authorization: Bearer $key"
    -w '\n%{size_upload} %{time_total} %{http_code}' --max-time 600)
  body=$(mktemp "$TMP/upload-resp.XXXXXX")
  if [ "$mode" = raw ]; then
    out=$("${CLIENT_PIN[@]}" curl "${args[@]}" -T "$file" -H 'Content-Type: application/octet-stream' \
      "$url/files?name=$(basename "$file")")
  else
    out=$("${CLIENT_PIN[@]}" curl "${args[@]}" -F "file=@$file" "$url/files")
  fi
  printf '%s\n' "$out" | head -n -1 > "$body"
  local id
  id=$(node -e 'try{const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(o.id||"-")}catch(e){console.log("-")}' "$body")
  rm -f "$body"
  printf '%s %s\n' "$(tail -n 1 <<<"$out")" "$id"
}

sb_delete() {
  curl -sS -o /dev/null -X DELETE -H "Authorization: Bearer $SB_KEY" "$SB_URL/files/$1" || true
}

# bytes/s of one upload to sharebox; the file is deleted afterwards (disk space, not timed).
s3_sharebox_run() {
  local mode=$1 r bytes secs code id
  prime_memory
  r=$(curl_upload "$SB_URL" "$SB_KEY" "$mode" "$UP_FILE")
  read -r bytes secs code id <<<"$r"
  [ "$code" = 201 ] && [ "$id" != - ] || die "S3 $mode upload failed: $r"
  sb_delete "$id"
  sync
  awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.0f", b/s}'
}

SINK_URL=""
need_sink() {
  [ -n "$SINK_URL" ] && return 0
  local pf="$TMP/sink.port" i
  "${SERVER_PIN[@]}" /usr/bin/python3 "$BENCH_DIR/tools/sink.py" "$pf" &
  BG_PIDS+=("$!")
  for i in $(seq 50); do [ -s "$pf" ] && break; sleep 0.1; done
  [ -s "$pf" ] || die "sink did not start"
  SINK_URL="http://127.0.0.1:$(cat "$pf")"
}

# (a) loopback TCP: the same curl -T, to a sink that only reads and discards (server core).
s3_loopback_run() {
  local out
  out=$("${CLIENT_PIN[@]}" curl -sS -o /dev/null -X POST -H 'Expect:' -T "$UP_FILE" \
    -w '%{size_upload} %{time_total} %{http_code}' "$SINK_URL/sink")
  [ "${out##* }" = 204 ] || die "sink upload failed: $out"
  awk '{printf "%.0f", $1/$2}' <<<"$out"
}

# (b) SHA-256 of the same bytes from page cache on the server core, with OpenSSL as sharebox.
s3_sha_run() {
  local t0 t1
  t0=$(date +%s.%N)
  "${SERVER_PIN[@]}" openssl dgst -sha256 "$UP_FILE" >/dev/null
  t1=$(date +%s.%N)
  awk -v b="$UP_SIZE" -v a="$t0" -v c="$t1" 'BEGIN{printf "%.0f", b/(c-a)}'
}

# (c) sequential write + fsync of the same bytes into sharebox's data dir (same filesystem).
s3_disk_run() {
  local target="$TMP/sharebox/data/tmp/dd-anchor.bin" t0 t1
  prime_memory
  t0=$(date +%s.%N)
  "${SERVER_PIN[@]}" dd if="$UP_FILE" of="$target" bs=1M conv=fsync status=none
  t1=$(date +%s.%N)
  rm -f "$target"; sync
  awk -v b="$UP_SIZE" -v a="$t0" -v c="$t1" 'BEGIN{printf "%.0f", b/(c-a)}'
}

# All of S3 is measured once, in interleaved rounds (so drift of the shared disk hits every
# figure alike); S3a and S3b report from it. Medians of BENCH_S3_RUNS rounds (default 3).
S3_DONE=""
s3_measure() {
  [ -n "$S3_DONE" ] && return 0
  need_sharebox; need_sink; need_upload_file
  # Warm-up: one raw upload (first-time file and directory creation, page cache of the binary).
  s3_sharebox_run raw >/dev/null
  local runs=${BENCH_S3_RUNS:-3} i r m n s d
  S3_RAW=(); S3_MP=(); S3_NET=(); S3_SHA=(); S3_DISK=()
  for i in $(seq "$runs"); do
    r=$(s3_sharebox_run raw); m=$(s3_sharebox_run multipart)
    n=$(s3_loopback_run); s=$(s3_sha_run); d=$(s3_disk_run)
    S3_RAW+=("$r"); S3_MP+=("$m"); S3_NET+=("$n"); S3_SHA+=("$s"); S3_DISK+=("$d")
    log "$(awk -v i="$i" -v r="$r" -v m="$m" -v n="$n" -v s="$s" -v d="$d" 'BEGIN{printf \
      "S3 run %d: sharebox raw %.0f MB/s, multipart %.0f MB/s; loopback %.0f, sha256 %.0f, write+fsync %.0f MB/s", \
      i, r/1e6, m/1e6, n/1e6, s/1e6, d/1e6}')"
  done
  S3_LIMIT=$(printf '%s\n' "$(median "${S3_NET[@]}")" "$(median "${S3_SHA[@]}")" \
    "$(median "${S3_DISK[@]}")" | sort -g | head -1)
  S3_LIMIT_NAME=$(awk -v n="$(median "${S3_NET[@]}")" -v s="$(median "${S3_SHA[@]}")" \
    -v d="$(median "${S3_DISK[@]}")" -v l="$S3_LIMIT" \
    'BEGIN{ if (l==n) print "loopback TCP"; else if (l==s) print "SHA-256 (1 core)"; else print "write+fsync" }')
  printf 'sharebox_raw %s\nsharebox_multipart %s\nloopback %s\nsha256 %s\nwrite_fsync %s\n' \
    "${S3_RAW[*]}" "${S3_MP[*]}" "${S3_NET[*]}" "${S3_SHA[*]}" "${S3_DISK[*]}" | save_raw S3-runs.txt
  S3_DONE=1
}

s3_result() {
  local id=$1 title=$2; shift 2
  result_add "$id" "$title" "throughput" "B/s" "$(median "$@")" "$S3_LIMIT" \
    "machine limit: $S3_LIMIT_NAME" ratio 0.8 \
    "sharebox_runs=$(join_comma "$@")" \
    "limit_loopback_tcp=$(median "${S3_NET[@]}")" "limit_loopback_tcp_runs=$(join_comma "${S3_NET[@]}")" \
    "limit_sha256_1core=$(median "${S3_SHA[@]}")" "limit_sha256_1core_runs=$(join_comma "${S3_SHA[@]}")" \
    "limit_write_fsync=$(median "${S3_DISK[@]}")" "limit_write_fsync_runs=$(join_comma "${S3_DISK[@]}")" \
    "statistic=median of $# runs" \
    "anchors=curl -T to a discarding sink; openssl dgst -sha256; dd bs=1M conv=fsync into the data dir"
}

scenario_S3a() {
  s3_measure
  s3_result S3a "one 1 GiB upload, raw body (POST -T)" "${S3_RAW[@]}"
}

scenario_S3b() {
  s3_measure
  s3_result S3b "one 1 GiB upload, multipart (curl -F)" "${S3_MP[@]}"
}
