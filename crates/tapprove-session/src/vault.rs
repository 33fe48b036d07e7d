//! What a session keeps, and where: secrets (tokens, client registrations)
//! only in the OS keychain; the non-secret session record (which portal or
//! issuer, which account and role) in `session.json` in the state
//! directory, so commands know whether and how the user signed in without
//! touching the keychain.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use tapprove_config::SignIn;
use tapprove_keychain::Keychain;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Result, SessionError};

const RECORD_FILE: &str = "session.json";

/// An OAuth client registered with IAM Identity Center (`RegisterClient`).
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct ClientRegistration {
    pub client_id: String,
    pub client_secret: String,
    /// `clientSecretExpiresAt`, epoch seconds.
    pub expires_at: u64,
}

impl std::fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRegistration")
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The tokens of a signed-in session.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Tokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// When the token this session uses runs out (the access token for
    /// IAM Identity Center, the ID token for OpenID Connect), epoch seconds.
    pub expires_at: u64,
    /// When it was issued, epoch seconds.
    pub issued_at: u64,
    /// When the user last signed in interactively (kept by refreshes),
    /// epoch seconds.
    #[serde(default)]
    pub login_at: u64,
    /// The client the tokens were issued to (IAM Identity Center), needed
    /// to refresh them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientRegistration>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("refreshable", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Still good for a while: refreshed when less than a quarter of their
    /// lifetime (at most five minutes) is left.
    pub fn fresh(&self, now: u64) -> bool {
        let lifetime = self.expires_at.saturating_sub(self.issued_at);
        let margin = (lifetime / 4).min(300);
        self.expires_at > now + margin
    }
}

/// The non-secret description of the current session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// How the user signed in, with the account and role chosen.
    pub sign_in: SignIn,
    /// When, epoch seconds.
    pub signed_in_at: u64,
}

impl SessionRecord {
    /// The keychain name of this session's tokens.
    pub(crate) fn token_account(&self) -> String {
        token_account(&self.sign_in)
    }
}

/// Tokens are keyed by who issues them (portal and region, or issuer and
/// client), so switching role keeps the sign-in.
pub(crate) fn token_account(sign_in: &SignIn) -> String {
    let key = match sign_in {
        SignIn::Sso(s) => format!("sso\n{}\n{}", s.start_url, s.region),
        SignIn::Oidc(o) => format!("oidc\n{}\n{}", o.issuer, o.client_id),
    };
    format!("session:{}", short_hash(&key))
}

pub(crate) fn registration_account(start_url: &str, region: &str, flow: &str) -> String {
    format!(
        "sso-client:{}",
        short_hash(&format!("{start_url}\n{region}\n{flow}"))
    )
}

fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The keychain items and the record file of one state directory.
#[derive(Debug, Clone)]
pub(crate) struct Vault {
    keychain: Keychain,
    state_dir: PathBuf,
}

impl Vault {
    pub fn new(keychain: Keychain, state_dir: &Path) -> Self {
        Self {
            keychain,
            state_dir: state_dir.to_path_buf(),
        }
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn get<T: DeserializeOwned>(&self, account: &str) -> Result<Option<T>> {
        let Some(bytes) = self.keychain.get(account)? else {
            return Ok(None);
        };
        // An unreadable item (an older format, another program's) is as
        // good as none: the user signs in again and it is replaced.
        Ok(serde_json::from_slice(&bytes).ok())
    }

    pub fn put<T: Serialize>(&self, account: &str, label: &str, value: &T) -> Result<()> {
        let bytes = Zeroizing::new(
            serde_json::to_vec(value)
                .map_err(|e| SessionError::Settings(format!("cannot encode a keychain item: {e}")))?,
        );
        Ok(self.keychain.set(account, label, &bytes)?)
    }

    /// Stores and removes a probe item: a locked keychain fails here,
    /// before anything worth keeping has been obtained.
    pub fn check_writable(&self) -> Result<()> {
        // One name per process: concurrent logins must not trip over
        // each other's probe.
        let probe = format!("probe:{}", std::process::id());
        self.keychain.set(&probe, "Tapprove keychain check", b"-")?;
        self.keychain.delete(&probe)?;
        Ok(())
    }

    pub fn delete(&self, account: &str) -> Result<bool> {
        Ok(self.keychain.delete(account)?)
    }

    /// Every keychain item of this kind (`session:`, `sso-client:`).
    pub fn accounts(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .keychain
            .find(prefix)?
            .into_iter()
            .map(|(account, _)| account)
            .collect())
    }

    pub fn record(&self) -> Result<Option<SessionRecord>> {
        read_record(&self.state_dir)
    }

    pub fn save_record(&self, record: &SessionRecord) -> Result<()> {
        let path = self.state_dir.join(RECORD_FILE);
        let state = |source| SessionError::State {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.state_dir).map_err(state)?;
        let text = serde_json::to_vec_pretty(record).map_err(|e| state(std::io::Error::other(e)))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(state)?;
        std::fs::rename(&tmp, &path).map_err(state)
    }

    pub fn remove_record(&self) -> Result<bool> {
        let path = self.state_dir.join(RECORD_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(SessionError::State { path, source }),
        }
    }
}

/// The current session's record, read without touching the keychain.
pub(crate) fn read_record(state_dir: &Path) -> Result<Option<SessionRecord>> {
    let path = state_dir.join(RECORD_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            SessionError::Settings(format!(
                "{} is damaged ({e}): sign out, then sign in again",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SessionError::State { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(issued_at: u64, expires_at: u64) -> Tokens {
        Tokens {
            access_token: "secret-access".into(),
            refresh_token: Some("secret-refresh".into()),
            id_token: None,
            expires_at,
            issued_at,
            login_at: issued_at,
            client: None,
        }
    }

    #[test]
    fn tokens_are_refreshed_in_the_last_quarter_of_their_life_at_most_five_minutes_early() {
        let hour = tokens(1000, 4600);
        assert!(hour.fresh(4600 - 301));
        assert!(!hour.fresh(4600 - 300));
        let short = tokens(1000, 1100);
        assert!(short.fresh(1074));
        assert!(!short.fresh(1075));
        assert!(!tokens(1000, 1000).fresh(1000));
    }

    #[test]
    fn debug_output_carries_no_token() {
        let mut t = tokens(1, 2);
        t.client = Some(ClientRegistration {
            client_id: "client".into(),
            client_secret: "secret-client".into(),
            expires_at: 3,
        });
        let text = format!("{t:?} {:?}", t.client);
        assert!(!text.contains("secret-"), "{text}");
    }
}
