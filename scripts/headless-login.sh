#!/usr/bin/env bash
# Logs in to a running example headlessly (curl + a cookie jar) through the
# embedded simulator's HTML form, then prints the final page.
#   usage: scripts/headless-login.sh [base-url] [user] [start-path] [final-path]
#   defaults: http://127.0.0.1:3000 kari /auth/bankid/login?return_to=/me /me (as JSON)
#   step-up (the login example's LOA 4 route; the simulator then logs the
#   user in with BankID High):
#     scripts/headless-login.sh http://127.0.0.1:3000 kari \
#       '/auth/bankid/login?return_to=/payout-account&acr=4' /payout-account
set -euo pipefail
base="${1:-http://127.0.0.1:3000}"
user="${2:-kari}"
start="${3:-/auth/bankid/login?return_to=/me}"
final="${4:-/me}"
jar="$(mktemp)"
trap 'rm -f "$jar"' EXIT

# 1. Start the login at the app; it redirects to the provider's authorize endpoint.
authorize=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' "$base$start")
# 2. Load the simulator's form and read the hidden request id.
form=$(curl -sS -c "$jar" -b "$jar" "$authorize")
request=$(printf '%s' "$form" | grep -o 'name="request"[^>]*' | sed -E 's/.*value="([^"]*)".*/\1/' | head -n1)
issuer="${authorize%%/authorize*}"
# 3. Approve as the chosen test user; the simulator redirects to our callback.
callback=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
  --data-urlencode "request=$request" --data-urlencode "user=$user" --data-urlencode "decision=approve" \
  "$issuer/authorize")
# 4. The callback verifies everything and sends us on (a permission login's
#    landing URL carries its flow reference, `bankid_flow`: keep it).
landing=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' "$callback")
case "$landing" in
  "$base$final"|"$base$final?"*) target="$landing" ;;
  *) target="$base$final" ;;
esac
curl -sS -b "$jar" -H 'accept: application/json' "$target"
echo
