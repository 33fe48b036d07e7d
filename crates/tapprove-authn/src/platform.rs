//! Which authenticators this machine offers.
//!
//! - USB security keys: `ctap-hid-fido2` on macOS and Linux; on Windows,
//!   Windows' WebAuthn API (which also offers Windows Hello).
//! - The platform authenticator: Touch ID on macOS (a Secure Enclave key),
//!   Windows Hello on Windows; none on Linux, where the software
//!   authenticator stands in when the org allows it.
//!
//! Where there is none, [`Unavailable`] says so in words a person can act
//! on, so the app and the CLI need no per-OS branches.

use tapprove_proto::Base64Url;
use tapprove_proto::registry::AuthenticatorKind;

use crate::authenticator::{
    AssertionRequest, Authenticator, AuthnError, CredentialRequest, NewCredential, RawAssertion,
};
use crate::prompt::UserPrompt;

/// An authenticator this machine does not have.
#[derive(Debug, Clone)]
pub struct Unavailable {
    pub kind: AuthenticatorKind,
    /// Why, and what to use instead.
    pub reason: String,
}

impl Authenticator for Unavailable {
    fn kind(&self) -> AuthenticatorKind {
        self.kind
    }

    fn description(&self) -> String {
        match self.kind {
            AuthenticatorKind::Platform => "a platform authenticator".into(),
            AuthenticatorKind::SecurityKey => "a security key".into(),
            AuthenticatorKind::Software => "the software authenticator".into(),
        }
    }

    fn holds_any(&self, _rp_id: &str, _ids: &[Base64Url]) -> Result<Option<bool>, AuthnError> {
        Ok(Some(false))
    }

    fn make_credential(
        &self,
        _: &CredentialRequest,
        _: &dyn UserPrompt,
    ) -> Result<NewCredential, AuthnError> {
        Err(AuthnError::Unavailable(self.reason.clone()))
    }

    fn get_assertion(&self, _: &AssertionRequest, _: &dyn UserPrompt) -> Result<RawAssertion, AuthnError> {
        Err(AuthnError::Unavailable(self.reason.clone()))
    }
}

/// This machine's platform authenticator: Touch ID, Windows Hello, or
/// [`Unavailable`].
pub fn platform_authenticator() -> Box<dyn Authenticator> {
    #[cfg(target_os = "macos")]
    {
        Box::new(crate::touch_id::TouchId::new())
    }
    #[cfg(windows)]
    {
        Box::new(crate::windows::windows_hello())
    }
    #[cfg(not(any(target_os = "macos", windows)))]
    {
        Box::new(Unavailable {
            kind: AuthenticatorKind::Platform,
            reason: "this computer has no platform authenticator Tapprove can use (Touch ID and Windows Hello only): enrol a security key, or the software authenticator if your org allows it".into(),
        })
    }
}

/// USB security keys.
pub fn security_key_authenticator() -> Box<dyn Authenticator> {
    #[cfg(windows)]
    {
        Box::new(crate::windows::security_keys())
    }
    #[cfg(not(windows))]
    {
        Box::new(crate::security_key::SecurityKey::new())
    }
}
