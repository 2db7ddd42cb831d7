# run_wrk LABEL CONNECTIONS DURATION URL [wrk args...]
# Runs wrk (one thread, keep-alive, --latency) on the client core and sets
#   WRK_RPS (req/s), WRK_BPS (bytes/s, from Transfer/sec), WRK_P50_MS, WRK_P99_MS,
#   WRK_NON2XX, WRK_SOCKERR (sum of socket errors).
# The raw output goes to results/raw/LABEL.txt.
run_wrk() {
  local label=$1 conns=$2 dur=$3 url=$4; shift 4
  local out
  out=$("${CLIENT_PIN[@]}" wrk -t1 -c"$conns" -d"$dur" --latency "$@" "$url")
  printf '%s\n' "$out" | save_raw "$label.txt"
  WRK_RPS=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
  WRK_BPS=$(awk '/^Transfer\/sec:/{ v=$2; n=v+0; u=v; sub(/^[0-9.]+/,"",u);
      m=1; if(u=="KB")m=1024; else if(u=="MB")m=1024^2; else if(u=="GB")m=1024^3; else if(u=="TB")m=1024^4;
      printf "%.0f", n*m }' <<<"$out")
  WRK_P50_MS=$(awk '$1=="50%"{print $2}' <<<"$out" | _ms)
  WRK_P99_MS=$(awk '$1=="99%"{print $2}' <<<"$out" | _ms)
  WRK_NON2XX=$(awk '/Non-2xx or 3xx responses:/{print $NF}' <<<"$out"); WRK_NON2XX=${WRK_NON2XX:-0}
  WRK_SOCKERR=$(awk '/Socket errors:/{gsub(",","");print $4+$6+$8+$10}' <<<"$out"); WRK_SOCKERR=${WRK_SOCKERR:-0}
  [ -n "$WRK_RPS" ] || die "could not parse wrk output for $label"
  log "$(printf '%-18s %10.0f req/s  %8.1f MB/s  p99 %s ms  non2xx %s  sockerr %s' \
    "$label" "$WRK_RPS" "$(awk -v b="$WRK_BPS" 'BEGIN{print b/1e6}')" "$WRK_P99_MS" "$WRK_NON2XX" "$WRK_SOCKERR")"
  [ "$WRK_NON2XX" = 0 ] || log "warning: $label had $WRK_NON2XX non-2xx responses"
}

# wrk latency ("812.00us", "4.68ms", "1.02s") -> milliseconds
_ms() {
  awk '{ v=$1; n=v+0; u=v; sub(/^[0-9.]+/,"",u);
    if(u=="us")n/=1000; else if(u=="s")n*=1000; else if(u=="m")n*=60000;
    printf "%.3f\n", n }'
}

# curl_speed URL [curl args...] -> prints bytes/s of one download to /dev/null (client core)
curl_speed() {
  local url=$1; shift
  "${CLIENT_PIN[@]}" curl -sS --fail -o /dev/null -w '%{speed_download}' "$@" "$url"
}

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{ if(NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
