#!/usr/bin/env bash
# Two instances of one app (the `ciba` example: code-flow login, logout and
# CIBA) sharing one Redis and one provider, driven with curl and one cookie
# jar, as a browser behind a load balancer would be sent to either:
#   a. a login started on A completes its callback on B; /me shows LOA 3 on both
#   b. logout on B logs out on A; the logged-out cookie replayed is refused by
#      B at once and by A (which cached the login) within its login cache TTL
#   c. a CIBA request started on A is approved and completed on B
#   d. a Redis restart (append-only file on) keeps the user logged in
#   e. Redis down: 503 session_error on a protected route once a cached login
#      is past its TTL (no logout, no panic, session untouched); the app
#      recovers by itself when it is back
# Prints one line per check; exits non-zero on the first failure. Every wait
# is bounded; every process it starts is stopped on exit.
#   usage: scripts/multi-instance.sh
#          (after `cargo build --examples && cargo build -p axum-bankid-simulator`)
#   env: REDIS_PORT (6390), SIM_PORT (4010), SIM_BIB_PORT (4011), PORT_A (3990),
#        PORT_B (3991), EXAMPLES_DIR (the built examples; default
#        ${CARGO_TARGET_DIR:-target}/debug/examples), SIMULATOR_BIN (the
#        simulator binary; default ${CARGO_TARGET_DIR:-target}/debug/axum-bankid-simulator)
set -euo pipefail
cd "$(dirname "$0")/.."

redis_port="${REDIS_PORT:-6390}"
sim_port="${SIM_PORT:-4010}"
bib_port="${SIM_BIB_PORT:-4011}"
port_a="${PORT_A:-3990}"
port_b="${PORT_B:-3991}"
cache_ttl_ms=1500
bin="${EXAMPLES_DIR:-${CARGO_TARGET_DIR:-target}/debug/examples}"
sim_bin="${SIMULATOR_BIN:-${CARGO_TARGET_DIR:-target}/debug/axum-bankid-simulator}"
a="http://127.0.0.1:$port_a"
b="http://127.0.0.1:$port_b"
issuer="http://127.0.0.1:$sim_port"

work="$(mktemp -d)"
jar="$work/cookies"
logs="$work/logs"
mkdir -p "$logs" "$work/redis"
redis_pid=""
pids=()

cleanup() {
  local code=$?
  for pid in "${pids[@]}" $redis_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" $redis_pid; do wait "$pid" 2>/dev/null || true; done
  if [ "$code" -ne 0 ]; then
    for log in "$logs"/*.log; do echo "--- $log"; tail -n 40 "$log"; done
  fi
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }

for port in "$redis_port" "$sim_port" "$bib_port" "$port_a" "$port_b"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "port $port is already in use"; fi
done

wait_for() { # url what
  for _ in $(seq 1 150); do curl -sf --max-time 2 -o /dev/null "$1" && return 0; sleep 0.1; done
  fail "$2 did not start"
}

# The server writes its append-only file into $work/redis and reads it back
# when started again on the same port and directory.
start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly yes --dir "$work/redis" \
    >>"$logs/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  fail "redis-server did not start"
}

stop_redis() {
  redis-cli -p "$redis_port" shutdown >/dev/null 2>&1 || true
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
}

# GET as an API client: prints "STATUS BODY" (curl's own failure: 000).
get_json() {
  curl -sS --max-time 10 -b "$jar" -c "$jar" -H 'accept: application/json' -o "$work/body" -w '%{http_code}' "$1" \
    >"$work/status" 2>/dev/null || true
  echo "$(cat "$work/status") $(cat "$work/body" 2>/dev/null)"
}

# /me until the store answers again (503 while the pool reconnects), bounded.
me_after_recovery() {
  local answer
  for _ in $(seq 1 100); do
    answer=$(get_json "$1/me")
    case "$answer" in 503*|000*) sleep 0.2 ;; *) echo "$answer"; return 0 ;; esac
  done
  echo "$answer"
}

start_redis
SIM_PORT=$sim_port SIM_BIB_PORT=$bib_port SIM_REDIRECT_URIS="$b/auth/bankid/callback" \
  SIM_ROOT_CERT_FILE="$logs/simulator-root.pem" \
  "$sim_bin" >"$logs/simulator.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$bib_port/.well-known/openid-configuration" "the simulator"

# Both instances present one origin's callback (B's), as behind one load balancer.
for instance in "A $port_a" "B $port_b"; do
  set -- $instance
  PORT=$2 REDIS_URL="redis://127.0.0.1:$redis_port" BANKID_LOGIN_CACHE_TTL_MS=$cache_ttl_ms \
    BANKID_ISSUER="$issuer" BANKID_BIB_ISSUER="http://127.0.0.1:$bib_port" \
    BANKID_CLIENT_ID=sim-client BANKID_CLIENT_SECRET=sim-secret \
    BANKID_REDIRECT_URI="$b/auth/bankid/callback" BANKID_ROOT_CERTS_FILE="$logs/simulator-root.pem" \
    "$bin/ciba" >"$logs/instance-$1.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$2/" "instance $1"
done

# a. Login started on A, callback on B (the redirect URI is B's).
authorize=$(curl -sS --max-time 10 -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' "$a/auth/bankid/login?return_to=/me")
case "$authorize" in "$issuer/authorize"*) ;; *) fail "a: login on A did not redirect to the simulator: $authorize" ;; esac
form=$(curl -sS --max-time 10 -b "$jar" -c "$jar" "$authorize")
request=$(printf '%s' "$form" | grep -o 'name="request"[^>]*' | sed -E 's/.*value="([^"]*)".*/\1/' | head -n1)
callback=$(curl -sS --max-time 10 -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' \
  --data-urlencode "request=$request" --data-urlencode "user=kari" --data-urlencode "decision=approve" \
  "$issuer/authorize")
case "$callback" in "$b/auth/bankid/callback?"*) ;; *) fail "a: the callback does not go to B: $callback" ;; esac
landing=$(curl -sS --max-time 10 -b "$jar" -c "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' "$callback")
[ "$landing" = "303 $b/me" ] || fail "a: callback on B answered $landing"
me_a=$(get_json "$a/me")
me_b=$(get_json "$b/me")
for me in "$me_a" "$me_b"; do
  case "$me" in 200*'"loa":3'*) ;; *) fail "a: /me after the login: $me" ;; esac
