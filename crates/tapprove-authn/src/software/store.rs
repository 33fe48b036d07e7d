use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use p256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};
use tapprove_proto::{Base64Url, UtcTime};
use zeroize::Zeroizing;

use crate::authenticator::AuthnError;

tapprove_proto::version_tag!(
    /// The version tag of a software key file: `softkey/v1`.
    SoftKeyVersion = "softkey/v1"
);

/// One software credential, private key included.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareKey {
    pub credential_id: Base64Url,
    pub rp_id: String,
    /// The approver the credential was made for.
    pub user: String,
    pub user_handle: Base64Url,
    pub label: String,
    pub created: UtcTime,
    /// The last signature counter used.
    pub counter: u32,
    /// Argon2id PHC string of the PIN, if the key has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_hash: Option<String>,
    pub pin_retries: u32,
    /// The P-256 private scalar.
    #[serde(with = "secret_bytes")]
    pub secret: Zeroizing<[u8; 32]>,
}

impl SoftwareKey {
    pub(crate) fn signing_key(&self) -> Result<SigningKey, AuthnError> {
        SigningKey::from_bytes(&(*self.secret).into())
            .map_err(|_| AuthnError::Store(format!("software key `{}` is corrupt", self.label)))
    }

    /// What can be shown about the key.
    pub fn info(&self) -> SoftwareKeyInfo {
        SoftwareKeyInfo {
            credential_id: self.credential_id.clone(),
            rp_id: self.rp_id.clone(),
            user: self.user.clone(),
            label: self.label.clone(),
            created: self.created.clone(),
            counter: self.counter,
            has_pin: self.pin_hash.is_some(),
        }
    }
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("credential_id", &self.credential_id)
            .field("rp_id", &self.rp_id)
            .field("user", &self.user)
            .field("label", &self.label)
            .field("counter", &self.counter)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A software key without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SoftwareKeyInfo {
    pub credential_id: Base64Url,
    pub rp_id: String,
    pub user: String,
    pub label: String,
    pub created: UtcTime,
    pub counter: u32,
    pub has_pin: bool,
}

mod secret_bytes {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use tapprove_proto::Base64Url;
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(secret: &Zeroizing<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(Base64Url::new(secret.to_vec()).encode());
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<[u8; 32]>, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let bytes = Zeroizing::new(Base64Url::decode(&text).map_err(D::Error::custom)?.into_vec());
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| D::Error::custom("a P-256 private key is 32 bytes"))?;
        Ok(Zeroizing::new(array))
    }
}

/// Where software keys live.
pub trait KeyStore: Send + Sync {
    /// The key with this credential id, if stored.
    fn load(&self, credential_id: &[u8]) -> Result<Option<SoftwareKey>, AuthnError>;
    /// Creates or replaces a key, durably.
    fn save(&self, key: &SoftwareKey) -> Result<(), AuthnError>;
    /// Removes a key; `false` if there was none.
    fn delete(&self, credential_id: &[u8]) -> Result<bool, AuthnError>;
    /// Every stored key, without secrets.
    fn list(&self) -> Result<Vec<SoftwareKeyInfo>, AuthnError>;
}

/// A reference to, or a box holding, a key store is one.
macro_rules! forward_key_store {
    ($($holder:ty),*) => {$(
        impl<T: KeyStore + ?Sized> KeyStore for $holder {
            fn load(&self, credential_id: &[u8]) -> Result<Option<SoftwareKey>, AuthnError> {
                (**self).load(credential_id)
            }
            fn save(&self, key: &SoftwareKey) -> Result<(), AuthnError> {
                (**self).save(key)
            }
            fn delete(&self, credential_id: &[u8]) -> Result<bool, AuthnError> {
                (**self).delete(credential_id)
            }
            fn list(&self) -> Result<Vec<SoftwareKeyInfo>, AuthnError> {
                (**self).list()
            }
        }
    )*};
}

forward_key_store!(&T, Box<T>);

/// Keys in memory: for tests and benchmarks.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<Vec<u8>, SoftwareKey>>,
}

