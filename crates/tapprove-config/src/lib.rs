//! Tapprove's own settings: one TOML file, found through `--config`,
//! `TAPPROVE_CONFIG`, or the OS config directory
//! (`$XDG_CONFIG_HOME/tapprove/config.toml`, `~/.config/tapprove/config.toml`).
//!
//! AWS settings (region, credentials, endpoints) are *not* here: every AWS
//! client honours the standard environment and config chain. `tapprove gate
//! install` writes this file for the gate it installs; the verifier and the
//! approver's CLI and app read the same file.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tapprove_core::VerifierPolicy;
use tapprove_proto::Aaguid;

pub mod policy;

pub use policy::{Settings, policy_path, system_policy_path};

/// The settings file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The organisation's relying-party id.
    pub rp_id: String,
    #[serde(default)]
    pub extra_origins: Vec<String>,
    #[serde(default)]
    pub require_user_verification: bool,
    #[serde(default)]
    pub allow_self_approval: bool,
    #[serde(default = "yes")]
    pub allow_software_authenticators: bool,
    #[serde(default)]
    pub allowed_aaguids: Vec<Aaguid>,
    /// Only authenticators of these kinds (`security_key`, `platform`,
    /// `software`) enrol and verify; empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_kinds: Vec<tapprove_proto::registry::AuthenticatorKind>,
    /// A PEM (or DER) file of attestation roots: when set, only
    /// authenticators whose `packed` attestation chains to one of them
    /// enrol (the FIDO metadata roots of the key models the org bought).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_roots: Option<PathBuf>,
    /// Further attestation roots, each a DER certificate in standard
    /// base64 (how the CloudFormation stack passes them); used with
    /// `attestation_roots`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestation_root_certificates: Vec<String>,
    /// Believe the model an authenticator reports about itself (its
    /// AAGUID) where `allow_software_authenticators = false` or
    /// `allowed_aaguids` depends on it, without a chain to the roots above.
    /// Off: a software key can claim any model.
    #[serde(default)]
    pub accept_self_reported_models: bool,
    /// Only authenticator models FIDO certified at this level or above
    /// (`L1`, `L1+`, `L2`, `L2+`, `L3`, `L3+`) enrol and verify; needs the
    /// FIDO metadata imported (`tapprove admin mds import`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_certification_level: Option<tapprove_proto::metadata::CertificationLevel>,
    /// Where this machine keeps the approver's software keys.
    #[serde(default)]
    pub key_store: KeyStoreKind,
    pub tables: Tables,
    #[serde(default)]
    pub verifier: Option<VerifierSettings>,
    #[serde(default)]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub gate: Option<GateSettings>,
    #[serde(default)]
    pub enrolment: Option<EnrolmentSettings>,
    /// Which AWS principals count as people who may enrol and manage their
    /// own credentials (the enrolment service enforces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentitySettings>,
    /// How approvers sign in (`tapprove login` with no flags uses this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<SignIn>,
    /// When the app stays quiet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<NotificationSettings>,
    /// Where and whether the app updates itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<UpdateSettings>,
    /// How signed decisions reach Step Functions: with the approver's own
    /// `SendTaskSuccess`/`SendTaskFailure` (absent), or through the
    /// organisation's decision endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliverySettings>,
    /// For the verifier that serves the decision endpoint: which gates it
    /// delivers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_endpoint: Option<DecisionEndpointSettings>,
    /// For the verifier: the SNS topic it announces requests and their
    /// outcomes to (team chat, e-mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcements: Option<AnnouncementSettings>,
    /// How long the approver's history of requests is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HistorySettings>,
    /// Where the verifier's scheduled job reads FIDO's Metadata Service BLOB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fido_metadata: Option<FidoMetadataSettings>,
}

/// FIDO's Metadata Service BLOB for the verifier's scheduled import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FidoMetadataSettings {
    /// The S3 object an admin (or a job) uploads the BLOB to:
    /// `s3://bucket/key`.
    pub object: String,
    /// Verify BLOBs against these roots (a PEM or DER file) instead of
    /// FIDO's: for FIDO's conformance BLOBs or a test deployment, never for
    /// production. Relative to the settings file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roots: Option<PathBuf>,
}

/// Where the verifier announces requests and their outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementSettings {
    /// The SNS topic (`arn:aws:sns:…`); the verifier may only publish to it.
    pub topic_arn: String,
}

/// The approver's history of the requests they saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySettings {
    /// Days a closed request stays in the history (default 90; 0 keeps
    /// nothing once a request closes).
    pub keep_days: u32,
}

