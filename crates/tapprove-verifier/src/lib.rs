//! The verifier as the approval gate calls it.
//!
//! The gate's `Verify`, `Verify denial` and `Time left` states hand this
//! crate `{op, request, decision|denial, tally}`; [`gate::handle`] answers
//! with the new tally, or with a Step Functions error (`Tapprove.<code>`,
//! `Tapprove.Denied`, `Tapprove.RegistryUnavailable`). The same function
//! serves the activity worker ([`worker`]) and the Lambda handler
//! ([`lambda`]), so the verifier runs in AWS or anywhere else.
//!
//! The enrolment service ([`enrol`]) writes new credentials into the
//! registry under the caller's AWS identity, proven by a presigned
//! `sts:GetCallerIdentity` request ([`identity`]); it is served over HTTP
//! by `tapprove-verifier serve` ([`http`]) and through a Lambda function
//! URL. The decision endpoint ([`decisions`]) delivers signed decisions to
//! Step Functions for approvers who hold no Step Functions permission. The
//! request endpoint ([`requests`]) starts a gate for a requester AWS
//! proved, so the gate shows and judges who really asked.

#![forbid(unsafe_code)]

pub mod announce;
pub mod decisions;
pub mod enrol;
pub mod fido;
pub mod gate;
pub mod http;
pub mod identity;
pub mod lambda;
pub mod requests;
pub mod service_error;
pub mod worker;

/// The system clock as the protocol's time type, to the millisecond (the
/// audit trail orders a verifier's records among the admins' by it).
pub fn now() -> tapprove_proto::UtcTime {
    tapprove_proto::UtcTime::now()
}
