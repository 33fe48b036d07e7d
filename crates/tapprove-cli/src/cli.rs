//! The command line: every command, flag and help text (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  done; for `verify`, the decision was accepted
  1  `verify` rejected the decision (see `tapprove codes`)
  2  usage or input error
  3  could not complete: authenticator failed or cancelled, or a store could not be written";

/// Hardware-verified approvals for AWS Step Functions.
#[derive(Debug, Parser)]
#[command(name = "tapprove", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Print results and errors as one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// Tapprove settings file (default: TAPPROVE_CONFIG, else the OS config directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage software authenticator keys (offline tools).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Sign a decision on a request with a software key; prints the approval/v1 JSON.
    Sign(SignArgs),
    /// Verify a decision against a request and a registry file, offline.
    Verify(VerifyArgs),
    /// List the verifier's rejection codes and what they mean.
    Codes,
    /// List pending approval requests (polls the sources once; --watch keeps waiting).
    Inbox(InboxArgs),
    /// Show a pending request in full: what exactly is being approved.
    Show {
        /// The request id from `tapprove inbox` (a unique prefix is enough).
        id: String,
    },
    /// Approve a pending request: sign with your authenticator and send it to Step Functions.
    Approve(DecideArgs),
    /// Deny a pending request (a reason, or --unexpected, is required): signed like an approval.
    Deny(DenyArgs),
    /// Decisions sent from this machine, and any still waiting to be delivered.
    Outbox {
        /// Resend decisions that are still pending.
        #[arg(long)]
        flush: bool,
    },
    /// The requests you saw: what you decided, who else did, and how each ended (kept for
    /// [history] keep_days, 90 by default).
    History,
    /// Enrol an authenticator: a security key, Touch ID / Windows Hello, or the software authenticator (through the enrolment service, or a request file for an admin).
    Enroll(EnrollArgs),
    /// Your registered authenticators: list them, rename one, revoke one (a lost or replaced device).
    Authenticators {
        #[command(subcommand)]
        command: Option<AuthenticatorsCommand>,
    },
    /// Install and manage the approval gate.
    Gate {
        #[command(subcommand)]
        command: GateCommand,
    },
    /// Admin: group membership and credentials in the registry.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Sign in with IAM Identity Center or your OpenID Connect provider (tokens go to the OS keychain).
    Login(LoginArgs),
    /// Sign out: revoke the session where possible and clear its keychain entries.
    Logout,
    /// Who you are signed in as: identity, account, role, expiry.
    Whoami,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// An AWS CLI profile with IAM Identity Center settings (`sso_session`, `sso_account_id`, `sso_role_name`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["start_url", "region"])]
    pub profile: Option<String>,
    /// The AWS access portal URL (with --region).
    #[arg(long, value_name = "URL", requires = "region")]
    pub start_url: Option<String>,
    /// The region of IAM Identity Center (with --start-url).
    #[arg(long, value_name = "REGION", requires = "start_url")]
    pub region: Option<String>,
    /// The AWS account to work in (default: the profile's, or the only one you have).
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// The permission set (role) to work as (default: the profile's, or the only one you have).
    #[arg(long, value_name = "NAME")]
    pub role_name: Option<String>,
    /// Sign in with a code entered on another device (for hosts without a browser).
    #[arg(long)]
    pub device_code: bool,
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Keep waiting for new requests (heartbeats claimed ones, resends pending decisions) until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: how often to ask Step Functions whether claimed requests are still open.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(5..=3600))]
    pub heartbeat_seconds: u64,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The request id from `tapprove inbox` (a unique prefix is enough).
    pub id: String,
    /// Why (required to deny, optional to approve; at most 1024 characters).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Ask the authenticator for user verification (its PIN). Default: required where the
    /// settings require it (require_user_verification), else preferred; never less than they require.
    #[arg(long, value_enum)]
    pub user_verification: Option<UvArg>,
    #[command(flatten)]
    pub pin: PinArgs,
}

