#!/usr/bin/env bash
# Load test with wrk (issue 12, item 1), every figure a ratio against a
# baseline measured in the same run, A/B alternated ROUNDS times, medians;
# one `RATIO ...` line per comparison:
#   1. protected /me (AuthenticatedUser, logged-in cookie) vs public /healthz,
#      on the release `login` example;
#   2. the public route, one layer per rung (benches/load_server.rs serves
#      all three in one process): bare router -> + tower-sessions'
#      SessionManagerLayer only -> + BankIdLayer. Ratios: both/bare (the
#      issue's figure), sessions-only/bare (tower-sessions' share) and
#      both/sessions-only (BankIdLayer's own share);
#   3. protected, all behind both layers with one logged-in cookie and the
#      body "ok": /healthz -> /session-read (loads the session record, reads
#      the stored login undecoded) -> /ok (AuthenticatedUser). Ratios: ok/public,
#      session-read/public (the store's share), ok/session-read (the
#      extractor's own share);
#      With the verified-login cache on (CACHE=1, the default) /ok reads no
#      store and the rungs are public -> /healthz-private (the same with the
#      Cache-Control: private header every response that showed a login
#      gets) -> /ok; session-read/public is then the store read a hit saves;
#   4. (BACKCHANNEL=1) /me while the provider advertises back-channel logout
#      (one logout-marker check per uncached request) vs /me without it;
#   5. (CHURN=1) logins and logouts interleaved under load: wrk loads /ok
#      rotating over POOL (1000) logged-in sessions
#      (scripts/rotate-cookies.lua) while the server's /churn route logs
#      sessions in and out for CHURN_SECS (3 x seconds) and checks that no
#      request is served for a session after its logout; the cache is
#      bounded to CACHE_MAX_ENTRIES (500, fewer than the pool), its size is
#      sampled every half second (CACHE_MAX line) and reported with its hit
#      rate (CACHE line).
#   After 2 and 3 a `LADDER` line sets the product of the rungs beside the
#   directly measured ratio (they differ by the noise of the run).
#   usage: scripts/load.sh [seconds] [connections]      (needs wrk: apt-get install wrk)
#   env: ROUNDS (3), THREADS (2),
#        REDIS=1      sessions in a fresh redis-server on REDIS_PORT (6391),
#                     for every comparison (the whole ladder)
#        BACKCHANNEL=1 also run comparison 4
#        CACHE=0      the verified-login cache off (BANKID_LOGIN_CACHE_TTL_MS=0)
#                     for the login example and load_server alike
#        PUBLIC=0     skip comparison 2
#        SMALL=0      skip comparison 3
#        CHURN=1      also run comparison 5
#        PROFILE=1    also `perf record -g` the server during one /me run (login
#                     example) and one public /healthz run through both layers
#                     (load_server), and print the top frames (needs perf)
#        ONLY_LOGIN=1 run comparison 1 only (no load_server build)
#        ONLY_CHURN=1 run comparison 5 only (with CHURN=1)
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

cache="on (${BANKID_LOGIN_CACHE_TTL_MS:-2000} ms)"
if [ "${CACHE:-1}" = 0 ]; then
  export BANKID_LOGIN_CACHE_TTL_MS=0
  cache="off"
fi

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

# compare NAME BASELINE_URL MEASURED_URL COOKIE: alternates the two, prints
# medians and their ratio; leaves the median per-round ratio in $last_ratio.
last_ratio=""
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
  last_ratio="$r"
  # The median of the per-round (paired) ratios is the figure to quote: on a
  # shared machine the load moves between rounds more than within one.
  awk -v n="$name" -v b="$b" -v m="$m" -v r="$r" -v bu="$base_url" -v mu="$url" \
    'BEGIN { printf "RATIO %s: %s %.0f req/s / %s %.0f req/s = %.2f; median per-round ratio %.2f\n", n, mu, m, bu, b, m / b, r }'
}

# ladder NAME FIRST_STEP R1 SECOND_STEP R2 DIRECT: the two rungs, their
# product and the directly measured ratio of the whole step, side by side.
ladder() {
  awk -v n="$1" -v s1="$2" -v r1="$3" -v s2="$4" -v r2="$5" -v d="$6" \
    'BEGIN { printf "LADDER %s: %s x%.2f, then %s x%.2f; product %.2f, measured directly %.2f\n", n, s1, r1, s2, r2, r1 * r2, d }'
}

