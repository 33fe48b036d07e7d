// Independent WebAuthn assertion verifier (@simplewebauthn/server, version pinned in package.json).
// stdin: one JSON object; stdout: one JSON line. exit 0 verified, 1 not verified, 2 bad input.
import { verifyAuthenticationResponse } from '@simplewebauthn/server';

class BadInput extends Error {}
const B64URL = /^[A-Za-z0-9_-]+$/;
function b64(o, k, nullable = false) {
  const v = o[k];
  if (v == null) { if (nullable) return undefined; throw new BadInput(`missing field "${k}"`); }
  if (typeof v !== 'string' || !B64URL.test(v) || v.length % 4 === 1) throw new BadInput(`field "${k}" is not unpadded base64url`);
  return v;
}
function str(o, k) { if (typeof o[k] !== 'string' || !o[k]) throw new BadInput(`field "${k}" must be a non-empty string`); return o[k]; }

let out, code;
try {
  let inp;
  try { inp = JSON.parse(await new Response(process.stdin).text()); } catch (e) { throw new BadInput(`invalid JSON: ${e.message}`); }
  if (!inp || typeof inp !== 'object' || Array.isArray(inp)) throw new BadInput('stdin must be a JSON object');
  const id = b64(inp, 'credential_id');
  const counter = inp.counter ?? 0;
  if (!Number.isInteger(counter) || counter < 0 || counter > 0xffffffff) throw new BadInput('"counter" must be a u32');
  const uv = inp.require_user_verification ?? true;
  if (typeof uv !== 'boolean') throw new BadInput('"require_user_verification" must be a boolean');
  const opts = {
    response: {
      id, rawId: id, type: 'public-key',
      response: {
        authenticatorData: b64(inp, 'authenticator_data'),
        clientDataJSON: b64(inp, 'client_data_json'),
        signature: b64(inp, 'signature'),
        userHandle: b64(inp, 'user_handle', true),
      },
      clientExtensionResults: {},
    },
    expectedChallenge: b64(inp, 'expected_challenge'),
    expectedOrigin: str(inp, 'expected_origin'),
    expectedRPID: str(inp, 'expected_rp_id'),
    // v14: `credential: {id, publicKey: Uint8Array (COSE), counter}` (v9 called it `authenticator`).
    credential: { id, publicKey: new Uint8Array(Buffer.from(b64(inp, 'public_key'), 'base64url')), counter },
    requireUserVerification: uv,
  };
  try {
    const r = await verifyAuthenticationResponse(opts);
    out = r.verified
      ? { verified: true, new_counter: r.authenticationInfo.newCounter, user_verified: r.authenticationInfo.userVerified }
      : { verified: false, error: 'signature verification failed' };
  } catch (e) { out = { verified: false, error: String(e?.message ?? e) }; }
  code = out.verified ? 0 : 1;
} catch (e) {
  out = { verified: false, error: String(e?.message ?? e) }; code = 2;
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exitCode = code;
