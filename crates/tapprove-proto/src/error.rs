use std::fmt;

/// What kind of rule a document broke. Each maps to one verification error
/// code in `tapprove-core`, so a rejection says why.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireErrorKind {
    /// The `tapprove` field names a version this build does not understand.
    UnsupportedVersion,
    /// Not JSON, a missing or unknown field, a wrong type, or a value out of
    /// its allowed range or character set.
    Malformed,
    /// A field (or the whole document) is larger than the protocol allows.
    TooLarge,
    /// A binary field is not unpadded base64url.
    Base64,
    /// A time field is not an RFC 3339 UTC timestamp.
    Time,
}

/// A document that does not follow protocol v1, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    kind: WireErrorKind,
    document: &'static str,
    field: String,
    message: String,
}

impl WireError {
    pub(crate) fn new(
        kind: WireErrorKind,
        document: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            document,
            field: field.into(),
            message: message.into(),
        }
    }

    /// Which rule was broken.
    pub fn kind(&self) -> WireErrorKind {
        self.kind
    }

    /// The document at fault: `request`, `decision` or `registry`.
    pub fn document(&self) -> &'static str {
        self.document
    }

    /// Dotted path of the field at fault (`assertion.signature`), empty when
    /// the document as a whole is at fault.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong, without the document and field prefix.
    pub fn detail(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.document, self.message)
        } else {
            write!(f, "{} field `{}`: {}", self.document, self.field, self.message)
        }
    }
}

impl std::error::Error for WireError {}

/// Message prefixes of this crate's own deserialisers. serde passes custom
/// errors through as text, so the prefix is how [`parse_document`] learns
/// which rule failed; they are only ever produced and read inside this crate.
pub(crate) const BASE64_ERROR: &str = "not unpadded base64url";
pub(crate) const TIME_ERROR: &str = "not an RFC 3339 UTC time";
pub(crate) const VERSION_ERROR: &str = "unsupported version";

/// Declares a version tag: a unit type that serialises as one fixed string
/// and refuses any other with an error classified as
/// [`WireErrorKind::UnsupportedVersion`].
#[macro_export]
#[doc(hidden)]
macro_rules! version_tag {
    ($(#[$meta:meta])* $name:ident = $text:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl $name {
            /// The tag's text.
            pub const TEXT: &'static str = $text;
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($text)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let tag = String::deserialize(d)?;
                if tag == $text {
                    Ok($name)
                } else {
                    Err(<D::Error as serde::de::Error>::custom(format!(
                        "{} `{tag}`; this build reads `{}`",
                        $crate::__version_error(),
                        $text
                    )))
                }
            }
        }
    };
}

#[doc(hidden)]
pub fn __version_error() -> &'static str {
    VERSION_ERROR
}

/// Parses `bytes` as the document `T` after checking its size and version
/// tag, turning serde's errors into [`WireError`]s that name the field.
pub(crate) fn parse_document<T: serde::de::DeserializeOwned>(
    document: &'static str,
    bytes: &[u8],
    max_bytes: usize,
    version: &str,
) -> Result<T, WireError> {
    if bytes.len() > max_bytes {
        return Err(WireError::new(
            WireErrorKind::TooLarge,
            document,
            "",
            format!("{} bytes, at most {max_bytes} allowed", bytes.len()),
        ));
    }
    // Read the version tag on its own first, so that a newer document with
    // fields this build does not know is reported as a version problem rather
    // than as an unknown field.
    #[derive(serde::Deserialize)]
    struct Probe {
        tapprove: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| {
        WireError::new(
            WireErrorKind::Malformed,
            document,
            "",
            format!("not a JSON object: {e}"),
        )
    })?;
    match probe.tapprove {
        Some(serde_json::Value::String(tag)) if tag == version => {}
        Some(serde_json::Value::String(tag)) => {
            return Err(WireError::new(
                WireErrorKind::UnsupportedVersion,
                document,
                "tapprove",
                format!("version `{tag}` is not supported; this build reads `{version}`"),
            ));
        }
        Some(_) | None => {
            return Err(WireError::new(
                WireErrorKind::Malformed,
                document,
                "tapprove",
                format!("missing or not a string; expected `{version}`"),
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        let inner = e.into_inner();
        let text = inner.to_string();
        let kind = if text.starts_with(BASE64_ERROR) {
            WireErrorKind::Base64
        } else if text.starts_with(TIME_ERROR) {
            WireErrorKind::Time
        } else if text.starts_with(VERSION_ERROR) {
            WireErrorKind::UnsupportedVersion
        } else {
            WireErrorKind::Malformed
        };
        WireError::new(kind, document, field, text)
    })?;
    de.end().map_err(|e| {
        WireError::new(
            WireErrorKind::Malformed,
            document,
            "",
            format!("trailing data: {e}"),
        )
    })?;
    Ok(value)
}