impl Default for HistorySettings {
    fn default() -> Self {
        Self {
            keep_days: Self::DEFAULT_KEEP_DAYS,
        }
    }
}

impl HistorySettings {
    pub const DEFAULT_KEEP_DAYS: u32 = 90;
}

/// The decision endpoint's side (in the verifier): it sends a result only
/// for a running execution of one of these gates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionEndpointSettings {
    /// Gate state machine ARNs; `*` matches any run of characters
    /// (`arn:aws:states:eu-west-1:123456789012:stateMachine:tapprove-*-gate`).
    /// Empty: the installed `[gate]` only.
    #[serde(default)]
    pub gates: Vec<String>,
}

impl Config {
    /// The gates the decision endpoint delivers to: `[decision_endpoint]
    /// gates`, else the installed `[gate]`.
    pub fn endpoint_gates(&self) -> Vec<String> {
        match &self.decision_endpoint {
            Some(d) if !d.gates.is_empty() => d.gates.clone(),
            _ => self.gate.iter().map(|g| g.state_machine_arn.clone()).collect(),
        }
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of
/// characters (and nothing else is special).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Delivery through the decision endpoint, for approvers who hold no Step
/// Functions permission: the signed decision is the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// The endpoint's base URL (the core stack's `DecisionEndpointUrl`
    /// output, or `tapprove-verifier serve`); decisions are posted to
    /// `<endpoint>/v1/decisions`.
    pub endpoint: String,
}

fn yes() -> bool {
    true
}

/// Where the approver's software keys live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStoreKind {
    /// The OS keychain (Secret Service on Linux).
    #[default]
    Keychain,
    /// Owner-only files in the state directory (`keys/`): for servers
    /// without a keychain.
    Files,
}

/// DynamoDB table names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tables {
    pub registry: String,
    pub ledger: String,
    pub audit: String,
}

/// Where the verifier worker takes its work from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifierSettings {
    pub activity_arn: String,
}

/// Where approval requests come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A Step Functions activity for one approver group (long-polled with
    /// `GetActivityTask`).
    Activity { group: String, arn: String },
    /// The group's SNS topic, fanned out to one SQS queue per approver
    /// carrying `{task_token, request}` (callback pattern). The approver's
    /// queue is found by name (see `tapprove_engine::approver_queue_name`).
    Queue { group: String, topic_arn: String },
}

impl Source {
    pub fn group(&self) -> &str {
        match self {
            Self::Activity { group, .. } | Self::Queue { group, .. } => group,
        }
    }

    /// A stable short name for logs and the inbox.
    pub fn name(&self) -> String {
        match self {
            Self::Activity { group, .. } => format!("activity:{group}"),
            Self::Queue { group, .. } => format!("queue:{group}"),
        }
    }
}

/// The enrolment service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentSettings {
    /// Where clients post new credentials (`tapprove-verifier serve`, or the
    /// verifier Lambda's function URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Every new credential waits for an admin, even a user's first.
    #[serde(default)]
    pub require_admin: bool,
    /// The name of this deployment's enrolment service, signed into every
    /// identity proof (so a proof made for one deployment is refused by
    /// every other). Absent: `<rp_id>/<registry table>`; the core stack
    /// writes `<account>:<region>:<stack>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
}

/// Which AWS principals the enrolment service takes for people. A
/// principal that none of these rules admits is refused, with the rule
/// that refused it.
///
/// A role session's name is the approver's name, so only roles whose
/// session names the organisation controls may be listed: IAM Identity
/// Center's permission-set roles (`AWSReservedSSO_<set>_<hash>`, which only
/// Identity Center's SAML provider can assume, with the user's name as the
/// session name), or a role whose trust policy pins `sts:RoleSessionName`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// The AWS accounts whose principals may enrol. Empty: only the
    /// deployment's own account (the account of the service's own
    /// credentials).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Role names whose sessions are people; a trailing `*` matches any
    /// rest (`AWSReservedSSO_TapproveApprover_*`).
    #[serde(default = "default_approver_roles")]
    pub roles: Vec<String>,
    /// IAM users count as people (their user name is the approver's name).
    /// Off by default: an organisation signs its people in through
    /// IAM Identity Center.
    #[serde(default)]
    pub iam_users: bool,
    /// Who may open requests through the request endpoint: ARN patterns
    /// (`*` matches any run) of the callers STS proves, such as a
    /// pipeline's role sessions (`arn:aws:sts::111122223333:assumed-role/ci-deploy/*`)
    /// or the people's permission-set sessions. Empty: the endpoint is off.
    /// Each caller must also be of one of `accounts`.
    #[serde(default)]
    pub requesters: Vec<String>,
    /// People who sign in through an OpenID Connect provider: sessions of
    /// these roles count as people only with a valid ID token of the
    /// provider whose claim names them (the client chooses the session
    /// name of `AssumeRoleWithWebIdentity`, so the name alone proves
    /// nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcIdentity>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            accounts: Vec::new(),
            roles: default_approver_roles(),
            iam_users: false,
            requesters: Vec::new(),
            oidc: None,
        }
    }
}

