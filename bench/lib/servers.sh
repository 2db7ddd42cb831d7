# The servers under test: sharebox (Release build) and the nginx anchor, each started at most
# once per run (need_sharebox / need_nginx), on loopback, pinned per setup_pinning.

# start_sharebox DIR LABEL: a sharebox on a fresh data dir under DIR, on loopback, pinned like
# every server; sets STARTED_URL, STARTED_KEY (the admin key it prints) and STARTED_PID.
start_sharebox() {
  local dir=$1 label=$2
  mkdir -p "$dir/data"
  local threads=()
  # One network thread per core the server may use (its default counts all cores).
  [ "${#SERVER_PIN[@]}" -gt 0 ] && threads=(--threads "$SERVER_CORES")
  (
    exec "${SERVER_PIN[@]}" "$SHAREBOX_BIN" serve --listen 127.0.0.1:0 --data-dir "$dir/data" \
      --events off --shutdown-timeout 2 "${threads[@]}" ${SHAREBOX_ARGS:-} \
      >"$dir/stdout" 2>"$dir/stderr"
  ) &
  STARTED_PID=$!
  BG_PIDS+=("$STARTED_PID")
  local i
  for i in $(seq 100); do
    grep -q 'listening on http://' "$dir/stdout" 2>/dev/null && break
    kill -0 "$STARTED_PID" 2>/dev/null || { cat "$dir/stderr" >&2; die "$label exited at start"; }
    sleep 0.1
  done
  STARTED_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$dir/stdout" | head -1)
  STARTED_KEY=$(grep -o 'sbx_[A-Za-z0-9_-]*' "$dir/stdout" | head -1)
  [ -n "$STARTED_URL" ] && [ -n "$STARTED_KEY" ] || die "$label did not print its URL and key"
  log "$label pid $STARTED_PID at $STARTED_URL ${threads[*]:-}"
}

SB_URL=""; SB_KEY=""; SB_PID=""
need_sharebox() {
  [ -n "$SB_URL" ] && return 0
  start_sharebox "$TMP/sharebox" sharebox
  SB_URL=$STARTED_URL; SB_KEY=$STARTED_KEY; SB_PID=$STARTED_PID
}

# Fails the run, with the server's last log lines, if sharebox is no longer running.
check_sharebox_alive() {
  [ -z "$SB_PID" ] && return 0
  kill -0 "$SB_PID" 2>/dev/null && return 0
  local status=0
  wait "$SB_PID" 2>/dev/null || status=$?
  tail -n 5 "$TMP/sharebox/stderr" >&2 || true
  die "sharebox (pid $SB_PID) died during the run, exit status $status$( [ $status -gt 128 ] && echo " (signal $((status - 128)))")"
}

# sharebox_upload NAME FILE -> prints the new file's id (streamed upload, raw body).
sharebox_upload() {
  local json
  json=$(curl -sS --fail-with-body -X POST -T "$2" -H 'Expect:' \
    -H "Authorization: Bearer $SB_KEY" -H 'Content-Type: application/octet-stream' \
    "$SB_URL/files?name=$1")
  node -e 'const o=JSON.parse(process.argv[1]); if(!o.id) process.exit(1); console.log(o.id)' "$json" \
    || die "upload of $1 failed: $json"
}

NGX_URL=""; NGX_ROOT=""
need_nginx() {
  [ -n "$NGX_URL" ] && return 0
  local dir="$TMP/nginx" port
  mkdir -p "$dir/root" "$dir/tmp"
  NGX_ROOT="$dir/root"
  port=$(free_port)
  cat > "$dir/nginx.conf" <<CONF
worker_processes $SERVER_CORES;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  default_type application/octet-stream;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $dir/root;
  }
}
CONF
  "${SERVER_PIN[@]}" nginx -c "$dir/nginx.conf" -e "$dir/error.log" 2>"$dir/stderr" &
  local pid=$!
  BG_PIDS+=("$pid")
  NGX_URL="http://127.0.0.1:$port"
  local i
  for i in $(seq 50); do
    curl -s -o /dev/null "$NGX_URL/" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/stderr" "$dir/error.log" >&2; die "nginx exited at start"; }
    sleep 0.1
  done
  log "nginx pid $pid at $NGX_URL ($SERVER_CORES worker(s))"
}

# need_fixture NAME SIZE: a file of SIZE bytes (head -c syntax: 1K, 1M, 1G) from /dev/urandom,
# written once into nginx's root and uploaded once to sharebox. Sets FIX_ID[NAME] (sharebox id)
# and FIX_PATH[NAME] (the bytes on disk, which nginx serves as /NAME).
declare -A FIX_ID=() FIX_PATH=()
need_fixture() {
  local name=$1 size=$2
  [ -n "${FIX_ID[$name]:-}" ] && return 0
  need_sharebox; need_nginx
  local path="$NGX_ROOT/$name"
  head -c "$size" /dev/urandom > "$path"
  chmod 644 "$path"
  FIX_PATH[$name]=$path
  FIX_ID[$name]=$(sharebox_upload "$name" "$path")
  log "fixture $name ($size): sharebox id ${FIX_ID[$name]}"
}

sb_file_url()  { printf '%s/files/%s' "$SB_URL" "${FIX_ID[$1]}"; }
ngx_file_url() { printf '%s/%s' "$NGX_URL" "$1"; }
