use ciborium::Value;
use p256::ecdsa::signature::Verifier as _;
use sha2::Sha256;

use super::{WebauthnError, read_cbor};

/// A COSE algorithm Tapprove verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoseAlgorithm {
    /// ECDSA with P-256 and SHA-256 (-7): security keys, Touch ID, passkeys.
    Es256,
    /// Ed25519 (-8): some security keys.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (-257): Windows Hello on TPMs.
    Rs256,
}

impl CoseAlgorithm {
    pub fn id(self) -> i64 {
        match self {
            Self::Es256 => -7,
            Self::EdDsa => -8,
            Self::Rs256 => -257,
        }
    }
}

/// A credential public key, decoded from its COSE_Key form (RFC 9052/9053).
#[derive(Clone, PartialEq, Eq)]
pub enum CoseKey {
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
    Rs256(Box<rsa::RsaPublicKey>),
}

impl std::fmt::Debug for CoseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CoseKey({:?})", self.algorithm())
    }
}

const KTY: i64 = 1;
const ALG: i64 = 3;
const CRV_OR_N: i64 = -1;
const X_OR_E: i64 = -2;
const Y: i64 = -3;

impl CoseKey {
    /// Decodes a COSE_Key. Exactly one CBOR item; unknown algorithms and
    /// curves are refused rather than guessed.
    pub fn parse(bytes: &[u8]) -> Result<Self, WebauthnError> {
        let (value, rest) = read_cbor(bytes)?;
        if !rest.is_empty() {
            return Err(WebauthnError::Cbor("trailing bytes after the COSE key".into()));
        }
        let Value::Map(entries) = value else {
            return Err(WebauthnError::Cbor("a COSE key is a CBOR map".into()));
        };
        let get = |label: i64| {
            entries.iter().find_map(|(k, v)| match k {
                Value::Integer(i) if i128::from(*i) == i128::from(label) => Some(v),
                _ => None,
            })
        };
        let int = |label: i64, name: &str| -> Result<i128, WebauthnError> {
            match get(label) {
                Some(Value::Integer(i)) => Ok(i128::from(*i)),
                _ => Err(WebauthnError::Cbor(format!("COSE key has no integer `{name}`"))),
            }
        };
        let bytes_of = |label: i64, name: &str| -> Result<&[u8], WebauthnError> {
            match get(label) {
                Some(Value::Bytes(b)) => Ok(b.as_slice()),
                _ => Err(WebauthnError::Cbor(format!(
                    "COSE key has no byte string `{name}`"
                ))),
            }
        };
        let unsupported = |kty: i128, alg: i128| {
            WebauthnError::UnsupportedAlgorithm(format!(
                "key type {kty} with algorithm {alg}; Tapprove verifies ES256 (-7), EdDSA (-8) and RS256 (-257)"
            ))
        };
        let kty = int(KTY, "kty")?;
        let alg = int(ALG, "alg")?;
        match (kty, alg) {
            (2, -7) => {
                if int(CRV_OR_N, "crv")? != 1 {
                    return Err(unsupported(kty, alg));
                }
                let (x, y) = (bytes_of(X_OR_E, "x")?, bytes_of(Y, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(WebauthnError::Cbor("P-256 coordinates are 32 bytes".into()));
                }
                let mut sec1 = Vec::with_capacity(65);
                sec1.push(0x04);
                sec1.extend_from_slice(x);
                sec1.extend_from_slice(y);
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map(Self::Es256)
                    .map_err(|_| WebauthnError::Cbor("the P-256 point is not on the curve".into()))
            }
            (1, -8) => {
                if int(CRV_OR_N, "crv")? != 6 {
                    return Err(unsupported(kty, alg));
                }
                let x: [u8; 32] = bytes_of(X_OR_E, "x")?
                    .try_into()
                    .map_err(|_| WebauthnError::Cbor("Ed25519 keys are 32 bytes".into()))?;
                ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map(Self::EdDsa)
                    .map_err(|_| WebauthnError::Cbor("not a valid Ed25519 point".into()))
            }
            (3, -257) => {
                let n = rsa::BigUint::from_bytes_be(bytes_of(CRV_OR_N, "n")?);
                let e = rsa::BigUint::from_bytes_be(bytes_of(X_OR_E, "e")?);
                rsa::RsaPublicKey::new(n, e)
                    .map(|k| Self::Rs256(Box::new(k)))
                    .map_err(|e| WebauthnError::Cbor(format!("not a usable RSA key: {e}")))
            }
            _ => Err(unsupported(kty, alg)),
        }
    }

    /// Encodes an ES256 public key as a COSE_Key, members in CTAP2
    /// canonical order.
    pub fn encode_es256(key: &p256::ecdsa::VerifyingKey) -> Vec<u8> {
        let point = key.to_encoded_point(false);
        let (x, y) = (point.x().map(|x| x.to_vec()), point.y().map(|y| y.to_vec()));
        let map = Value::Map(vec![
            (Value::from(KTY), Value::from(2)),
            (Value::from(ALG), Value::from(-7)),
            (Value::from(CRV_OR_N), Value::from(1)),
            (Value::from(X_OR_E), Value::Bytes(x.unwrap_or_default())),
            (Value::from(Y), Value::Bytes(y.unwrap_or_default())),
        ]);
        let mut out = Vec::with_capacity(77);
        // Writing CBOR into a Vec cannot fail.
        let _ = ciborium::ser::into_writer(&map, &mut out);
        out
    }

    pub fn algorithm(&self) -> CoseAlgorithm {
        match self {
            Self::Es256(_) => CoseAlgorithm::Es256,
            Self::EdDsa(_) => CoseAlgorithm::EdDsa,
            Self::Rs256(_) => CoseAlgorithm::Rs256,
        }
    }

    /// Verifies `signature` over `message` (for assertions:
    /// `authenticatorData || SHA-256(clientDataJSON)`).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), WebauthnError> {
        let ok = match self {
            Self::Es256(key) => p256::ecdsa::Signature::from_der(signature)
                .map(|sig| key.verify(message, &sig).is_ok())
                .unwrap_or(false),
            Self::EdDsa(key) => ed25519_dalek::Signature::from_slice(signature)
                .map(|sig| key.verify_strict(message, &sig).is_ok())
                .unwrap_or(false),
            Self::Rs256(key) => {
                let verifying = rsa::pkcs1v15::VerifyingKey::<Sha256>::new((**key).clone());
                rsa::pkcs1v15::Signature::try_from(signature)
                    .map(|sig| verifying.verify(message, &sig).is_ok())
                    .unwrap_or(false)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(WebauthnError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::{SigningKey, signature::Signer};

    #[test]
    fn es256_round_trip_and_tamper() {
        let sk = SigningKey::random(&mut rand_core::OsRng);
        let cose = CoseKey::encode_es256(sk.verifying_key());
        let key = CoseKey::parse(&cose).unwrap();
        assert_eq!(key.algorithm(), CoseAlgorithm::Es256);
        let sig: p256::ecdsa::Signature = sk.sign(b"message");
        let der = sig.to_der();
        key.verify(b"message", der.as_bytes()).unwrap();
        assert_eq!(
            key.verify(b"messagf", der.as_bytes()),
            Err(WebauthnError::BadSignature)
        );
        // Raw r||s is not what WebAuthn carries for ES256.
        assert_eq!(
            key.verify(b"message", &sig.to_bytes()),
            Err(WebauthnError::BadSignature)
        );
    }

    #[test]
    fn eddsa_key_verifies() {
        use ed25519_dalek::Signer as _;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
        let map = Value::Map(vec![
            (Value::from(1), Value::from(1)),
            (Value::from(3), Value::from(-8)),
            (Value::from(-1), Value::from(6)),
            (
                Value::from(-2),
                Value::Bytes(sk.verifying_key().to_bytes().to_vec()),
            ),
        ]);
        let mut cose = Vec::new();
        ciborium::ser::into_writer(&map, &mut cose).unwrap();
        let key = CoseKey::parse(&cose).unwrap();
        let sig = sk.sign(b"hello");
        key.verify(b"hello", &sig.to_bytes()).unwrap();
        assert!(key.verify(b"hellO", &sig.to_bytes()).is_err());
    }

    #[test]
    fn refuses_unknown_algorithms_and_malformed_cbor() {
        let map = Value::Map(vec![
            (Value::from(1), Value::from(2)),
            (Value::from(3), Value::from(-35)),
        ]);
        let mut cose = Vec::new();
        ciborium::ser::into_writer(&map, &mut cose).unwrap();
        assert!(matches!(
            CoseKey::parse(&cose),
            Err(WebauthnError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            CoseKey::parse(&[0xa5, 0x01]),
            Err(WebauthnError::Cbor(_))
        ));
        assert!(matches!(CoseKey::parse(&[0x01]), Err(WebauthnError::Cbor(_))));
    }
}