/// `[identity.oidc]`: the provider whose ID tokens name the people behind
/// sessions of `roles` (the roles its `AssumeRoleWithWebIdentity` trust
/// policy accepts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcIdentity {
    /// The issuer, exactly as tokens carry it (`iss`); its keys come from
    /// `<issuer>/.well-known/openid-configuration`. https, or http to this
    /// machine only.
    pub issuer: String,
    /// The client id the tokens are issued to (`aud`): the approvers'
    /// `[sign_in] client_id`.
    pub audience: String,
    /// Role names (a trailing `*` matches any rest) whose sessions are
    /// made from this provider's tokens.
    pub roles: Vec<String>,
    /// The claim that names the approver and must equal the session name
    /// (the approvers' `[sign_in] approver_claim`, default `email`; an
    /// `email` counts only with `email_verified`).
    #[serde(default = "default_approver_claim")]
    pub claim: String,
}

/// IAM Identity Center's permission-set roles.
pub fn default_approver_roles() -> Vec<String> {
    vec!["AWSReservedSSO_*".to_owned()]
}

/// How an engineer signs in: IAM Identity Center, or any OpenID Connect
/// provider whose ID tokens an IAM role trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignIn {
    Sso(SsoSettings),
    Oidc(OidcSettings),
}

/// IAM Identity Center: the access portal and, once chosen, the account
/// and permission set (role) to work in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoSettings {
    /// The AWS access portal URL (`https://d-1234567890.awsapps.com/start`).
    pub start_url: String,
    /// The region IAM Identity Center lives in.
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    /// The `[sso-session NAME]` of `~/.aws/config` these came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
}

/// A generic OpenID Connect provider (Okta, Ping, Entra ID, Keycloak):
/// its ID token is exchanged for AWS credentials with
/// `AssumeRoleWithWebIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer; discovery is at `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// A public client (no secret) registered for Tapprove.
    pub client_id: String,
    /// The role whose trust policy accepts this provider's ID tokens.
    pub role_arn: String,
    /// The ID-token claim that names the approver (default `email`); it
    /// becomes the role session name, so statements carry it.
    #[serde(default = "default_approver_claim")]
    pub approver_claim: String,
    /// Scopes requested besides `openid offline_access` (default `email profile`).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The STS region (default: the standard AWS region chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

fn default_approver_claim() -> String {
    "email".into()
}

fn default_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

/// Notification settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Local times between which no notification is shown (the inbox and
    /// the tray count still update). `start` after `end` spans midnight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

/// `{ start = "22:00", end = "07:00" }`, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: ClockTime,
    pub end: ClockTime,
}

impl QuietHours {
    /// Whether `now` (a local time of day) falls in the quiet hours.
    pub fn contains(&self, now: ClockTime) -> bool {
        let (start, end, now) = (self.start.0, self.end.0, now.0);
        if start <= end {
            (start..end).contains(&now)
        } else {
            now >= start || now < end
        }
    }
}

/// A time of day, `HH:MM` (24-hour clock), as minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(u16);

impl ClockTime {
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        (hour < 24 && minute < 60).then(|| Self(u16::from(hour) * 60 + u16::from(minute)))
    }
}

impl std::fmt::Display for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl std::str::FromStr for ClockTime {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a time of day: write HH:MM, 24-hour (\"22:00\")");
        let (h, m) = text.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        Self::new(h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The app's own updates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    #[serde(default)]
    pub channel: UpdateChannel,
    /// The update manifest's URL (default: the one built into the app).
    /// `{{channel}}`, and the updater's `{{target}}`, `{{arch}}` and
    /// `{{current_version}}`, are filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Install only this version (a rollout the admin has vetted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

/// Which releases the app takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateChannel {
    #[default]
    Stable,
    Beta,
    /// No update checks at all.
    Off,
}

impl UpdateChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Beta => "beta",
            Self::Off => "off",
        }
    }
}

/// The installed gate, for `tapprove gate` commands and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSettings {
    pub name: String,
    pub state_machine_arn: String,
}

