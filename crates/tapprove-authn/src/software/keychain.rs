//! Software keys in the OS keychain (Secret Service on Linux).
//!
//! Each key is one keychain item: service `tapprove` (or the namespace
//! given), account `key:<credential id>`, the secret being the same JSON
//! document the file store writes. Listing searches the items of the
//! service. A locked or missing keychain is an error that says what to do;
//! there is never a fallback to a file (see `tapprove-keychain`).

use tapprove_keychain::{Keychain, KeychainError};
use tapprove_proto::Base64Url;
use zeroize::Zeroizing;

use super::store::{KeyFile, KeyStore, SoftKeyVersion, SoftwareKey, SoftwareKeyInfo, classify};
use crate::authenticator::AuthnError;

/// The keychain service name keys are stored under by default.
pub const DEFAULT_SERVICE: &str = tapprove_keychain::DEFAULT_SERVICE;

const ACCOUNT_PREFIX: &str = "key:";

/// Software keys in the OS keychain.
#[derive(Debug)]
pub struct KeychainKeyStore {
    keychain: Keychain,
}

impl From<KeychainError> for AuthnError {
    fn from(e: KeychainError) -> Self {
        AuthnError::Store(e.0)
    }
}

impl KeychainKeyStore {
    /// Connects to the OS keychain; keys live under `service`.
    pub fn open(service: &str) -> Result<Self, AuthnError> {
        Ok(Self {
            keychain: Keychain::open(service)?,
        })
    }

    pub fn service(&self) -> &str {
        self.keychain.service()
    }

    fn account(credential_id: &[u8]) -> String {
        format!(
            "{ACCOUNT_PREFIX}{}",
            Base64Url::new(credential_id.to_vec()).encode()
        )
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

impl KeyStore for KeychainKeyStore {
    fn load(&self, credential_id: &[u8]) -> Result<Option<SoftwareKey>, AuthnError> {
        match self.keychain.get(&Self::account(credential_id))? {
            Some(bytes) => Self::parse(&bytes).map(Some),
            None => Ok(None),
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
        let account = Self::account(key.credential_id.as_bytes());
        let label = format!("Tapprove software key {account}");
        Ok(self.keychain.set(&account, &label, &bytes)?)
    }

    fn delete(&self, credential_id: &[u8]) -> Result<bool, AuthnError> {
        Ok(self.keychain.delete(&Self::account(credential_id))?)
    }

    fn list(&self) -> Result<Vec<SoftwareKeyInfo>, AuthnError> {
        let mut out = Vec::new();
        for (_, bytes) in self.keychain.find(ACCOUNT_PREFIX)? {
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
