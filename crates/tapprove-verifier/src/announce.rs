//! Announcements: what the gate tells the team when a request opens and
//! when it ends, published to the organisation's SNS topic
//! (`[announcements] topic_arn`) for e-mail, HTTPS or AWS Chatbot
//! subscribers.
//!
//! An announcement informs; it never lets a reader decide. It carries the
//! title, the requester (verified, or claimed and said so), the approver
//! rule and its progress, the deadline and the `tapprove://request/<id>`
//! link that opens the request in the approver's own app, where deciding
//! takes their authenticator. It never carries a task token, the
//! request's details or a decision's signature.
//!
//! One message serves every subscriber: SNS's `MessageStructure=json`
//! sends `default` (AWS Chatbot's custom-notification format, also what
//! queues and HTTPS endpoints get) and `email` (plain text).
//!
//! Everything in a message that a workflow or an approver wrote (the title,
//! names, a denial's reason) is shown, not interpreted: hidden characters
//! are made visible and chat markup (`<`, `>`, `&`, which Slack reads as
//! links and mentions such as `<!channel>`) is escaped.

use serde_json::{Value, json};
use tapprove_aws::sns::Topics;
use tapprove_proto::gate_policy::GateStatus;
use tapprove_proto::text::one_line;
use tapprove_proto::{ReasonCode, Request, UtcTime};

/// What happened to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    /// The gate opened it: approvers are being asked.
    Opened,
    /// The rule is met.
    Approved {
        /// Who approved, and when the verifier counted each.
        by: Vec<(String, UtcTime)>,
    },
    /// A verified denial ended it.
    Denied {
        by: String,
        at: UtcTime,
        reason: Option<String>,
        /// `unexpected`: the approver did not expect this request, which
        /// is an alert for the admins.
        code: Option<ReasonCode>,
    },
    /// The deadline passed before the rule was met.
    Expired,
    /// The execution was stopped (Step Functions says ABORTED).
    Withdrawn { at: Option<UtcTime> },
}

impl Happened {
    /// The event's stable name (`metadata.eventType`, the e-mail subject's
    /// first word).
    pub fn name(&self) -> &'static str {
        match self {
            Happened::Opened => "opened",
            Happened::Approved { .. } => "approved",
            Happened::Denied {
                code: Some(ReasonCode::Unexpected),
                ..
            } => "unexpected",
            Happened::Denied { .. } => "denied",
            Happened::Expired => "expired",
            Happened::Withdrawn { .. } => "withdrawn",
        }
    }
}

/// One announcement about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub happened: Happened,
    /// The request's short id (the approvers' inbox id).
    pub id: String,
    pub execution: String,
    pub title: String,
    /// Who asked, as shown: `alice`, or `alice (not verified)`.
    pub requester: String,
    pub requester_verified: bool,
    /// The rule and its progress: "2 of prod-approvers (1 so far)".
    pub rule: String,
    /// None where it is unknown (a withdrawal, told from the execution).
    pub deadline: Option<UtcTime>,
}

/// Longest title and name an announcement shows, in characters.
const MAX_TITLE: usize = 200;
const MAX_NAME: usize = 120;
const MAX_REASON: usize = 500;

impl Announcement {
    /// The announcement of `happened` to `request`, where the gate stands
    /// at `status` (none: the request's own quorum).
    pub fn of(request: &Request, status: Option<&GateStatus>, happened: Happened) -> Self {
        let rule = status.map_or_else(
            || format!("{} of {}", request.quorum, request.approvers),
            GateStatus::describe,
        );
        Self {
            happened,
            id: tapprove_core::canonical::request_sha256(request)
                .map(|h| tapprove_core::canonical::request_id(&h))
                .unwrap_or_default(),
            execution: request.execution.clone(),
            title: request.title.clone(),
            // Cut the name, then mark it: no name can push the mark out.
            requester: if request.requester_verified() {
                one_line(&request.requester_name(), MAX_NAME)
            } else {
                format!(
                    "{} ({})",
                    one_line(&request.requested_by, MAX_NAME),
                    tapprove_proto::REQUESTER_CLAIMED
                )
            },
            requester_verified: request.requester_verified(),
            rule,
            deadline: Some(request.deadline()),
        }
    }

