// An independent implementation of the protocol's canonical encoding and
// digests (RFC 8785 JCS as its authors describe it: JSON.stringify for
// primitives, object keys sorted by UTF-16 code units), used to produce and
// check the test vectors in tests/vectors/.
//
//   node tests/interop/vectors.mjs FILE...          check: exit 1 on a mismatch
//   node tests/interop/vectors.mjs --write FILE...  fill in the "expected" member
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

export function canonicalize(value) {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return '[' + value.map(canonicalize).join(',') + ']';
  return '{' + Object.keys(value).sort()
    .map((k) => JSON.stringify(k) + ':' + canonicalize(value[k])).join(',') + '}';
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const sha256 = (text) => createHash('sha256').update(Buffer.from(text, 'utf8')).digest();

export function expected(vector) {
  const requestJcs = canonicalize(vector.request);
  const requestSha = b64url(sha256(requestJcs));
  const statement = { ...vector.statement, request_sha256: requestSha };
  const statementJcs = canonicalize(statement);
  const challenge = b64url(sha256(statementJcs));
  const origin = `https://${vector.rp_id}`;
  const clientData = `{"type":"webauthn.get","challenge":"${challenge}","origin":${JSON.stringify(origin)},"crossOrigin":false}`;
  return {
    request_jcs: requestJcs,
    request_sha256: requestSha,
    statement_jcs: statementJcs,
    challenge,
    client_data_json: clientData,
  };
}

const args = process.argv.slice(2);
const write = args[0] === '--write';
let failed = false;
for (const file of write ? args.slice(1) : args) {
  // The statement's request_sha256 is derived, so vectors leave it out of
  // "statement" and carry it in "expected".
  const vector = JSON.parse(readFileSync(file, 'utf8'));
  const got = expected(vector);
  if (write) {
    vector.expected = got;
    writeFileSync(file, JSON.stringify(vector, null, 2) + '\n');
  } else {
    for (const [k, v] of Object.entries(got)) {
      if (vector.expected?.[k] !== v) {
        console.error(`${file}: ${k} differs:\n  file:     ${vector.expected?.[k]}\n  computed: ${v}`);
        failed = true;
      }
    }
  }
}
process.exitCode = failed ? 1 : 0;
