//! The approver's authenticators on this machine: the key store the
//! settings name, the credentials the registry holds for the approver (as
//! last seen), which authenticator to ask at signing time, and the creation
//! ceremony. The CLI and the app share it.

use std::path::Path;

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use tapprove_authn::software::{
    FileKeyStore, KEYCHAIN_SERVICE, KeyStore, KeychainKeyStore, SoftwareAuthenticator,
};
use tapprove_authn::{
    Authenticator, AuthnError, CredentialRequest, NewCredential, UserPrompt, UserVerification,
    platform_authenticator, security_key_authenticator,
};
use tapprove_config::{Config, KeyStoreKind};
use tapprove_core::canonical::{creation_client_data_json, origin_for};
use tapprove_proto::enrolment::CredentialSummary;
use tapprove_proto::registry::{AuthenticatorKind, CredentialStatus};
use tapprove_proto::{Base64Url, UtcTime};

use crate::error::{EngineError, Result};

/// Opens the approver's key store as the settings say (`key_store`), and
/// reads it once, so a locked keychain shows itself now rather than in the
/// middle of a signing.
pub fn open_store(config: &Config, state_dir: &Path) -> Result<Box<dyn KeyStore>> {
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

/// The software credential ids `user` holds in `store` for `rp_id`.
pub fn registered(store: &dyn KeyStore, user: &str, rp_id: &str) -> Result<Vec<Base64Url>> {
    Ok(store
        .list()
        .map_err(|e| EngineError::KeyStore(e.to_string()))?
        .into_iter()
        .filter(|k| k.user == user && k.rp_id == rp_id)
        .map(|k| k.credential_id)
        .collect())
}

/// Which authenticator to enrol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticatorChoice {
    /// A USB (or NFC) security key.
    #[serde(alias = "usb")]
    SecurityKey,
    /// Touch ID or Windows Hello.
    Platform,
    /// Tapprove's software authenticator (key in the OS keychain).
    Software,
}

impl AuthenticatorChoice {
    /// What this machine offers first: its platform authenticator on macOS
    /// and Windows; on Linux the software authenticator where the org
    /// allows it, else a security key.
    pub fn default_for(config: &Config) -> Self {
        if cfg!(any(target_os = "macos", windows)) {
            Self::Platform
        } else if config.allow_software_authenticators {
            Self::Software
        } else {
            Self::SecurityKey
        }
    }

    /// How much verification to ask of it: a software key's PIN when it
    /// was given one; the org's setting for hardware (biometrics or the
    /// key's PIN), else whatever the authenticator can do.
    pub fn user_verification(self, config: &Config, software_pin: bool) -> UserVerification {
        match self {
            Self::Software if software_pin => UserVerification::Required,
            Self::Software => UserVerification::Discouraged,
            _ if config.require_user_verification => UserVerification::Required,
            _ => UserVerification::Preferred,
        }
    }

    pub fn kind(self) -> AuthenticatorKind {
        match self {
            Self::SecurityKey => AuthenticatorKind::SecurityKey,
            Self::Platform => AuthenticatorKind::Platform,
            Self::Software => AuthenticatorKind::Software,
        }
    }
}

/// The authenticator for `choice`. The software one is refused when the
/// org policy does not allow it, before anything is created.
pub fn authenticator_for(
    choice: AuthenticatorChoice,
    config: &Config,
    store: Box<dyn KeyStore>,
    now: UtcTime,
) -> Result<Box<dyn Authenticator>> {
    Ok(match choice {
        AuthenticatorChoice::SecurityKey => security_key_authenticator(),
        AuthenticatorChoice::Platform => platform_authenticator(),
        AuthenticatorChoice::Software if !config.allow_software_authenticators => {
            return Err(EngineError::Invalid(
                "your org does not allow software authenticators: enrol a security key (`--authenticator usb`) or this computer's platform authenticator".into(),
            ));
        }
        AuthenticatorChoice::Software => Box::new(SoftwareAuthenticator::new(store, now)),
    })
}