/// `tapprove deny`.
#[derive(Debug, Args)]
pub struct DenyArgs {
    #[command(flatten)]
    pub decide: DecideArgs,
    /// You did not expect this request: someone may be using a colleague's pipeline, or a
    /// compromised one. Signed as the reason code `unexpected` (no --reason needed); the gate
    /// announces it to the admins as an alert.
    #[arg(long)]
    pub unexpected: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuthenticatorsCommand {
    /// List them (the default).
    List,
    /// Give one a new label.
    Rename {
        /// The credential id, as `tapprove authenticators` lists it.
        #[arg(allow_hyphen_values = true)]
        id: String,
        label: String,
    },
    /// Revoke one at once: it never verifies again.
    Revoke {
        /// The credential id, as `tapprove authenticators` lists it.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Confirm one of your pending credentials (a new machine's) with a key that already signs
    /// for you, on the machine that has it: it is active from then on.
    Confirm {
        /// The pending credential's id, as `tapprove authenticators` lists it.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        pin: PinArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthenticatorArg {
    /// A USB or NFC security key.
    #[value(alias = "security-key")]
    Usb,
    /// Touch ID on macOS, Windows Hello on Windows.
    Platform,
    /// Tapprove's software authenticator (key in the OS keychain), where the org allows it.
    Software,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// Which authenticator (default: this computer's platform authenticator on macOS and Windows;
    /// on Linux the software authenticator where the org allows it, else a security key).
    #[arg(long, value_enum, value_name = "KIND")]
    pub authenticator: Option<AuthenticatorArg>,
    /// A name for this authenticator ("laptop", "yubikey 5c").
    #[arg(long, value_name = "NAME")]
    pub label: Option<String>,
    /// Software authenticator: protect the key with a PIN, so its signatures carry user verification.
    #[arg(long)]
    pub with_pin: bool,
    /// Submit to this enrolment service (default: `[enrolment] url` in the settings).
    #[arg(long, value_name = "URL", conflicts_with = "out")]
    pub service: Option<String>,
    /// Write the enrolment request here for an admin (`tapprove admin register`)
    /// instead of submitting it; with no service configured it goes to standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub pin: PinArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SourceArg {
    Activity,
    Queue,
}

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Create the gate, its tables, activities or topic, in the current AWS account or emulator,
    /// and write the settings file for it.
    Install(InstallArgs),
    /// Start an execution of the installed gate; prints its ARN. Through the request endpoint
    /// ([enrolment] url), AWS proves who asks; with --requested-by the gate is started directly
    /// and the requester is only claimed (shown as not verified).
    Request {
        #[arg(long)]
        title: String,
        /// Start the gate directly, naming the requester (not verified).
        #[arg(long, value_name = "WHO")]
        requested_by: Option<String>,
        /// The approver group (default: the installed gate's group).
        #[arg(long, value_name = "GROUP")]
        approvers: Option<String>,
        #[arg(long, default_value_t = 1)]
        quorum: u32,
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        timeout: u64,
        /// JSON the approver must see, or `@FILE` to read it from a file.
        #[arg(long, value_name = "JSON", default_value = "{}")]
        details: String,
    },
    /// Show an execution's status, output or error.
    Status {
        /// The execution ARN.
        execution: String,
        /// Wait until it is no longer running (at most this many seconds).
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
}

/// `tapprove gate install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The gate state machine's name.
    #[arg(long, value_name = "NAME", default_value = "tapprove-gate")]
    pub name: String,
    /// The approver group the gate asks.
    #[arg(long, value_name = "GROUP")]
    pub group: String,
    /// Where requests wait: an activity per group, or an SNS topic fanned out to a queue per approver.
    #[arg(long, value_enum, default_value = "activity")]
    pub source: SourceArg,
    /// Prefix of the table, activity and topic names.
    #[arg(long, value_name = "PREFIX", default_value = "tapprove")]
    pub prefix: String,
    /// The state machine's execution role (default: arn:aws:iam::<account>:role/tapprove-gate).
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    #[arg(
        long,
        value_name = "ID",
        env = "TAPPROVE_RP_ID",
        default_value = "tapprove.local"
    )]
    pub rp_id: String,
    /// An AWS account whose people may enrol (repeat for several; default: this account).
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// A role whose sessions are people, `*` at the end for any rest (repeat; default:
    /// IAM Identity Center's permission sets, AWSReservedSSO_*). List only roles whose
    /// session names the caller cannot choose.
    #[arg(long = "approver-role", value_name = "NAME")]
    pub approver_roles: Vec<String>,
    /// Let IAM users enrol as approvers (their user name is the approver's name): for
    /// emulators and demos; an organisation signs its people in through IAM Identity Center.
    #[arg(long)]
    pub allow_iam_users: bool,
    /// Who may open requests through the request endpoint, as AWS proves them: an ARN
    /// pattern, `*` for any run (repeat; e.g. arn:aws:sts::111122223333:assumed-role/ci-deploy/*).
    /// Default: nobody (the endpoint is off).
    #[arg(long = "requester", value_name = "ARN_PATTERN")]
    pub requesters: Vec<String>,
    /// People who sign in through this OpenID Connect provider (its issuer): sessions of the
    /// --oidc-role roles count as people only with its ID token naming them.
    #[arg(long, value_name = "URL", requires_all = ["oidc_client_id", "oidc_roles"])]
    pub oidc_issuer: Option<String>,
    /// The client id the provider issues Tapprove's ID tokens to (their audience).
    #[arg(long, value_name = "ID", requires = "oidc_issuer")]
    pub oidc_client_id: Option<String>,
    /// A role whose sessions come from that provider's tokens (repeat; `*` at the end for any rest).
    #[arg(long = "oidc-role", value_name = "NAME", requires = "oidc_issuer")]
    pub oidc_roles: Vec<String>,
    /// The ID-token claim that names the approver (the approvers' [sign_in] approver_claim).
    #[arg(long, value_name = "CLAIM", default_value = "email", requires = "oidc_issuer")]
    pub oidc_claim: String,
    /// Create an SNS topic (<prefix>_announcements) the verifier announces each request and its
    /// outcome to, for e-mail, HTTPS or AWS Chatbot subscriptions (never a task token).
    #[arg(long)]
    pub announce: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add a user to an approver group (and create their queue for a queue-source group).
    Grant { user: String, group: String },
    /// Remove a user from an approver group.
    Revoke { user: String, group: String },
    /// Bind a user's name to an AWS principal (GetCallerIdentity's UserId), e.g. after they
    /// moved to another permission set: only that principal enrols or manages credentials as them.
    Bind { user: String, principal: String },
    /// Show a gate's policy, or set it with --rule: who must approve what passes the gate,
    /// whatever the workflow's request asks (it may ask for more, never for less or for
    /// another group).
    GatePolicy {
        /// The gate's state machine name (tapprove-prod-approvers-gate).
        gate: String,
        /// GROUP:COUNT, repeated for several groups that must all approve (--rule sre:1 --rule security:1).
        #[arg(long = "rule", value_name = "GROUP:COUNT")]
        rules: Vec<String>,
        /// At least this many distinct approvers in all (default: the rule's counts added up).
        #[arg(long, value_name = "N", requires = "rules")]
        min_quorum: Option<u32>,
        /// The longest a request may wait, in seconds (default: a year).
        #[arg(long, value_name = "SECONDS", requires = "rules")]
        max_timeout: Option<u64>,
        /// Only requests whose requester AWS proved (started through the request endpoint) pass.
        #[arg(long, requires = "rules")]
        require_verified_requester: bool,
    },
    /// Check one registration offline, as the enrolment service would: its attestation, the model
    /// it proves or only claims, and the organisation's rules (exit 0 accepted, 1 refused with the
    /// rule's code, 2 bad input).
    Attestation {
        /// The attestationObject: CBOR, or base64url text (`-` for standard input).
        attestation_object: PathBuf,
        /// The creation clientDataJSON: JSON, or base64url text.
        client_data_json: PathBuf,
        /// Check for this relying-party id instead of the settings' (needed without settings).
        #[arg(long)]
        rp_id: Option<String>,
        /// Judge it with this FIDO Metadata Service BLOB (as downloaded from
        /// mds3.fidoalliance.org; verified first): the model's name, its roots, its status.
        #[arg(long, value_name = "BLOB")]
        mds: Option<PathBuf>,
        #[command(flatten)]
        trust: MdsTrustArgs,
        /// Judge it as of this time (RFC 3339 UTC) instead of now: attestation certificates
        /// expire, so a recorded registration is judged as of when it was made.
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// The FIDO Metadata Service: which authenticator models exist, their vendors' attestation
    /// roots, their certification and FIDO's reports of revoked or compromised models.
    Mds {
        #[command(subcommand)]
        command: MdsCommand,
    },
    /// Register an authenticator from an enrolment request (`tapprove enroll`), after checking it.
    Register {
        /// The enrolment request file (`-` for standard input).
        file: PathBuf,
    },
    /// List a user's credentials; revoke one, or confirm a pending one.
    Credentials {
        user: String,
        /// Revoke this credential (base64url id).
        #[arg(long, value_name = "ID", allow_hyphen_values = true)]
        revoke: Option<String>,
        /// Confirm this pending credential, so it signs (base64url id).
        #[arg(long, value_name = "ID", allow_hyphen_values = true)]
        activate: Option<String>,
    },
    /// The audit records of one gate execution, or everything recorded about one user.
    Audit {
        /// The gate execution's ARN: every verification of it, passed or failed.
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        execution: Option<String>,
        /// A user's credential events and every admin change to them
        /// (groups, registrations, confirmations, revocations), oldest first.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
    },
    /// Export what one gate execution's outcome rests on, for auditors to verify offline with
    /// `tapprove verify --evidence` (docs/evidence.md).
    Evidence {
        /// The gate execution's ARN.
        execution: String,
        /// Write it here.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Write it as an in-toto Statement (v1) with Tapprove's evidence as its predicate.
        #[arg(long)]
        in_toto: bool,
    },
    /// The organisation's policy file, which wins over every user's settings.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum MdsCommand {
    /// Verify a BLOB downloaded from https://mds3.fidoalliance.org/ against FIDO's root and store
    /// its models in the registry, where the verifier reads them at every enrolment and
    /// verification. A BLOB older than the stored one is refused.
    Import {
        /// The BLOB (a JWT): a file, `-` for standard input, or an S3 object (s3://bucket/key).
        file: PathBuf,
        #[command(flatten)]
        trust: MdsTrustArgs,
    },
    /// What the registry holds: the BLOB's number, when FIDO publishes the next, how many models.
    Status,
}

/// Whom a BLOB must chain to.
#[derive(Debug, Args)]
pub struct MdsTrustArgs {
    /// Trust BLOBs signed under these roots (PEM or DER) instead of FIDO's root (GlobalSign Root
    /// CA - R3): for FIDO's conformance BLOBs or a test BLOB, never for production.
    #[arg(long, value_name = "FILE")]
    pub fido_root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Write the policy for a deployed stack (deploy/tapprove.yaml and its group stacks).
    Init(Box<PolicyInitArgs>),
    /// Check a policy file and list the settings it fixes (default: this machine's policy).
    Check {
        /// The policy file.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct PolicyInitArgs {
    /// The core stack's name (deploy/tapprove.yaml).
    #[arg(long, value_name = "NAME")]
    pub stack: String,
    /// Write the policy here (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Sign-in: the AWS access portal URL of IAM Identity Center (with --sso-region).
    #[arg(
        long,
        value_name = "URL",
        requires = "sso_region",
        conflicts_with = "oidc_issuer"
    )]
    pub start_url: Option<String>,
    /// Sign-in: the region of IAM Identity Center.
    #[arg(long, value_name = "REGION", requires = "start_url")]
    pub sso_region: Option<String>,
    /// Sign-in: an OpenID Connect issuer (with --oidc-client-id and --oidc-role-arn).
    #[arg(long, value_name = "URL", requires_all = ["oidc_client_id", "oidc_role_arn"])]
    pub oidc_issuer: Option<String>,
    /// Sign-in: Tapprove's public client id at the OpenID Connect provider.
    #[arg(long, value_name = "ID", requires = "oidc_issuer")]
    pub oidc_client_id: Option<String>,
    /// Sign-in: the role whose trust policy accepts the provider's ID tokens.
    #[arg(long, value_name = "ARN", requires = "oidc_issuer")]
    pub oidc_role_arn: Option<String>,
    /// Only these authenticator models enrol (AAGUID; repeatable).
    #[arg(long = "allowed-aaguid", value_name = "AAGUID")]
    pub allowed_aaguids: Vec<String>,
    /// No notifications between these local times, `HH:MM-HH:MM` (e.g. 22:00-07:00).
    #[arg(long, value_name = "FROM-TO")]
    pub quiet_hours: Option<String>,
    /// Which updates the app takes.
    #[arg(long, value_enum, value_name = "CHANNEL")]
    pub updates: Option<ChannelArg>,
    /// The update manifest's URL (where the release workflow publishes latest.json).
    #[arg(long, value_name = "URL")]
    pub update_endpoint: Option<String>,
    /// Install only this version.
    #[arg(long, value_name = "VERSION")]
    pub pin_version: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ChannelArg {
    Stable,
    Beta,
    /// No update checks.
    Off,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a software credential and register it, with the user's groups, in a registry file.
    Create(KeyCreateArgs),
    /// List the software credentials in a key store (no secrets).
    List(KeyListArgs),
}

/// How a PIN reaches the command. Without either flag, a PIN is asked on
/// the terminal when one is needed.
#[derive(Debug, Args)]
pub struct PinArgs {
    /// Read the PIN from the first line of standard input.
    #[arg(long, conflicts_with = "pin_env")]
    pub pin_stdin: bool,
    /// Read the PIN from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub pin_env: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeyCreateArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// The approver's name, as statements will carry it.
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// An approver group the user belongs to (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Registry file to add the credential to (created if missing).
    #[arg(long, value_name = "FILE")]
    pub registry: PathBuf,
    /// Relying-party id.
    #[arg(
        long,
        value_name = "ID",
        env = "TAPPROVE_RP_ID",
        default_value = "tapprove.local"
    )]
    pub rp_id: String,
    /// A name for the key.
    #[arg(long, value_name = "NAME", default_value = "software key")]
    pub label: String,
    /// Protect the key with a PIN (asked on the terminal unless --pin-stdin or --pin-env),
    /// so its signatures carry user verification.
    #[arg(long)]
    pub with_pin: bool,
    #[command(flatten)]
    pub pin: PinArgs,
}

