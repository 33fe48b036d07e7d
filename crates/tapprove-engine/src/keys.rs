//! The approver's software keys on this machine: where the settings say
//! they live, which of them belong to the signed-in approver, and the
//! creation ceremony that makes a new one. The CLI and the app share it.

use rand_core::{OsRng, RngCore};
use tapprove_authn::software::{
    FileKeyStore, KEYCHAIN_SERVICE, KeyStore, KeychainKeyStore, SoftwareAuthenticator,
};
use tapprove_authn::{
    Authenticator, AuthnError, CredentialRequest, NewCredential, UserPrompt, UserVerification,
};
use tapprove_config::{Config, KeyStoreKind};
use tapprove_core::canonical::{creation_client_data_json, origin_for};
use tapprove_proto::{Base64Url, UtcTime};

use crate::error::{EngineError, Result};

/// Opens the approver's key store as the settings say (`key_store`), and
/// reads it once, so a locked keychain shows itself now rather than in the
/// middle of a signing.
pub fn open_store(config: &Config, state_dir: &std::path::Path) -> Result<Box<dyn KeyStore>> {
    let hint = |e: AuthnError| {
        let mut message = e.to_string();
        if config.key_store == KeyStoreKind::Keychain {
            message.push_str(
                " (on a machine without a keychain, set `key_store = \"files\"` in the Tapprove settings)",
            );
        }
        EngineError::KeyStore(message)
    };
    let store: Box<dyn KeyStore> = match config.key_store {
        KeyStoreKind::Keychain => Box::new(KeychainKeyStore::open(KEYCHAIN_SERVICE).map_err(hint)?),
        KeyStoreKind::Files => Box::new(FileKeyStore::open(state_dir.join("keys")).map_err(hint)?),
    };
    store.list().map_err(hint)?;
    Ok(store)
}

/// The credential ids `user` holds in `store` for `rp_id`.
pub fn registered(store: &dyn KeyStore, user: &str, rp_id: &str) -> Result<Vec<Base64Url>> {
    Ok(store
        .list()
        .map_err(|e| EngineError::KeyStore(e.to_string()))?
        .into_iter()
        .filter(|k| k.user == user && k.rp_id == rp_id)
        .map(|k| k.credential_id)
        .collect())
}

/// A software credential just made, with the creation ceremony's inputs
/// (the enrolment checks need them).
#[derive(Debug)]
pub struct NewSoftwareCredential {
    pub challenge: [u8; 32],
    pub client_data: Vec<u8>,
    pub created: NewCredential,
}

/// What to create.
#[derive(Debug, Clone)]
pub struct SoftwareKeySpec<'a> {
    pub user: &'a str,
    pub rp_id: &'a str,
    pub label: &'a str,
    /// Protect the key with a PIN (asked through the prompt).
    pub with_pin: bool,
    /// Credentials already registered to the user: not enrolled twice.
    pub exclude: Vec<Base64Url>,
}

/// Runs the creation ceremony with the software authenticator over
/// `store`: a fresh challenge and user handle, a PIN if asked, and the
/// approver's existing credentials excluded.
pub fn new_software_credential(
    store: &dyn KeyStore,
    now: &UtcTime,
    spec: SoftwareKeySpec<'_>,
    prompt: &dyn UserPrompt,
) -> Result<NewSoftwareCredential, AuthnError> {
    let mut challenge = [0u8; 32];
    OsRng.fill_bytes(&mut challenge);
    let mut user_handle = [0u8; 16];
    OsRng.fill_bytes(&mut user_handle);
    let client_data = creation_client_data_json(&challenge, &origin_for(spec.rp_id));
    let created = SoftwareAuthenticator::new(store, now.clone()).make_credential(
        &CredentialRequest {
            rp_id: spec.rp_id.to_owned(),
            user_name: spec.user.to_owned(),
            user_handle: user_handle.to_vec(),
            client_data_json: client_data.clone(),
            exclude_credentials: spec.exclude,
            user_verification: if spec.with_pin {
                UserVerification::Required
            } else {
                UserVerification::Discouraged
            },
            label: spec.label.to_owned(),
        },
        prompt,
    )?;
    Ok(NewSoftwareCredential {
        challenge,
        client_data,
        created,
    })
}
