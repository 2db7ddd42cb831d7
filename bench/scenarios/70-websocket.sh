# Issue 6, scenario 7: WebSocket /ws/events at scale. One run of bench/tools/ws-fanout.js serves
# both ids:
#   S7a  server memory per open stream: (VmRSS with all streams open - VmRSS before) / streams
#   S7b  fan-out: a file shared with S7_SHAREES users is replaced; p99 of the time from sending the
#        PUT to each sharee's stream receiving the file.updated event
# Streams: one per sharee plus bystander streams (users the file is not shared with) up to
# S7_CONNECTIONS, all authenticated with API keys (Authorization: Bearer). Users are made with
# `sharebox user add` against the running server's data dir (SQLite WAL allows the second writer).
# The kernel's socket buffers are not in RSS: they are reported apart, from /proc/net/sockstat
# (both ends of every loopback connection, so an upper bound for the server's share).

ALL_SCENARIOS+=(S7a S7b)

S7_CONNECTIONS=${S7_CONNECTIONS:-10000}
S7_SHAREES=${S7_SHAREES:-1000}
S7_BYSTANDERS=${S7_BYSTANDERS:-9}   # users holding the streams that are not sharees
S7_ROUNDS=${S7_ROUNDS:-5}
S7_NOFILE=65536
S7_JSON=""

# s7_value KEY: a top-level field of the run's JSON.
s7_value() {
  node -e 'const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(v===null||v===undefined?"-":v)' \
    "$S7_JSON" "$1"
}

s7_run() {
  [ -n "$S7_JSON" ] && return 0
  need_node_modules
  need_sharebox
  # Every stream is a descriptor on both ends: raise the soft limits as far as the hard limit
  # allows (raising the hard limit needs CAP_SYS_RESOURCE, which a container may not grant).
  local hard nofile
  hard=$(ulimit -Hn)
  nofile=$S7_NOFILE
  [ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ] && nofile=$hard
  [ "$nofile" -gt $((S7_CONNECTIONS + 256)) ] ||
    die "S7: $S7_CONNECTIONS streams need more open files than the hard limit ($hard) allows"
  prlimit --pid "$SB_PID" --nofile="$nofile:$hard"
  local keys="$TMP/s7-keys.txt" data="$TMP/sharebox/data" i name t0
  : > "$keys"
  t0=$(date +%s.%N)
  # One CLI process per user (each opens the database and commits): a few at a time.
  { seq -f 's7-sharee-%04g sharee' "$S7_SHAREES"; seq -f 's7-bystander-%g bystander' "$S7_BYSTANDERS"; } |
    xargs -P 4 -L 1 sh -c 'k=$("$0" user add "$2" --data-dir "$1") && printf "%s %s %s\n" "$2" "$k" "$3"' \
      "$SHAREBOX_BIN" "$data" >> "$keys" || die "S7: creating users failed"
  [ "$(grep -c ' sbx_' "$keys")" -eq $((S7_SHAREES + S7_BYSTANDERS)) ] || die "S7: missing user keys"
  log "S7: $((S7_SHAREES + S7_BYSTANDERS)) users made in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
  S7_JSON=$(
    ulimit -n "$nofile"
    WS_URL=$SB_URL WS_OWNER_KEY=$SB_KEY WS_SERVER_PID=$SB_PID WS_KEYS=$keys \
      WS_CONNECTIONS=$S7_CONNECTIONS WS_ROUNDS=$S7_ROUNDS \
      "${CLIENT_PIN[@]}" node --max-old-space-size=4096 "$BENCH_DIR/tools/ws-fanout.js"
  ) || die "S7 client failed"
  printf '%s\n' "$S7_JSON" | save_raw S7-ws-fanout.json
  local open planned
  open=$(s7_value connections_open); planned=$(s7_value connections_planned)
  [ "$open" = "$planned" ] || log "S7: only $open of $planned streams opened"
}

scenario_S7a() {
  s7_run
  local open; open=$(s7_value connections_open)
  result_add S7a "/ws/events: server RSS per open stream ($open streams)" "RSS/stream" "B" \
    "$(s7_value rss_per_connection_bytes)" - - max 16384 \
    "connections_open=$open" "connections_planned=$(s7_value connections_planned)" \
    "open_failures=$(s7_value open_failures)" "open_seconds=$(s7_value open_seconds)" \
    "server_live_subscribers=$(s7_value server_live_subscribers)" \
    "rss_before_kib=$(s7_value rss_before_kib)" "rss_after_kib=$(s7_value rss_after_kib)" \
    "kernel_tcp_mem_pages_before=$(s7_value tcp_mem_pages_before)" \
    "kernel_tcp_mem_pages_after=$(s7_value tcp_mem_pages_after)" \
    "measure=VmRSS from /proc/PID/status after the streams settle; kernel socket memory (sockstat, both ends) not included" \
    "client=bench/tools/ws-fanout.js (ws), Authorization: Bearer"
}

scenario_S7b() {
  s7_run
  result_add S7b "/ws/events fan-out: file shared with $S7_SHAREES users replaced" "p99 latency" "ms" \
    "$(s7_value fanout_p99_ms)" - - max 100 \
    "fanout_p50_ms=$(s7_value fanout_p50_ms)" "fanout_max_ms=$(s7_value fanout_max_ms)" \
    "delivered=$(s7_value delivered)" "expected=$(s7_value expected)" \
    "rounds=$(s7_value rounds)" "streams_open=$(s7_value connections_open)" \
    "bystander_file_messages=$(s7_value bystander_file_messages)" \
    "since_response_p50_ms=$(s7_value since_response_p50_ms)" \
    "since_response_p99_ms=$(s7_value since_response_p99_ms)" \
    "measure=PUT sent -> file.updated received on each sharee's stream, all rounds pooled"
}
