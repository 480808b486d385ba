#!/usr/bin/env bash
# Load test with wrk: the protected /me (AuthenticatedUser) against /healthz
# (no extractor) on the same release build of the `login` example, same
# logged-in session cookie, same run. Prints both rates and their ratio.
#   usage: scripts/load.sh [seconds] [connections]      (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
conns="${2:-32}"
port=3995
base="http://127.0.0.1:$port"
command -v wrk >/dev/null || { echo "wrk is not installed"; exit 1; }

cargo build --release --example login -q
PORT=$port RUST_LOG=warn target/release/examples/login >/tmp/axum-bankid-load.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.1; done

# Log in once, headlessly, and keep the session cookie.
jar="$(mktemp)"
authorize=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' "$base/auth/bankid/login?return_to=/me")
request=$(curl -sS -c "$jar" -b "$jar" "$authorize" | grep -o 'name="request"[^>]*' | sed -E 's/.*value="([^"]*)".*/\1/' | head -n1)
callback=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
  --data-urlencode "request=$request" --data-urlencode "user=kari" --data-urlencode "decision=approve" "${authorize%%/authorize*}/authorize")
curl -sS -c "$jar" -b "$jar" -o /dev/null "$callback"
cookie=$(awk '$6 ~ /bankid-session/ {print $6 "=" $7}' "$jar")
rm -f "$jar"
curl -sf -H "cookie: $cookie" -H 'accept: application/json' "$base/me" | grep -q '"loa":3' || { echo "login for the load test failed"; exit 1; }

rate() { wrk -t2 -c"$conns" -d"${secs}s" -H "cookie: $cookie" -H 'accept: application/json' "$base$1" | awk '/Requests\/sec/ {print $2}'; }
baseline=$(rate /healthz)
protected=$(rate /me)
echo "baseline /healthz:   $baseline req/s"
echo "protected /me:       $protected req/s"
awk -v b="$baseline" -v p="$protected" 'BEGIN { printf "RATIO protected/baseline throughput = %.2f\n", p / b }'