done
pass "a. login started on A, callback completed on B, /me shows loa 3 on A and on B"

# b. Logout on B, as B's own form posts it; then the logged-out cookie
#    replayed: B (which ended it) refuses it at once, A (which had the login
#    in its verified-login cache from a.) within its login_cache_ttl.
old_cookie=$(awk '$6 ~ /bankid-session/ {print $6 "=" $7}' "$jar")
[ -n "$old_cookie" ] || fail "b: no session cookie in the jar"
logout=$(curl -sS --max-time 10 -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' -X POST -H "origin: $b" "$b/auth/bankid/logout")
[ "$logout" = 303 ] || fail "b: logout on B answered $logout"
logged_out_at=$(date +%s%N)
for me in "$(get_json "$a/me")" "$(get_json "$b/me")"; do
  case "$me" in 401*'"unauthenticated"'*) ;; *) fail "b: /me after logout on B: $me" ;; esac
done
replay() { curl -sS --max-time 10 -H "cookie: $old_cookie" -H 'accept: application/json' -o /dev/null -w '%{http_code}' "$1/me"; }
[ "$(replay "$b")" = 401 ] || fail "b: B let the logged-out cookie through"
while :; do
  answer=$(replay "$a")
  waited=$(( ($(date +%s%N) - logged_out_at) / 1000000 ))
  [ "$answer" = 401 ] && break
  [ "$answer" = 200 ] || fail "b: A answered the logged-out cookie with $answer"
  [ "$waited" -le $((cache_ttl_ms + 1000)) ] || fail "b: A let the logged-out cookie through for ${waited} ms (login_cache_ttl ${cache_ttl_ms} ms)"
  sleep 0.05
done
pass "b. logout on B logged out on A (401 on both); the old cookie: refused on B at once, on A after ${waited} ms (login_cache_ttl ${cache_ttl_ms} ms)"

# c. CIBA: the TV on A starts, the phone approves, B reads the status.
nnin=$(curl -sS --max-time 10 "$a/" | grep -o '<code>[0-9]\{11\}</code>' | head -n1 | sed -E 's/<\/?code>//g')
started=$(curl -sS --max-time 10 -b "$jar" -c "$jar" -H 'content-type: application/json' -d "{\"nnin\":\"$nnin\"}" "$a/auth/bankid/ciba")
handle=$(printf '%s' "$started" | sed -nE 's/.*"handle":"([^"]*)".*/\1/p')
[ -n "$handle" ] || fail "c: CIBA start on A answered $started"
# The start answers before BankID is asked: wait (reading on B) until BIB has the request.
for _ in $(seq 1 40); do
  status=$(get_json "$b/auth/bankid/ciba/$handle")
  case "$status" in *'"binding_message":"'*) break ;; *) sleep 0.25 ;; esac
