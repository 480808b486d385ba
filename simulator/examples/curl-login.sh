#!/usr/bin/env bash
# A relying party in a few lines of shell: logs a test user in at a running
# axum-bankid-simulator with the Authorization Code flow (PKCE S256, state
# and nonce, as BankID OIDC v4 requires) and prints the ID token's claims.
# Needs only bash, curl and openssl. Start the simulator first, with the
# login page skipped:
#
#   axum-bankid-simulator --redirect-uri http://127.0.0.1:3000/callback --auto-approve kari
#   simulator/examples/curl-login.sh
#
# BANKID_ISSUER, BANKID_CLIENT_ID, BANKID_CLIENT_SECRET and
# BANKID_REDIRECT_URI (as the simulator prints them) override the defaults.
# Nothing listens at the redirect URI: the script reads the code from the
# redirect instead of following it, as a browser would deliver it.
set -euo pipefail

issuer=${BANKID_ISSUER:-http://127.0.0.1:4000}
client_id=${BANKID_CLIENT_ID:-sim-client}
client_secret=${BANKID_CLIENT_SECRET:-sim-secret}
redirect_uri=${BANKID_REDIRECT_URI:-http://127.0.0.1:3000/callback}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# A member of a flat JSON object (the simulator's are compact).
member() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
# A query parameter of a URL.
param() { sed -n "s/.*[?&]$1=\([^&]*\).*/\1/p"; }

# 1. Discovery: the endpoints, as the issuer publishes them.
discovery=$(curl -fsS "$issuer/.well-known/openid-configuration")
authorization_endpoint=$(member authorization_endpoint <<<"$discovery")
token_endpoint=$(member token_endpoint <<<"$discovery")
[ "$(member issuer <<<"$discovery")" = "$issuer" ] || { echo "discovery names another issuer" >&2; exit 1; }

# 2. PKCE (S256), state and nonce: fresh for every login.
verifier=$(openssl rand 32 | b64url)
challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | b64url)
state=$(openssl rand -hex 16)
nonce=$(openssl rand -hex 16)

# 3. Authorize. Under --auto-approve the answer is the redirect back with a
#    code at once (without it, a login page to fill in).
location=$(curl -sS -G -o /dev/null -w '%{redirect_url}' \
  --data-urlencode response_type=code \
  --data-urlencode "client_id=$client_id" \
  --data-urlencode "redirect_uri=$redirect_uri" \
  --data-urlencode "scope=openid profile" \
  --data-urlencode "state=$state" \
  --data-urlencode "nonce=$nonce" \
  --data-urlencode "code_challenge=$challenge" \
  --data-urlencode code_challenge_method=S256 \
  "$authorization_endpoint")
case "$location" in
  "$redirect_uri"\?*) ;;
  *) echo "authorize did not redirect to $redirect_uri: '$location'" >&2; exit 1 ;;
esac
if [ -n "$(param error <<<"$location")" ]; then echo "refused: $location" >&2; exit 1; fi
[ "$(param state <<<"$location")" = "$state" ] || { echo "state does not match" >&2; exit 1; }
code=$(param code <<<"$location")

# 4. Exchange the code at the token endpoint (client_secret_basic).
tokens=$(curl -fsS -u "$client_id:$client_secret" \
  --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$code" \
  --data-urlencode "redirect_uri=$redirect_uri" \
  --data-urlencode "code_verifier=$verifier" \
  "$token_endpoint")
id_token=$(member id_token <<<"$tokens")

# 5. The ID token's claims. A real relying party verifies the signature
#    against jwks_uri (and the x5c chain) before it trusts any of them.
payload=$(cut -d. -f2 <<<"$id_token" | tr '_-' '/+')
while [ $(( ${#payload} % 4 )) -ne 0 ]; do payload="$payload="; done
claims=$(openssl base64 -d -A <<<"$payload")
[ "$(member nonce <<<"$claims")" = "$nonce" ] || { echo "nonce does not match" >&2; exit 1; }
echo "$claims"
