use serde::{Deserialize, Serialize};

use crate::error::{WireError, WireErrorKind, parse_document};
use crate::limits::*;
use crate::text::{self, Lines};
use crate::time::UtcTime;

const DOC: &str = "request";

crate::version_tag!(
    /// The version tag of a request: always `request/v1`.
    RequestVersion = "request/v1"
);

/// What a workflow asks approvers to decide (request/v1).
///
/// The approval gate builds one per visit and keeps it in its own state; an
/// activity task's input is this document, a queue message carries it next
/// to the task token. Everything an approver sees comes from here, and the
/// statement they sign commits to its hash, so the gate and the approver
/// must agree on every byte of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub tapprove: RequestVersion,
    /// ARN of the execution that waits.
    pub execution: String,
    /// Fresh per visit of the gate (`States.UUID()`), so a signature for one
    /// visit does not verify for the next.
    pub nonce: String,
    pub created: UtcTime,
    /// The request closes this many seconds after `created`.
    pub timeout_seconds: u64,
    pub title: String,
    pub requested_by: String,
    /// The approver group that may decide.
    pub approvers: String,
    /// How many distinct approvers must approve.
    pub quorum: u32,
    /// JSON the approver must see, verbatim. Shown as data, never as markup.
    pub details: serde_json::Value,
    /// Who asked, as AWS proved it: set by the gate's first step only when
    /// the request endpoint recorded this execution's requester (never
    /// from the workflow's input). Absent, `requested_by` is only claimed.
    /// The gate writes `null` for "none proven", which reads as absent
    /// (hashes are taken over the re-serialised value, where both are
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<Requester>,
}

/// A requester an AWS identity proved: the request endpoint checked the
/// caller's presigned `sts:GetCallerIdentity` and recorded it for the
/// execution it started; the gate's first step copied it from that record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    /// The caller's ARN as STS answered it.
    pub arn: String,
    /// `GetCallerIdentity`'s `UserId` (`AROA…:<session>` for a role
    /// session, `AIDA…` for an IAM user): the registry binds approver
    /// names to it.
    pub principal: String,
    /// The approver name of the person behind it, when the identity rules
    /// count the caller as a person of the organisation (an IAM Identity
    /// Center session); absent for a pipeline's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
}

impl Requester {
    fn validate(&self) -> Result<(), WireError> {
        for (field, value) in [
            ("requester.arn", &self.arn),
            ("requester.principal", &self.principal),
        ] {
            text::check(DOC, field, value, MAX_PRINCIPAL_CHARS, Lines::Single)?;
        }
        if let Some(person) = &self.person {
            text::check(
                DOC,
                "requester.person",
                person,
                MAX_PRINCIPAL_CHARS,
                Lines::Single,
            )?;
        }
        Ok(())
    }

    /// The name faces show: the person's; for a role session that is no
    /// person, the role, and the session name marked as the caller's own
    /// choice (whoever assumes a role names the session: only the role is
    /// proven); else the principal's ARN.
    pub fn name(&self) -> String {
        if let Some(person) = &self.person {
            return person.clone();
        }
        match self
            .arn
            .split_once(":assumed-role/")
            .map(|(_, rest)| rest.split_once('/'))
        {
            Some(Some((role, session))) => {
                format!("role {role} (session \"{session}\", named by whoever assumed it)")
            }
            _ => self.arn.clone(),
        }
    }

    /// The last part of the ARN: a role session's name, an IAM user's name.
    /// Whoever asked under it may be the approver of that name, so
    /// self-approval compares it too.
    pub fn principal_name(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or_default()
    }
}

/// Refuses a document holding a number that JSON readers do not all read
/// alike (beyond a double's precision: [`crate::numbers`]).
pub(crate) fn refuse_inexact_numbers(document: &'static str, bytes: &[u8]) -> Result<(), WireError> {
    match crate::numbers::inexact_number(bytes) {
        None => Ok(()),
        Some(literal) => Err(WireError::new(
            WireErrorKind::Malformed,
            document,
            "details",
            format!(
                "holds the number {}, which JSON readers do not all read alike (beyond IEEE double precision, RFC 7493): the app would show one value and the signature cover another; send it as a string",
                literal.chars().take(64).collect::<String>()
            ),
        )),
    }
}

/// How every face marks a requester that only the workflow claims.
pub const REQUESTER_CLAIMED: &str = "not verified";