# rungs NAME COOKIE BOTTOM MIDDLE TOP DIRECT_NAME LOWER_NAME LOWER_STEP UPPER_NAME UPPER_STEP:
# bottom -> top measured directly, then bottom -> middle and middle -> top,
# and the ladder line that sets the rungs' product beside the direct ratio.
rungs() {
  local direct lower
  compare "$6" "$3" "$5" "$2"; direct="$last_ratio"
  compare "$7" "$3" "$4" "$2"; lower="$last_ratio"
  compare "$9" "$4" "$5" "$2"
  ladder "$1" "$8" "$lower" "${10}" "$last_ratio" "$direct"
}

# profile PID URL COOKIE: perf record -g of PID while wrk loads URL; prints
# the top frames (self time) and the crate's, the session layer's and serde's
# frames with their callees. (A report with no such frame is no failure.)
profile() {
  local pid="$1" url="$2" cookie="$3" data loadgen
  wrk -t"$threads" -c"$conns" -d"$((secs + 2))s" -H "cookie: $cookie" -H 'accept: application/json' "$url" >/dev/null &
  loadgen=$!
  sleep 1
  data="${PERF_DATA:-$work/perf.data}"
  perf record -g -F 999 -o "$data" -p "$pid" -- sleep "$secs" >/dev/null 2>&1
  wait "$loadgen" || true
  echo "perf: top frames (self time) of the server under wrk on $url"
  perf report -i "$data" --no-children --stdio --percent-limit 1 -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | head -n 25 || true
  echo "perf: the crate's, the session layer's and serde's frames (with callees) on $url"
  perf report -i "$data" --children --stdio --percent-limit 0.5 -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | grep -E 'axum_bankid|tower_sessions|serde|BTreeMap|Session' | head -n 20 || true
}

# start_load_server NAME PORT BARE_PORT SESSIONS_PORT [ENV...]: starts one
# load_server and waits for its `ready` line, printed only after its own
# start-up check (a login whose /session-read finds the stored login).
start_load_server() {
  local name="$1" log="$work/$1.log"
  env PORT="$2" BARE_PORT="$3" SESSIONS_PORT="$4" RUST_LOG=warn "${@:5}" "$load_server" >"$log" 2>&1 &
  server=$!; pids+=($server)
  for _ in $(seq 1 600); do
    grep -q '^load_server ready' "$log" && return 0
    kill -0 "$server" 2>/dev/null || { echo "load_server ($name) exited:"; tail -n 20 "$log"; exit 1; }
    sleep 0.1
  done
  echo "load_server ($name) did not become ready:"; tail -n 20 "$log"; exit 1
}

# expect_ok URL COOKIE: the route answers 200 "ok" with this cookie, or the run stops.
expect_ok() {
  [ "$(curl -sf -H "cookie: $2" "$1" || true)" = ok ] || { echo "$1 did not answer ok with the logged-in cookie"; exit 1; }
}

echo "wrk -t$threads -c$conns -d${secs}s, $rounds rounds, sessions: $store, login cache: $cache, $(nproc) cores"

if [ "${ONLY_CHURN:-0}" != 1 ]; then
# 1. The login example: /me vs /healthz.
base="http://127.0.0.1:$port"
PORT=$port RUST_LOG=warn "$login_bin" >"$work/login.log" 2>&1 &
server=$!; pids+=($server)
wait_up "$base/healthz"
cookie=$(login "$base")
compare "protected/public (login example)" "$base/healthz" "$base/me" "$cookie"
if [ "${PROFILE:-0}" = 1 ]; then profile "$server" "$base/me" "$cookie"; fi
kill "$server"; wait "$server" 2>/dev/null || true
if [ "${ONLY_LOGIN:-0}" = 1 ]; then exit 0; fi

# 2. The public route, one layer per rung, one process.
lp=$((port + 1)); bp=$((port + 2)); sp=$((port + 3))
app="http://127.0.0.1:$lp"; bare="http://127.0.0.1:$bp"; sessions="http://127.0.0.1:$sp"
start_load_server load_server "$lp" "$bp" "$sp"
cookie=$(login "$app")
for url in "$app/healthz" "$bare/healthz" "$sessions/healthz"; do expect_ok "$url" "$cookie"; done
if [ "${PUBLIC:-1}" = 1 ]; then
  rungs "public /healthz" "$cookie" "$bare/healthz" "$sessions/healthz" "$app/healthz" \
    "public with/without layers" \
    "public sessions-only/bare (tower-sessions' share)" "bare -> +SessionManagerLayer" \
    "public both layers/sessions-only (BankIdLayer's share)" "-> +BankIdLayer"
  if [ "${PROFILE:-0}" = 1 ]; then profile "$server" "$app/healthz" "$cookie"; fi
