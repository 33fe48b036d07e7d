#!/usr/bin/env node
// Real ID tokens of provider.mjs, for tests that must present a person's token without
// signing in through the app (the enrolment service's OpenID Connect checks).
//
//     node tests/peers/oidc/id-tokens.mjs ISSUER ACCOUNT [COUNT]
//
// Signs ACCOUNT in with the device flow (browser.mjs confirms the code as that account),
// then refreshes COUNT-1 times a second apart (default COUNT 1), and prints {"id_tokens": [...]}: COUNT
// distinct ID tokens, each issued by the provider and signed with its published key. Exit
// status 1 with the reason on stderr when the provider does not give them.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLIENT_ID = 'tapprove-test';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const [issuer, account, countText = '1'] = process.argv.slice(2);
const count = Number(countText);
if (!issuer || !account || !Number.isInteger(count) || count < 1 || count > 20) {
  console.error('usage: id-tokens.mjs ISSUER ACCOUNT [COUNT]   (COUNT 1 to 20)');
  process.exit(2);
}

function fail(message) {
  console.error(`id-tokens.mjs: ${message}`);
  process.exit(1);
}

async function postForm(url, fields) {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams(fields) });
  return { status: response.status, body: await response.json() };
}

const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const authorization = await postForm(discovery.device_authorization_endpoint, {
  client_id: CLIENT_ID, scope: 'openid email profile offline_access',
});
if (authorization.status !== 200) fail(`device authorization: ${JSON.stringify(authorization.body)}`);

const browser = spawnSync(process.execPath, [
  fileURLToPath(new URL('browser.mjs', import.meta.url)), authorization.body.verification_uri_complete,
], { env: { ...process.env, OIDC_TEST_ACCOUNT: account }, encoding: 'utf8', timeout: 30_000 });
if (browser.status !== 0) fail(`browser.mjs: ${browser.stderr}`);

const poll = { grant_type: DEVICE_CODE_GRANT, client_id: CLIENT_ID, device_code: authorization.body.device_code };
let tokens;
for (let attempt = 0; attempt < 20 && !tokens; attempt += 1) {
  const answer = await postForm(discovery.token_endpoint, poll);
  if (answer.body.error === 'authorization_pending') {
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  } else if (answer.status === 200) {
    tokens = answer.body;
  } else {
    fail(`token: ${JSON.stringify(answer.body)}`);
  }
}
if (!tokens?.id_token || !tokens.refresh_token) fail('no ID and refresh token after the device flow');

const idTokens = [tokens.id_token];
let refreshToken = tokens.refresh_token;
while (idTokens.length < count) {
  // An ID token names its second (`iat`); two within one second can be the same token.
  await new Promise((resolve) => { setTimeout(resolve, 1100); });
  const refreshed = await postForm(discovery.token_endpoint, {
    grant_type: 'refresh_token', client_id: CLIENT_ID, refresh_token: refreshToken,
  });
  if (refreshed.status !== 200 || !refreshed.body.id_token) fail(`refresh: ${JSON.stringify(refreshed.body)}`);
  idTokens.push(refreshed.body.id_token);
  refreshToken = refreshed.body.refresh_token ?? refreshToken;
}
if (new Set(idTokens).size !== idTokens.length) fail('the provider issued the same ID token twice');
console.log(JSON.stringify({ id_tokens: idTokens }));
process.exit(0);
