//! The organisation's policy: a settings file an admin installs system-wide
//! (read-only to users) whose keys win over the user's own settings.
//!
//! It has the same keys as the user's `config.toml` (any of them may be
//! fixed); the installers put it at [`system_policy_path`]. The effective
//! settings are the user's file with every top-level key the policy names
//! replaced by the policy's value, and those keys are reported as fixed so
//! the app shows them read-only and the CLI refuses to change them.
//!
//! The policy is configuration, not a security boundary on a machine its
//! user administers: what must hold (user verification, software
//! authenticators, allowed AAGUIDs, attestation roots) the verifier enforces
//! in the cloud as well.

use std::path::{Path, PathBuf};

use crate::{Config, ConfigError};

/// Every top-level key of the settings file, in the file's order.
pub const KEYS: &[&str] = &[
    "rp_id",
    "extra_origins",
    "require_user_verification",
    "allow_self_approval",
    "allow_software_authenticators",
    "allowed_aaguids",
    "allowed_kinds",
    "attestation_roots",
    "attestation_root_certificates",
    "accept_self_reported_models",
    "min_certification_level",
    "key_store",
    "tables",
    "verifier",
    "sources",
    "gate",
    "enrolment",
    "identity",
    "sign_in",
    "notifications",
    "updates",
    "delivery",
    "decision_endpoint",
    "announcements",
    "history",
    "fido_metadata",
];

/// Where the installers put the organisation's policy on this OS.
pub fn system_policy_path() -> PathBuf {
    if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Tapprove/policy.toml")
    } else if cfg!(windows) {
        let data = std::env::var_os("ProgramData")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
        data.join("Tapprove").join("policy.toml")
    } else {
        PathBuf::from("/etc/tapprove/policy.toml")
    }
}

/// The policy file in force: the system location, or, in debug builds
/// only (tests, development), `TAPPROVE_POLICY`. A release build never lets
/// the environment move the policy.
pub fn policy_path() -> PathBuf {
    if cfg!(debug_assertions)
        && let Some(p) = std::env::var_os("TAPPROVE_POLICY").filter(|p| !p.is_empty())
    {
        return PathBuf::from(p);
    }
    system_policy_path()
}

/// The settings in force and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub config: Config,
    /// The user's settings file (it may not exist when the policy says all).
    pub config_path: PathBuf,
    /// The policy file, when one is installed.
    pub policy_path: Option<PathBuf>,
    /// The keys the policy fixes, in [`KEYS`] order.
    pub fixed: Vec<&'static str>,
}

impl Settings {
    /// Loads the user's settings at `config_path` under the policy at
    /// `policy_path` (absent when the file does not exist).
    pub fn load(config_path: &Path, policy_path: &Path) -> Result<Self, ConfigError> {
        let policy = read_table(policy_path)?;
        if let Some(table) = &policy {
            check_policy(policy_path, table)?;
        }
        let user = read_table(config_path)?;
        let (mut merged, fixed) = match (user, &policy) {
            (None, None) => return Err(ConfigError::NotFound(config_path.to_path_buf())),
            (user, _) => {
                let mut merged = user.unwrap_or_default();
                let mut fixed = Vec::new();
                if let Some(policy) = &policy {
                    for key in KEYS {
                        if let Some(value) = policy.get(*key) {
                            merged.insert((*key).to_owned(), value.clone());
                            fixed.push(*key);
                        }
                    }
                }
                (merged, fixed)
            }
        };
        // A relative `attestation_roots` in the policy is relative to it.
        if fixed.contains(&"attestation_roots")
            && let Some(toml::Value::String(roots)) = merged.get_mut("attestation_roots")
            && Path::new(roots.as_str()).is_relative()
            && let Some(dir) = policy_path.parent()
        {
            *roots = dir.join(&*roots).to_string_lossy().into_owned();
        }
        let blame = if policy.is_some() && !fixed.is_empty() {
            format!(
                "{} under the policy {}",
                config_path.display(),
                policy_path.display()
            )
        } else {
            config_path.display().to_string()
        };
        let config = Config::from_table(merged).map_err(|message| ConfigError::Invalid {
            path: PathBuf::from(blame),
            message,
        })?;
        Ok(Self {
            config,
            config_path: config_path.to_path_buf(),
            policy_path: policy.map(|_| policy_path.to_path_buf()),
            fixed,
        })
    }

