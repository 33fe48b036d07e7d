// Independent WebAuthn registration verifier (@simplewebauthn/server, version pinned in package.json).
// stdin: one JSON object; stdout: one JSON line. exit 0 verified, 1 not verified, 2 bad input.
import { verifyRegistrationResponse } from '@simplewebauthn/server';

class BadInput extends Error {}
const B64URL = /^[A-Za-z0-9_-]+$/;
function b64(o, k) {
  const v = o[k];
  if (typeof v !== 'string' || !B64URL.test(v) || v.length % 4 === 1) throw new BadInput(`field "${k}" missing or not unpadded base64url`);
  return v;
}
function str(o, k) { if (typeof o[k] !== 'string' || !o[k]) throw new BadInput(`field "${k}" must be a non-empty string`); return o[k]; }

let out, code;
try {
  let inp;
  try { inp = JSON.parse(await new Response(process.stdin).text()); } catch (e) { throw new BadInput(`invalid JSON: ${e.message}`); }
  if (!inp || typeof inp !== 'object' || Array.isArray(inp)) throw new BadInput('stdin must be a JSON object');
  const id = b64(inp, 'credential_id');
  const uv = inp.require_user_verification ?? true;
  if (typeof uv !== 'boolean') throw new BadInput('"require_user_verification" must be a boolean');
  const opts = {
    response: {
      id, rawId: id, type: 'public-key',
      response: { attestationObject: b64(inp, 'attestation_object'), clientDataJSON: b64(inp, 'client_data_json') },
      clientExtensionResults: {},
    },
    expectedChallenge: b64(inp, 'expected_challenge'),
    expectedOrigin: str(inp, 'expected_origin'),
    expectedRPID: str(inp, 'expected_rp_id'),
    requireUserVerification: uv,
  };
  try {
    const r = await verifyRegistrationResponse(opts);
    if (!r.verified) {
      out = { verified: false, error: 'attestation verification failed' };
    } else if (r.registrationInfo.credential.id !== id) {
      // The library does NOT compare response.id with the credential ID in authData; we do.
      out = { verified: false, error: `credential_id mismatch: input ${id}, authData ${r.registrationInfo.credential.id}` };
    } else {
      const i = r.registrationInfo;
      out = {
        verified: true, fmt: i.fmt, aaguid: i.aaguid,
        // NB: this is the library's *re-encoded* COSE key, not the raw authData slice.
        public_key: Buffer.from(i.credential.publicKey).toString('base64url'),
        counter: i.credential.counter,
      };
    }
  } catch (e) { out = { verified: false, error: String(e?.message ?? e) }; }
  code = out.verified ? 0 : 1;
} catch (e) {
  out = { verified: false, error: String(e?.message ?? e) }; code = 2;
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exitCode = code;
