# Issue 6, scenario 5: resumable uploads of one 1 GiB file.
#   S5a `sharebox put --parallel 4` (chunk API, 4 connections) against one raw single-stream
#       `curl -T` POST /files of the same file to the same server, measured in the same run.
#   S5b tus-js-client against sharebox's /tus/ and against @tus/server + @tus/file-store (the
#       reference Node tus server, which neither hashes nor fsyncs), same client settings.
# Throughput is bytes / wall time of the whole client command: for put that includes its own
# SHA-256 of the file (computed from the chunks as it sends them) and the server's completion
# (the rest of the whole-file hash, fsync, commit); for curl and tus it runs until the 2xx,
# which sharebox sends after fsync and commit.


ALL_SCENARIOS+=(S5a S5b)

# need_upload_source: the 1 GiB file the clients upload (random bytes, written once, so it is
# in page cache for every run).
UP_SRC=""
need_upload_source() {
  [ -n "$UP_SRC" ] && return 0
  UP_SRC="$TMP/upload-src.bin"
  head -c 1G /dev/urandom > "$UP_SRC"
}

# sb_delete_file ID: frees the space of an uploaded file between runs. The sync makes the
# filesystem's work for the delete (journal commit, online discard of 1 GiB of blocks) happen
# here, untimed, and not inside the next measured upload's first fsync (as in S3).
sb_delete_file() {
  curl -sS --fail -o /dev/null -X DELETE -H "Authorization: Bearer $SB_KEY" "$SB_URL/files/$1" \
    || log "warning: could not delete file $1"
  sync
}

# raw_upload_bps FILE -> bytes/s of one single-stream raw POST /files (client core); deletes it.
raw_upload_bps() {
  local out code secs id
  prime_memory
  out=$("${CLIENT_PIN[@]}" curl -sS -X POST -T "$1" -H 'Expect:' \
    -H "Authorization: Bearer $SB_KEY" -H 'Content-Type: application/octet-stream' \
    -w '\n%{http_code} %{time_total}' "$SB_URL/files?name=s5-raw.bin")
  read -r code secs <<<"$(tail -n1 <<<"$out")"
  [ "$code" = 201 ] || die "raw upload failed: HTTP $code $(head -n1 <<<"$out")"
  id=$(json_get "$(head -n1 <<<"$out")" id)
  sb_delete_file "$id"
  awk -v b="$(stat -c %s "$1")" -v s="$secs" 'BEGIN{printf "%.0f", b/s}'
}

# put_bps FILE PARALLEL -> bytes/s of one `sharebox put` (client core); deletes the file.
put_bps() {
  local t0 t1 id
  prime_memory
  t0=$(date +%s.%N)
  id=$(XDG_STATE_HOME="$TMP/client-state" "${CLIENT_PIN[@]}" "$SHAREBOX_BIN" put \
    --url "$SB_URL" --key "$SB_KEY" --parallel "$2" --no-progress --name s5-put.bin "$1" \
    2>>"$TMP/put.stderr") || { cat "$TMP/put.stderr" >&2; die "sharebox put failed"; }
  t1=$(date +%s.%N)
  sb_delete_file "$id"
  awk -v b="$(stat -c %s "$1")" -v a="$t0" -v c="$t1" 'BEGIN{printf "%.0f", b/(c-a)}'
}

mbs() { awk -v v="$1" 'BEGIN{printf "%.0f", v/1e6}'; }

scenario_S5a() {
  need_sharebox; need_upload_source
  local runs=${BENCH_S5_RUNS:-3} i r p raws=() puts=()
  # Warm-up: one of each (first allocation of the data dir's space, client binary in cache).
  raw_upload_bps "$UP_SRC" >/dev/null; put_bps "$UP_SRC" 4 >/dev/null
  for i in $(seq "$runs"); do   # alternate, so drift hits both alike
    r=$(raw_upload_bps "$UP_SRC"); p=$(put_bps "$UP_SRC" 4)
    raws+=("$r"); puts+=("$p")
    log "S5a run $i: put --parallel 4 $(mbs "$p") MB/s, raw curl -T $(mbs "$r") MB/s"
  done
  { printf 'put %s\nraw %s\n' "${puts[*]}" "${raws[*]}"; cat "$TMP/put.stderr"; } | save_raw S5a.txt
  result_add S5a "sharebox put 1 GiB, 4 chunk streams (median of $runs)" "throughput" "B/s" \
    "$(median "${puts[@]}")" "$(median "${raws[@]}")" "raw curl -T, 1 stream" ratio 0.8 \
    "put_runs=$(IFS=,; echo "${puts[*]}")" "raw_runs=$(IFS=,; echo "${raws[*]}")" \
    "statistic=median" "client=sharebox put --parallel 4 (default chunk size); curl -T POST /files"
}

