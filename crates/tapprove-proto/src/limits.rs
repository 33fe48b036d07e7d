//! Size limits of protocol v1.
//!
//! Step Functions caps a task's input and output, and a state's data, at
//! 256 KiB. The gate keeps the request in its state next to the approvals
//! collected so far, so a request may use most, but not all, of that.
//! Text limits count Unicode scalar values; byte limits count bytes.

/// A whole request document, as JSON bytes.
pub const MAX_REQUEST_BYTES: usize = 232 * 1024;
/// The request's `details`, as compact JSON bytes.
pub const MAX_DETAILS_BYTES: usize = 224 * 1024;
/// A whole decision document, as JSON bytes.
pub const MAX_DECISION_BYTES: usize = 16 * 1024;
/// A registry file, as JSON bytes.
pub const MAX_REGISTRY_BYTES: usize = 16 * 1024 * 1024;

/// `title`, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// `reason`, in characters (docs/protocol.md: at most 1024).
pub const MAX_REASON_CHARS: usize = 1024;
/// `requested_by` and `approver`, in characters.
pub const MAX_PRINCIPAL_CHARS: usize = 256;
/// `approvers` (a group name), in characters.
pub const MAX_GROUP_CHARS: usize = 64;
/// `execution` (an execution ARN is at most 2048 characters).
pub const MAX_EXECUTION_CHARS: usize = 2048;
/// `nonce`, in characters.
pub const MAX_NONCE_CHARS: usize = 128;
/// Largest `quorum`.
pub const MAX_QUORUM: u32 = 16;
/// Largest `timeout_seconds`: one year, as Step Functions allows.
pub const MAX_TIMEOUT_SECONDS: u64 = 365 * 24 * 3600;

/// WebAuthn credential ids are at most 1023 bytes.
pub const MAX_CREDENTIAL_ID_BYTES: usize = 1023;
/// Authenticator data, extensions included.
pub const MAX_AUTHENTICATOR_DATA_BYTES: usize = 4096;
/// clientDataJSON.
pub const MAX_CLIENT_DATA_BYTES: usize = 4096;
/// A signature (RSA-4096 is 512 bytes).
pub const MAX_SIGNATURE_BYTES: usize = 1024;
/// WebAuthn user handles are at most 64 bytes.
pub const MAX_USER_HANDLE_BYTES: usize = 64;
/// A COSE public key in the registry.
pub const MAX_PUBLIC_KEY_BYTES: usize = 2048;

/// An enrolment request: the attestation object (certificate chains
/// included) and the presigned identity request.
pub const MAX_ENROLMENT_BYTES: usize = 64 * 1024;
/// A credential's label.
pub const MAX_LABEL_CHARS: usize = 128;
