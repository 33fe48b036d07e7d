use ciborium::Value;

use super::{AuthenticatorData, CoseKey, WebauthnError, read_cbor};

/// What an attestation statement proves about where a credential lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationFormat {
    /// `none`: no claim beyond the credential itself.
    None,
    /// `packed` self attestation: signed by the new credential's own key,
    /// which proves possession of the key but nothing about the device.
    PackedSelf,
    /// A statement signed by an attestation certificate (`x5c`, leaf
    /// first): `packed`, `fido-u2f`, `tpm`, `android-key` or `apple`. The
    /// statement and the leaf's AAGUID are checked; whether the chain ends
    /// at a root the org trusts is [`AttestationFormat::chains_to`].
    Certified {
        x5c: Vec<Vec<u8>>,
        /// Whether the leaf names the AAGUID (FIDO's AAGUID extension): only
        /// then can a chain to a trusted root prove the model.
        names_aaguid: bool,
    },
    /// Another format (`android-safetynet`, a future one): not checked
    /// here; an org that requires trusted attestation refuses these.
    Unverified { format: String },
}

impl AttestationFormat {
    /// Whether this attestation's certificate chain ends at one of `roots`
    /// (DER), every certificate valid at `now`.
    pub fn chains_to(&self, roots: &[Vec<u8>], now: &tapprove_proto::UtcTime) -> Result<(), WebauthnError> {
        match self {
            Self::Certified { x5c, .. } => super::x509::chains_to(x5c, roots, now.unix_seconds()),
            Self::None | Self::PackedSelf => Err(WebauthnError::Attestation(
                "the authenticator gave no attestation certificate, and the org requires one: use a security key model the org allows".into(),
            )),
            Self::Unverified { format } => Err(WebauthnError::Attestation(format!(
                "`{format}` attestation cannot be checked against the org's roots: use a security key with `packed` attestation"
            ))),
        }
    }

    /// Whether this attestation, once its chain ends at a trusted root,
    /// proves the authenticator model (the AAGUID) and not only the device.
    pub fn names_model(&self) -> bool {
        matches!(
            self,
            Self::Certified {
                names_aaguid: true,
                ..
            }
        )
    }

    /// A short name for logs and the audit trail.
    pub fn name(&self) -> String {
        match self {
            Self::None => "none".into(),
            Self::PackedSelf => "packed (self)".into(),
            Self::Certified { x5c, .. } => format!("certified ({} certificates)", x5c.len()),
            Self::Unverified { format } => format!("{format} (unchecked)"),
        }
    }
}

/// A parsed attestationObject (WebAuthn section 6.5).
#[derive(Debug, Clone, PartialEq)]
pub struct AttestationObject {
    pub format: String,
    pub auth_data_bytes: Vec<u8>,
    pub auth_data: AuthenticatorData,
    statement: Vec<(Value, Value)>,
}

impl AttestationObject {
    pub fn parse(bytes: &[u8]) -> Result<Self, WebauthnError> {
        let (value, rest) = read_cbor(bytes)?;
        if !rest.is_empty() {
            return Err(WebauthnError::Cbor(
                "trailing bytes after the attestation object".into(),
            ));
        }
        let Value::Map(entries) = value else {
            return Err(WebauthnError::Cbor("an attestation object is a CBOR map".into()));
        };
        let get = |name: &str| {
            entries.iter().find_map(|(k, v)| match k {
                Value::Text(t) if t == name => Some(v.clone()),
                _ => None,
            })
        };
        let Some(Value::Text(format)) = get("fmt") else {
            return Err(WebauthnError::Cbor("attestation object has no `fmt`".into()));
        };
        let Some(Value::Bytes(auth_data_bytes)) = get("authData") else {
            return Err(WebauthnError::Cbor("attestation object has no `authData`".into()));
        };
        let Some(Value::Map(statement)) = get("attStmt") else {
            return Err(WebauthnError::Cbor(
                "attestation object has no `attStmt` map".into(),
            ));
        };
        let auth_data = AuthenticatorData::parse(&auth_data_bytes)?;
        if auth_data.attested_credential.is_none() {
            return Err(WebauthnError::AuthenticatorData(
                "a new credential's authenticator data carries no attested credential".into(),
            ));
        }
        Ok(Self {
            format,
            auth_data_bytes,
            auth_data,
            statement,
        })
    }

    /// Builds a `packed` self-attestation object (what Tapprove's software
    /// authenticator returns).
    pub fn encode_packed_self(auth_data: &[u8], alg: i64, signature: &[u8]) -> Vec<u8> {
        Self::encode(
            "packed",
            vec![("alg", Self::integer(alg)), ("sig", Self::bytes(signature))],
            auth_data,
        )
    }

    /// Builds an attestation object from its parts (for authenticators
    /// whose library returns them parsed).
    pub fn encode(format: &str, statement: Vec<(&str, Value)>, auth_data: &[u8]) -> Vec<u8> {
        let map = Value::Map(vec![
            (Value::from("fmt"), Value::from(format)),
            (
                Value::from("attStmt"),
                Value::Map(statement.into_iter().map(|(k, v)| (Value::from(k), v)).collect()),
            ),
            (Value::from("authData"), Value::Bytes(auth_data.to_vec())),
        ]);
        let mut out = Vec::new();
        let _ = ciborium::ser::into_writer(&map, &mut out);
        out
    }

    /// A statement member: an integer.
    pub fn integer(value: i64) -> Value {
        Value::from(value)
    }

    /// A statement member: bytes.
    pub fn bytes(value: &[u8]) -> Value {
        Value::Bytes(value.to_vec())
    }