impl Request {
    /// Parses and checks a request document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, WireError> {
        let request: Self = parse_document(DOC, bytes, MAX_REQUEST_BYTES, RequestVersion::TEXT)?;
        request.validate()?;
        refuse_inexact_numbers(DOC, bytes)?;
        Ok(request)
    }

    /// Checks the bounds serde cannot: lengths, ranges, characters.
    pub fn validate(&self) -> Result<(), WireError> {
        text::check(
            DOC,
            "execution",
            &self.execution,
            MAX_EXECUTION_CHARS,
            Lines::Single,
        )?;
        text::check(DOC, "nonce", &self.nonce, MAX_NONCE_CHARS, Lines::Single)?;
        text::check(DOC, "title", &self.title, MAX_TITLE_CHARS, Lines::Single)?;
        text::check(
            DOC,
            "requested_by",
            &self.requested_by,
            MAX_PRINCIPAL_CHARS,
            Lines::Single,
        )?;
        text::check_group(DOC, "approvers", &self.approvers)?;
        if !(1..=MAX_TIMEOUT_SECONDS).contains(&self.timeout_seconds) {
            return Err(WireError::new(
                WireErrorKind::Malformed,
                DOC,
                "timeout_seconds",
                format!("must be between 1 and {MAX_TIMEOUT_SECONDS}"),
            ));
        }
        if !(1..=MAX_QUORUM).contains(&self.quorum) {
            return Err(WireError::new(
                WireErrorKind::Malformed,
                DOC,
                "quorum",
                format!("must be between 1 and {MAX_QUORUM}"),
            ));
        }
        let details = serde_json::to_vec(&self.details)
            .map_err(|e| WireError::new(WireErrorKind::Malformed, DOC, "details", e.to_string()))?;
        text::check_len(DOC, "details", details.len(), 0, MAX_DETAILS_BYTES)?;
        if let Some(requester) = &self.requester {
            requester.validate()?;
        }
        Ok(())
    }

    /// The workflow input this request was built from (what the gate's
    /// `Build request` state reads): the request endpoint records its hash,
    /// and the gate's first step vouches for the requester only when the
    /// request still matches it.
    pub fn input(&self) -> serde_json::Value {
        serde_json::json!({
            "title": self.title,
            "requested_by": self.requested_by,
            "approvers": self.approvers,
            "quorum": self.quorum,
            "timeout_seconds": self.timeout_seconds,
            "details": self.details,
        })
    }

    /// The gate this request passes: the state machine of its execution
    /// (`arn:aws:states:<region>:<account>:execution:<gate>:<name>`), which
    /// Step Functions sets (`$$.Execution.Id`), so a workflow's input cannot
    /// choose it. Empty if the ARN is not an execution's.
    pub fn gate(&self) -> String {
        let mut parts = self.execution.split(':');
        match (parts.nth(5), parts.next()) {
            (Some("execution" | "express"), Some(machine)) => machine.to_owned(),
            _ => String::new(),
        }
    }

    /// Whether an AWS identity proved who asked ([`Self::requester`]);
    /// otherwise `requested_by` is only the workflow's claim, and every face
    /// says so ([`Self::requester_shown`]).
    pub fn requester_verified(&self) -> bool {
        self.requester.is_some()
    }

    /// Who asked: the proven requester's name, else the claimed one.
    pub fn requester_name(&self) -> String {
        self.requester
            .as_ref()
            .map_or_else(|| self.requested_by.clone(), Requester::name)
    }

    /// The requester as the faces show it: `alice` when AWS proved it,
    /// `alice (not verified)` while the workflow only claims it.
    pub fn requester_shown(&self) -> String {
        if self.requester_verified() {
            self.requester_name()
        } else {
            format!("{} ({REQUESTER_CLAIMED})", self.requested_by)
        }
    }

    /// The instant after which no decision is valid.
    pub fn deadline(&self) -> UtcTime {
        let secs = i64::try_from(self.timeout_seconds).unwrap_or(i64::MAX);
        UtcTime::from_unix(self.created.unix_seconds().saturating_add(secs))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_gate_is_the_executions_state_machine() {
        let mut v = sample();
        v["execution"] = "arn:aws:states:eu-west-1:1:execution:tapprove-prod-gate:7f3c".into();
        assert_eq!(parse(&v).unwrap().gate(), "tapprove-prod-gate");
        v["execution"] = "not an arn".into();
        assert_eq!(parse(&v).unwrap().gate(), "");
    }

    pub(crate) fn sample() -> serde_json::Value {
        serde_json::json!({
            "tapprove": "request/v1",
            "execution": "arn:aws:states:eu-west-1:123456789012:execution:deploy:7f3c",
            "nonce": "0b6f5f9e-4a8e-4c1e-9d59-2b1f1c0f7a11",
            "created": "2026-11-21T10:00:00Z",
            "timeout_seconds": 3600,
            "title": "Deploy api v2.3 to prod",
            "requested_by": "alice@example.com",
            "approvers": "prod-approvers",
            "quorum": 1,
            "details": {"any": "JSON", "n": [1, 2.5, null]}
        })
    }

    fn parse(v: &serde_json::Value) -> Result<Request, WireError> {
        Request::from_json(&serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn a_proven_requester_round_trips_and_is_shown_without_the_mark() {
        let mut v = sample();
        let claimed = parse(&v).unwrap();
        assert!(!claimed.requester_verified());
        assert_eq!(claimed.requester_shown(), "alice@example.com (not verified)");
        v["requester"] = serde_json::json!({
            "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Approver_1/alice",
            "principal": "AROAEXAMPLE:alice",
            "person": "alice"
        });
        let proven = parse(&v).unwrap();
        assert_eq!(serde_json::to_value(&proven).unwrap(), v);
        assert_eq!(proven.requester_shown(), "alice");
        v["requester"]["person"] = serde_json::Value::Null;
        v["requester"].as_object_mut().unwrap().remove("person");
        // Only the role is proven; the session name is the caller's choice.
        assert_eq!(
            parse(&v).unwrap().requester_shown(),
            "role AWSReservedSSO_Approver_1 (session \"alice\", named by whoever assumed it)"
        );
        assert_eq!(parse(&v).unwrap().requester.unwrap().principal_name(), "alice");
        v["requester"]["extra"] = true.into();
        assert_eq!(parse(&v).unwrap_err().kind(), WireErrorKind::Malformed);
    }

    #[test]
    fn a_number_a_double_cannot_hold_is_refused_and_the_same_as_a_string_is_kept() {
        let mut text = serde_json::to_string(&sample()).unwrap();
        text = text.replace(r#""n":[1,2.5,null]"#, r#""n":[1,2.5,null],"id":9007199254740993"#);
        let e = Request::from_json(text.as_bytes()).unwrap_err();
        assert_eq!((e.kind(), e.field()), (WireErrorKind::Malformed, "details"));
        assert!(e.to_string().contains("send it as a string"), "{e}");
        let mut v = sample();
        v["details"]["id"] = "9007199254740993".into();
        let r = parse(&v).unwrap();
        assert_eq!(r.details["id"], "9007199254740993");
    }

    #[test]
    fn parses_and_round_trips() {
        let v = sample();
        let r = parse(&v).unwrap();
        assert_eq!(r.title, "Deploy api v2.3 to prod");
        assert_eq!(r.deadline().as_str(), "2026-11-21T11:00:00Z");
        assert_eq!(serde_json::to_value(&r).unwrap(), v);
    }

    #[test]
    fn unknown_version_is_its_own_error_even_with_new_fields() {
        let mut v = sample();
        v["tapprove"] = "request/v2".into();
        v["new_field"] = 1.into();
        assert_eq!(parse(&v).unwrap_err().kind(), WireErrorKind::UnsupportedVersion);
    }

    #[test]
    fn unknown_and_missing_fields_are_refused() {
        let mut v = sample();
        v["extra"] = true.into();
        let e = parse(&v).unwrap_err();
        assert_eq!(e.kind(), WireErrorKind::Malformed);
        let mut v = sample();
        v.as_object_mut().unwrap().remove("nonce");
        assert_eq!(parse(&v).unwrap_err().kind(), WireErrorKind::Malformed);
    }

    #[test]
    fn bounds_are_enforced_with_field_names() {
        let mut v = sample();
        v["title"] = "x".repeat(MAX_TITLE_CHARS + 1).into();
        let e = parse(&v).unwrap_err();
        assert_eq!((e.kind(), e.field()), (WireErrorKind::TooLarge, "title"));

        let mut v = sample();
        v["details"] = serde_json::json!({"blob": "x".repeat(MAX_DETAILS_BYTES)});
        let e = parse(&v).unwrap_err();
        assert_eq!(e.kind(), WireErrorKind::TooLarge);

        let mut v = sample();
        v["quorum"] = 0.into();
        assert_eq!(parse(&v).unwrap_err().field(), "quorum");

        let mut v = sample();
        v["approvers"] = "prod approvers".into();
        assert_eq!(parse(&v).unwrap_err().field(), "approvers");

        let mut v = sample();
        v["title"] = "line\u{0007}bell".into();
        assert_eq!(parse(&v).unwrap_err().kind(), WireErrorKind::Malformed);
    }

    #[test]
    fn a_200_kib_details_object_fits() {
        let mut v = sample();
        v["details"] = serde_json::json!({"blob": "x".repeat(200 * 1024)});
        parse(&v).unwrap();
    }

    #[test]
    fn bad_time_names_the_field() {
        let mut v = sample();
        v["created"] = "yesterday".into();
        let e = parse(&v).unwrap_err();
        assert_eq!((e.kind(), e.field()), (WireErrorKind::Time, "created"));
    }

    #[test]
    fn whole_document_size_is_bounded() {
        let big = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert_eq!(
            Request::from_json(&big).unwrap_err().kind(),
            WireErrorKind::TooLarge
        );
        assert_eq!(
            Request::from_json(b"[1,2").unwrap_err().kind(),
            WireErrorKind::Malformed
        );
    }
}