/// A settings file that could not be used.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no Tapprove configuration found: pass --config FILE, set TAPPROVE_CONFIG, or run `tapprove gate install` (looked at {0})"
    )]
    NotFound(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid Tapprove configuration: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl Config {
    /// Where the settings file is: `explicit`, else `TAPPROVE_CONFIG`, else
    /// the OS config directory.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        if let Some(p) = explicit {
            return p.to_path_buf();
        }
        if let Some(p) = std::env::var_os("TAPPROVE_CONFIG").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        config_dir().join("tapprove").join("config.toml")
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::NotFound(path.to_path_buf()));
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Self::from_table(text.parse::<toml::Table>().map_err(|e| e.to_string())?)
    }

    /// The settings from a parsed TOML table (a file, or a file under a policy).
    pub fn from_table(table: toml::Table) -> Result<Self, String> {
        let config: Self = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
        if config.rp_id.is_empty() {
            return Err("`rp_id` must not be empty".into());
        }
        Ok(config)
    }

    /// Writes the file (atomically: a temporary file renamed into place).
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let write = |source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        };
        let text = toml::to_string_pretty(self).map_err(|e| write(std::io::Error::other(e)))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(
            &tmp,
            format!("# Tapprove settings; see README \"Configure\".\n{text}"),
        )
        .map_err(write)?;
        std::fs::rename(&tmp, path).map_err(write)
    }

    /// The enrolment service's name in identity proofs (see
    /// [`EnrolmentSettings::server_id`]).
    pub fn enrolment_server_id(&self) -> String {
        self.enrolment
            .as_ref()
            .and_then(|e| e.server_id.clone())
            .filter(|id| !id.trim().is_empty())
            .unwrap_or_else(|| format!("{}/{}", self.rp_id, self.tables.registry))
    }

    /// The policy enrolment checks against: [`Self::policy`] with the
    /// trusted attestation roots read from `attestation_roots`.
    pub fn enrolment_policy(&self) -> Result<VerifierPolicy, String> {
        let mut policy = self.policy();
        let mut inline = Vec::new();
        for (i, text) in self.attestation_root_certificates.iter().enumerate() {
            use base64::Engine as _;
            let der = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| format!("attestation_root_certificates[{i}] is not base64: {e}"))?;
            let read = tapprove_core::webauthn::read_certificates(&der)
                .map_err(|e| format!("attestation_root_certificates[{i}] is not a DER certificate: {e}"))?;
            inline.extend(read);
        }
        if !inline.is_empty() {
            policy.trusted_attestation_roots = Some(inline);
        }
        if let Some(path) = &self.attestation_roots {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read attestation_roots {}: {e}", path.display()))?;
            let roots = tapprove_core::webauthn::read_certificates(&bytes)
                .map_err(|e| format!("attestation_roots {}: {e}", path.display()))?;
            if roots.is_empty() {
                return Err(format!(
                    "attestation_roots {} holds no certificate: add the roots, or remove the setting",
                    path.display()
                ));
            }
            policy
                .trusted_attestation_roots
                .get_or_insert_with(Vec::new)
                .extend(roots);
        }
        Ok(policy)
    }

    /// The verifier policy these settings describe.
    pub fn policy(&self) -> VerifierPolicy {
        let mut policy = VerifierPolicy::new(&self.rp_id);
        policy.extra_origins = self.extra_origins.clone();
        policy.require_user_verification = self.require_user_verification;
        policy.allow_self_approval = self.allow_self_approval;
        policy.allow_software_authenticators = self.allow_software_authenticators;
        policy.accept_self_reported_models = self.accept_self_reported_models;
        policy.min_certification_level = self.min_certification_level;
        if !self.allowed_kinds.is_empty() {
            policy.allowed_kinds = Some(self.allowed_kinds.iter().copied().collect());
        }
        if !self.allowed_aaguids.is_empty() {
            policy.allowed_aaguids = Some(self.allowed_aaguids.iter().copied().collect::<BTreeSet<_>>());
        }
        policy
    }
}

fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".config");
    }
    PathBuf::from(".")
}

/// Where local state (the outbox database, software keys) lives:
/// `TAPPROVE_STATE_DIR`, else `$XDG_STATE_HOME/tapprove`, else
/// `~/.local/state/tapprove`.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TAPPROVE_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("tapprove");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".local/state/tapprove");
    }
    PathBuf::from(".tapprove")
}