fi

# 3. Protected, behind both layers, the same small body: public -> the
#    session read alone -> AuthenticatedUser.
if [ "${SMALL:-1}" = 1 ] && [ "${CACHE:-1}" = 1 ]; then
  # A hit reads no store. Rungs: public -> +the private header every
  # response that showed a login gets -> +AuthenticatedUser (a hit).
  expect_ok "$app/session-read" "$cookie"; expect_ok "$app/ok" "$cookie"; expect_ok "$app/healthz-private" "$cookie"
  rungs "protected, behind both layers, cache on" "$cookie" "$app/healthz" "$app/healthz-private" "$app/ok" \
    "protected small body/public, cache on" \
    "public private/public (the Cache-Control: private header's share)" "public -> +private header" \
    "protected small body/public private, cache on (the extractor's share)" "-> +AuthenticatedUser (a hit)"
  compare "session-read/public (the store read a hit saves)" "$app/healthz" "$app/session-read" "$cookie"
  if [ "${PROFILE:-0}" = 1 ]; then profile "$server" "$app/ok" "$cookie"; fi
elif [ "${SMALL:-1}" = 1 ]; then
  expect_ok "$app/session-read" "$cookie"; expect_ok "$app/ok" "$cookie"
  rungs "protected, behind both layers" "$cookie" "$app/healthz" "$app/session-read" "$app/ok" \
    "protected small body/public (load_server)" \
    "session-read/public (the store's share)" "public -> +session read" \
    "protected small body/session-read (the extractor's share)" "-> +AuthenticatedUser"
fi
if [ "${CACHE:-1}" = 1 ]; then echo "$(curl -sf "$app/cache-stats") (after the runs above)"; fi

# 4. The logout-marker check, against /me without it.
if [ "${BACKCHANNEL:-0}" = 1 ]; then
  xp=$((port + 4))
  start_load_server load_server_bc "$xp" $((port + 5)) $((port + 6)) BACKCHANNEL=1
  xcookie=$(login "http://127.0.0.1:$xp")
  bs=""; ms=""
  for i in $(seq 1 "$rounds"); do
    b=$(rate "$app/me" "$cookie"); m=$(rate "http://127.0.0.1:$xp/me" "$xcookie")
    echo "  round $i: /me $b  /me with back-channel logout $m"
    bs="$bs $b"; ms="$ms $m"
  done
  awk -v b="$(echo "$bs" | median)" -v m="$(echo "$ms" | median)" \
    'BEGIN { printf "RATIO /me with/without back-channel logout check: %.0f / %.0f req/s = %.2f\n", m, b, m / b }'
fi
fi

# 5. Logins and logouts interleaved under load.
if [ "${CHURN:-0}" = 1 ]; then
  cp=$((port + 7)); churn_secs="${CHURN_SECS:-$((secs * 3))}"
  pool_file="$work/pool"
  start_load_server load_server_churn "$cp" $((port + 8)) $((port + 9)) \
    POOL="${POOL:-1000}" POOL_FILE="$pool_file" CACHE_MAX_ENTRIES="${CACHE_MAX_ENTRIES:-500}"
  churn="http://127.0.0.1:$cp"
  echo "churn: $(wc -l <"$pool_file") pooled sessions under wrk, logins and logouts for ${churn_secs}s"
  COOKIES_FILE="$pool_file" wrk -t"$threads" -c"$conns" -d"${churn_secs}s" -s scripts/rotate-cookies.lua \
    "$churn/ok" >"$work/churn-wrk.txt" 2>&1 &
  loadgen=$!
  ( while kill -0 "$loadgen" 2>/dev/null; do curl -sf "$churn/cache-stats"; echo; sleep 0.5; done ) >"$work/samples" &
  sampler=$!
  curl -sf -X POST "$churn/churn?secs=$churn_secs&tasks=${CHURN_TASKS:-4}" | tee "$work/churn.txt"
  wait "$loadgen" || true
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  grep -E 'Requests/sec|STATUS' "$work/churn-wrk.txt"
  awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         if (v["entries"] > e) e = v["entries"]; if (v["bytes"] > b) b = v["bytes"]; n++ }
       END { printf "CACHE_MAX sampled %d times: at most %d entries (bound %d), %d bytes (bound %d)\n", n, e, v["max_entries"], b, v["max_bytes"] }' "$work/samples"
  grep -q 'served_after_logout=0' "$work/churn.txt" || { echo "a request was served after its session's logout"; exit 1; }
fi