TUS_URL=""
need_tus_server() {
  [ -n "$TUS_URL" ] && return 0
  need_node_modules
  local dir="$TMP/tus-server" i
  mkdir -p "$dir/store"
  ( cd "$BENCH_DIR/tools" && exec "${SERVER_PIN[@]}" node tus-server.mjs "$dir/store" \
      >"$dir/stdout" 2>"$dir/stderr" ) &
  local pid=$!
  BG_PIDS+=("$pid")
  for i in $(seq 100); do
    grep -q 'listening on' "$dir/stdout" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/stderr" >&2; die "@tus/server exited at start"; }
    sleep 0.1
  done
  TUS_URL=$(grep -o 'http://[^ ]*' "$dir/stdout" | head -1)
  [ -n "$TUS_URL" ] || die "@tus/server did not print its URL"
  TUS_STORE="$dir/store"
  log "@tus/server pid $pid at $TUS_URL"
}

# tus_upload ENDPOINT CHUNK [header...]: one tus-js-client upload of UP_SRC (client core);
# sets TUS_BPS (bytes/s) and TUS_LAST_URL (the upload's URL).
tus_upload() {
  local endpoint=$1 chunk=$2; shift 2
  local hdr=() h out
  for h in "$@"; do hdr+=(--header "$h"); done
  prime_memory
  out=$(cd "$BENCH_DIR/tools" && "${CLIENT_PIN[@]}" node tus-upload.mjs "$endpoint" "$UP_SRC" \
    "$chunk" "${hdr[@]}") || die "tus upload to $endpoint failed"
  TUS_LAST_URL=$(json_get "$out" url)
  TUS_BPS=$(json_get "$out" bytes_per_s | awk '{printf "%.0f", $1}')
}

# Frees the space of the last tus upload to sharebox (the file it became).
sb_tus_cleanup() {
  local fid
  fid=$(curl -sS -I -H "Authorization: Bearer $SB_KEY" -H 'Tus-Resumable: 1.0.0' "$TUS_LAST_URL" \
    | awk -F': ' 'tolower($1)=="sharebox-file-id"{gsub("\r","",$2); print $2}')
  if [ -n "$fid" ]; then sb_delete_file "$fid"; else log "warning: no file id for $TUS_LAST_URL"; fi
}

scenario_S5b() {
  need_sharebox; need_upload_source; need_node_modules; need_tus_server
  # tus-js-client's default: the whole file in one PATCH (chunkSize Infinity); sharebox has no
  # PATCH size limit. BENCH_S5B_CHUNK (bytes) makes both servers get the same smaller PATCHes.
  local chunk=${BENCH_S5B_CHUNK:-Infinity}
  local runs=${BENCH_S5_RUNS:-3} i s t sbs=() tss=()
  local auth="Authorization: Bearer $SB_KEY"
  tus_upload "$SB_URL/tus/" "$chunk" "$auth"; sb_tus_cleanup
  tus_upload "$TUS_URL" "$chunk"; rm -f "$TUS_STORE"/*
  for i in $(seq "$runs"); do
    tus_upload "$SB_URL/tus/" "$chunk" "$auth"; s=$TUS_BPS; sb_tus_cleanup
    tus_upload "$TUS_URL" "$chunk"; t=$TUS_BPS; rm -f "$TUS_STORE"/*; sync
    sbs+=("$s"); tss+=("$t")
    log "S5b run $i: sharebox /tus/ $(mbs "$s") MB/s, @tus/server $(mbs "$t") MB/s"
  done
  printf 'sharebox %s\ntus_server %s\n' "${sbs[*]}" "${tss[*]}" | save_raw S5b.txt
  result_add S5b "tus-js-client 1 GiB, chunkSize $chunk (median of $runs)" "throughput" "B/s" \
    "$(median "${sbs[@]}")" "$(median "${tss[@]}")" "@tus/server+file-store" ratio 1.0 \
    "sharebox_runs=$(IFS=,; echo "${sbs[*]}")" "tus_server_runs=$(IFS=,; echo "${tss[*]}")" \
    "statistic=median" "client=tus-js-client 4.3.1, fs.ReadStream, chunkSize $chunk" \
    "anchor_note=@tus/server neither hashes nor fsyncs; sharebox does both before the 204"
}
