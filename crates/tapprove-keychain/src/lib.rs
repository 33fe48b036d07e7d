//! The OS keychain, as Tapprove uses it: secrets stored under one service
//! name, each addressed by an account name (`key:<id>`, `sso-token:<id>`,
//! ...). A locked or missing keychain is a [`KeychainError`] that says what
//! to do; there is never a fallback to a file.
//!
//! Built on `keyring-core` with one store per system, chosen in
//! [`platform`]: the Secret Service (`zbus-secret-service-keyring-store`)
//! on Linux, the login keychain (`apple-native-keyring-store`) on macOS,
//! the Credential Manager (`windows-native-keyring-store`) on Windows.
//! Only the Linux store is compiled and tested by this project's CI; the
//! macOS and Windows code follows those crates' documentation and is
//! unverified.

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
    store: Arc<Held>,
    service: String,
}

/// The store, dropped on a thread of its own like every other use of it
/// (see [`apart`]): the Secret Service store's D-Bus proxies block when
/// they are dropped.
struct Held(Option<Arc<CredentialStore>>);

impl Held {
    fn get(&self) -> &CredentialStore {
        match self.0.as_deref() {
            Some(store) => store,
            // Only `drop` takes it.
            None => unreachable!("the keychain store is gone"),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(store) = self.0.take() {
            apart(move || drop(store));
        }
    }
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
            store: Arc::new(Held(Some(apart(platform::store)?))),
            service: service.to_owned(),
        })
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, account: &str, label: &str) -> Result<Entry, KeychainError> {
        let modifiers = platform::modifiers(label);
        self.store
            .get()
            .build(&self.service, account, Some(&modifiers))
            .map_err(error)
    }

    /// The secret stored for `account`, if any.
    pub fn get(&self, account: &str) -> Result<Option<Secret>, KeychainError> {
        apart(|| match self.entry(account, account)?.get_secret() {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(error(e)),
        })
    }

    /// Stores (or replaces) the secret for `account`; `label` is what
    /// keychain tools show.
    pub fn set(&self, account: &str, label: &str, secret: &[u8]) -> Result<(), KeychainError> {
        apart(|| self.entry(account, label)?.set_secret(secret).map_err(error))
    }

    /// Removes the item for `account`; `false` if there was none.
    pub fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        apart(|| match self.entry(account, account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(Error::NoEntry) => Ok(false),
            Err(e) => Err(error(e)),
        })
    }

    /// The items of this service whose account starts with `prefix`, with
    /// their secrets. Other programs may use the same service name: items
    /// with other accounts are left alone.
    pub fn find(&self, prefix: &str) -> Result<Vec<(String, Secret)>, KeychainError> {
        apart(|| self.find_here(prefix))
    }

    fn find_here(&self, prefix: &str) -> Result<Vec<(String, Secret)>, KeychainError> {
        let spec = platform::search_spec(&self.service);
        let spec: HashMap<&str, &str> = spec.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut out = Vec::new();
        for entry in self.store.get().search(&spec).map_err(error)? {
            let Some((service, account)) = entry.get_specifiers() else {
                continue;
            };
            if service == self.service && account.starts_with(prefix) {
                let secret = Zeroizing::new(entry.get_secret().map_err(error)?);
                out.push((account, secret));
            }
        }
        Ok(out)
    }
}

/// Runs `work` on a thread of its own and waits for it. The stores make
/// blocking calls (D-Bus on Linux), which must not run on a thread that
/// drives an async runtime: zbus refuses them there (with a panic, in its
/// Tokio mode, which the tray agent uses), and they would stall the
/// runtime's other work meanwhile.
fn apart<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// What differs between the systems' stores.
mod platform {
    use std::collections::HashMap;
    use std::sync::Arc;

    use keyring_core::CredentialStore;

    use super::{KeychainError, error};

    /// Secret Service: items carry a label keychain tools show; search by
    /// the `service` attribute.
    #[cfg(target_os = "linux")]
    pub fn store() -> Result<Arc<CredentialStore>, KeychainError> {
        let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new().map_err(error)?;
        Ok(store)
    }

    #[cfg(target_os = "linux")]
    pub fn modifiers(label: &str) -> HashMap<&str, &str> {
        HashMap::from([("label", label)])
    }

    #[cfg(any(target_os = "linux", target_os = "macos"))]
    pub fn search_spec(service: &str) -> Vec<(&'static str, String)> {
        vec![("service", service.to_owned())]
    }

    /// macOS: generic passwords in the login keychain (no label modifier).
    #[cfg(target_os = "macos")]
    pub fn store() -> Result<Arc<CredentialStore>, KeychainError> {
        let store: Arc<CredentialStore> =
            apple_native_keyring_store::keychain::Store::new().map_err(error)?;
        Ok(store)
    }

    /// Windows: generic credentials named `<account>.<service>`, found by
    /// a pattern over that name.
    #[cfg(windows)]
    pub fn store() -> Result<Arc<CredentialStore>, KeychainError> {
        let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new().map_err(error)?;
        Ok(store)
    }

    #[cfg(windows)]
    pub fn search_spec(service: &str) -> Vec<(&'static str, String)> {
        let escaped: String = service
            .chars()
            .flat_map(|c| {
                let special = "\\.+*?()|[]{}^$".contains(c);
                special.then_some('\\').into_iter().chain([c])
            })
            .collect();
        vec![("pattern", format!("\\.{escaped}$"))]
    }

    #[cfg(any(target_os = "macos", windows))]
    pub fn modifiers(_label: &str) -> HashMap<&str, &str> {
        HashMap::new()
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    pub fn store() -> Result<Arc<CredentialStore>, KeychainError> {
        Err(KeychainError(
            "this build of Tapprove has no keychain store for this operating system".into(),
        ))
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    pub fn modifiers(label: &str) -> HashMap<&str, &str> {
        HashMap::from([("label", label)])
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    pub fn search_spec(service: &str) -> Vec<(&'static str, String)> {
        vec![("service", service.to_owned())]
    }
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
