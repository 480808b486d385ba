#!/usr/bin/env bash
# Load test with wrk (issue 12, item 1), every figure a ratio against a
# baseline measured in the same run, A/B alternated ROUNDS times, medians:
#   1. protected /me (AuthenticatedUser, logged-in cookie) vs public /healthz,
#      on the release `login` example; and (2b) a protected route with the
#      same small body as /healthz vs /healthz (benches/load_server.rs);
#   2. public /healthz through the session layer + BankIdLayer vs the same
#      route without them (benches/load_server.rs serves both);
#   3. (BACKCHANNEL=1) /me while the provider advertises back-channel logout
#      (one logout-marker check per request) vs /me without it.
#   usage: scripts/load.sh [seconds] [connections]      (needs wrk: apt-get install wrk)
#   env: ROUNDS (3), THREADS (2),
#        REDIS=1      sessions in a fresh redis-server on REDIS_PORT (6391)
#        BACKCHANNEL=1 also run comparison 3
#        PROFILE=1    also `perf record -g` the server during one /me run and
#                     print the top frames (needs perf)
#        ONLY_LOGIN=1 run comparison 1 only (no load_server build)
#        LOGIN_BIN    the `login` binary to measure (default: build it)
#        LOAD_SERVER  the built benches/load_server.rs (default: build it)
#        CARGO_TARGET_DIR as for cargo (default target)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
conns="${2:-32}"
rounds="${ROUNDS:-3}"
threads="${THREADS:-2}"
port=3995
target="${CARGO_TARGET_DIR:-target}"
command -v wrk >/dev/null || { echo "wrk is not installed"; exit 1; }

login_bin="${LOGIN_BIN:-}"
if [ -z "$login_bin" ]; then
  cargo build --release --example login -q
  login_bin="$target/release/examples/login"
fi
load_server="${LOAD_SERVER:-}"
if [ "${ONLY_LOGIN:-0}" != 1 ] && [ -z "$load_server" ]; then
  load_server=$(cargo bench --no-run --bench load_server 2>&1 | sed -n 's/.*Executable.*(\(.*load_server-[0-9a-f]*\)).*/\1/p' | tail -n1)
  [ -x "$load_server" ] || { echo "could not build benches/load_server.rs"; exit 1; }
fi

pids=()
work="$(mktemp -d)"
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

store="memory"
if [ "${REDIS:-0}" = 1 ]; then
  redis_port="${REDIS_PORT:-6391}"
  redis-server --port "$redis_port" --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$redis_port"
  store="redis ($REDIS_URL)"
fi

wait_up() { for _ in $(seq 1 150); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$1 did not start"; exit 1; }

# Logs in once at $1, headlessly, and prints the session cookie.
login() {
  local base="$1" jar="$work/jar" authorize request callback cookie
  rm -f "$jar"
  authorize=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' "$base/auth/bankid/login?return_to=/me")
  request=$(curl -sS -c "$jar" -b "$jar" "$authorize" | grep -o 'name="request"[^>]*' | sed -E 's/.*value="([^"]*)".*/\1/' | head -n1)
  callback=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
    --data-urlencode "request=$request" --data-urlencode "user=kari" --data-urlencode "decision=approve" "${authorize%%/authorize*}/authorize")
  curl -sS -c "$jar" -b "$jar" -o /dev/null "$callback"
  cookie=$(awk '$6 ~ /bankid-session/ {print $6 "=" $7}' "$jar")
  curl -sf -H "cookie: $cookie" -H 'accept: application/json' "$base/me" | grep -q '"loa":3' || { echo "login at $base failed" >&2; exit 1; }
  echo "$cookie"
}

