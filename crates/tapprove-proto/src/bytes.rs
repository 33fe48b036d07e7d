use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::BASE64_ERROR;

/// Binary data carried in JSON as unpadded base64url.
///
/// Decoding is strict: the URL-safe alphabet only, no `=` padding, no
/// non-zero trailing bits, so every value has exactly one text form and the
/// canonical encoding of a document cannot drift between implementations.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Base64Url(Vec<u8>);

impl Base64Url {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Decodes unpadded base64url text.
    pub fn decode(text: &str) -> Result<Self, String> {
        URL_SAFE_NO_PAD
            .decode(text)
            .map(Self)
            .map_err(|e| format!("{BASE64_ERROR} ({e}); use the URL-safe alphabet without `=`"))
    }

    /// The unpadded base64url text.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }
}

impl AsRef<[u8]> for Base64Url {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Base64Url {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl fmt::Debug for Base64Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64Url({})", self.encode())
    }
}

impl fmt::Display for Base64Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl Serialize for Base64Url {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Base64Url {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::decode(&text).map_err(D::Error::custom)
    }
}

/// A SHA-256 digest, carried as unpadded base64url of exactly 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.encode())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = Base64Url::deserialize(d)?;
        let array: [u8; 32] = bytes.as_bytes().try_into().map_err(|_| {
            D::Error::custom(format!("a SHA-256 digest is 32 bytes, this is {}", bytes.len()))
        })?;
        Ok(Self(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_strict() {
        assert_eq!(Base64Url::decode("AQID").unwrap().as_bytes(), &[1, 2, 3]);
        assert_eq!(Base64Url::decode("-_8").unwrap().as_bytes(), &[0xfb, 0xff]);
        // Padding, the standard alphabet and non-canonical trailing bits are
        // all refused, so each value has one text form.
        assert!(Base64Url::decode("AQI=").is_err());
        assert!(Base64Url::decode("+/8").is_err());
        assert!(Base64Url::decode("AQJ").is_err());
        assert!(Base64Url::decode("A").is_err());
    }

    #[test]
    fn digest_needs_32_bytes() {
        let ok = format!("\"{}\"", URL_SAFE_NO_PAD.encode([7u8; 32]));
        let d: Sha256Digest = serde_json::from_str(&ok).unwrap();
        assert_eq!(d.0, [7u8; 32]);
        let short = format!("\"{}\"", URL_SAFE_NO_PAD.encode([7u8; 31]));
        assert!(serde_json::from_str::<Sha256Digest>(&short).is_err());
    }
}

/// An authenticator model identifier (AAGUID), carried as a lowercase UUID.
/// All zeros means the authenticator did not say.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aaguid(pub [u8; 16]);

impl Aaguid {
    pub const ZERO: Aaguid = Aaguid([0; 16]);

    pub fn parse(text: &str) -> Result<Self, String> {
        let hex: String = text.chars().filter(|&c| c != '-').collect();
        let dashes_ok = text.len() == 36 && [8, 13, 18, 23].iter().all(|&i| text.as_bytes()[i] == b'-');
        if !dashes_ok || hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "`{text}` is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
            ));
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(Self(out))
    }
}

impl fmt::Display for Aaguid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Aaguid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aaguid({self})")
    }
}

impl std::str::FromStr for Aaguid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Aaguid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Aaguid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod aaguid_tests {
    use super::Aaguid;

    #[test]
    fn aaguid_round_trips_as_uuid_text() {
        let text = "ee882879-721c-4913-9775-3dfcce97072a";
        let a = Aaguid::parse(text).unwrap();
        assert_eq!(a.0[0], 0xee);
        assert_eq!(a.to_string(), text);
        assert!(Aaguid::parse("ee882879721c491397753dfcce97072a").is_err());
        assert!(Aaguid::parse("zz882879-721c-4913-9775-3dfcce97072a").is_err());
    }
}
