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
    /// `packed` with a certificate chain, or another format: the chain is
    /// not checked here; an org that requires trusted attestation roots
    /// refuses these until it is.
    Unverified { format: String },
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
        let map = Value::Map(vec![
            (Value::from("fmt"), Value::from("packed")),
            (
                Value::from("attStmt"),
                Value::Map(vec![
                    (Value::from("alg"), Value::from(alg)),
                    (Value::from("sig"), Value::Bytes(signature.to_vec())),
                ]),
            ),
            (Value::from("authData"), Value::Bytes(auth_data.to_vec())),
        ]);
        let mut out = Vec::new();
        let _ = ciborium::ser::into_writer(&map, &mut out);
        out
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
        let member = |name: &str| {
            self.statement.iter().find_map(|(k, v)| match k {
                Value::Text(t) if t == name => Some(v),
                _ => None,
            })
        };
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
            other => Ok(AttestationFormat::Unverified {
                format: other.to_owned(),
            }),
        }
    }
}