/// A credential the registry holds for an approver, as this machine last
/// saw it: no secrets, only what is needed to know which authenticator to
/// ask. Kept in `registered.json` in the state directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownCredential {
    pub user: String,
    pub rp_id: String,
    pub credential_id: Base64Url,
    pub kind: AuthenticatorKind,
    pub label: String,
    pub status: CredentialStatus,
}

const KNOWN: &str = "registered.json";

/// The credentials this machine knows of (none if it never enrolled or
/// listed them; an unreadable file counts as none, it is only a cache).
pub fn known(state_dir: &Path) -> Vec<KnownCredential> {
    std::fs::read(state_dir.join(KNOWN))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save_known(state_dir: &Path, all: &[KnownCredential]) -> Result<()> {
    let text = serde_json::to_vec_pretty(all).map_err(|e| EngineError::Store(e.to_string()))?;
    std::fs::create_dir_all(state_dir).map_err(|e| EngineError::Store(e.to_string()))?;
    let tmp = state_dir.join(format!("{KNOWN}.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, state_dir.join(KNOWN)))
        .map_err(|e| EngineError::Store(format!("cannot write {}: {e}", state_dir.join(KNOWN).display())))
}

/// Records the registry's answer for `user` at `rp_id`: replaces what was
/// known of that approver.
pub fn remember(state_dir: &Path, user: &str, rp_id: &str, listed: &[CredentialSummary]) -> Result<()> {
    let mut all = known(state_dir);
    all.retain(|k| !(k.user == user && k.rp_id == rp_id));
    all.extend(listed.iter().map(|c| KnownCredential {
        user: user.to_owned(),
        rp_id: rp_id.to_owned(),
        credential_id: c.credential_id.clone(),
        kind: c.kind,
        label: c.label.clone(),
        status: c.status,
    }));
    save_known(state_dir, &all)
}

/// Records one credential just enrolled.
pub fn remember_one(state_dir: &Path, credential: KnownCredential) -> Result<()> {
    let mut all = known(state_dir);
    all.retain(|k| k.credential_id != credential.credential_id);
    all.push(credential);
    save_known(state_dir, &all)
}

/// The credentials of `user` at `rp_id` this machine knows are revoked:
/// never offered for signing, never excluded from a new enrolment.
fn revoked(state_dir: &Path, user: &str, rp_id: &str) -> Vec<Base64Url> {
    known(state_dir)
        .into_iter()
        .filter(|k| k.user == user && k.rp_id == rp_id && k.status == CredentialStatus::Revoked)
        .map(|k| k.credential_id)
        .collect()
}

/// The credentials a new enrolment of `user` must not duplicate: the
/// software keys in `store` and the credentials the registry is known to
/// hold, less the revoked ones.
pub fn exclusions(store: &dyn KeyStore, state_dir: &Path, user: &str, rp_id: &str) -> Result<Vec<Base64Url>> {
    let revoked = revoked(state_dir, user, rp_id);
    let mut ids = registered(store, user, rp_id)?;
    ids.extend(
        known(state_dir)
            .into_iter()
            .filter(|k| k.user == user && k.rp_id == rp_id)
            .map(|k| k.credential_id),
    );
    ids.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    ids.dedup();
    ids.retain(|id| !revoked.contains(id));
    Ok(ids)
}

/// Who signs: the authenticator to ask and the credentials it may use.
#[derive(Debug)]
pub struct Signer {
    pub(crate) authenticator: Box<dyn Authenticator>,
    pub(crate) credentials: Vec<Base64Url>,
}

impl Signer {
    /// What the person should look for: "security key", "Touch ID", ...
    pub fn description(&self) -> String {
        self.authenticator.description()
    }

    /// A signer over any authenticator, for tests that need one that
    /// fails or counts (`test-seam`): a face gets its signer from
    /// [`crate::Engine::signer`], which applies the organisation's rules.
    #[cfg(any(test, feature = "test-seam"))]
    pub fn for_test(authenticator: Box<dyn Authenticator>, credentials: Vec<Base64Url>) -> Self {
        Self {
            authenticator,
            credentials,
        }
    }
}

/// Chooses the first of `candidates` that has credentials of the approver
/// and does not know it holds none of them. Nothing is shown to the person
/// here: only `holds_any`, which never prompts, is asked.
pub fn choose(
    rp_id: &str,
    candidates: Vec<(Box<dyn Authenticator>, Vec<Base64Url>)>,
    user: &str,
) -> Result<Signer> {
    let mut considered = Vec::new();
    for (authenticator, credentials) in candidates {
        if credentials.is_empty() {
            continue;
        }
        match authenticator.holds_any(rp_id, &credentials) {
            Ok(Some(false)) => considered.push(authenticator.description()),
            Ok(_) => {
                return Ok(Signer {
                    authenticator,
                    credentials,
                });
            }
            Err(e) => return Err(EngineError::Sign(e.into())),
        }
    }
    Err(EngineError::NoAuthenticator(if considered.is_empty() {
        format!(
            "you ({user}) have no authenticator for `{rp_id}` on this machine: enrol one (`tapprove enroll`, or Authenticators in the app); a security key enrolled elsewhere is known here once `tapprove authenticators` or the Authenticators screen has listed it"
        )
    } else {
        format!(
            "none of your authenticators for `{rp_id}` is here ({} hold none of your credentials): plug in your security key, or enrol this machine",
            considered.join(", ")
        )
    }))
}

/// The signer for `user`: the platform authenticator for its registered
/// platform credentials, then a plugged-in security key for security-key
/// credentials, then the software authenticator for keys in `store`.
pub fn signer(
    config: &Config,
    state_dir: &Path,
    store: Box<dyn KeyStore>,
    user: &str,
    now: UtcTime,
) -> Result<Signer> {
    let rp_id = &config.rp_id;
    let revoked = revoked(state_dir, user, rp_id);
    let mut software = registered(&*store, user, rp_id)?;
    software.retain(|id| !revoked.contains(id));
    let known: Vec<KnownCredential> = known(state_dir)
        .into_iter()
        .filter(|k| k.user == user && &k.rp_id == rp_id && k.status != CredentialStatus::Revoked)
        .collect();
    let of_kind = |kind: AuthenticatorKind| -> Vec<Base64Url> {
        known
            .iter()
            .filter(|k| k.kind == kind)
            .map(|k| k.credential_id.clone())
            .collect()
    };
    let software_allowed = if config.allow_software_authenticators {
        software
    } else {
        Vec::new()
    };
    choose(
        rp_id,
        vec![
            (platform_authenticator(), of_kind(AuthenticatorKind::Platform)),
            (
                security_key_authenticator(),
                of_kind(AuthenticatorKind::SecurityKey),
            ),
            (Box::new(SoftwareAuthenticator::new(store, now)), software_allowed),
        ],
        user,
    )
}

/// A credential just made, with the creation ceremony's inputs (the
/// enrolment checks need them).
#[derive(Debug)]
pub struct NewCredentialCeremony {
    pub challenge: [u8; 32],
    /// The creation clientDataJSON that was signed (the platform's own,
    /// when it wrote one).
    pub client_data: Vec<u8>,
    pub created: NewCredential,
}

/// Kept for the software-key callers.
pub type NewSoftwareCredential = NewCredentialCeremony;

/// What to create.
#[derive(Debug, Clone)]
pub struct KeySpec<'a> {
    pub user: &'a str,
    pub rp_id: &'a str,
    pub label: &'a str,
    pub user_verification: UserVerification,
    /// Credentials already registered to the user: not enrolled twice.
    pub exclude: Vec<Base64Url>,
}

/// What software key to create.
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

impl<'a> From<SoftwareKeySpec<'a>> for KeySpec<'a> {
    fn from(spec: SoftwareKeySpec<'a>) -> Self {
        KeySpec {
            user: spec.user,
            rp_id: spec.rp_id,
            label: spec.label,
            user_verification: if spec.with_pin {
                UserVerification::Required
            } else {
                UserVerification::Discouraged
            },
            exclude: spec.exclude,
        }
    }
}

/// Runs the creation ceremony with `authenticator`: a fresh challenge and
/// user handle, the approver's existing credentials excluded.
pub fn new_credential(
    authenticator: &dyn Authenticator,
    spec: KeySpec<'_>,
    prompt: &dyn UserPrompt,
) -> Result<NewCredentialCeremony, AuthnError> {
    let mut challenge = [0u8; 32];
    OsRng.fill_bytes(&mut challenge);
    let mut user_handle = [0u8; 16];
    OsRng.fill_bytes(&mut user_handle);
    let client_data = creation_client_data_json(&challenge, &origin_for(spec.rp_id));
    let created = authenticator.make_credential(
        &CredentialRequest {
            rp_id: spec.rp_id.to_owned(),
            user_name: spec.user.to_owned(),
            user_handle: user_handle.to_vec(),
            client_data_json: client_data.clone(),
            exclude_credentials: spec.exclude,
            user_verification: spec.user_verification,
            label: spec.label.to_owned(),
        },
        prompt,
    )?;
    Ok(NewCredentialCeremony {
        challenge,
        client_data: created.client_data_json.clone().unwrap_or(client_data),
        created,
    })
}

/// Runs the creation ceremony with the software authenticator over `store`.
pub fn new_software_credential(
    store: &dyn KeyStore,
    now: &UtcTime,
    spec: SoftwareKeySpec<'_>,
    prompt: &dyn UserPrompt,
) -> Result<NewCredentialCeremony, AuthnError> {
    new_credential(
        &SoftwareAuthenticator::new(store, now.clone()),
        spec.into(),
        prompt,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tapprove_authn::{AssertionRequest, NewCredential, Prompt, RawAssertion};
    use zeroize::Zeroizing;

    use super::*;

    /// A fake authenticator that counts every time it is asked anything
    /// that could reach the person.
    #[derive(Debug)]
    struct Counting {
        kind: AuthenticatorKind,
        /// What `holds_any` answers.
        holds: Option<bool>,
        asked: AtomicUsize,
    }

    impl Counting {
        fn new(kind: AuthenticatorKind, holds: Option<bool>) -> Self {
            Self {
                kind,
                holds,
                asked: AtomicUsize::new(0),
            }
        }
    }

    impl Authenticator for Counting {
        fn kind(&self) -> AuthenticatorKind {
            self.kind
        }
        fn description(&self) -> String {
            format!("{} fake", self.kind.as_str())
        }
        fn holds_any(
            &self,
            _rp_id: &str,
            _ids: &[Base64Url],
        ) -> std::result::Result<Option<bool>, AuthnError> {
            Ok(self.holds)
        }
        fn make_credential(
            &self,
            _: &CredentialRequest,
            prompt: &dyn UserPrompt,
        ) -> std::result::Result<NewCredential, AuthnError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            prompt.show(Prompt::TouchKey);
            Err(AuthnError::Cancelled)
        }
        fn get_assertion(
            &self,
            _: &AssertionRequest,
            prompt: &dyn UserPrompt,
        ) -> std::result::Result<RawAssertion, AuthnError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            prompt.show(Prompt::TouchKey);
            Err(AuthnError::Cancelled)
        }
    }

    #[derive(Debug, Default)]
    struct Shown(AtomicUsize);

    impl UserPrompt for Shown {
        fn show(&self, _prompt: Prompt) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn pin(&self, _request: &tapprove_authn::PinRequest) -> Option<Zeroizing<String>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            None
        }
    }

    fn id(n: u8) -> Base64Url {
        Base64Url::new(vec![n; 32])
    }

    #[test]
    fn an_authenticator_without_a_usable_credential_is_never_asked() {
        // The approver's only credential is a security key; this machine's
        // platform authenticator knows it holds none of it, and no key of
        // that kind is registered for the software authenticator.
        let platform = Counting::new(AuthenticatorKind::Platform, Some(false));
        let error = choose(
            "example.com",
            vec![
                (Box::new(platform) as Box<dyn Authenticator>, vec![id(1)]),
                (
                    Box::new(Counting::new(AuthenticatorKind::Software, Some(true))),
                    vec![],
                ),
            ],
            "bob",
        )
        .unwrap_err();
        assert!(
            matches!(error, EngineError::NoAuthenticator(ref m) if m.contains("platform fake")),
            "{error}"
        );

        // And signing with an authenticator that holds none asks nothing.
        let platform = Counting::new(AuthenticatorKind::Platform, Some(false));
        let prompt = Shown::default();
        let request = tapprove_proto::Request::from_json(
            br#"{"tapprove":"request/v1","execution":"arn:aws:states:eu-west-1:123456789012:execution:x:1","nonce":"n-1","created":"2026-11-21T10:00:00Z","timeout_seconds":60,"title":"t","requested_by":"alice","approvers":"g","quorum":1,"details":{}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let result = tapprove_authn::sign_decision(
            &platform,
            &prompt,
            &tapprove_authn::SigningRequest {
                request: &request,
                verdict: tapprove_proto::Verdict::Approve,
                reason: None,
                reason_code: None,
                approver: "bob".into(),
                rp_id: "example.com".into(),
                signed_at: UtcTime::parse("2026-11-21T10:00:05Z").unwrap_or_else(|e| panic!("{e}")),
                allow_credentials: vec![id(1)],
                user_verification: UserVerification::Preferred,
            },
        );
        assert!(matches!(
            result,
            Err(tapprove_authn::SignError::Authenticator(
                AuthnError::NoMatchingCredential
            ))
        ));
        assert_eq!(platform.asked.load(Ordering::SeqCst), 0);
        assert_eq!(prompt.0.load(Ordering::SeqCst), 0, "no prompt reached the person");
    }

    #[test]
    fn the_first_authenticator_that_may_hold_a_credential_signs() {
        let signer = choose(
            "example.com",
            vec![
                (
                    Box::new(Counting::new(AuthenticatorKind::Platform, Some(false)))
                        as Box<dyn Authenticator>,
                    vec![id(1)],
                ),
                (
                    Box::new(Counting::new(AuthenticatorKind::SecurityKey, None)),
                    vec![id(2)],
                ),
                (
                    Box::new(Counting::new(AuthenticatorKind::Software, Some(true))),
                    vec![id(3)],
                ),
            ],
            "bob",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(signer.authenticator.kind(), AuthenticatorKind::SecurityKey);
        assert_eq!(signer.credentials, vec![id(2)]);
    }

    #[test]
    fn revoked_credentials_are_neither_offered_nor_excluded() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let summary = |n: u8, status| CredentialSummary {
            credential_id: id(n),
            label: format!("k{n}"),
            kind: AuthenticatorKind::SecurityKey,
            status,
            aaguid: tapprove_proto::Aaguid::ZERO,
            counter: 0,
            created: "2026-11-21T10:00:00Z".into(),
            last_used: None,
            key_sha256: String::new(),
            model_proven: false,
        };
        remember(
            dir.path(),
            "bob",
            "example.com",
            &[
                summary(1, CredentialStatus::Active),
                summary(2, CredentialStatus::Revoked),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        remember(
            dir.path(),
            "carol",
            "example.com",
            &[summary(3, CredentialStatus::Active)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let store = tapprove_authn::software::MemoryKeyStore::new();
        let excluded = exclusions(&store, dir.path(), "bob", "example.com").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(excluded, vec![id(1)]);
        // A new listing replaces what was known of bob only.
        remember(dir.path(), "bob", "example.com", &[]).unwrap_or_else(|e| panic!("{e}"));
        let all = known(dir.path());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].user, "carol");
    }
}
