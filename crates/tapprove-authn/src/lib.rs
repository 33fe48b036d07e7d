//! The approver's side of Tapprove: authenticators and the signing flow.
//!
//! An [`Authenticator`] makes credentials and signs WebAuthn assertions;
//! implementations are the software authenticator here, and (in later
//! modules) USB security keys over CTAP2, Touch ID and Windows Hello. Each
//! talks to the person through a [`UserPrompt`] ("touch your key", "enter
//! your PIN", cancel), so the tray app and the CLI share one flow:
//! [`sign_decision`] builds the statement, derives the challenge, asks the
//! authenticator and returns the approval/v1 [`tapprove_proto::Decision`].
//!
//! Where it is dangerous: PINs and private keys pass through here. They are
//! held in [`zeroize::Zeroizing`] buffers, never logged, never put in an
//! error message, and the `Debug` impls of types that hold them redact them.

#![forbid(unsafe_code)]

mod authenticator;
pub mod backend;
pub mod ctap;
mod platform;
mod prompt;
#[cfg(not(windows))]
pub mod security_key;
mod sign;
pub mod software;
#[cfg(target_os = "macos")]
mod touch_id;
#[cfg(windows)]
mod windows;

pub use authenticator::{
    AssertionRequest, Authenticator, AuthnError, CredentialRequest, NewCredential, RawAssertion,
    UserVerification,
};
pub use platform::{Unavailable, platform_authenticator, security_key_authenticator};
pub use prompt::{PinRequest, Prompt, UserPrompt};
pub use sign::{SignError, SigningRequest, sign_decision};
