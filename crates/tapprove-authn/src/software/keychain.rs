//! Software keys in the OS keychain (Secret Service on Linux).
//!
//! Each key is one keychain item: service `tapprove` (or the namespace
//! given), account `key:<credential id>`, the secret being the same JSON
//! document the file store writes. Listing searches the items of the
//! service. A locked or missing keychain is an error that says what to do;
//! there is never a fallback to a file.
//!
//! Built on `keyring-core`; the Secret Service store is the only one
//! compiled here. The macOS Keychain and Windows Credential Manager stores
//! (`apple-native-keyring-store`, `windows-native-keyring-store`) plug in
//! the same way but cannot be built or tested on this project's CI, so on
//! those systems [`KeychainKeyStore::open`] reports the keychain as
//! unavailable.

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error};
use tapprove_proto::Base64Url;
use zeroize::Zeroizing;

use super::store::{KeyFile, KeyStore, SoftKeyVersion, SoftwareKey, SoftwareKeyInfo, classify};
use crate::authenticator::AuthnError;

/// The keychain service name keys are stored under by default.
pub const DEFAULT_SERVICE: &str = "tapprove";

const ACCOUNT_PREFIX: &str = "key:";

/// Software keys in the OS keychain.
pub struct KeychainKeyStore {
    store: Arc<CredentialStore>,
    service: String,
}

impl std::fmt::Debug for KeychainKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainKeyStore")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl KeychainKeyStore {
    /// Connects to the OS keychain; keys live under `service`.
    pub fn open(service: &str) -> Result<Self, AuthnError> {
        if service.is_empty() {
            return Err(AuthnError::Store(
                "the keychain service name must not be empty".into(),
            ));
        }
        Ok(Self {
            store: platform_store()?,
            service: service.to_owned(),
        })
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, credential_id: &[u8]) -> Result<Entry, AuthnError> {
        let account = format!(
            "{ACCOUNT_PREFIX}{}",
            Base64Url::new(credential_id.to_vec()).encode()
        );
        let label = format!("Tapprove software key {account}");
        let modifiers = HashMap::from([("label", label.as_str())]);
        self.store
            .build(&self.service, &account, Some(&modifiers))
            .map_err(keychain_error)
    }

    fn parse(bytes: &[u8]) -> Result<SoftwareKey, AuthnError> {
        let file: KeyFile = serde_json::from_slice(bytes).map_err(|e| {
            AuthnError::Store(format!(
                "a keychain item of this service is not a Tapprove key ({}); remove it with your keychain tool",
                classify(&e)
            ))
        })?;
        Ok(file.key)
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<Arc<CredentialStore>, AuthnError> {
    let store: Arc<CredentialStore> =
        zbus_secret_service_keyring_store::Store::new().map_err(keychain_error)?;
    Ok(store)
}

#[cfg(not(target_os = "linux"))]
fn platform_store() -> Result<Arc<CredentialStore>, AuthnError> {
    Err(AuthnError::Store(
        "this build of Tapprove has no keychain store for this operating system yet; use a key store directory (--store DIR)".into(),
    ))
}

/// A keychain failure as a message that says what to do. Never includes
/// secret bytes (`BadEncoding`/`BadDataFormat` carry them).
fn keychain_error(e: Error) -> AuthnError {
    AuthnError::Store(match e {
        Error::NoStorageAccess(detail) => format!(
            "the OS keychain is locked or refused access ({detail}): unlock it (log in to your desktop session, or run `gnome-keyring-daemon --unlock`) and try again"
        ),
        Error::PlatformFailure(detail) => format!(
            "the OS keychain is not available ({detail}): start a Secret Service provider (gnome-keyring, KeePassXC) in your session and try again"
        ),
        Error::BadEncoding(_) | Error::BadDataFormat(..) => {
            "a keychain item of this service holds data Tapprove cannot read; remove it with your keychain tool".into()
        }
        Error::Ambiguous(entries) => format!(
            "the keychain holds {} items for one key; remove the duplicates with your keychain tool",
            entries.len()
        ),
        other => format!("the OS keychain failed: {other}"),
    })
}

impl KeyStore for KeychainKeyStore {
    fn load(&self, credential_id: &[u8]) -> Result<Option<SoftwareKey>, AuthnError> {
        match self.entry(credential_id)?.get_secret() {
            Ok(bytes) => Self::parse(&Zeroizing::new(bytes)).map(Some),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        }
    }

    fn save(&self, key: &SoftwareKey) -> Result<(), AuthnError> {
        let bytes = Zeroizing::new(
            serde_json::to_vec(&KeyFile {
                tapprove: SoftKeyVersion,
                key: key.clone(),
            })
            .map_err(|e| AuthnError::Store(classify(&e)))?,
        );
        self.entry(key.credential_id.as_bytes())?
            .set_secret(&bytes)
            .map_err(keychain_error)
    }

    fn delete(&self, credential_id: &[u8]) -> Result<bool, AuthnError> {
        match self.entry(credential_id)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(Error::NoEntry) => Ok(false),
            Err(e) => Err(keychain_error(e)),
        }
    }

    fn list(&self) -> Result<Vec<SoftwareKeyInfo>, AuthnError> {
        let spec = HashMap::from([("service", self.service.as_str())]);
        let entries = self.store.search(&spec).map_err(keychain_error)?;
        let mut out = Vec::new();
        for entry in entries {
            // Other programs may use the same service name: only items
            // whose account is a Tapprove key are ours.
            let attributes = entry.get_attributes().map_err(keychain_error)?;
            let ours = ["username", "user", "account"]
                .iter()
                .filter_map(|k| attributes.get(*k))
                .any(|v| v.starts_with(ACCOUNT_PREFIX));
            if !ours {
                continue;
            }
            let bytes = Zeroizing::new(entry.get_secret().map_err(keychain_error)?);
            out.push(Self::parse(&bytes)?.info());
        }
        out.sort_by(|a, b| {
            a.created
                .cmp(&b.created)
                .then(a.credential_id.cmp(&b.credential_id))
        });
        Ok(out)
    }
}
