#!/usr/bin/env node
// Self-test of the OIDC peer: provider.mjs and browser.mjs, driven over plain HTTP.
//
//     node tests/peers/oidc/selftest.mjs
//
// Starts provider.mjs (port 0, OIDC_TTL_SECONDS=120) and checks the device flow and the
// code flow with PKCE the way a native client runs them, using browser.mjs as the user.
// Prints one PASS/FAIL line per check and a closing "N passed, N failed" line; exits
// non-zero on failure. Takes about two seconds.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import http from 'node:http';
import { createInterface } from 'node:readline';

const HERE = new URL('.', import.meta.url).pathname;
const CLIENT_ID = 'tapprove-test';
const TTL_SECONDS = 120;
const SCOPE = 'openid email profile offline_access';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function log(message) {
  process.stdout.write(`${message}\n`);
}

async function startProvider() {
  const child = spawn(process.execPath, [`${HERE}provider.mjs`, '0'], {
    env: { ...process.env, OIDC_TTL_SECONDS: String(TTL_SECONDS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const firstLine = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`provider.mjs exited with ${code} before its ready line`)));
    setTimeout(() => reject(new Error('provider.mjs printed no ready line within 10 s')), 10_000).unref();
  });
  try {
    const { issuer } = JSON.parse(await firstLine);
    return { child, issuer };
  } catch (error) {
    child.kill();
    throw error;
  }
}

// Runs browser.mjs as a client would run $BROWSER, and waits for it.
function runBrowser(url, account) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${HERE}browser.mjs`, url], {
      env: { ...process.env, OIDC_TEST_ACCOUNT: account },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('exit', (status) => resolve({ status, stderr }));
  });
}

async function postForm(url, fields) {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams(fields) });
  return { status: response.status, body: await response.json() };
}

const base64url = (bytes) => Buffer.from(bytes).toString('base64url');

// Verifies an ID token's RS256 signature against the provider's JWKS, its issuer and
// audience, and returns its claims.
async function verifyIdToken(idToken, provider) {
  assert.equal(typeof idToken, 'string', 'no id_token in the token response');
  const [header, payload, signature] = idToken.split('.');
  const { alg, kid } = JSON.parse(Buffer.from(header, 'base64url'));
  assert.equal(alg, 'RS256');
  const { keys } = await (await fetch(provider.discovery.jwks_uri)).json();
  const jwk = keys.find((key) => key.kid === kid);
  assert.ok(jwk, `no key ${kid} in the JWKS`);
  const valid = verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    createPublicKey({ key: jwk, format: 'jwk' }),
    Buffer.from(signature, 'base64url'),
  );
  assert.ok(valid, 'ID token signature does not verify');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  assert.equal(claims.iss, provider.issuer);
  assert.equal(claims.aud, CLIENT_ID);
  return claims;
}

function assertAccountClaims(claims, account) {
  assert.equal(claims.sub, account);
  assert.equal(claims.email, `${account}@example.com`);
  assert.equal(claims.preferred_username, account);
}

// A native client's redirect listener on a random loopback port (RFC 8252 section 7.3).
async function loopbackListener() {
  let receive;
  const received = new Promise((resolve) => { receive = resolve; });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('Signed in. You can close this window.\n');
    receive(url.searchParams);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    redirectUri: `http://127.0.0.1:${server.address().port}/callback`,
    received,
    close: () => server.close(),
  };
}

async function refresh(provider, refreshToken) {
  return postForm(provider.discovery.token_endpoint, {
    grant_type: 'refresh_token', client_id: CLIENT_ID, refresh_token: refreshToken,
  });
}

async function checkDiscovery(provider) {
  const { discovery, issuer } = provider;
  assert.equal(discovery.issuer, issuer);
  for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'device_authorization_endpoint',
    'jwks_uri', 'revocation_endpoint']) {
    assert.ok(discovery[endpoint]?.startsWith(`${issuer}/`), `${endpoint} missing or not under the issuer`);
  }
  assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['RS256']);
}

