use tapprove_core::canonical::{client_data_json, origin_for, request_sha256, statement_challenge};
use tapprove_proto::{
    Assertion, Base64Url, Decision, DecisionVersion, ReasonCode, Request, Statement, StatementVersion,
    UtcTime, Verdict, WireError,
};

use crate::authenticator::{AssertionRequest, Authenticator, AuthnError, UserVerification};
use crate::prompt::UserPrompt;

/// One decision to sign.
#[derive(Debug, Clone)]
pub struct SigningRequest<'a> {
    pub request: &'a Request,
    pub verdict: Verdict,
    pub reason: Option<String>,
    /// A denial's reason code (`unexpected`).
    pub reason_code: Option<ReasonCode>,
    /// The approver's name as the registry knows it; comes from the signed-in
    /// session.
    pub approver: String,
    pub rp_id: String,
    /// The approver's clock.
    pub signed_at: UtcTime,
    /// The approver's registered credentials.
    pub allow_credentials: Vec<Base64Url>,
    pub user_verification: UserVerification,
}

/// Why a decision could not be signed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The statement would break the protocol (reason too long, empty
    /// approver); nothing was asked of the authenticator.
    #[error("the decision is not valid: {0}")]
    Invalid(#[from] WireError),
    #[error(transparent)]
    Authenticator(#[from] AuthnError),
    #[error(transparent)]
    Encoding(#[from] tapprove_core::Error),
}

/// Builds the statement for `signing`, has `authenticator` sign it, and
/// returns the approval/v1 decision to send back to Step Functions.
///
/// The statement is checked before the authenticator is asked, and the
/// authenticator is not asked at all when it can tell that it holds none of
/// the approver's credentials, so a person is never prompted for nothing.
pub fn sign_decision(
    authenticator: &dyn Authenticator,
    prompt: &dyn UserPrompt,
    signing: &SigningRequest<'_>,
) -> Result<Decision, SignError> {
    let statement = Statement {
        tapprove: StatementVersion,
        request_sha256: request_sha256(signing.request)?,
        decision: signing.verdict,
        reason: signing.reason.clone().filter(|r| !r.is_empty()),
        reason_code: signing.reason_code,
        approver: signing.approver.clone(),
        signed_at: signing.signed_at.clone(),
    };
    statement.validate()?;
    if signing.allow_credentials.is_empty()
        || authenticator.holds_any(&signing.rp_id, &signing.allow_credentials)? == Some(false)
    {
        return Err(AuthnError::NoMatchingCredential.into());
    }
    let challenge = statement_challenge(&statement)?;
    let client_data = client_data_json(&challenge, &origin_for(&signing.rp_id));
    let raw = authenticator.get_assertion(
        &AssertionRequest {
            rp_id: signing.rp_id.clone(),
            client_data_json: client_data.clone(),
            allow_credentials: signing.allow_credentials.clone(),
            user_verification: signing.user_verification,
        },
        prompt,
    )?;
    let decision = Decision {
        tapprove: DecisionVersion,
        statement,
        assertion: Assertion {
            credential_id: raw.credential_id,
            authenticator_data: Base64Url::new(raw.authenticator_data),
            client_data_json: Base64Url::new(client_data),
            signature: Base64Url::new(raw.signature),
            user_handle: raw.user_handle.map(Base64Url::new),
        },
    };
    decision.validate()?;
    Ok(decision)
}
