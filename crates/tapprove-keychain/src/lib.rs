//! The OS keychain, as Tapprove uses it: secrets stored under one service
//! name, each addressed by an account name (`key:<id>`, `sso-token:<id>`,
//! ...). A locked or missing keychain is a [`KeychainError`] that says what
//! to do; there is never a fallback to a file.
//!
//! Built on `keyring-core`; the Secret Service store is the only one
//! compiled here. The macOS Keychain and Windows Credential Manager stores
//! (`apple-native-keyring-store`, `windows-native-keyring-store`) plug in
//! the same way in [`platform_store`] but cannot be built or tested on this
//! project's CI, so on those systems [`Keychain::open`] reports the
//! keychain as unavailable.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error};
use zeroize::Zeroizing;

/// The keychain service name Tapprove stores its secrets under by default.
pub const DEFAULT_SERVICE: &str = "tapprove";

/// A keychain failure, worded for the user. Never carries secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeychainError(pub String);

/// A secret read from the keychain, wiped from memory when dropped.
pub type Secret = Zeroizing<Vec<u8>>;

/// One service's items in the OS keychain.
#[derive(Clone)]
pub struct Keychain {
    store: Arc<CredentialStore>,
    service: String,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keychain")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Keychain {
    /// Connects to the OS keychain; items live under `service`.
    pub fn open(service: &str) -> Result<Self, KeychainError> {
        if service.is_empty() {
            return Err(KeychainError(
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

    fn entry(&self, account: &str, label: &str) -> Result<Entry, KeychainError> {
        let modifiers = HashMap::from([("label", label)]);
        self.store
            .build(&self.service, account, Some(&modifiers))
            .map_err(error)
    }

    /// The secret stored for `account`, if any.
    pub fn get(&self, account: &str) -> Result<Option<Secret>, KeychainError> {
        match self.entry(account, account)?.get_secret() {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(error(e)),
        }
    }

    /// Stores (or replaces) the secret for `account`; `label` is what
    /// keychain tools show.
    pub fn set(&self, account: &str, label: &str, secret: &[u8]) -> Result<(), KeychainError> {
        self.entry(account, label)?.set_secret(secret).map_err(error)
    }

    /// Removes the item for `account`; `false` if there was none.
    pub fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        match self.entry(account, account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(Error::NoEntry) => Ok(false),
            Err(e) => Err(error(e)),
        }
    }

    /// The items of this service whose account starts with `prefix`, with
    /// their secrets. Other programs may use the same service name: items
    /// with other accounts are left alone.
    pub fn find(&self, prefix: &str) -> Result<Vec<(String, Secret)>, KeychainError> {
        let spec = HashMap::from([("service", self.service.as_str())]);
        let mut out = Vec::new();
        for entry in self.store.search(&spec).map_err(error)? {
            let attributes = entry.get_attributes().map_err(error)?;
            let account = ["username", "user", "account"]
                .iter()
                .filter_map(|k| attributes.get(*k))
                .find(|v| v.starts_with(prefix));
            if let Some(account) = account {
                let secret = Zeroizing::new(entry.get_secret().map_err(error)?);
                out.push((account.clone(), secret));
            }
        }
        Ok(out)
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<Arc<CredentialStore>, KeychainError> {
    let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new().map_err(error)?;
    Ok(store)
}

#[cfg(not(target_os = "linux"))]
fn platform_store() -> Result<Arc<CredentialStore>, KeychainError> {
    Err(KeychainError(
        "this build of Tapprove has no keychain store for this operating system yet".into(),
    ))
}

/// A keychain failure as a message that says what to do. Never includes
/// secret bytes (`BadEncoding`/`BadDataFormat` carry them).
fn error(e: Error) -> KeychainError {
    KeychainError(match e {
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
            "the keychain holds {} items for one name; remove the duplicates with your keychain tool",
            entries.len()
        ),
        other => format!("the OS keychain failed: {other}"),
    })
}
