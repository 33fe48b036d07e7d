//! The parts of W3C WebAuthn Level 3 that a relying party checks: the
//! authenticator data, clientDataJSON, COSE public keys, signatures and
//! attestation objects.
//!
//! Why not `webauthn-rs-core`: its ceremonies generate the challenge
//! themselves and keep it in an opaque state, while Tapprove's challenge is
//! derived from the statement; reaching in means building
//! `AuthenticationState` through serde (a layout that is private to that
//! crate and gated behind a `danger-` feature), and it would still not give
//! one error code per rule, nor let the counter and single-use checks be one
//! conditional write in our registry. So the assertion is checked here with
//! the spec's steps (section 7.2) over RustCrypto's audited `p256`,
//! `ed25519-dalek` and `rsa` implementations, and interoperability is proven
//! both ways in the test suite: `@simplewebauthn/server` accepts what
//! Tapprove's authenticator signs, and Tapprove accepts what
//! `webauthn-authenticator-rs`'s authenticators sign.

mod attestation;
mod authdata;
mod client_data;
mod cose;
mod formats;
pub(crate) mod x509;

pub use attestation::{AttestationFormat, AttestationObject};
pub use authdata::{AttestedCredential, AuthenticatorData, Flags};
pub use client_data::ClientData;
pub use cose::{CoseAlgorithm, CoseKey};
pub use x509::read_certificates;

/// Why a WebAuthn structure could not be used.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebauthnError {
    #[error("authenticator data is malformed: {0}")]
    AuthenticatorData(String),
    #[error("CBOR is malformed: {0}")]
    Cbor(String),
    #[error("clientDataJSON is malformed: {0}")]
    ClientData(String),
    #[error("the public key uses an unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    #[error("the signature does not verify with the registered public key")]
    BadSignature,
    #[error("attestation does not verify: {0}")]
    Attestation(String),
}

/// Reads exactly one CBOR data item from the front of `bytes`, returning it
/// and what follows.
pub(crate) fn read_cbor(bytes: &[u8]) -> Result<(ciborium::Value, &[u8]), WebauthnError> {
    let mut rest = bytes;
    let value: ciborium::Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, 16)
        .map_err(|e| WebauthnError::Cbor(e.to_string()))?;
    Ok((value, rest))
}
