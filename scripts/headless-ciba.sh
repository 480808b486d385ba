#!/usr/bin/env bash
# Drives the running `ciba` example headlessly: the "TV" starts a CIBA
# request, the simulator's phone page approves it, the TV's status call logs
# its session in, and /me shows the user.
#   usage: scripts/headless-ciba.sh [base-url] [nnin]   (defaults: http://127.0.0.1:3000, Kari's test number)
#   PHONE_URL: the simulator's phone page, when the TV page does not link it
#   (an example configured by BANKID_* variables against a standalone simulator)
set -euo pipefail
base="${1:-http://127.0.0.1:3000}"
jar="$(mktemp)"
trap 'rm -f "$jar"' EXIT

tv=$(curl -sS -c "$jar" -b "$jar" "$base/")
phone="${PHONE_URL:-$(printf '%s' "$tv" | grep -o 'href="http://127.0.0.1:[0-9]*/phone"' | head -n1 | sed -E 's/href="([^"]*)"/\1/')}"
nnin="${2:-$(printf '%s' "$tv" | grep -o '<code>[0-9]\{11\}</code>' | head -n1 | sed -E 's/<\/?code>//g')}"

started=$(curl -sS -c "$jar" -b "$jar" -H 'content-type: application/json' -d "{\"nnin\":\"$nnin\"}" "$base/auth/bankid/ciba")
handle=$(printf '%s' "$started" | sed -E 's/.*"handle":"([^"]*)".*/\1/')
echo "started: $started" >&2

# The start answers before BankID is asked; BankID's binding message shows
# on the status route once BIB has the request (then the phone has it too).
for _ in $(seq 1 40); do
  status=$(curl -sS -c "$jar" -b "$jar" "$base/auth/bankid/ciba/$handle")
  case "$status" in *'"binding_message":"'*) break ;; *'"status":"pending"'*) sleep 0.25 ;; *) break ;; esac
done
echo "waiting: $status" >&2

page=$(curl -sS "$phone?login_hint=$nnin")
auth_req_id=$(printf '%s' "$page" | grep -o 'name="auth_req_id"[^>]*' | head -n1 | sed -E 's/.*value="([^"]*)".*/\1/')
curl -sS -o /dev/null --data-urlencode "auth_req_id=$auth_req_id" --data-urlencode "decision=approve" "${phone}/decide"

for _ in $(seq 1 40); do
  status=$(curl -sS -c "$jar" -b "$jar" "$base/auth/bankid/ciba/$handle")
  case "$status" in *'"status":"pending"'*) sleep 0.5 ;; *) break ;; esac
done
echo "status: ${status:0:60}..." >&2
curl -sS -b "$jar" "$base/me"
echo