    /// Whether the policy fixes `key`.
    pub fn is_fixed(&self, key: &str) -> bool {
        self.fixed.contains(&key)
    }

    /// An error for a change the policy does not allow.
    pub fn refuse_change(&self, key: &str) -> Option<String> {
        self.is_fixed(key).then(|| {
            format!(
                "`{key}` is fixed by your organisation's policy ({}); ask your admin to change it",
                self.policy_path.as_deref().unwrap_or(Path::new("?")).display()
            )
        })
    }
}

/// Checks a policy file before it is shipped: known keys, each of the right
/// shape, read-only to other users. A policy need not be complete (users'
/// files may hold the rest). Returns the keys it fixes.
pub fn check_file(path: &Path) -> Result<Vec<&'static str>, ConfigError> {
    let table = read_table(path)?.ok_or_else(|| ConfigError::NotFound(path.to_path_buf()))?;
    check_policy(path, &table)?;
    let mut probe: toml::Table =
        "rp_id = \"placeholder.invalid\"\ntables = { registry = \"r\", ledger = \"l\", audit = \"a\" }"
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
    let fixed: Vec<&'static str> = KEYS.iter().copied().filter(|k| table.contains_key(*k)).collect();
    probe.extend(table);
    Config::from_table(probe).map_err(|message| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(fixed)
}

fn read_table(path: &Path) -> Result<Option<toml::Table>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    text.parse::<toml::Table>()
        .map(Some)
        .map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// A policy names only known keys, and only its owner may change it.
