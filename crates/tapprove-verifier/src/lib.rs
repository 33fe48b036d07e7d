//! The verifier as the approval gate calls it.
//!
//! The gate's `Verify`, `Verify denial` and `Time left` states hand this
//! crate `{op, request, decision|denial, tally}`; [`gate::handle`] answers
//! with the new tally, or with a Step Functions error (`Tapprove.<code>`,
//! `Tapprove.Denied`, `Tapprove.RegistryUnavailable`). The same function
//! serves the activity worker ([`worker`]) and a Lambda handler, so the
//! verifier runs in AWS or anywhere else.

#![forbid(unsafe_code)]

pub mod gate;
pub mod worker;

/// The system clock as the protocol's time type.
pub fn now() -> tapprove_proto::UtcTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    tapprove_proto::UtcTime::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}