    /// The link that opens the request in the approver's app.
    pub fn link(&self) -> String {
        format!("tapprove://request/{}", self.id)
    }

    /// One line saying what happened. Text a workflow or an approver
    /// wrote goes through `quote` (as is for e-mail, as inline code for
    /// chat, where it then cannot be a link, a mention or formatting).
    fn what(&self, quote: &dyn Fn(&str) -> String) -> String {
        let title = quote(&one_line(&self.title, MAX_TITLE));
        let name = |n: &str| quote(&one_line(n, MAX_NAME));
        match &self.happened {
            Happened::Opened => format!("Approval requested: {title}"),
            Happened::Approved { by } => format!(
                "Approved by {}: {title}",
                by.iter()
                    .map(|(who, at)| format!("{} at {at}", name(who)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Happened::Denied {
                by,
                code: Some(ReasonCode::Unexpected),
                ..
            } => format!(
                "ALERT: {} did not expect this request and denied it: {title}",
                name(by)
            ),
            Happened::Denied { by, at, .. } => format!("Denied by {} at {at}: {title}", name(by)),
            Happened::Expired => format!("Expired without a decision: {title}"),
            Happened::Withdrawn { .. } => format!("Withdrawn: {title}"),
        }
    }

    /// The facts below the headline, as `(label, value, written by a
    /// workflow or an approver)`.
    fn facts(&self) -> Vec<(&'static str, String, bool)> {
        let mut facts = vec![
            ("Requested by", self.requester.clone(), true),
            (
                "Requester verified",
                if self.requester_verified {
                    "yes (AWS proved who started it)".into()
                } else {
                    "no (only the workflow names them)".into()
                },
                false,
            ),
            ("Approvers", one_line(&self.rule, MAX_TITLE), true),
        ];
        match &self.happened {
            Happened::Opened => {
                if let Some(deadline) = &self.deadline {
                    facts.push(("Decide by", deadline.to_string(), false));
                }
            }
            Happened::Denied { reason, code, .. } => {
                if let Some(reason) = reason {
                    facts.push(("Reason", one_line(reason, MAX_REASON), true));
                }
                if code.is_some() {
                    facts.push((
                        "What to do",
                        "find out who started this execution (CloudTrail: StartExecution) and whether its pipeline or its requester's credentials are compromised".into(),
                        false,
                    ));
                }
            }
            Happened::Withdrawn { at: Some(at) } => facts.push(("Stopped at", at.to_string(), false)),
            _ => {}
        }
        facts.push(("Execution", one_line(&self.execution, 2048), true));
        facts
    }

    /// AWS Chatbot's custom-notification format (version 1.0), which
    /// Chatbot renders in Slack, Microsoft Teams or Amazon Chime.
    pub fn chatbot(&self) -> Value {
        let headline = self.what(&code);
        let title = match &self.happened {
            Happened::Denied {
                code: Some(ReasonCode::Unexpected),
                ..
            } => format!(":rotating_light: {headline}"),
            _ => headline,
        };
        let description = self
            .facts()
            .iter()
            .map(|(label, value, written)| {
                format!("*{label}:* {}", if *written { code(value) } else { chat(value) })
            })
            .collect::<Vec<_>>()
            .join("\n");
        let next_steps = match &self.happened {
            Happened::Opened => vec![format!(
                "Approvers: open {} in Tapprove and decide with your authenticator",
                self.link()
            )],
            Happened::Denied {
                code: Some(ReasonCode::Unexpected),
                ..
            } => vec!["Admins: find out who started this execution before anything runs again".to_owned()],
            _ => Vec::new(),
        };
        let mut content = json!({
            "textType": "client-markdown",
            "title": title,
            "description": description,
            "keywords": ["tapprove", self.happened.name()],
        });
        if !next_steps.is_empty() {
            content["nextSteps"] = json!(next_steps);
        }
        json!({
            "version": "1.0",
            "source": "custom",
            "id": format!("{}:{}", self.id, self.happened.name()),
            "content": content,
            "metadata": {
                "threadId": self.execution,
                "summary": self.what(&code),
                "eventType": format!("tapprove.{}", self.happened.name()),
                "relatedResources": [self.execution],
                "additionalContext": {
                    "request_id": self.id,
                    "link": self.link(),
                    "requester_verified": self.requester_verified.to_string(),
                    "deadline": self.deadline.as_ref().map(ToString::to_string).unwrap_or_default(),
                },
            },
        })
    }

    /// The plain-text version, for e-mail.
    pub fn plain(&self) -> String {
        let mut text = self.what(&|t: &str| t.to_owned());
        text.push_str("\n\n");
        for (label, value, _) in self.facts() {
            text.push_str(&format!("{label}: {value}\n"));
        }
        text.push_str(&format!("Open in Tapprove: {}\n", self.link()));
        text.push_str(
            "\nDeciding takes the approver's own device: this message cannot approve or deny anything.\n",
        );
        text
    }

    /// The e-mail subject: at most 100 printable ASCII characters, as SNS
    /// requires.
    pub fn subject(&self) -> String {
        let subject: String = format!("Tapprove {}: {}", self.happened.name(), self.title)
            .chars()
            .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
            // SNS wants fewer than 100.
            .take(99)
            .collect();
        subject
    }

    /// The SNS message (`MessageStructure=json`): the Chatbot format by
    /// default, plain text for e-mail.
    pub fn message(&self) -> String {
        json!({
            "default": self.chatbot().to_string(),
            "email": self.plain(),
        })
        .to_string()
    }
}

/// Whether `event` is EventBridge's "Step Functions Execution Status
/// Change" event.
pub fn is_status_change(event: &Value) -> bool {
    event.get("source").and_then(Value::as_str) == Some("aws.states")
        && event.get("detail-type").and_then(Value::as_str) == Some("Step Functions Execution Status Change")
}

/// The announcement of a gate execution stopped before its end (its
/// requester or a pipeline withdrew it), from EventBridge's status-change
/// `event`. The event is a hint, not a source: Step Functions is asked
/// what became of the execution it names, and only an execution it says
/// was aborted is announced, with what its input says (the requester as
/// claimed). `Ok(None)`: nothing to announce.
pub async fn withdrawal(
    event: &Value,
    sfn: &tapprove_aws::sfn::StepFunctions,
) -> Result<Option<Announcement>, String> {
    let execution = event
        .pointer("/detail/executionArn")
        .and_then(Value::as_str)
        .ok_or("the status-change event names no execution (detail.executionArn)")?;
    let state = sfn
        .describe_execution(execution)
        .await
        .map_err(|e| format!("cannot ask Step Functions about {execution}: {e}"))?;
    if state.status != "ABORTED" {
        return Ok(None);
    }
    let input: Value = serde_json::from_str(state.input.as_deref().unwrap_or_default())
        .map_err(|e| format!("{execution}'s input is not JSON: {e}"))?;
    let text = |key: &str| {
        input
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (Some(title), Some(approvers)) = (
        input.get("title").and_then(Value::as_str),
        input.get("approvers").and_then(Value::as_str),
    ) else {
        return Ok(None);
    };
    let quorum = input.get("quorum").and_then(Value::as_u64).unwrap_or(1);
    let name = execution.rsplit(':').next().unwrap_or(execution);
    Ok(Some(Announcement {
        happened: Happened::Withdrawn {
            at: state.stopped_at.map(UtcTime::from_unix),
        },
        // The app opens a request by its execution's name as well.
        id: name.to_owned(),
        execution: execution.to_owned(),
        title: title.to_owned(),
        requester: format!(
            "{} ({})",
            one_line(&text("requested_by"), MAX_NAME),
            tapprove_proto::REQUESTER_CLAIMED
        ),
        requester_verified: false,
        rule: format!("{quorum} of {approvers}"),
        deadline: None,
    }))
}

/// Text a workflow or an approver wrote, for chat: inline code (its own
/// backticks replaced), inside which Slack and Teams render no link,
/// mention, emoji or formatting; `<`, `>` and `&` escaped, which Slack
/// reads even there.
fn code(text: &str) -> String {
    format!("`{}`", chat(&text.replace('`', "ˋ")))
}

/// Tapprove's own text for chat, with the characters Slack reads as links,
/// mentions and entities escaped.
fn chat(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// How long an announcement may take to publish.
const PUBLISH_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Publishes announcements to the organisation's topic.
#[derive(Debug, Clone)]
pub struct Announcer {
    topics: Topics,
    topic_arn: String,
}

impl Announcer {
    pub fn new(aws: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self {
            topics: Topics::new(aws),
            topic_arn: topic_arn.into(),
        }
    }

    /// From the settings' `[announcements]`, if any.
    pub fn from_config(aws: &aws_config::SdkConfig, config: &tapprove_config::Config) -> Option<Self> {
        config
            .announcements
            .as_ref()
            .map(|a| Self::new(aws, a.topic_arn.clone()))
    }

    /// Publishes `announcement`. A failure is logged, never the gate's
    /// failure: announcing informs, the gate's verdict stands either way.
    /// It waits at most [`PUBLISH_WITHIN`]: in the Lambda function the
    /// gate's answer waits for it.
    pub async fn publish(&self, announcement: &Announcement) {
        let published = tokio::time::timeout(
            PUBLISH_WITHIN,
            self.topics
                .publish_structured(&self.topic_arn, &announcement.subject(), &announcement.message()),
        )
        .await
        .map_err(|_| format!("no answer within {PUBLISH_WITHIN:?}"))
        .and_then(|sent| sent.map(|_| ()).map_err(|e| e.to_string()));
        if let Err(e) = published {
            eprintln!(
                "tapprove-verifier: could not announce that {} was {} to {}: {e}",
                announcement.id,
                announcement.happened.name(),
                self.topic_arn
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(title: &str) -> Request {
        Request::from_json(
            json!({
                "tapprove": "request/v1",
                "execution": "arn:aws:states:eu-west-1:123456789012:execution:tapprove-prod-gate:run-1",
                "nonce": "n-1",
                "created": "2026-11-21T10:00:00Z",
                "timeout_seconds": 3600,
                "title": title,
                "requested_by": "alice",
                "approvers": "prod-approvers",
                "quorum": 2,
                "details": {"token": "not-for-announcements"}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    /// Checks `message` against AWS Chatbot's documented custom
    /// notification schema: required `version` 1.0, `source` custom and
    /// `content.description`; every other field optional, of its
    /// documented type; no field the schema does not name.
    pub(crate) fn assert_chatbot_format(message: &Value) {
        let object = |v: &Value, what: &str| -> serde_json::Map<String, Value> {
            v.as_object()
                .unwrap_or_else(|| panic!("{what} is not an object: {v}"))
                .clone()
        };
        let strings = |v: &Value, what: &str| {
            for s in v.as_array().unwrap_or_else(|| panic!("{what} is not a list")) {
                assert!(s.is_string(), "{what} holds a non-string: {s}");
            }
        };
        let top = object(message, "the message");
        for key in top.keys() {
            assert!(
                ["version", "source", "id", "content", "metadata"].contains(&key.as_str()),
                "unknown field {key}"
            );
        }
        assert_eq!(message["version"], "1.0");
        assert_eq!(message["source"], "custom");
        let content = object(&message["content"], "content");
        for (key, value) in &content {
            match key.as_str() {
                "textType" => assert_eq!(value, "client-markdown"),
                "title" | "description" => assert!(value.is_string(), "{key}"),
                "nextSteps" | "keywords" => strings(value, key),
                other => panic!("unknown content field {other}"),
            }
        }
        assert!(content["description"].as_str().is_some_and(|d| !d.is_empty()));
        if let Some(metadata) = message.get("metadata") {
            for (key, value) in object(metadata, "metadata") {
                match key.as_str() {
                    "threadId" | "summary" | "eventType" => assert!(value.is_string(), "{key}"),
                    "relatedResources" => strings(&value, &key),
                    "additionalContext" => {
                        for (k, v) in object(&value, "additionalContext") {
                            assert!(v.is_string(), "additionalContext.{k} is not a string");
                        }
                    }
                    "enableCustomActions" => assert!(value.is_boolean()),
                    other => panic!("unknown metadata field {other}"),
                }
            }
        }
    }

    #[test]
    fn each_event_is_in_chatbots_format_with_a_plain_text_fallback() {
        let r = request("Deploy api v2");
        let status = GateStatus::of_request(&r, 1);
        let t = UtcTime::parse("2026-11-21T10:03:00Z").unwrap();
        for happened in [
            Happened::Opened,
            Happened::Approved {
                by: vec![("bob".into(), t.clone()), ("carol".into(), t.clone())],
            },
            Happened::Denied {
                by: "bob".into(),
                at: t.clone(),
                reason: Some("not during the freeze".into()),
                code: None,
            },
            Happened::Denied {
                by: "bob".into(),
                at: t.clone(),
                reason: None,
                code: Some(ReasonCode::Unexpected),
            },
            Happened::Expired,
            Happened::Withdrawn { at: Some(t.clone()) },
        ] {
            let a = Announcement::of(&r, Some(&status), happened.clone());
            let structured: Value = serde_json::from_str(&a.message()).unwrap();
            let chatbot: Value = serde_json::from_str(structured["default"].as_str().unwrap()).unwrap();
            assert_chatbot_format(&chatbot);
            let email = structured["email"].as_str().unwrap();
            for text in [&chatbot.to_string(), &email.to_owned()] {
                assert!(text.contains("Deploy api v2"), "{happened:?}: {text}");
                assert!(text.contains(&a.link()), "{happened:?}: {text}");
                assert!(text.contains("alice (not verified)"), "{text}");
                assert!(text.contains("2 of prod-approvers (1 so far)"), "{text}");
                // The request's details are never announced.
                assert!(!text.contains("not-for-announcements"), "{text}");
            }
            assert!(a.subject().len() <= 100 && a.subject().is_ascii());
            assert_eq!(
                chatbot["metadata"]["eventType"],
                format!("tapprove.{}", happened.name())
            );
        }
        let denied = Announcement::of(
            &r,
            None,
            Happened::Denied {
                by: "bob".into(),
                at: t.clone(),
                reason: Some("not during the freeze".into()),
                code: None,
            },
        );
        assert!(
            denied
                .plain()
                .starts_with("Denied by bob at 2026-11-21T10:03:00Z")
        );
        assert!(denied.plain().contains("Reason: not during the freeze"));
        let unexpected = Announcement::of(
            &r,
            None,
            Happened::Denied {
                by: "bob".into(),
                at: t,
                reason: None,
                code: Some(ReasonCode::Unexpected),
            },
        );
        assert!(
            unexpected
                .plain()
                .starts_with("ALERT: bob did not expect this request")
        );
        assert!(
            unexpected.chatbot()["content"]["title"]
                .as_str()
                .unwrap()
                .starts_with(":rotating_light:")
        );
    }

    #[test]
    fn what_a_workflow_wrote_is_shown_not_interpreted() {
        let r = request("<!channel> approve <https://evil.example|here> \u{202e}txt.exe");
        let a = Announcement::of(&r, None, Happened::Opened);
        let chatbot = a.chatbot().to_string();
        assert!(!chatbot.contains("<!channel>"), "{chatbot}");
        assert!(!chatbot.contains("<https://evil"), "{chatbot}");
        assert!(chatbot.contains("&lt;!channel&gt;"), "{chatbot}");
        // Whatever the workflow wrote is inline code, which no chat renders
        // as a link or formatting, and cannot close it early.
        let r = request("[Approve here](https://evil.example) `closed` *bold*");
        let title = Announcement::of(&r, None, Happened::Opened).chatbot()["content"]["title"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            title,
            "Approval requested: `[Approve here](https://evil.example) ˋclosedˋ *bold*`"
        );
        // A long claimed name cannot push out the mark that it is claimed.
        let mut long = serde_json::to_value(request("Deploy")).unwrap();
        long["requested_by"] = "alice (verified via Identity Center)".repeat(7).into();
        let long = Request::from_json(long.to_string().as_bytes()).unwrap();
        let shown = Announcement::of(&long, None, Happened::Opened).plain();
        assert!(shown.contains("… (not verified)"), "{shown}");
        assert!(shown.contains("Requester verified: no"), "{shown}");
        // The right-to-left override is shown, not obeyed.
        assert!(!chatbot.contains('\u{202e}') && !a.plain().contains('\u{202e}'));
        assert!(a.subject().is_ascii());
    }
}
