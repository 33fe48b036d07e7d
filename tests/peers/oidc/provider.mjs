#!/usr/bin/env node
// OpenID Connect provider for integration tests, built on oidc-provider.
//
//     node tests/peers/oidc/provider.mjs [PORT]      # PORT 0 (default) picks a free port
//
// Once listening it prints one line of JSON to stdout, {"issuer":"http://127.0.0.1:PORT"},
// and serves until SIGTERM or SIGINT, then exits 0. Everything else goes to stderr.
// State (sessions, grants, tokens) and the RS256 signing key live in memory only.
//
// One public native client, `tapprove-test`, may use the authorization code flow (PKCE S256
// required) and the device flow. Any account id signs in: account X has email X@example.com
// and preferred_username X. The sign-in and consent pages are plain HTML forms, so
// browser.mjs can complete them over HTTP. See tests/peers/README.md.

import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: provider.mjs [PORT]: PORT must be 0..65535, got ${process.argv[2]}`);
  process.exit(2);
}

const tokenTtl = Number(process.env.OIDC_TTL_SECONDS ?? 300);
if (!Number.isInteger(tokenTtl) || tokenTtl <= 0) {
  console.error(`OIDC_TTL_SECONDS must be a positive integer, got ${process.env.OIDC_TTL_SECONDS}`);
  process.exit(2);
}

// oidc-provider prints its development notices with console.info, that is to stdout.
// stdout carries only the ready line, so send them to stderr.
console.info = console.warn;

const CLIENT_ID = 'tapprove-test';

// Account X is X@example.com. The claims a token carries depend on the granted scopes
// (see `claims` in the configuration below).
function findAccount(_ctx, accountId) {
  return {
    accountId,
    claims: () => ({
      sub: accountId,
      email: `${accountId}@example.com`,
      email_verified: true,
      preferred_username: accountId,
    }),
  };
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };
}

function configuration() {
  return {
    clients: [{
      client_id: CLIENT_ID,
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      grant_types: [
        'authorization_code',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code',
      ],
      response_types: ['code'],
      // For native clients oidc-provider accepts this loopback redirect with any port
      // (RFC 8252 section 7.3), e.g. http://127.0.0.1:54321/callback.
      redirect_uris: ['http://127.0.0.1/callback'],
    }],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username'],
    },
    // By default oidc-provider puts scope claims (email, ...) into the ID token only when no
    // access token is issued alongside it; clients then have to call userinfo. Put them in
    // the ID token always, as most providers do.
    conformIdTokenClaims: false,
    findAccount,
    jwks: { keys: [signingKey()] },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: {
      AccessToken: tokenTtl,
      IdToken: tokenTtl,
      RefreshToken: 24 * 60 * 60,
      DeviceCode: 10 * 60,
      Interaction: 10 * 60,
      Session: 60 * 60,
      Grant: 24 * 60 * 60,
    },
  };
}

// OpenID Connect Core section 11 says an authorization request for offline_access must also
// carry prompt=consent, and oidc-provider drops offline_access (so issues no refresh token)
// when it does not. Entra ID, Okta, Keycloak and Auth0 do not insist, and prompt=consent
// fails where users may not consent to apps themselves, so a client should not have to send
// it. This provider treats an authorization request for offline_access without any prompt as
// prompt=consent; an explicit prompt is left alone.
async function offlineAccessImpliesConsent(ctx, next) {
  const { scope, prompt } = ctx.query;
  if (ctx.method === 'GET' && ctx.path === '/auth' && prompt === undefined
      && typeof scope === 'string' && scope.split(' ').includes('offline_access')) {
    ctx.query = { ...ctx.query, prompt: 'consent' };
  }
  return next();
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>
${body}
</body></html>
`;
}

async function formBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function signInPage(uid) {
  return page('Sign in', `<form method="post" action="/interaction/${uid}/login">
<label>Account <input type="text" name="login" autofocus></label>
<button type="submit">Sign in</button>
</form>`);
}

function consentPage(uid, params) {
  return page('Authorize', `<p>${escapeHtml(params.client_id)} asks for: ${escapeHtml(params.scope)}</p>
<form method="post" action="/interaction/${uid}/consent">
<button type="submit">Allow</button>
</form>`);
}

// The interaction pages oidc-provider sends the user agent to:
//   GET  /interaction/UID          a sign-in form (field `login`) or a consent form
//   POST /interaction/UID/login    signs in as the account named in `login`
//   POST /interaction/UID/consent  grants every scope and claim the client asked for
// Both POSTs redirect back to the authorization (or device) endpoint, which continues.
async function interactions(ctx, next) {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|consent))?$/.exec(ctx.path);
  if (!match) {
    await next();
    return;
  }
  const [, uid, action] = match;
  const { prompt, params, session, grantId } = await provider.interactionDetails(ctx.req, ctx.res);

  if (ctx.method === 'GET' && action === undefined) {
    ctx.type = 'html';
    ctx.body = prompt.name === 'login' ? signInPage(uid) : consentPage(uid, params);
    return;
  }

  let result;
  if (ctx.method === 'POST' && action === 'login' && prompt.name === 'login') {
    const accountId = (await formBody(ctx.req)).get('login');
    if (!accountId) ctx.throw(400, 'sign-in form: the account (field `login`) is empty');
    result = { login: { accountId } };
  } else if (ctx.method === 'POST' && action === 'consent' && prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    result = { consent: { grantId: await grant.save() } };
  } else {
    ctx.throw(400, `${ctx.method} ${ctx.path} does not fit the pending ${prompt.name} prompt`);
  }

  // A consent result is added to the sign-in result of the same interaction, if any.
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: action === 'consent',
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

// The issuer contains the port, which for port 0 is known only once listening.
const server = http.createServer();
try {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
} catch (error) {
  console.error(`cannot listen on 127.0.0.1:${port}: ${error.code ?? error.message}`);
  process.exit(1);
}
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, configuration());
provider.use(offlineAccessImpliesConsent);
provider.use(interactions);
server.on('request', provider.callback());

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