async function checkDeviceFlow(provider) {
  const tokenEndpoint = provider.discovery.token_endpoint;
  const authorization = await postForm(provider.discovery.device_authorization_endpoint, {
    client_id: CLIENT_ID, scope: SCOPE,
  });
  assert.equal(authorization.status, 200, JSON.stringify(authorization.body));
  const { device_code: deviceCode, verification_uri_complete: verificationUri } = authorization.body;
  const poll = { grant_type: DEVICE_CODE_GRANT, client_id: CLIENT_ID, device_code: deviceCode };

  const pending = await postForm(tokenEndpoint, poll);
  assert.equal(pending.body.error, 'authorization_pending');

  const browser = await runBrowser(verificationUri, 'alice');
  assert.equal(browser.status, 0, browser.stderr);

  let tokens;
  for (let attempt = 0; attempt < 10 && !tokens; attempt += 1) {
    const answer = await postForm(tokenEndpoint, poll);
    if (answer.body.error !== 'authorization_pending') {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      tokens = answer.body;
    } else {
      await new Promise((resolve) => { setTimeout(resolve, 200); });
    }
  }
  assert.ok(tokens, 'still authorization_pending after browser.mjs finished');
  assert.equal(tokens.expires_in, TTL_SECONDS);
  assert.equal(tokens.scope, SCOPE);
  assert.ok(tokens.refresh_token, 'no refresh_token');
  const claims = await verifyIdToken(tokens.id_token, provider);
  assertAccountClaims(claims, 'alice');
  assert.equal(claims.exp - claims.iat, TTL_SECONDS);

  // Refreshing returns a fresh ID token and a new refresh token; the old one is used up.
  const refreshed = await refresh(provider, tokens.refresh_token);
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  assertAccountClaims(await verifyIdToken(refreshed.body.id_token, provider), 'alice');
  assert.ok(refreshed.body.refresh_token && refreshed.body.refresh_token !== tokens.refresh_token);
  assert.equal((await refresh(provider, tokens.refresh_token)).body.error, 'invalid_grant');

  // Revoking the current refresh token ends the grant.
  const revocation = await fetch(provider.discovery.revocation_endpoint, {
    method: 'POST',
    body: new URLSearchParams({ client_id: CLIENT_ID, token: refreshed.body.refresh_token }),
  });
  assert.equal(revocation.status, 200);
  assert.equal((await refresh(provider, refreshed.body.refresh_token)).body.error, 'invalid_grant');
}

// Authorization request as a native client sends it; `omit` drops parameters.
function authorizationUrl(provider, redirectUri, { omit = [] } = {}) {
  const verifier = base64url(randomBytes(32));
  const params = {
    client_id: CLIENT_ID,
    response_type: 'code',
    scope: SCOPE,
    redirect_uri: redirectUri,
    state: base64url(randomBytes(16)),
    nonce: base64url(randomBytes(16)),
    code_challenge: base64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
  };
  for (const name of omit) delete params[name];
  const url = new URL(provider.discovery.authorization_endpoint);
  url.search = new URLSearchParams(params);
  return { url: url.href, verifier, ...params };
}

async function checkCodeFlow(provider) {
  const listener = await loopbackListener();
  try {
    const request = authorizationUrl(provider, listener.redirectUri);
    const browser = await runBrowser(request.url, 'bob');
    assert.equal(browser.status, 0, browser.stderr);
    const callback = await listener.received;
    assert.equal(callback.get('state'), request.state);
    assert.equal(callback.get('iss'), provider.issuer);

    const exchange = await postForm(provider.discovery.token_endpoint, {
      grant_type: 'authorization_code',
      client_id: CLIENT_ID,
      code: callback.get('code'),
      redirect_uri: listener.redirectUri,
      code_verifier: request.verifier,
    });
    assert.equal(exchange.status, 200, JSON.stringify(exchange.body));
    assert.ok(exchange.body.refresh_token, 'no refresh_token for offline_access without prompt=consent');
    const claims = await verifyIdToken(exchange.body.id_token, provider);
    assertAccountClaims(claims, 'bob');
    assert.equal(claims.nonce, request.nonce);

    const refreshed = await refresh(provider, exchange.body.refresh_token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assertAccountClaims(await verifyIdToken(refreshed.body.id_token, provider), 'bob');
  } finally {
    listener.close();
  }
}

async function checkCodeFlowNeedsPkce(provider) {
  const listener = await loopbackListener();
  try {
    const request = authorizationUrl(provider, listener.redirectUri, {
      omit: ['code_challenge', 'code_challenge_method'],
    });
    const browser = await runBrowser(request.url, 'alice');
    assert.equal(browser.status, 1, 'browser.mjs should fail when the provider answers with an error');
    assert.match(browser.stderr, /error=invalid_request/);
    const callback = await listener.received;
    assert.equal(callback.get('error'), 'invalid_request');
    assert.equal(callback.get('state'), request.state);
  } finally {
    listener.close();
  }
}

const CHECKS = [
  ['discovery lists the endpoints, S256 and RS256', checkDiscovery],
  ['device flow: tokens, refresh with rotation, revocation', checkDeviceFlow],
  ['code flow with PKCE on a random loopback port: nonce, refresh', checkCodeFlow],
  ['code flow without code_challenge: error to the client, browser fails', checkCodeFlowNeedsPkce],
];

const { child, issuer } = await startProvider();
log(`provider at ${issuer}`);
let passed = 0;
let failed = 0;
try {
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const provider = { issuer, discovery };
  for (const [title, check] of CHECKS) {
    log(`--- ${title}`);
    const started = performance.now();
    const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
    try {
      await check(provider);
      passed += 1;
      log(`PASS ${title} (${elapsed()})`);
    } catch (error) {
      failed += 1;
      log(error.stack);
      log(`FAIL ${title} (${elapsed()})`);
    }
  }
} finally {
  child.kill('SIGTERM');
}
log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