#[cfg(test)]
mod tests {
    #[test]
    fn gate_patterns_match_whole_arns() {
        let pattern = "arn:aws:states:eu-west-1:1:stateMachine:tapprove-*-gate";
        assert!(glob_matches(
            pattern,
            "arn:aws:states:eu-west-1:1:stateMachine:tapprove-prod-gate"
        ));
        assert!(!glob_matches(
            pattern,
            "arn:aws:states:eu-west-1:1:stateMachine:tapprove-prod-gate2"
        ));
        assert!(!glob_matches(
            pattern,
            "arn:aws:states:eu-west-1:1:stateMachine:other-prod-gate"
        ));
        assert!(!glob_matches(
            pattern,
            "arn:aws:states:eu-west-1:1:stateMachine:tapprove-gate"
        ));
        assert!(glob_matches("a", "a") && !glob_matches("a", "ab"));
        assert!(glob_matches("a*", "abc") && glob_matches("*", ""));
    }

    use super::*;

    const SAMPLE: &str = r#"
rp_id = "approvals.example.com"
require_user_verification = true
allowed_aaguids = ["a6f20a98-9de8-463e-a342-08b7dbff9729"]

[tables]
registry = "t-registry"
ledger = "t-ledger"
audit = "t-audit"

[verifier]
activity_arn = "arn:aws:states:us-east-1:123456789012:activity:tapprove-verify"

[[sources]]
kind = "activity"
group = "prod-approvers"
arn = "arn:aws:states:us-east-1:123456789012:activity:tapprove-prod-approvers"

[[sources]]
kind = "queue"
group = "dba"
topic_arn = "arn:aws:sns:us-east-1:123456789012:tapprove-dba"
"#;

    #[test]
    fn parses_round_trips_and_builds_the_policy() {
        let c = Config::parse(SAMPLE).unwrap();
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.sources[1].name(), "queue:dba");
        assert!(c.allow_software_authenticators);
        let p = c.policy();
        assert!(p.require_user_verification);
        assert_eq!(p.allowed_aaguids.unwrap().len(), 1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
    }

    #[test]
    fn inline_attestation_roots_are_base64_der_and_say_which_one_is_bad() {
        let mut c = Config::parse(SAMPLE).unwrap();
        c.attestation_root_certificates = vec!["not base64!".into()];
        let e = c.enrolment_policy().unwrap_err();
        assert!(e.contains("attestation_root_certificates[0]"), "{e}");
        c.attestation_root_certificates = vec!["AAAA".into()];
        let e = c.enrolment_policy().unwrap_err();
        assert!(e.contains("not a DER certificate"), "{e}");
        // The organisation's opt-in reaches the policy.
        c.attestation_root_certificates.clear();
        assert!(!c.policy().accept_self_reported_models);
        c.accept_self_reported_models = true;
        assert!(c.enrolment_policy().unwrap().accept_self_reported_models);
    }

    #[test]
    fn attestation_roots_that_cannot_be_read_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("roots.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        for path in [bad, dir.path().join("missing.pem")] {
            let mut c = Config::parse(SAMPLE).unwrap();
            c.attestation_roots = Some(path.clone());
            let e = c.enrolment_policy().unwrap_err();
            assert!(
                e.contains("attestation_roots") && e.contains(&*path.to_string_lossy()),
                "{e}"
            );
        }
        let c = Config::parse(SAMPLE).unwrap();
        assert_eq!(c.enrolment_policy().unwrap().trusted_attestation_roots, None);
    }

    #[test]
    fn quiet_hours_span_midnight_and_bad_times_say_how_to_write_them() {
        let at = |h, m| ClockTime::new(h, m).unwrap();
        let night = QuietHours {
            start: at(22, 0),
            end: at(7, 0),
        };
        assert!(night.contains(at(23, 59)) && night.contains(at(0, 0)) && night.contains(at(6, 59)));
        assert!(!night.contains(at(7, 0)) && !night.contains(at(12, 0)) && !night.contains(at(21, 59)));
        let lunch = QuietHours {
            start: at(12, 0),
            end: at(13, 0),
        };
        assert!(lunch.contains(at(12, 30)) && !lunch.contains(at(13, 0)) && !lunch.contains(at(11, 59)));
        for bad in ["24:00", "7:00", "07:60", "noon"] {
            let e = Config::parse(&format!(
                "{SAMPLE}\n[notifications]\nquiet_hours = {{ start = \"{bad}\", end = \"07:00\" }}\n"
            ))
            .unwrap_err();
            assert!(e.contains("HH:MM"), "{bad}: {e}");
        }
    }

    #[test]
    fn typos_and_missing_files_say_what_to_do() {
        let e = Config::parse(&SAMPLE.replace("rp_id", "rpid")).unwrap_err();
        assert!(e.contains("rpid"), "{e}");
        let e = Config::load(Path::new("/nonexistent/tapprove.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gate install"), "{e}");
    }
}