    /// A statement member: a certificate chain.
    pub fn chain(certificates: &[Vec<u8>]) -> Value {
        Value::Array(certificates.iter().map(|c| Value::Bytes(c.clone())).collect())
    }

    /// A `packed` statement's algorithm and signature.
    pub fn packed_signature(&self) -> Option<(i64, Vec<u8>)> {
        let alg = self.member("alg").and_then(|v| match v {
            Value::Integer(i) => i64::try_from(i128::from(*i)).ok(),
            _ => None,
        })?;
        match self.member("sig")? {
            Value::Bytes(sig) => Some((alg, sig.clone())),
            _ => None,
        }
    }

    pub(crate) fn member(&self, name: &str) -> Option<&Value> {
        self.statement.iter().find_map(|(k, v)| match k {
            Value::Text(t) if t == name => Some(v),
            _ => None,
        })
    }

    /// The new credential's public key.
    pub fn credential_key(&self) -> Result<CoseKey, WebauthnError> {
        let cred = self
            .auth_data
            .attested_credential
            .as_ref()
            .ok_or_else(|| WebauthnError::AuthenticatorData("no attested credential".into()))?;
        CoseKey::parse(&cred.public_key)
    }

    /// Checks the attestation statement over `client_data_hash`
    /// (SHA-256 of the creation clientDataJSON) and says what it proves.
    pub fn verify(&self, client_data_hash: &[u8; 32]) -> Result<AttestationFormat, WebauthnError> {
        let member = |name: &str| self.member(name);
        match self.format.as_str() {
            "none" if self.statement.is_empty() => Ok(AttestationFormat::None),
            "none" => Err(WebauthnError::Attestation(
                "`none` with a non-empty statement".into(),
            )),
            "packed" if member("x5c").is_none() => {
                let key = self.credential_key()?;
                match member("alg") {
                    Some(Value::Integer(alg)) if i128::from(*alg) == i128::from(key.algorithm().id()) => {}
                    _ => {
                        return Err(WebauthnError::Attestation(
                            "self attestation names another algorithm than the credential's".into(),
                        ));
                    }
                }
                let Some(Value::Bytes(sig)) = member("sig") else {
                    return Err(WebauthnError::Attestation("packed statement has no `sig`".into()));
                };
                let mut message = self.auth_data_bytes.clone();
                message.extend_from_slice(client_data_hash);
                key.verify(&message, sig).map_err(|_| {
                    WebauthnError::Attestation("self attestation signature does not verify".into())
                })?;
                Ok(AttestationFormat::PackedSelf)
            }
            "packed" => {
                let Some(Value::Array(certs)) = member("x5c") else {
                    return Err(WebauthnError::Attestation("`x5c` is not an array".into()));
                };
                let x5c = certs
                    .iter()
                    .map(|c| match c {
                        Value::Bytes(b) => Ok(b.clone()),
                        _ => Err(WebauthnError::Attestation("an `x5c` entry is not bytes".into())),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let (alg, sig) = self.packed_signature().ok_or_else(|| {
                    WebauthnError::Attestation("packed statement lacks `alg` or `sig`".into())
                })?;
                let aaguid = self
                    .auth_data
                    .attested_credential
                    .as_ref()
                    .map(|c| c.aaguid.0)
                    .unwrap_or_default();
                let mut message = self.auth_data_bytes.clone();
                message.extend_from_slice(client_data_hash);
                let names_aaguid = super::x509::verify_leaf(&x5c, alg, &message, &sig, &aaguid)?;
                Ok(AttestationFormat::Certified { x5c, names_aaguid })
            }
            // WebAuthn Level 3, 8.6: a U2F device's attestation certificate
            // signs 0x00 || rpIdHash || clientDataHash || credentialId ||
            // the credential's raw P-256 point. Its certificate names no
            // AAGUID (U2F has none): a chain proves the vendor, not a model.
            "fido-u2f" => {
                let Some(Value::Array(certs)) = member("x5c") else {
                    return Err(WebauthnError::Attestation(
                        "fido-u2f: `x5c` is not an array".into(),
                    ));
                };
                let [Value::Bytes(certificate)] = certs.as_slice() else {
                    return Err(WebauthnError::Attestation(
                        "fido-u2f: `x5c` must hold exactly the attestation certificate".into(),
                    ));
                };
                let Some(Value::Bytes(sig)) = member("sig") else {
                    return Err(WebauthnError::Attestation(
                        "fido-u2f statement has no `sig`".into(),
                    ));
                };
                let CoseKey::Es256(key) = self.credential_key()? else {
                    return Err(WebauthnError::Attestation(
                        "fido-u2f: the credential key is not P-256 (ES256)".into(),
                    ));
                };
                let credential = self
                    .auth_data
                    .attested_credential
                    .as_ref()
                    .ok_or_else(|| WebauthnError::AuthenticatorData("no attested credential".into()))?;
                let mut message = vec![0x00];
                message.extend_from_slice(&self.auth_data.rp_id_hash);
                message.extend_from_slice(client_data_hash);
                message.extend_from_slice(&credential.credential_id);
                message.extend_from_slice(key.to_encoded_point(false).as_bytes());
                super::x509::verify_u2f(certificate, &message, sig)?;
                Ok(AttestationFormat::Certified {
                    x5c: vec![certificate.clone()],
                    names_aaguid: false,
                })
            }
            "apple" => self.verify_apple(client_data_hash),
            "android-key" => self.verify_android_key(client_data_hash),
            "tpm" => self.verify_tpm(client_data_hash),
            other => Ok(AttestationFormat::Unverified {
                format: other.to_owned(),
            }),
        }
    }
}
