use tapprove_proto::Aaguid;

use super::{WebauthnError, read_cbor};

/// The flags byte of authenticator data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(pub u8);

impl Flags {
    pub const USER_PRESENT: u8 = 0x01;
    pub const USER_VERIFIED: u8 = 0x04;
    pub const BACKUP_ELIGIBLE: u8 = 0x08;
    pub const BACKED_UP: u8 = 0x10;
    pub const ATTESTED_CREDENTIAL: u8 = 0x40;
    pub const EXTENSIONS: u8 = 0x80;

    pub fn user_present(self) -> bool {
        self.0 & Self::USER_PRESENT != 0
    }
    pub fn user_verified(self) -> bool {
        self.0 & Self::USER_VERIFIED != 0
    }
    pub fn has_attested_credential(self) -> bool {
        self.0 & Self::ATTESTED_CREDENTIAL != 0
    }
    pub fn has_extensions(self) -> bool {
        self.0 & Self::EXTENSIONS != 0
    }
}

/// A credential's identity and public key, as created (registration only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential {
    pub aaguid: Aaguid,
    pub credential_id: Vec<u8>,
    /// The COSE_Key bytes exactly as the authenticator wrote them.
    pub public_key: Vec<u8>,
}

/// Parsed authenticator data (WebAuthn section 6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    pub rp_id_hash: [u8; 32],
    pub flags: Flags,
    pub sign_count: u32,
    pub attested_credential: Option<AttestedCredential>,
    /// Extension outputs are not used by Tapprove; they are parsed only so
    /// that trailing bytes can be refused.
    pub has_extensions: bool,
}

impl AuthenticatorData {
    /// Parses authenticator data strictly: the flags must announce exactly
    /// what follows, and nothing may trail.
    pub fn parse(bytes: &[u8]) -> Result<Self, WebauthnError> {
        let bad = |m: &str| WebauthnError::AuthenticatorData(m.to_owned());
        if bytes.len() < 37 {
            return Err(bad("shorter than 37 bytes (rpIdHash, flags, signCount)"));
        }
        let mut rp_id_hash = [0u8; 32];
        rp_id_hash.copy_from_slice(&bytes[..32]);
        let flags = Flags(bytes[32]);
        let sign_count = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
        let mut rest = &bytes[37..];

        let attested_credential = if flags.has_attested_credential() {
            if rest.len() < 18 {
                return Err(bad("attested credential data is truncated"));
            }
            let mut aaguid = [0u8; 16];
            aaguid.copy_from_slice(&rest[..16]);
            let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
            rest = &rest[18..];
            if id_len == 0 || id_len > 1023 || rest.len() < id_len {
                return Err(bad("credential id length is out of range"));
            }
            let credential_id = rest[..id_len].to_vec();
            rest = &rest[id_len..];
            let (_, after) = read_cbor(rest)?;
            let public_key = rest[..rest.len() - after.len()].to_vec();
            rest = after;
            Some(AttestedCredential {
                aaguid: Aaguid(aaguid),
                credential_id,
                public_key,
            })
        } else {
            None
        };

        if flags.has_extensions() {
            let (value, after) = read_cbor(rest)?;
            if !matches!(value, ciborium::Value::Map(_)) {
                return Err(WebauthnError::Cbor("extension outputs are not a CBOR map".into()));
            }
            rest = after;
        }
        if !rest.is_empty() {
            return Err(bad(&format!("{} unexpected trailing bytes", rest.len())));
        }
        Ok(Self {
            rp_id_hash,
            flags,
            sign_count,
            attested_credential,
            has_extensions: flags.has_extensions(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(flags: u8) -> Vec<u8> {
        let mut v = vec![0xaa; 32];
        v.push(flags);
        v.extend_from_slice(&7u32.to_be_bytes());
        v
    }

    #[test]
    fn parses_plain_assertion_data() {
        let d = AuthenticatorData::parse(&base(0x05)).unwrap();
        assert!(d.flags.user_present() && d.flags.user_verified());
        assert_eq!(d.sign_count, 7);
        assert!(d.attested_credential.is_none());
    }

    #[test]
    fn refuses_trailing_bytes_and_bad_extensions() {
        let mut v = base(0x01);
        v.push(0);
        assert!(matches!(
            AuthenticatorData::parse(&v),
            Err(WebauthnError::AuthenticatorData(_))
        ));

        // ED set, followed by a CBOR map {} : fine.
        let mut v = base(0x81);
        v.push(0xa0);
        assert!(AuthenticatorData::parse(&v).unwrap().has_extensions);

        // ED set, followed by a truncated CBOR map.
        let mut v = base(0x81);
        v.extend_from_slice(&[0xa1, 0x61]);
        assert!(matches!(
            AuthenticatorData::parse(&v),
            Err(WebauthnError::Cbor(_))
        ));

        // ED set but nothing follows.
        assert!(matches!(
            AuthenticatorData::parse(&base(0x81)),
            Err(WebauthnError::Cbor(_))
        ));
    }

    #[test]
    fn parses_attested_credential() {
        let mut v = base(0x41);
        v.extend_from_slice(&[0x11; 16]);
        v.extend_from_slice(&2u16.to_be_bytes());
        v.extend_from_slice(&[9, 9]);
        let key = [0xa1, 0x01, 0x02]; // {1: 2}
        v.extend_from_slice(&key);
        let d = AuthenticatorData::parse(&v).unwrap();
        let c = d.attested_credential.unwrap();
        assert_eq!(c.credential_id, vec![9, 9]);
        assert_eq!(c.public_key, key);
        assert_eq!(c.aaguid, Aaguid([0x11; 16]));
    }
}