#[derive(Debug, Args)]
pub struct KeyListArgs {
    #[command(flatten)]
    pub store: StoreArg,
}

/// `--store`: where software keys live.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// The software key store: a directory (created if missing), or `keychain:` for the OS keychain
    /// (`keychain:SERVICE` for another service name).
    #[arg(long = "store", value_name = "DIR|keychain:")]
    pub spec: StoreSpec,
}

/// A key store named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    Dir(PathBuf),
    /// The OS keychain, under this service name.
    Keychain(String),
}

impl std::str::FromStr for StoreSpec {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.strip_prefix("keychain:") {
            Some("") => Self::Keychain(tapprove_authn::software::KEYCHAIN_SERVICE.to_owned()),
            Some(service) => Self::Keychain(service.to_owned()),
            None => Self::Dir(PathBuf::from(s)),
        })
    }
}

impl std::fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(dir) => write!(f, "{}", dir.display()),
            Self::Keychain(service) => write!(f, "the OS keychain (service `{service}`)"),
        }
    }
}

impl serde::Serialize for StoreSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Dir(dir) => dir.serialize(s),
            Self::Keychain(service) => s.serialize_str(&format!("keychain:{service}")),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VerdictArg {
    Approve,
    Deny,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UvArg {
    Required,
    Preferred,
    Discouraged,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// The request/v1 JSON file (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub request: PathBuf,
    #[arg(long, value_enum)]
    pub decision: VerdictArg,
    /// Why; required to deny, optional to approve (at most 1024 characters).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The approver's name, as the registry knows it.
    #[arg(long, value_name = "NAME")]
    pub approver: String,
    #[arg(
        long,
        value_name = "ID",
        env = "TAPPROVE_RP_ID",
        default_value = "tapprove.local"
    )]
    pub rp_id: String,
    /// Sign with this credential (base64url id); default: the approver's first key for the rp id.
    #[arg(long, value_name = "ID")]
    pub credential: Option<String>,
    /// The signing time (RFC 3339 UTC); default: now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Ask the key for user verification (its PIN).
    #[arg(long, value_enum, default_value = "preferred")]
    pub user_verification: UvArg,
    /// Write the decision to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub pin: PinArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The request/v1 JSON the workflow holds (`-` for standard input).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "evidence",
        conflicts_with = "evidence"
    )]
    pub request: Option<PathBuf>,
    /// The approval/v1 decision JSON (`-` for standard input).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "evidence",
        conflicts_with = "evidence"
    )]
    pub decision: Option<PathBuf>,
    /// The registry/v1 file (docs/registry-format.md).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "evidence",
        conflicts_with = "evidence"
    )]
    pub registry: Option<PathBuf>,
    /// Verify a whole execution's evidence (`tapprove admin evidence`, or its in-toto form)
    /// instead: every counted decision, the rule, each credential's registration (docs/evidence.md).
    #[arg(long, value_name = "FILE")]
    pub evidence: Option<PathBuf>,
    #[arg(
        long,
        value_name = "ID",
        env = "TAPPROVE_RP_ID",
        default_value = "tapprove.local"
    )]
    pub rp_id: String,
    /// Another origin to accept besides https://<rp-id> (repeatable).
    #[arg(long = "origin", value_name = "URL")]
    pub origins: Vec<String>,
    /// The verifier's clock (RFC 3339 UTC); default: now. An auditor sets it to when the decision was made.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Require user verification (PIN or biometrics).
    #[arg(long)]
    pub require_uv: bool,
    /// Accept a requester approving their own request.
    #[arg(long)]
    pub allow_self_approval: bool,
    /// Refuse credentials of software authenticators.
    #[arg(long)]
    pub forbid_software: bool,
    /// Accept only authenticators with this AAGUID (repeatable).
    #[arg(long = "allowed-aaguid", value_name = "UUID")]
    pub allowed_aaguids: Vec<String>,
    /// With --forbid-software or --allowed-aaguid: count the model a
    /// credential only claims (its registry entry lacks `model_proven`).
    #[arg(long)]
    pub accept_self_reported_models: bool,
    /// Judge each credential's model by this FIDO Metadata Service BLOB (verified first, as of
    /// --now): a model FIDO reported revoked or compromised does not verify.
    #[arg(long, value_name = "BLOB")]
    pub mds: Option<PathBuf>,
    #[command(flatten)]
    pub trust: MdsTrustArgs,
    /// Accept only models FIDO certified at this level or above (L1, L1+, L2, L2+, L3, L3+); needs --mds.
    #[arg(long, value_name = "LEVEL", requires = "mds")]
    pub min_certification_level: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn a_credential_id_that_starts_with_a_hyphen_is_an_id_not_a_flag() {
        // Base64url ids start with `-` one time in 64.
        for args in [
            &["tapprove", "authenticators", "confirm", "-Kx3"][..],
            &["tapprove", "authenticators", "revoke", "-Kx3"],
            &["tapprove", "authenticators", "rename", "-Kx3", "laptop"],
            &["tapprove", "admin", "credentials", "bob", "--revoke", "-Kx3"],
            &["tapprove", "admin", "credentials", "bob", "--activate", "-Kx3"],
        ] {
            let parsed = Cli::try_parse_from(args);
            assert!(parsed.is_ok(), "{args:?}: {}", parsed.unwrap_err());
        }
    }
}
