// A headless OpenID Provider for axum-bankid's interoperability test
// (tests/it/interop.rs): panva's oidc-provider (OpenID Certified), configured to
// look like BankID where the crate cares (PAR, RFC 9207 `iss`, RS256 ID
// tokens carrying `acr` urn:bankid:bis;LOA=3, `amr`, `name`), with a login
// that needs no browser: the interaction route finishes the login at once.
//
//   node op.mjs [port]        # port also from env PORT; 0 (default) = any free port
//
// Env: REDIRECT_URIS (comma-separated, required), POST_LOGOUT_REDIRECT_URIS
// (comma-separated, optional), ACR (the acr of every login; default
// urn:bankid:bis;LOA=3).
//
// Prints exactly one line `READY http://127.0.0.1:<port>` on stdout once it
// is listening; everything else goes to stderr. Test use only: fixed secrets,
// in-memory storage, a signing key generated at every start.

import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const DEFAULT_ACR = 'urn:bankid:bis;LOA=3';
const ACCOUNT = {
  sub: 'kari',
  name: 'Kari Nordmann',
  given_name: 'Kari',
  family_name: 'Nordmann',
  birthdate: '1986-05-17',
};

const list = (value) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);

const portArg = process.argv[2] ?? process.env.PORT ?? '0';
const port = Number.parseInt(portArg, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`op.mjs: invalid port ${JSON.stringify(portArg)}`);
  process.exit(2);
}
const redirectUris = list(process.env.REDIRECT_URIS);
if (redirectUris.length === 0) {
  console.error('op.mjs: set REDIRECT_URIS (comma-separated) to the relying party callback URL(s)');
  process.exit(2);
}
const postLogoutRedirectUris = list(process.env.POST_LOGOUT_REDIRECT_URIS);
const acr = process.env.ACR || DEFAULT_ACR;

// A fresh RS256 key per run (the dev keystore bundled with oidc-provider is
// public and mixes algorithms; BankID signs with RS256).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', alg: 'RS256', use: 'sig' };

function configuration() {
  return {
    clients: [
      {
        client_id: 'interop-client',
        client_secret: 'interop-secret',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: redirectUris,
        post_logout_redirect_uris: postLogoutRedirectUris,
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [signingKey] },
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    pkce: { methods: ['S256'], required: () => true },
    acrValues: [...new Set(['urn:bankid:bis;LOA=3', 'urn:bankid:bid;LOA=4', acr])],
    scopes: ['openid', 'profile'],
    // `acr`, `amr` and `auth_time` ride on the `openid` scope so that every
    // ID token carries them, as BankID's do (oidc-provider otherwise adds
    // them only when the client asks, e.g. with `acr_values` or `claims`).
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name', 'given_name', 'family_name', 'birthdate'],
      sid: null,
    },
    // BankID puts the profile claims in the ID token, which is where the
    // crate reads them; oidc-provider by default keeps them for UserInfo.
    conformIdTokenClaims: false,
    async findAccount(ctx, sub) {
      if (sub !== ACCOUNT.sub) return undefined;
      return { accountId: sub, claims: async () => ({ ...ACCOUNT }) };
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // The confirmation page is just the form: a client without
        // JavaScript posts `xsrf` plus `logout=yes` to its action.
        logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = `<!doctype html><html><body>${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button></body></html>`;
        },
      },
      // Both are on by default in this version; spelled out because the crate
      // uses PAR whenever discovery advertises it.
      pushedAuthorizationRequests: { enabled: true },
      userinfo: { enabled: true },
    },
    // Explicit lifetimes (seconds), which also keeps the development
    // notices about the default ttl helpers out of the test output.
    ttl: {
      AccessToken: 600,
      Grant: 600,
      IdToken: 600,
      Interaction: 600,
      PushedAuthorizationRequest: 60,
      Session: 3600,
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // Plain http on loopback: signed cookies, never `Secure`, and `Lax` for
    // the long-lived session cookie too (the default `SameSite=None` without
    // `Secure` is refused by browsers).
    cookies: {
      keys: ['interop-cookie-signing-key-not-secret'],
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

// The headless login: GET /interaction/:uid logs Kari in with the configured
// acr and grants the requested OpenID scopes, then sends the browser back to
// the authorization endpoint to resume.
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const accountId = ACCOUNT.sub;
  const clientId = details.params.client_id;
  let { grantId } = details;
  const grant = grantId ? await provider.Grant.find(grantId) : new provider.Grant({ accountId, clientId });
  grant.addOIDCScope(details.params.scope ?? 'openid');
  grantId = await grant.save();
  console.error(`op.mjs: interaction ${details.uid} (prompt ${details.prompt.name}) -> login ${accountId}, acr ${acr}`);
  await provider.interactionFinished(
    req,
    res,
    {
      login: { accountId, acr, amr: ['bis'], remember: true },
      consent: { grantId },
    },
    { mergeWithLastSubmission: false },
  );
}

const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'end_session.error', 'pushed_authorization_request.error']) {
    provider.on(event, (ctx, err) => console.error(`op.mjs: ${event}: ${err?.message ?? err} ${err?.error_description ?? ''}`));
  }
  const handle = provider.callback();
  server.on('request', (req, res) => {
    const { pathname } = new URL(req.url, issuer);
    if (req.method === 'GET' && /^\/interaction\/[^/]+$/.test(pathname)) {
      interaction(provider, req, res).catch((err) => {
        console.error(`op.mjs: interaction failed: ${err?.stack ?? err}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`interaction failed: ${err?.message ?? err}\n`);
      });
      return;
    }
    handle(req, res);
  });
  process.stdout.write(`READY ${issuer}\n`);
});
server.on('error', (err) => {
  console.error(`op.mjs: ${err.message}`);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
