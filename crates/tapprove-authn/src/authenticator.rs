use tapprove_proto::Base64Url;
use tapprove_proto::registry::AuthenticatorKind;

use crate::prompt::UserPrompt;

/// Whether the authenticator should verify the user (PIN, biometrics) on
/// top of checking presence. WebAuthn's `userVerification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserVerification {
    /// Fail if the user cannot be verified.
    Required,
    /// Verify if the authenticator can.
    Preferred,
    /// Presence only.
    Discouraged,
}

/// Create a credential (enrolment): WebAuthn `authenticatorMakeCredential`.
#[derive(Debug, Clone)]
pub struct CredentialRequest {
    pub rp_id: String,
    /// The approver's name, stored with the credential for display.
    pub user_name: String,
    /// WebAuthn user handle (at most 64 bytes, no personal data).
    pub user_handle: Vec<u8>,
    /// The creation clientDataJSON; its SHA-256 is what gets attested.
    pub client_data_json: Vec<u8>,
    /// Credentials already registered to this user: an authenticator that
    /// holds one of them refuses, so a key is not enrolled twice.
    pub exclude_credentials: Vec<Base64Url>,
    pub user_verification: UserVerification,
    /// A name the user chose for this authenticator.
    pub label: String,
}

/// A credential just created.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub credential_id: Base64Url,
    /// The attestationObject, CBOR, as WebAuthn defines it.
    pub attestation_object: Vec<u8>,
    pub kind: AuthenticatorKind,
    /// The creation clientDataJSON, when the platform wrote its own (Windows'
    /// WebAuthn API does) instead of signing over the request's.
    pub client_data_json: Option<Vec<u8>>,
}

/// Sign an assertion: WebAuthn `authenticatorGetAssertion`.
#[derive(Debug, Clone)]
pub struct AssertionRequest {
    pub rp_id: String,
    /// The clientDataJSON whose SHA-256 the authenticator signs with its
    /// authenticator data.
    pub client_data_json: Vec<u8>,
    /// The approver's registered credentials; only these may sign.
    pub allow_credentials: Vec<Base64Url>,
    pub user_verification: UserVerification,
}

/// What an authenticator returns for an assertion (the client adds the
/// clientDataJSON it sent).
#[derive(Debug, Clone)]
pub struct RawAssertion {
    pub credential_id: Base64Url,
    pub authenticator_data: Vec<u8>,
    pub signature: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
    /// The clientDataJSON actually signed, when the platform wrote its own
    /// (same challenge and origin, its own layout); `None`: the request's.
    pub client_data_json: Option<Vec<u8>>,
}

/// Something that holds credentials and signs with them.
///
/// Calls block while the person acts (touch, PIN, biometrics); the app runs
/// them on a blocking thread. Implementations ask for nothing through the
/// prompt before they know they hold a usable credential: a person must
/// never be asked to touch a key that cannot answer.
pub trait Authenticator: Send + Sync {
    fn kind(&self) -> AuthenticatorKind;

    /// What the person should look for: "security key", "Touch ID",
    /// "Tapprove software key".
    fn description(&self) -> String;

    /// Whether this authenticator holds one of `credential_ids` for `rp_id`,
    /// when it can tell without a prompt (`None`: only the device knows,
    /// as with a security key that keeps no list).
    fn holds_any(&self, rp_id: &str, credential_ids: &[Base64Url]) -> Result<Option<bool>, AuthnError>;

    fn make_credential(
        &self,
        request: &CredentialRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<NewCredential, AuthnError>;

    fn get_assertion(
        &self,
        request: &AssertionRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<RawAssertion, AuthnError>;

    /// Deletes a credential this authenticator made, when it can (software
    /// and platform keys; a security key keeps its credentials). Enrolment
    /// calls it to roll back a credential the registry did not take.
    /// Returns whether something was deleted.
    fn forget(&self, credential_id: &Base64Url) -> Result<bool, AuthnError> {
        let _ = credential_id;
        Ok(false)
    }
}

/// A shared authenticator is one: the caller keeps a handle to it (a test
/// looking into its store afterwards, say).
impl<T: Authenticator + ?Sized> Authenticator for std::sync::Arc<T> {
    fn kind(&self) -> AuthenticatorKind {
        (**self).kind()
    }
    fn description(&self) -> String {
        (**self).description()
    }
    fn holds_any(&self, rp_id: &str, credential_ids: &[Base64Url]) -> Result<Option<bool>, AuthnError> {
        (**self).holds_any(rp_id, credential_ids)
    }
    fn make_credential(
        &self,
        request: &CredentialRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<NewCredential, AuthnError> {
        (**self).make_credential(request, prompt)
    }
    fn get_assertion(
        &self,
        request: &AssertionRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<RawAssertion, AuthnError> {
        (**self).get_assertion(request, prompt)
    }
    fn forget(&self, credential_id: &Base64Url) -> Result<bool, AuthnError> {
        (**self).forget(credential_id)
    }
}

impl AuthnError {
    /// A short stable word for what failed (the CLI's JSON `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Cancelled => "cancelled",
            Self::NoMatchingCredential => "no_matching_credential",
            Self::AlreadyEnrolled => "already_enrolled",
            Self::PinInvalid { .. } => "pin_invalid",
            Self::PinBlocked => "pin_blocked",
            Self::UserVerificationUnavailable(_) => "user_verification_unavailable",
            Self::PinRequired => "pin_required",
            Self::NotFound => "authenticator_not_found",
            Self::Timeout => "timeout",
            Self::Store(_) => "key_store_error",
            _ => "authenticator_error",
        }
    }
}

impl std::fmt::Debug for dyn Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authenticator({})", self.description())
    }
}

/// Why an authenticator could not sign or enrol. Every message says what
/// the person can do about it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthnError {
    #[error("cancelled")]
    Cancelled,
    #[error(
        "none of your registered credentials is on this authenticator: use the one you enrolled, or enrol this one"
    )]
    NoMatchingCredential,
    #[error("this authenticator already holds a credential for you: nothing to enrol")]
    AlreadyEnrolled,
    #[error("wrong PIN: {attempts_left} attempts left before the key locks")]
    PinInvalid { attempts_left: u32 },
    #[error("PIN blocked after too many wrong attempts: reset the authenticator or use another one")]
    PinBlocked,
    #[error("too many wrong PINs in a row: unplug the security key, plug it back in and try again")]
    PinAuthBlocked,
    #[error(
        "fingerprint (or other built-in verification) is blocked after too many failures: use the PIN, or unlock it on the device"
    )]
    UvBlocked,
    #[error("the authenticator has no PIN set and the org requires one: set a PIN on it first")]
    PinNotSet,
    #[error(
        "user verification is required but {0} has no PIN or biometrics set up: set a PIN, or ask your admin"
    )]
    UserVerificationUnavailable(String),
    #[error("a PIN is required; none was given")]
    PinRequired,
    #[error("no authenticator found: plug in your security key, or enrol another authenticator")]
    NotFound,
    #[error(
        "timed out waiting for you to confirm on the authenticator: try again and touch it when it blinks"
    )]
    Timeout,
    #[error("the security key was removed or stopped answering: plug it in again and retry")]
    Removed,
    #[error("{0}")]
    Unavailable(String),
    #[error("the authenticator refused: {0}")]
    Refused(String),
    #[error("the authenticator's key store failed: {0}")]
    Store(String),
    #[error("the authenticator failed: {0}")]
    Device(String),
}
