//! OpenID Connect ID tokens, checked against a provider's published keys:
//! the sign-in client checks the one it receives, the enrolment service
//! the one an approver who signed in through OpenID Connect sends with a
//! request, so the approver's name is the provider's, not the client's.
//!
//! Pure: the key set is passed in, and so is `now` (the token's `exp`,
//! `nbf` and `iat` are judged by it, never by the system clock). Only
//! asymmetric signature algorithms are accepted: never `none`, never a MAC
//! (whose key would be the public client id's secret).

pub use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tapprove_proto::UtcTime;

/// ID-token signature algorithms accepted.
pub const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How far a token's times may be from the checker's clock.
pub const LEEWAY_SECONDS: i64 = 60;

/// What the token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// `iss`, exactly.
    pub issuer: &'a str,
    /// One of `aud`.
    pub audience: &'a str,
    /// `nonce`, when the checker sent one.
    pub nonce: Option<&'a str>,
}

/// Why a token is not valid (a sentence, for the error a face shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `id_token`'s header parses and names an accepted algorithm
/// (checked before any key is fetched for it).
pub fn acceptable_header(id_token: &str) -> bool {
    jsonwebtoken::decode_header(id_token).is_ok_and(|h| ALGORITHMS.contains(&h.alg))
}

/// Whether `kid` (or a key-less header) finds a key in `jwks`: a checker
/// that caches keys fetches them again when it does not, since providers
/// rotate.
pub fn knows_key(id_token: &str, jwks: &JwkSet) -> bool {
    jsonwebtoken::decode_header(id_token).is_ok_and(|h| key_for(h.kid.as_deref(), jwks).is_some())
}

fn key_for<'a>(kid: Option<&str>, jwks: &'a JwkSet) -> Option<&'a jsonwebtoken::jwk::Jwk> {
    match kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
}

/// The claims of `id_token` if its signature verifies with a key of
/// `jwks` and it says what `expected` says, at `now`: not expired, not
/// before its `nbf`, not issued in the future.
pub fn check(
    id_token: &str,
    jwks: &JwkSet,
    expected: &Expected<'_>,
    now: &UtcTime,
) -> Result<Map<String, Value>, Invalid> {
    let invalid = |why: String| Invalid(why);
    let header = jsonwebtoken::decode_header(id_token).map_err(|e| invalid(e.to_string()))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(invalid(format!(
            "signature algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let jwk = key_for(header.kid.as_deref(), jwks)
        .ok_or_else(|| invalid("signed with a key the provider does not publish".into()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| invalid(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Times are judged below, by `now`.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation)
        .map_err(|e| invalid(e.to_string()))?
        .claims;
    let now = now.unix_seconds();
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    match time("exp") {
        Some(exp) if exp.saturating_add(LEEWAY_SECONDS) > now => {}
        Some(_) => return Err(invalid("ExpiredSignature: the ID token expired".into())),
        None => return Err(invalid("the ID token's `exp` is not a number".into())),
    }
    if time("nbf").is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECONDS)) {
        return Err(invalid("the ID token is not valid yet (`nbf`)".into()));
    }
    if time("iat").is_some_and(|iat| iat > now.saturating_add(LEEWAY_SECONDS)) {
        return Err(invalid(
            "the ID token was issued in the future (`iat`): check the clocks".into(),
        ));
    }
    if let Some(nonce) = expected.nonce
        && claims.get("nonce").and_then(Value::as_str) != Some(nonce)
    {
        return Err(invalid("the nonce is not the one sent".into()));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use p256::ecdsa::{Signature, SigningKey, signature::Signer};
    use serde_json::json;

    const ISSUER: &str = "https://idp.example.com";
    const CLIENT: &str = "tapprove";
    const NOW: i64 = 1_795_300_000;

    fn key() -> SigningKey {
        SigningKey::random(&mut rand_core::OsRng)
    }

    fn jwks(key: &SigningKey, kid: &str) -> JwkSet {
        let point = key.verifying_key().to_encoded_point(false);
        serde_json::from_value(json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap()),
        }]}))
        .unwrap()
    }

    fn token(key: &SigningKey, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": CLIENT, "sub": "u1", "iat": NOW - 10, "exp": NOW + 300, "nonce": "n1", "email": "a@example.com"})
    }

    fn es256() -> Value {
        json!({"alg": "ES256", "kid": "k1", "typ": "JWT"})
    }

    fn check_at(
        token: &str,
        keys: &JwkSet,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Map<String, Value>, Invalid> {
        check(
            token,
            keys,
            &Expected {
                issuer: ISSUER,
                audience: CLIENT,
                nonce,
            },
            &UtcTime::from_unix(now),
        )
    }

    #[test]
    fn a_good_id_token_passes_and_every_broken_one_is_refused() {
        let k = key();
        let keys = jwks(&k, "k1");
        let good = check_at(&token(&k, es256(), claims()), &keys, Some("n1"), NOW).unwrap();
        assert_eq!(good["email"], "a@example.com");
        assert!(knows_key(&token(&k, es256(), claims()), &keys));

        let with = |field: &str, value: Value| {
            let mut c = claims();
            c[field] = value;
            token(&k, es256(), c)
        };
        let refused = [
            ("another audience", with("aud", json!("someone-else"))),
            ("another issuer", with("iss", json!("https://evil.example.com"))),
            ("expired", with("exp", json!(NOW - 120))),
            ("not valid yet", with("nbf", json!(NOW + 600))),
            ("issued in the future", with("iat", json!(NOW + 600))),
            ("another nonce", with("nonce", json!("n2"))),
            ("no subject", {
                let mut c = claims();
                c.as_object_mut().unwrap().remove("sub");
                token(&k, es256(), c)
            }),
            (
                "unknown kid",
                token(&k, json!({"alg": "ES256", "kid": "k2"}), claims()),
            ),
            ("another key", token(&key(), es256(), claims())),
            ("HS256", token(&k, json!({"alg": "HS256", "kid": "k1"}), claims())),
            (
                "alg none",
                format!(
                    "{}.{}.",
                    B64.encode(r#"{"alg":"none"}"#),
                    B64.encode(claims().to_string())
                ),
            ),
        ];
        for (what, bad) in refused {
            assert!(
                check_at(&bad, &keys, Some("n1"), NOW).is_err(),
                "{what} was accepted"
            );
        }
        assert!(!knows_key(
            &token(&k, json!({"alg": "ES256", "kid": "k2"}), claims()),
            &keys
        ));
        // Time is the checker's `now`, not the system clock: the same token
        // is good at NOW and expired an hour later.
        let t = token(&k, es256(), claims());
        assert!(check_at(&t, &keys, None, NOW + 3600).is_err());
        // The nonce is checked only when one was sent (refreshes send none).
        let mut c = claims();
        c.as_object_mut().unwrap().remove("nonce");
        let no_nonce = token(&k, es256(), c);
        assert!(check_at(&no_nonce, &keys, Some("n1"), NOW).is_err());
        assert!(check_at(&no_nonce, &keys, None, NOW).is_ok());
    }
}
