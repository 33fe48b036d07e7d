//! Canonical encoding (RFC 8785, JCS) and the digests the protocol takes
//! over it.
//!
//! JCS comes from `serde_json_canonicalizer` rather than being written here:
//! number formatting (ECMAScript's shortest round-trip form) and UTF-16 key
//! ordering are easy to get subtly wrong, and every implementation of the
//! protocol must produce the same bytes. Its output is checked against the
//! RFC's own examples in this module's tests and against the shipped vectors
//! in `tests/vectors/`.

use serde::Serialize;
use sha2::{Digest, Sha256};
use tapprove_proto::{Request, Sha256Digest, Statement};

use crate::error::Error;

/// The RFC 8785 canonical form of `value`.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| Error::Encoding(e.to_string()))
}

/// What an enrolment service's identity proof is bound to: the SHA-256, in
/// lower-case hex, of the request document `document` (an enrolment or a
/// credentials request) without its `identity` field, canonicalised with
/// RFC 8785. The client signs it into the proof
/// (`tapprove_proto::enrolment::BODY_SHA256_HEADER`) before it attaches
/// the proof; the service computes it again from what it received.
pub fn proof_body_sha256<T: Serialize>(document: &T) -> Result<String, Error> {
    let mut value = serde_json::to_value(document).map_err(|e| Error::Encoding(e.to_string()))?;
    if let Some(object) = value.as_object_mut() {
        object.remove("identity");
    }
    Ok(sha256(&canonical_json(&value)?)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The SHA-256 (lower-case hex) of a gate's input as RFC 8785 encodes it:
/// what the request endpoint records with the requester of an execution it
/// starts, and what the gate's first step compares with its request
/// ([`tapprove_proto::Request::input`]).
pub fn input_sha256(input: &serde_json::Value) -> Result<String, Error> {
    Ok(sha256(&canonical_json(input)?)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The WebAuthn challenge of a confirmation: an active credential of `user`
/// vouching, at the deployment `server_id`, for their pending credential
/// `credential_id`, at `signed_at`.
pub fn confirmation_challenge(
    server_id: &str,
    user: &str,
    credential_id: &tapprove_proto::Base64Url,
    key_sha256: &str,
    signed_at: &tapprove_proto::UtcTime,
) -> Result<Sha256Digest, Error> {
    let statement = serde_json::json!({
        "tapprove": "confirm/v1",
        "server_id": server_id,
        "user": user,
        "credential_id": credential_id,
        "key_sha256": key_sha256,
        "signed_at": signed_at,
    });
    Ok(Sha256Digest(sha256(&canonical_json(&statement)?)))
}

/// A public key's fingerprint: SHA-256 of its COSE bytes, lower-case hex.
pub fn key_sha256(public_key: &[u8]) -> String {
    sha256(public_key).iter().map(|b| format!("{b:02x}")).collect()
}

/// `SHA-256(JCS(request))`: what a statement's `request_sha256` must equal.
pub fn request_sha256(request: &Request) -> Result<Sha256Digest, Error> {
    Ok(Sha256Digest(sha256(&canonical_json(request)?)))
}

/// A request's short id, as the faces, `tapprove show ID` and
/// `tapprove://request/<id>` links name it: the first ten letters and
/// digits of its hash (base64url).
pub fn request_id(hash: &Sha256Digest) -> String {
    hash.encode()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect()
}

/// `SHA-256(JCS(statement))`: the WebAuthn challenge an approver signs.
pub fn statement_challenge(statement: &Statement) -> Result<Sha256Digest, Error> {
    Ok(Sha256Digest(sha256(&canonical_json(statement)?)))
}

/// The origin a Tapprove client writes into clientDataJSON for `rp_id`:
/// `https://<rp_id>`, with no trailing slash, as browsers write it.
pub fn origin_for(rp_id: &str) -> String {
    format!("https://{rp_id}")
}

/// The clientDataJSON a Tapprove client sends to the authenticator for an
/// assertion over `challenge`, in the member order browsers use.
pub fn client_data_json(challenge: &Sha256Digest, origin: &str) -> Vec<u8> {
    client_data(WEBAUTHN_GET, challenge.as_bytes(), origin)
}

/// The clientDataJSON for creating a credential (enrolment).
pub fn creation_client_data_json(challenge: &[u8], origin: &str) -> Vec<u8> {
    client_data(WEBAUTHN_CREATE, challenge, origin)
}

pub(crate) const WEBAUTHN_GET: &str = "webauthn.get";
pub(crate) const WEBAUTHN_CREATE: &str = "webauthn.create";

fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    use base64::Engine;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(challenge);
    // serde_json escapes the origin exactly as JSON.stringify would.
    let origin = serde_json::Value::from(origin).to_string();
    format!(r#"{{"type":"{kind}","challenge":"{challenge}","origin":{origin},"crossOrigin":false}}"#)
        .into_bytes()
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jcs(text: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        String::from_utf8(canonical_json(&v).unwrap()).unwrap()
    }

    // RFC 8785 section 3.2.2 ("Sorting of Object Properties" input) and
    // section 3.2.3 (the canonical output).
    #[test]
    fn rfc8785_examples() {
        let input = r#"{
            "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
            "literals": [null, true, false]
        }"#;
        assert_eq!(
            jcs(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        // Keys sort by UTF-16 code units, not by UTF-8 bytes or code points.
        let sorting = r#"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}"#;
        let keys: Vec<String> = serde_json::from_str::<PreserveOrder>(&jcs(sorting))
            .unwrap()
            .0
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            ["\r", "1", "\u{80}", "\u{f6}", "\u{20ac}", "\u{1f600}", "\u{fb33}"]
        );
    }

    /// Object entries in document order (serde_json's Map sorts them).
    struct PreserveOrder(Vec<(String, serde_json::Value)>);

    impl<'de> serde::Deserialize<'de> for PreserveOrder {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = PreserveOrder;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<PreserveOrder, A::Error> {
                    let mut out = Vec::new();
                    while let Some(entry) = a.next_entry()? {
                        out.push(entry);
                    }
                    Ok(PreserveOrder(out))
                }
            }
            d.deserialize_map(V)
        }
    }

    #[test]
    fn client_data_has_no_trailing_slash_and_escapes_origin() {
        let c = Sha256Digest([0u8; 32]);
        let text = String::from_utf8(client_data_json(&c, &origin_for("example.com"))).unwrap();
        assert_eq!(
            text,
            r#"{"type":"webauthn.get","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","origin":"https://example.com","crossOrigin":false}"#
        );
        let odd = String::from_utf8(client_data_json(&c, "https://a\"b")).unwrap();
        assert!(odd.contains(r#""origin":"https://a\"b""#));
    }
}
