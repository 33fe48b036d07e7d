//! The Tapprove approval protocol, v1: canonical encoding, challenge
//! derivation, WebAuthn checks, and the verifier.
//!
//! This crate is pure: it performs no IO and never reads the clock. The
//! registry and ledger it needs are traits ([`registry::Registry`],
//! [`registry::Ledger`]); `now` is an argument. The tray app, the CLI and
//! the verifier deployed in AWS all call it, so both ends of an approval
//! agree byte for byte.
//!
//! Where it is dangerous: a [`verify::VerifiedApproval`] is the only thing
//! that says a person approved. It is built only by
//! [`verify::Verifier::verify_json`], after every rule held and the
//! single-use claim was committed. Do not add a constructor, a
//! `Deserialize` impl, or a way to skip a rule; relax rules through
//! [`policy::VerifierPolicy`], whose every field is an org decision.

#![forbid(unsafe_code)]

pub mod canonical;
pub mod enrolment;
pub mod error;
pub mod evidence;
pub mod id_token;
pub mod metadata;
pub mod policy;
pub mod registry;
pub mod verify;
pub mod webauthn;

pub use error::{Code, Error, Rejection, Result, StoreError, VerifyError};
pub use policy::VerifierPolicy;
pub use verify::{Admitted, QuorumTally, VerifiedApproval, VerifiedDecision, VerifiedDenial, Verifier};

/// Entry points for the fuzz targets in `fuzz/`, and for the test that
/// replays their corpus: each parses untrusted bytes and must never panic.
#[doc(hidden)]
pub mod fuzzing {
    pub fn request(data: &[u8]) {
        if let Ok(r) = tapprove_proto::Request::from_json(data) {
            let _ = crate::canonical::request_sha256(&r);
        }
    }

    pub fn decision(data: &[u8]) {
        if let Ok(d) = tapprove_proto::Decision::from_json(data) {
            let _ = crate::canonical::statement_challenge(&d.statement);
            let _ = crate::webauthn::AuthenticatorData::parse(d.assertion.authenticator_data.as_bytes());
            let _ = crate::webauthn::ClientData::parse(d.assertion.client_data_json.as_bytes());
        }
    }

    pub fn authenticator_data(data: &[u8]) {
        let _ = crate::webauthn::AuthenticatorData::parse(data);
        let _ = crate::webauthn::CoseKey::parse(data);
        let _ = crate::webauthn::AttestationObject::parse(data);
    }
}