impl MemoryKeyStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyStore for MemoryKeyStore {
    fn load(&self, credential_id: &[u8]) -> Result<Option<SoftwareKey>, AuthnError> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(credential_id)
            .cloned())
    }
    fn save(&self, key: &SoftwareKey) -> Result<(), AuthnError> {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.credential_id.as_bytes().to_vec(), key.clone());
        Ok(())
    }
    fn delete(&self, credential_id: &[u8]) -> Result<bool, AuthnError> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(credential_id)
            .is_some())
    }
    fn list(&self) -> Result<Vec<SoftwareKeyInfo>, AuthnError> {
        let mut out: Vec<_> = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(SoftwareKey::info)
            .collect();
        out.sort_by(|a, b| a.credential_id.cmp(&b.credential_id));
        Ok(out)
    }
}

/// Keys as files in a directory, one `<credential id>.json` each, readable
/// by the owner only. For tests and demos: the private key is in the file.
#[derive(Debug, Clone)]
pub struct FileKeyStore {
    dir: PathBuf,
}

/// The stored form of one key (a file, or a keychain item's secret).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyFile {
    pub(super) tapprove: SoftKeyVersion,
    #[serde(flatten)]
    pub(super) key: SoftwareKey,
}

impl FileKeyStore {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, AuthnError> {
        let dir = dir.into();
        create_private_dir(&dir)
            .map_err(|e| AuthnError::Store(format!("cannot create key store {}: {e}", dir.display())))?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, credential_id: &[u8]) -> PathBuf {
        self.dir.join(format!(
            "key-{}.json",
            Base64Url::new(credential_id.to_vec()).encode()
        ))
    }

    fn read(&self, path: &Path) -> Result<SoftwareKey, AuthnError> {
        let bytes = Zeroizing::new(
            fs::read(path).map_err(|e| AuthnError::Store(format!("cannot read {}: {e}", path.display())))?,
        );
        let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| {
            AuthnError::Store(format!(
                "{} is not a software key file ({}); move it out of the key store",
                path.display(),
                e.classify_message()
            ))
        })?;
        Ok(file.key)
    }
}

trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    fn classify_message(&self) -> String {
        classify(self)
    }
}

/// serde's messages can quote the input, which here holds a private key:
/// the position and category only.
pub(super) fn classify(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

impl KeyStore for FileKeyStore {
    fn load(&self, credential_id: &[u8]) -> Result<Option<SoftwareKey>, AuthnError> {
        let path = self.path(credential_id);
        if !path.exists() {
            return Ok(None);
        }
        self.read(&path).map(Some)
    }

    fn save(&self, key: &SoftwareKey) -> Result<(), AuthnError> {
        let path = self.path(key.credential_id.as_bytes());
        let text = Zeroizing::new(
            serde_json::to_vec_pretty(&KeyFile {
                tapprove: SoftKeyVersion,
                key: key.clone(),
            })
            .map_err(|e| AuthnError::Store(e.classify_message()))?,
        );
        write_private_atomically(&path, &text)
            .map_err(|e| AuthnError::Store(format!("cannot write {}: {e}", path.display())))
    }

    fn delete(&self, credential_id: &[u8]) -> Result<bool, AuthnError> {
        let path = self.path(credential_id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(AuthnError::Store(format!(
                "cannot delete {}: {e}",
                path.display()
            ))),
        }
    }

    fn list(&self) -> Result<Vec<SoftwareKeyInfo>, AuthnError> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| AuthnError::Store(format!("cannot list {}: {e}", self.dir.display())))?;
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| AuthnError::Store(e.to_string()))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push(self.read(&path)?.info());
            }
        }
        out.sort_by(|a, b| {
            a.created
                .cmp(&b.created)
                .then(a.credential_id.cmp(&b.credential_id))
        });
        Ok(out)
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Writes `bytes` to a new owner-only file beside `path`, syncs it, and
/// renames it over `path`: a crash leaves the old key or the new one, never
/// half of either.
fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}