fn check_policy(path: &Path, table: &toml::Table) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    if let Some(unknown) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(invalid(format!(
            "unknown key `{unknown}`; a policy may set: {}",
            KEYS.join(", ")
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            return Err(invalid(format!(
                "the policy is writable by other users (mode {:o}): make it read-only to them (`chmod 644`)",
                mode & 0o777
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = r#"
rp_id = "mine.example.com"
require_user_verification = false
allow_software_authenticators = true

[tables]
registry = "r"
ledger = "l"
audit = "a"

[[sources]]
kind = "activity"
group = "mine"
arn = "arn:aws:states:us-east-1:123456789012:activity:mine"

[sign_in]
kind = "sso"
start_url = "https://d-mine.awsapps.com/start"
region = "eu-west-1"

[notifications]
quiet_hours = { start = "20:00", end = "06:00" }

[updates]
channel = "beta"
"#;

    const POLICY: &str = r#"
rp_id = "approvals.example.com"
require_user_verification = true
allow_software_authenticators = false
allowed_aaguids = ["a6f20a98-9de8-463e-a342-08b7dbff9729"]

[[sources]]
kind = "activity"
group = "prod"
arn = "arn:aws:states:us-east-1:123456789012:activity:prod"

[sign_in]
kind = "sso"
start_url = "https://d-org.awsapps.com/start"
region = "us-east-1"

[notifications]
quiet_hours = { start = "22:00", end = "07:00" }

[updates]
channel = "off"

[delivery]
endpoint = "https://decisions.example.com"
"#;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        path
    }

    #[test]
    fn every_key_the_policy_names_wins_and_is_reported_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let user = write(dir.path(), "config.toml", USER, 0o600);
        let policy = write(dir.path(), "policy.toml", POLICY, 0o644);
        let s = Settings::load(&user, &policy).unwrap();
        let c = &s.config;
        assert_eq!(c.rp_id, "approvals.example.com");
        assert!(c.require_user_verification);
        assert!(!c.allow_software_authenticators);
        assert_eq!(c.allowed_aaguids.len(), 1);
        assert_eq!(c.sources[0].group(), "prod");
        assert!(matches!(&c.sign_in, Some(crate::SignIn::Sso(s)) if s.start_url.contains("d-org")));
        let quiet = c.notifications.as_ref().unwrap().quiet_hours.unwrap();
        assert_eq!(
            (quiet.start.to_string(), quiet.end.to_string()),
            ("22:00".into(), "07:00".into())
        );
        assert_eq!(c.updates.as_ref().unwrap().channel, crate::UpdateChannel::Off);
        // What the policy does not name stays the user's.
        assert_eq!(c.tables.registry, "r");
        assert_eq!(
            s.fixed,
            [
                "rp_id",
                "require_user_verification",
                "allow_software_authenticators",
                "allowed_aaguids",
                "sources",
                "sign_in",
                "notifications",
                "updates",
                "delivery"
            ]
        );
        assert_eq!(
            c.delivery.as_ref().unwrap().endpoint,
            "https://decisions.example.com"
        );
        assert!(s.refuse_change("sign_in").unwrap().contains("policy.toml"));
        assert_eq!(s.refuse_change("tables"), None);
        assert_eq!(s.policy_path.as_deref(), Some(policy.as_path()));
        // Each key alone overrides the user's value, and only that key is fixed.
        let full: toml::Table = POLICY.parse().unwrap();
        for (key, value) in &full {
            let mut one = toml::Table::new();
            one.insert(key.clone(), value.clone());
            let policy = write(dir.path(), "one.toml", &one.to_string(), 0o644);
            let s = Settings::load(&user, &policy).unwrap();
            assert_eq!(s.fixed, [key.as_str()]);
            let effective = toml::Table::try_from(&s.config).unwrap();
            assert_eq!(effective.get(key), Some(value), "{key}");
        }
    }

    #[test]
    fn a_policy_alone_is_enough_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{POLICY}\n[tables]\nregistry = \"r\"\nledger = \"l\"\naudit = \"a\"\n");
        let policy = write(dir.path(), "policy.toml", &text, 0o644);
        let s = Settings::load(&dir.path().join("missing.toml"), &policy).unwrap();
        assert_eq!(s.config.rp_id, "approvals.example.com");
        let e = Settings::load(&dir.path().join("missing.toml"), &dir.path().join("none.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::NotFound(_)), "{e}");
    }

    #[test]
    fn a_bad_policy_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let user = write(dir.path(), "config.toml", USER, 0o600);
        let typo = write(dir.path(), "typo.toml", "require_uv = true\n", 0o644);
        let e = Settings::load(&user, &typo).unwrap_err().to_string();
        assert!(
            e.contains("unknown key `require_uv`") && e.contains("require_user_verification"),
            "{e}"
        );
        let wrong_type = write(
            dir.path(),
            "type.toml",
            "require_user_verification = \"yes\"\n",
            0o644,
        );
        let e = Settings::load(&user, &wrong_type).unwrap_err().to_string();
        assert!(
            e.contains("type.toml") && e.contains("require_user_verification"),
            "{e}"
        );
        let e = check_file(&wrong_type).unwrap_err().to_string();
        assert!(
            e.contains("type.toml") && e.contains("require_user_verification"),
            "{e}"
        );
        let partial = write(
            dir.path(),
            "partial.toml",
            "[updates]\nchannel = \"off\"\n",
            0o644,
        );
        assert_eq!(check_file(&partial).unwrap(), ["updates"]);
        #[cfg(unix)]
        {
            let writable = write(dir.path(), "open.toml", "rp_id = \"x.example\"\n", 0o666);
            let e = Settings::load(&user, &writable).unwrap_err().to_string();
            assert!(
                e.contains("writable by other users") && e.contains("chmod 644"),
                "{e}"
            );
        }
    }

    #[test]
    fn relative_attestation_roots_are_next_to_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        let user = write(dir.path(), "config.toml", USER, 0o600);
        let policy = write(
            dir.path(),
            "policy.toml",
            "attestation_roots = \"roots.pem\"\n",
            0o644,
        );
        let s = Settings::load(&user, &policy).unwrap();
        assert_eq!(s.config.attestation_roots, Some(dir.path().join("roots.pem")));
    }

    #[test]
    fn keys_lists_every_setting() {
        let mut c = Config::parse(USER).unwrap();
        c.verifier = Some(crate::VerifierSettings {
            activity_arn: "a".into(),
        });
        c.gate = Some(crate::GateSettings {
            name: "g".into(),
            state_machine_arn: "s".into(),
        });
        c.enrolment = Some(crate::EnrolmentSettings::default());
        c.attestation_roots = Some("r.pem".into());
        let table = toml::Table::try_from(&c).unwrap();
        let named: Vec<&str> = KEYS.iter().copied().filter(|k| table.contains_key(*k)).collect();
        let mut all: Vec<&str> = table.keys().map(String::as_str).collect();
        all.sort_unstable();
        let mut sorted = named.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, all);
    }
}
