//! Wire types of the Tapprove approval protocol, version 1.
//!
//! A workflow's approval gate builds a [`Request`]; an approver signs a
//! [`Statement`] about it; the signed [`Decision`] goes back to Step
//! Functions, where the verifier checks it. This crate holds those three
//! shapes (and the [`registry`] file format) exactly as they travel, with
//! strict parsing: unknown versions and unknown fields are rejected, every
//! field is bounded, binary values are unpadded base64url and times are
//! RFC 3339 UTC.
//!
//! It depends on serde and nothing that does crypto or IO, so the tray app's
//! front-end bindings, the CLI and the verifier can all share it. Hashing and
//! signature checks live in `tapprove-core`.
//!
//! Parse with the `from_json` constructors ([`Request::from_json`],
//! [`Decision::from_json`]): they run the size and content checks that serde
//! alone cannot express. A value built through plain `serde_json::from_*`
//! has passed the type checks but not the bounds.
//!
//! Hashed JSON must round-trip: every type here serialises back to the same
//! JSON value it was parsed from (times keep their original text, optional
//! fields that were absent stay absent, `null` is refused where absence is the
//! encoding), because the request hash and the WebAuthn challenge are taken
//! over the canonical form of the re-serialised value.

#![forbid(unsafe_code)]

mod bytes;
mod decision;
pub mod delivery;
pub mod enrolment;
mod error;
pub mod evidence;
pub mod gate_policy;
pub mod limits;
pub mod metadata;
pub mod numbers;
pub mod offered;
pub mod registry;
mod request;
pub mod text;
mod time;

pub use bytes::{Aaguid, Base64Url, Sha256Digest};
pub use decision::{Assertion, Decision, DecisionVersion, ReasonCode, Statement, StatementVersion, Verdict};
pub use error::{__version_error, WireError, WireErrorKind};
pub use request::{REQUESTER_CLAIMED, Request, RequestVersion, Requester};
pub mod submission;
pub use time::{Clock, SystemClock, UtcTime};