# rate URL COOKIE: requests/s of one wrk run.
rate() { wrk -t"$threads" -c"$conns" -d"${secs}s" -H "cookie: $2" -H 'accept: application/json' "$1" | awk '/Requests\/sec/ {print $2}'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# compare NAME BASELINE_URL MEASURED_URL COOKIE: alternates the two, prints medians and their ratio.
compare() {
  local name="$1" base_url="$2" url="$3" cookie="$4" bs="" ms="" rs="" b m r
  for i in $(seq 1 "$rounds"); do
    # Alternate which side goes first, so drifting load hits both alike.
    if [ $((i % 2)) = 1 ]; then
      b=$(rate "$base_url" "$cookie"); m=$(rate "$url" "$cookie")
    else
      m=$(rate "$url" "$cookie"); b=$(rate "$base_url" "$cookie")
    fi
    r=$(awk -v b="$b" -v m="$m" 'BEGIN { printf "%.3f", m / b }')
    echo "  round $i: baseline $b  measured $m  ratio $r"
    bs="$bs $b"; ms="$ms $m"; rs="$rs $r"
  done
  b=$(echo "$bs" | median); m=$(echo "$ms" | median); r=$(echo "$rs" | median)
  # The median of the per-round (paired) ratios is the figure to quote: on a
  # shared machine the load moves between rounds more than within one.
  awk -v n="$name" -v b="$b" -v m="$m" -v r="$r" -v bu="$base_url" -v mu="$url" \
    'BEGIN { printf "RATIO %s: %s %.0f req/s / %s %.0f req/s = %.2f; median per-round ratio %.2f\n", n, mu, m, bu, b, m / b, r }'
}

echo "wrk -t$threads -c$conns -d${secs}s, $rounds rounds, sessions: $store, $(nproc) cores"

# 1. The login example: /me vs /healthz.
base="http://127.0.0.1:$port"
PORT=$port RUST_LOG=warn "$login_bin" >"$work/login.log" 2>&1 &
server=$!; pids+=($server)
wait_up "$base/healthz"
cookie=$(login "$base")
compare "protected/public (login example)" "$base/healthz" "$base/me" "$cookie"

if [ "${PROFILE:-0}" = 1 ]; then
  wrk -t"$threads" -c"$conns" -d"$((secs + 2))s" -H "cookie: $cookie" -H 'accept: application/json' "$base/me" >/dev/null &
  loadgen=$!
  sleep 1
  data="${PERF_DATA:-$work/perf.data}"
  perf record -g -F 999 -o "$data" -p "$server" -- sleep "$secs" >/dev/null 2>&1
  wait "$loadgen" || true
  echo "perf: top frames (self time) of the server under wrk on /me"
  perf report -i "$data" --no-children --stdio --percent-limit 1 -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | head -n 25
  echo "perf: the crate's, the session layer's and serde's frames (with callees)"
  perf report -i "$data" --children --stdio --percent-limit 0.5 -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | grep -E 'axum_bankid|tower_sessions|serde|BTreeMap|Session' | head -n 20
fi
kill "$server"; wait "$server" 2>/dev/null || true
[ "${ONLY_LOGIN:-0}" = 1 ] && exit 0

# 2. A public route with and without the layers, one process.
lp=$((port + 1)); bp=$((port + 2))
PORT=$lp BARE_PORT=$bp RUST_LOG=warn "$load_server" >"$work/load_server.log" 2>&1 &
server=$!; pids+=($server)
wait_up "http://127.0.0.1:$lp/healthz"; wait_up "http://127.0.0.1:$bp/healthz"
cookie=$(login "http://127.0.0.1:$lp")
compare "public with/without layers" "http://127.0.0.1:$bp/healthz" "http://127.0.0.1:$lp/healthz" "$cookie"
# 2b. Protected with /healthz's small body (AuthenticatedUser, no JSON) vs
#     public, both behind the layers: the extractor's cost without /me's body.
if [ "${SMALL:-1}" = 1 ] && curl -sf -o /dev/null -H "cookie: $cookie" "http://127.0.0.1:$lp/ok"; then
  compare "protected small body/public (load_server)" "http://127.0.0.1:$lp/healthz" "http://127.0.0.1:$lp/ok" "$cookie"
fi

# 3. The logout-marker check, against /me without it.
if [ "${BACKCHANNEL:-0}" = 1 ]; then
  xp=$((port + 3)); xbp=$((port + 4))
  BACKCHANNEL=1 PORT=$xp BARE_PORT=$xbp RUST_LOG=warn "$load_server" >"$work/load_server_bc.log" 2>&1 &
  pids+=($!)
  wait_up "http://127.0.0.1:$xp/healthz"
  xcookie=$(login "http://127.0.0.1:$xp")
  bs=""; ms=""
  for i in $(seq 1 "$rounds"); do
    b=$(rate "http://127.0.0.1:$lp/me" "$cookie"); m=$(rate "http://127.0.0.1:$xp/me" "$xcookie")
    echo "  round $i: /me $b  /me with back-channel logout $m"
    bs="$bs $b"; ms="$ms $m"
  done
  awk -v b="$(echo "$bs" | median)" -v m="$(echo "$ms" | median)" \
    'BEGIN { printf "RATIO /me with/without back-channel logout check: %.0f / %.0f req/s = %.2f\n", m, b, m / b }'
fi