done
phone=$(curl -sS --max-time 10 "$issuer/phone?login_hint=$nnin")
auth_req_id=$(printf '%s' "$phone" | grep -o 'name="auth_req_id"[^>]*' | head -n1 | sed -E 's/.*value="([^"]*)".*/\1/')
[ -n "$auth_req_id" ] || fail "c: the phone page shows no request for the TV's number"
curl -sS --max-time 10 -o /dev/null --data-urlencode "auth_req_id=$auth_req_id" --data-urlencode "decision=approve" "$issuer/phone/decide"
status=""
for _ in $(seq 1 60); do
  status=$(get_json "$b/auth/bankid/ciba/$handle")
  case "$status" in 200*'"status":"pending"'*) sleep 0.5 ;; *) break ;; esac
done
case "$status" in 200*'"status":"approved"'*) ;; *) fail "c: status of A's request read on B: $status" ;; esac
me_a=$(get_json "$a/me")
me_b=$(get_json "$b/me")
case "$me_b" in 200*'"name":"Kari Nordmann"'*) ;; *) fail "c: /me on B after CIBA: $me_b" ;; esac
[ "$me_a" = "$me_b" ] || fail "c: A and B disagree: $me_a / $me_b"
pass "c. CIBA request started on A, approved on the phone, completed on B (status approved, /me on A and B)"

# d. Redis restart with its append-only file: still logged in, same session.
session_before=$(grep -c bankid-session "$jar")
stop_redis
start_redis
for url in "$a" "$b"; do
  answer=$(me_after_recovery "$url")
  [ "$answer" = "$me_b" ] || fail "d: /me on $url after the Redis restart: $answer"
done
[ "$(grep -c bankid-session "$jar")" = "$session_before" ] || fail "d: the session cookie changed"
pass "d. Redis restart (appendonly): the user is still logged in on A and on B"

# e. Redis down: a clear 503 (once a login cached before the outage is past
#    its login_cache_ttl: until then it is answered), nothing logged out;
#    back: recovered by itself. No response during the outage may set a
#    cookie: each is checked for Set-Cookie (the jar is only read, so a
#    cookie that merely expires while the test waits is no failure).
during_outage() { # url accept: prints the status; fails on any Set-Cookie
  local status
  status=$(curl -sS --max-time 10 -b "$jar" -H "accept: $2" -D "$work/headers" -o "$work/body" -w '%{http_code}' "$1" \
    2>/dev/null || true)
  if grep -qi '^set-cookie:' "$work/headers" 2>/dev/null; then fail "e: $1 set a cookie during the outage"; fi
  echo "$status $(cat "$work/body" 2>/dev/null)"
}
stop_redis
down_at=$(date +%s%N)
for url in "$a" "$b"; do
  while answer=$(during_outage "$url/me" application/json); [ "${answer%% *}" = 200 ]; do
    waited=$(( ($(date +%s%N) - down_at) / 1000000 ))
    [ "$waited" -le $((cache_ttl_ms + 1000)) ] || fail "e: /me on $url answered from the cache ${waited} ms into the outage"
    sleep 0.05
  done
  case "$answer" in 503*'"error":"session_error"'*) ;; *) fail "e: /me on $url with Redis down: $answer" ;; esac
  page=$(during_outage "$url/me" text/html)
  [ "${page%% *}" = 503 ] || fail "e: a browser's /me on $url with Redis down answered ${page%% *}"
done
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || fail "e: a process died during the outage"; done
start_redis
for url in "$a" "$b"; do
  answer=$(me_after_recovery "$url")
  [ "$answer" = "$me_b" ] || fail "e: /me on $url after Redis came back: $answer"
done
pass "e. Redis down: 503 session_error on /me (JSON and HTML) once past the cache TTL, cookies untouched; back up: logged in again on A and B"

if grep -q 'panicked' "$logs"/*.log; then fail "a process panicked"; fi
if grep -Eq 'eyJ[A-Za-z0-9_-]{10,}\.' "$logs"/*.log; then fail "a token appeared in a log"; fi
pass "no panic and no token in the logs"
