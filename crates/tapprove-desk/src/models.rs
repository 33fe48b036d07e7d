//! Transport DTOs: what crosses the IPC boundary, in camelCase, mirrored by
//! `ui/src/lib/api.ts`. Built from the engine's types here, so the engine
//! never learns about the UI.

use serde::{Deserialize, Serialize};
use tapprove_engine::prompt::{Prompt, SoftwareKeyInfo};
use tapprove_engine::{DeliveryOutcome, Engine, InboxItem, OutboxEntry, OutboxState, Seen};

use crate::error::AppError;

use tapprove_engine::account::SessionHealth;
pub use tapprove_engine::account::{Health, SignInKind};

/// How the session looks at a glance (tray icon, top bar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub health: Health,
    pub approver: Option<String>,
    pub sign_in_kind: Option<SignInKind>,
    pub detail: Option<String>,
    pub expires_at: Option<String>,
}

impl SessionView {
    pub fn unknown() -> Self {
        SessionHealth::unknown().into()
    }

    pub fn is_healthy(&self) -> bool {
        matches!(self.health, Health::Ok | Health::Expiring)
    }
}

impl From<SessionHealth> for SessionView {
    fn from(h: SessionHealth) -> Self {
        Self {
            health: h.health,
            approver: h.approver,
            sign_in_kind: h.sign_in,
            detail: h.detail,
            expires_at: h.expires_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestSummary {
    pub id: String,
    pub title: String,
    pub requested_by: String,
    /// Whether an AWS identity proved the requester (else the workflow
    /// only claims it, and the UI says so).
    pub requester_verified: bool,
    pub approvers: String,
    pub quorum: u32,
    pub deadline: String,
    pub received_at: String,
    pub source: String,
    /// Why the approver cannot decide it (they asked for it), if so.
    pub yours: Option<String>,
}

impl RequestSummary {
    /// `item` as the window lists it, with whether it is the approver's
    /// own request (which `engine` tells).
    pub fn of(item: &InboxItem, engine: &Engine) -> Self {
        Self {
            yours: engine.yours(&item.request),
            ..item.into()
        }
    }
}

impl From<&InboxItem> for RequestSummary {
    fn from(item: &InboxItem) -> Self {
        Self {
            id: item.id.clone(),
            title: item.request.title.clone(),
            requested_by: item.request.requester_name().to_owned(),
            requester_verified: item.request.requester_verified(),
            approvers: item.request.approvers.clone(),
            quorum: item.request.quorum,
            deadline: item.request.deadline().as_str().to_owned(),
            received_at: item.received_at.clone(),
            source: item.source.clone(),
            yours: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestDetail {
    #[serde(flatten)]
    pub summary: RequestSummary,
    pub execution: String,
    pub created: String,
    pub timeout_seconds: u64,
    pub request_sha256: String,
    pub details: serde_json::Value,
    pub raw: String,
    /// Where the request stands at its gate ("1 of sre ✓, 1 of security
    /// pending"), as the gate last said; `None` from gates that say nothing.
    pub progress: Option<String>,
}

impl RequestDetail {
    pub fn of(item: &InboxItem, engine: &Engine) -> Self {
        Self {
            summary: RequestSummary::of(item, engine),
            execution: item.request.execution.clone(),
            created: item.request.created.as_str().to_owned(),
            timeout_seconds: item.request.timeout_seconds,
            request_sha256: item.request_sha256.clone(),
            details: item.request.details.clone(),
            raw: serde_json::to_string_pretty(&item.request).unwrap_or_default(),
            progress: item.status.as_ref().map(|s| s.describe()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub session: SessionView,
    pub inbox: Vec<RequestSummary>,
    pub paused_until: Option<String>,
    pub outbox_pending: usize,
    pub problem: Option<AppError>,
    /// Today's date (`YYYY-MM-DD`, UTC) as the app's clock says, for the
    /// tray's and the notifications' short times. Not sent to the window.
    #[serde(skip)]
    pub today: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictArg {
    Approve,
    Deny,
    /// "I did not expect this": a denial with the reason code
    /// `unexpected`, which needs no words and alerts the admins.
    Unexpected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    Closed { reason: String },
    Pending { error: String },
}

impl From<&DeliveryOutcome> for Outcome {
    fn from(o: &DeliveryOutcome) -> Self {
        match o {
            DeliveryOutcome::Delivered => Self::Delivered,
            DeliveryOutcome::Closed { reason } => Self::Closed {
                reason: reason.explain().to_owned(),
            },
            DeliveryOutcome::Pending { error } => Self::Pending { error: error.clone() },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionResult {
    pub id: String,
    pub verdict: VerdictArg,
    pub delivery: Outcome,
    pub message: String,
}

/// What the authenticator asks of the person now (event `signing`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum SigningPrompt {
    TouchKey {
        authenticator: String,
    },
    SelectKey {
        authenticator: String,
    },
    ConfirmPlatform {
        authenticator: String,
    },
    SoftwareSigning {
        authenticator: String,
    },
    Processing {
        authenticator: String,
    },
    #[serde(rename_all = "camelCase")]
    Pin {
        authenticator: String,
        attempts_left: Option<u32>,
    },
}

impl SigningPrompt {
    pub fn from_prompt(prompt: Prompt, authenticator: String) -> Self {
        match prompt {
            Prompt::TouchKey => Self::TouchKey { authenticator },
            Prompt::SelectKey => Self::SelectKey { authenticator },
            Prompt::ConfirmPlatform => Self::ConfirmPlatform { authenticator },
            Prompt::SoftwareSigning { label } => Self::SoftwareSigning {
                authenticator: format!("{authenticator} `{label}`"),
            },
            _ => Self::Processing { authenticator },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum SignInPrompt {
    Browser {
        url: String,
        opened: bool,
    },
    #[serde(rename_all = "camelCase")]
    DeviceCode {
        uri: String,
        complete_uri: Option<String>,
        code: String,
    },
    WaitingForOtherProcess,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub request_id: String,
    pub title: String,
    pub verdict: String,
    pub state: OutboxState,
    pub reason: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created: String,
    pub updated: String,
}

/// A request the approver saw, and how it ended (the history, and the
/// window of a request that left the inbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeenView {
    pub id: String,
    pub title: String,
    /// Who asked, as shown (`alice (not verified)`).
    pub requester: String,
    pub execution: String,
    pub first_seen: String,
    pub deadline: String,
    /// They asked for it themselves.
    pub own: bool,
    /// Their own decision: `approve`/`deny`, and `pending`/`delivered`/`closed`.
    pub my_verdict: Option<String>,
    pub my_state: Option<String>,
    /// `approved`, `denied`, `expired`, `withdrawn`, `failed`; `null` while
    /// open or not known.
    pub outcome: Option<&'static str>,
    /// In words: "approved by bob at 2026-11-21T10:03:00Z".
    pub outcome_text: Option<String>,
    pub closed_at: Option<String>,
}

impl From<Seen> for SeenView {
    fn from(s: Seen) -> Self {
        use tapprove_engine::Outcome;
        Self {
            outcome: s.outcome.as_ref().map(|o| match o {
                Outcome::Approved { .. } => "approved",
                Outcome::Denied { .. } => "denied",
                Outcome::Expired => "expired",
                Outcome::Withdrawn { .. } => "withdrawn",
                Outcome::Failed { .. } => "failed",
            }),
            outcome_text: s.outcome.as_ref().map(Outcome::describe),
            my_verdict: s.mine.as_ref().map(|m| m.verdict.clone()),
            my_state: s.mine.map(|m| m.state),
            id: s.id,
            title: s.title,
            requester: s.requester,
            execution: s.execution,
            first_seen: s.first_seen,
            deadline: s.deadline,
            own: s.own,
            closed_at: s.closed_at,
        }
    }
}

impl From<OutboxEntry> for HistoryEntry {
    fn from(e: OutboxEntry) -> Self {
        Self {
            request_id: e.request_id,
            title: e.title,
            verdict: e.verdict,
            state: e.state,
            reason: e.reason.map(|r| r.explain().to_owned()),
            attempts: e.attempts,
            last_error: e.last_error,
            created: e.created,
            updated: e.updated,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    pub name: String,
    pub kind: &'static str,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInView {
    pub kind: SignInKind,
    #[serde(rename = "where")]
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub config_path: String,
    pub rp_id: String,
    pub sources: Vec<SourceView>,
    pub sign_in: Option<SignInView>,
    pub key_store: &'static str,
    pub autostart: bool,
    pub require_user_verification: bool,
    pub allow_software_authenticators: bool,
    pub quiet_hours: Option<QuietHoursView>,
    pub updates: UpdatesView,
    /// Where decisions are posted instead of Step Functions (`[delivery]
    /// endpoint`).
    pub decision_endpoint: Option<String>,
    /// The organisation's policy file, when one is installed.
    pub policy_path: Option<String>,
    /// Setting keys the organisation's policy fixes (shown read-only).
    pub fixed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuietHoursView {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdatesView {
    pub channel: &'static str,
    pub pin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorView {
    pub credential_id: String,
    pub label: String,
    pub kind: &'static str,
    pub user: String,
    pub rp_id: String,
    /// `active`, `pending` (waits for an admin), `revoked`, or `local` (a
    /// software key on this machine, as no enrolment service was asked).
    pub status: &'static str,
}

impl From<SoftwareKeyInfo> for AuthenticatorView {
    fn from(k: SoftwareKeyInfo) -> Self {
        Self {
            credential_id: k.credential_id.encode(),
            label: k.label,
            kind: "software",
            user: k.user,
            rp_id: k.rp_id,
            status: "local",
        }
    }
}

impl AuthenticatorView {
    /// A credential as the registry lists it.
    pub fn registered(c: tapprove_proto::enrolment::CredentialSummary, user: &str, rp_id: &str) -> Self {
        Self {
            credential_id: c.credential_id.encode(),
            label: c.label,
            kind: c.kind.as_str(),
            user: user.to_owned(),
            rp_id: rp_id.to_owned(),
            status: match c.status {
                tapprove_proto::registry::CredentialStatus::Active => "active",
                tapprove_proto::registry::CredentialStatus::Pending => "pending",
                tapprove_proto::registry::CredentialStatus::Revoked => "revoked",
            },
        }
    }
}
