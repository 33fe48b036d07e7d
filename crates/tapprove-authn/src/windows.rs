//! Windows: Windows Hello and security keys through Windows' own WebAuthn
//! API (`webauthn.dll`), with `webauthn-authenticator-rs`'s `win10`
//! backend. Windows blocks raw FIDO HID access for non-admin processes, so
//! this is the only way to a security key there too; Windows draws its own
//! dialog (PIN, fingerprint, "touch your key"), so the prompt only says
//! which authenticator Tapprove is waiting for.
//!
//! Not compiled or run in this project's Linux CI; the platform workflow
//! (`.github/workflows/platforms.yml`) builds and tests it on Windows. The
//! conversion to and from WebAuthn options is shared with, and tested
//! through, the CTAP2 round trip (`tests/ctap2_roundtrip.rs`).

use tapprove_core::webauthn::ClientData;
use tapprove_proto::registry::AuthenticatorKind;
use webauthn_authenticator_rs::AuthenticatorBackend;
use webauthn_authenticator_rs::error::WebauthnCError;
use webauthn_authenticator_rs::prelude::Url;
use webauthn_authenticator_rs::win10::Win10;
use webauthn_rs_proto::{
    AuthenticatorAttachment, PublicKeyCredential, PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions, RegisterPublicKeyCredential,
};

use crate::backend::{Backend, BackendAuthenticator, PromptBridge, TIMEOUT_MS};
use crate::prompt::Prompt;

/// Windows' WebAuthn API, for one kind of authenticator.
#[derive(Debug)]
pub struct WindowsWebauthn {
    attachment: AuthenticatorAttachment,
}

fn origin_of(client_data_json: &[u8]) -> Result<Url, WebauthnCError> {
    let parsed = ClientData::parse(client_data_json).map_err(|_| WebauthnCError::Json)?;
    Url::parse(&parsed.origin).map_err(|_| WebauthnCError::Internal)
}

impl Backend for WindowsWebauthn {
    fn description(&self) -> String {
        match self.attachment {
            AuthenticatorAttachment::Platform => "Windows Hello".into(),
            AuthenticatorAttachment::CrossPlatform => "your security key (through Windows)".into(),
        }
    }

    fn register(
        &self,
        ui: &PromptBridge<'_>,
        client_data_json: &[u8],
        mut options: PublicKeyCredentialCreationOptions,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        if let Some(selection) = options.authenticator_selection.as_mut() {
            selection.authenticator_attachment = Some(self.attachment);
        }
        ui.show(Prompt::ConfirmPlatform);
        Win10::default().perform_register(origin_of(client_data_json)?, options, TIMEOUT_MS)
    }

    fn authenticate(
        &self,
        ui: &PromptBridge<'_>,
        client_data_json: &[u8],
        options: PublicKeyCredentialRequestOptions,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        ui.show(Prompt::ConfirmPlatform);
        Win10::default().perform_auth(origin_of(client_data_json)?, options, TIMEOUT_MS)
    }
}

/// Windows Hello (face, fingerprint or PIN, keys in the TPM).
pub fn windows_hello() -> BackendAuthenticator<WindowsWebauthn> {
    BackendAuthenticator::new(
        WindowsWebauthn {
            attachment: AuthenticatorAttachment::Platform,
        },
        AuthenticatorKind::Platform,
    )
}

/// Security keys, through Windows.
pub fn security_keys() -> BackendAuthenticator<WindowsWebauthn> {
    BackendAuthenticator::new(
        WindowsWebauthn {
            attachment: AuthenticatorAttachment::CrossPlatform,
        },
        AuthenticatorKind::SecurityKey,
    )
}
