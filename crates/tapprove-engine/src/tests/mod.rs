//! The engine's behaviour through its test seam: the real engine, the real
//! SQLite store, the real software authenticator and signing, and a fake
//! of the AWS side (`fake.rs`) behind [`TaskSource`]/[`DecisionRoute`].

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

mod fake;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fake::{FakeAws, FixedClock, TaskState};
use tapprove_authn::software::{MemoryKeyStore, SoftwareAuthenticator};
use tapprove_authn::{Authenticator, CredentialRequest, PinRequest, Prompt, UserPrompt, UserVerification};
use tapprove_aws::sfn::TaskGone;
use tapprove_config::Config;
use tapprove_core::canonical::{creation_client_data_json, origin_for, request_sha256};
use tapprove_proto::{Base64Url, Decision, UtcTime, Verdict};
use zeroize::Zeroizing;

use crate::{
    DeliveryOutcome, Engine, EngineError, Event, OutboxState, Parts, Signer, Store, approver_queue_name,
};

const ACTIVITY: &str = "arn:aws:states:eu-west-1:123456789012:activity:tapprove-prod";
const RP_ID: &str = "approvals.example.com";
const BOB: &str = "arn:aws:sts::123456789012:assumed-role/Approver/bob";

fn config(extra: &str) -> Config {
    Config::parse(&format!(
        r#"
rp_id = "{RP_ID}"
{extra}

[tables]
registry = "t-registry"
ledger = "t-ledger"
audit = "t-audit"

[verifier]
activity_arn = "arn:aws:states:eu-west-1:123456789012:activity:tapprove-verify"

[[sources]]
kind = "activity"
group = "prod"
arn = "{ACTIVITY}"

[[sources]]
kind = "queue"
group = "dba"
topic_arn = "arn:aws:sns:eu-west-1:123456789012:tapprove-dba"
"#
    ))
    .unwrap()
}

fn request(title: &str) -> String {
    format!(
        r#"{{"tapprove":"request/v1","execution":"arn:aws:states:eu-west-1:123456789012:execution:deploy:{title}","nonce":"n-{title}","created":"2026-11-21T10:00:00Z","timeout_seconds":3600,"title":"{title}","requested_by":"alice","approvers":"prod","quorum":1,"details":{{"version":"2.3"}}}}"#
    )
}

fn at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_257_605) // 2026-11-21T10:00:05Z
}

struct World {
    _dir: tempfile::TempDir,
    aws: FakeAws,
    engine: Engine,
    signer: Signer,
    credential: Base64Url,
}

struct NoPrompt;

impl UserPrompt for NoPrompt {
    fn show(&self, _prompt: Prompt) {}
    fn pin(&self, _request: &PinRequest) -> Option<Zeroizing<String>> {
        None
    }
}

/// Bob's engine, with a queue of his own for group `dba` unless
/// `own_queue` is false.
fn world(extra: &str) -> World {
    world_with(extra, true)
}

fn world_with(extra: &str, own_queue: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let aws = FakeAws::new(BOB);
    if own_queue {
        aws.create_queue(&approver_queue_name("dba", "bob"));
    }
    let store = Store::open(&dir.path().join("tapprove.sqlite3")).unwrap();
    let engine = Engine::with_parts(
        config(extra),
        dir.path(),
        store,
        Parts {
            aws: aws_config::SdkConfig::builder().build(),
            tasks: Box::new(aws.clone()),
            route: Box::new(aws.clone()),
            clock: Arc::new(FixedClock(at())),
        },
    );
    let key = SoftwareAuthenticator::new(MemoryKeyStore::new(), UtcTime::at(at()));
    let made = key
        .make_credential(
            &CredentialRequest {
                rp_id: RP_ID.to_owned(),
                user_name: "bob".to_owned(),
                user_handle: vec![7; 16],
                client_data_json: creation_client_data_json(&[1; 32], &origin_for(RP_ID)),
                exclude_credentials: Vec::new(),
                user_verification: UserVerification::Discouraged,
                label: "test".to_owned(),
            },
            &NoPrompt,
        )
        .unwrap();
    World {
        _dir: dir,
        aws,
        engine,
        signer: Signer::for_test(Box::new(key), vec![made.credential_id.clone()]),
        credential: made.credential_id,
    }
}

impl World {
    async fn decide(
        &self,
        id: &str,
        verdict: Verdict,
        reason: Option<&str>,
    ) -> crate::Result<DeliveryOutcome> {
        self.engine
            .decide(
                id,
                verdict,
                crate::Reason::text(reason.map(str::to_owned)),
                &self.signer,
                &NoPrompt,
                None,
            )
            .await
            .map(|(_, outcome)| outcome)
    }
}

fn new_request_ids(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::NewRequest { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_activity_task_is_admitted_once_and_an_approval_delivered_once() {
    let w = world("");
    let token = w.aws.offer_activity(ACTIVITY, &request("deploy"));
    let events = w.engine.poll_all(0).await.unwrap();
    let ids = new_request_ids(&events);
    assert_eq!(ids.len(), 1, "{events:?}");
    assert_eq!(w.engine.inbox().unwrap().len(), 1);
    // Nothing new: no second event.
    assert!(w.engine.poll_all(0).await.unwrap().is_empty());

    let outcome = w.decide(&ids[0], Verdict::Approve, None).await.unwrap();
    assert_eq!(outcome, DeliveryOutcome::Delivered);
    let Some(TaskState::Succeeded { output }) = w.aws.state(&token) else {
        panic!("{:?}", w.aws.state(&token));
    };
    let decision = Decision::from_json(output.as_bytes()).unwrap();
    assert_eq!(decision.statement.approver, "bob", "the approver is who STS says");
    assert_eq!(
        decision.statement.signed_at,
        UtcTime::at(at()),
        "signed at the engine's clock"
    );
    assert_eq!(decision.statement.decision, Verdict::Approve);
    let offered = tapprove_proto::Request::from_json(request("deploy").as_bytes()).unwrap();
    assert_eq!(
        decision.statement.request_sha256,
        request_sha256(&offered).unwrap()
    );
    assert_eq!(decision.assertion.credential_id, w.credential);
    assert!(
        w.engine.inbox().unwrap().is_empty(),
        "a delivered request leaves the inbox"
    );
    let history = w.engine.history().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].state, OutboxState::Delivered);
    assert_eq!(w.aws.result_calls(), 1);
    // The request is gone: deciding again finds nothing and sends nothing.
    assert!(matches!(
        w.decide(&ids[0], Verdict::Approve, None).await,
        Err(EngineError::NotFound(_))
    ));
    assert_eq!(w.engine.flush().await.unwrap().len(), 0);
    assert_eq!(w.aws.result_calls(), 1);
}

#[tokio::test]
async fn a_malformed_task_is_handed_back_and_never_shown() {
    let w = world("");
    let token = w
        .aws
        .offer_activity(ACTIVITY, r#"{"request":{"tapprove":"request/v1"}}"#);
    let error = w.engine.poll_all(0).await.unwrap_err();
    assert!(matches!(error, EngineError::Invalid(_)), "{error}");
    assert!(w.engine.inbox().unwrap().is_empty());
    assert!(matches!(
        w.aws.state(&token),
        Some(TaskState::Failed { ref error, .. }) if error == "Tapprove.Released"
    ));
}

#[tokio::test]
async fn a_decision_made_offline_is_kept_and_delivered_exactly_once() {
    let w = world("");
    let token = w.aws.offer_activity(ACTIVITY, &request("deploy"));
    let id = new_request_ids(&w.engine.poll_all(0).await.unwrap()).remove(0);
    // The identity STS confirmed is remembered, so signing works offline.
    w.engine.approver().await.unwrap();
    w.aws.set_reachable(false);
    let outcome = w.decide(&id, Verdict::Approve, None).await.unwrap();
    assert!(matches!(outcome, DeliveryOutcome::Pending { .. }), "{outcome:?}");
    assert_eq!(w.aws.state(&token), Some(TaskState::Open));
    assert_eq!(w.engine.history().unwrap()[0].state, OutboxState::Pending);
    // Still unreachable: flushing changes nothing.
    let flushed = w.engine.flush().await.unwrap();
    assert!(matches!(flushed[0].1, DeliveryOutcome::Pending { .. }));

    w.aws.set_reachable(true);
    let flushed = w.engine.flush().await.unwrap();
    assert_eq!(flushed.len(), 1);
    assert_eq!(flushed[0].1, DeliveryOutcome::Delivered);
    assert!(matches!(w.aws.state(&token), Some(TaskState::Succeeded { .. })));
    assert!(w.engine.flush().await.unwrap().is_empty(), "nothing left to send");
    assert_eq!(w.aws.result_calls(), 1, "sent once while reachable");
    assert!(w.engine.inbox().unwrap().is_empty());
}

#[tokio::test]
async fn a_decision_on_a_task_someone_else_decided_is_closed_not_retried() {
    let w = world("");
    let token = w.aws.offer_activity(ACTIVITY, &request("deploy"));
    let id = new_request_ids(&w.engine.poll_all(0).await.unwrap()).remove(0);
    w.aws.close(
        &token,
        TaskState::Succeeded {
            output: "carol's".into(),
        },
    );
    let outcome = w.decide(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(
        outcome,
        DeliveryOutcome::Closed {
            reason: TaskGone::DoesNotExist
        }
    );
    assert_eq!(
        w.aws.state(&token),
        Some(TaskState::Succeeded {
            output: "carol's".into()
        }),
        "the other decision stands"
    );
    let history = w.engine.history().unwrap();
    assert_eq!(history[0].state, OutboxState::Closed);
    assert_eq!(history[0].reason, Some(TaskGone::DoesNotExist));
    assert!(w.engine.flush().await.unwrap().is_empty());
    assert!(w.engine.inbox().unwrap().is_empty());
}

#[tokio::test]
async fn heartbeats_drop_requests_that_expired_and_keep_open_ones() {
    let w = world("");
    let expired = w.aws.offer_activity(ACTIVITY, &request("one"));
    w.aws.offer_activity(ACTIVITY, &request("two"));
    w.engine.poll_all(0).await.unwrap();
    w.engine.poll_all(0).await.unwrap();
    assert_eq!(w.engine.inbox().unwrap().len(), 2);
    w.aws.close(&expired, TaskState::TimedOut);
    let events = w.engine.heartbeat().await.unwrap();
    assert!(
        matches!(
            events.as_slice(),
            [Event::RequestGone {
                reason: TaskGone::TimedOut,
                ..
            }]
        ),
        "{events:?}"
    );
    let left = w.engine.inbox().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].request.title, "two");
    // Unreachable: an error, and nothing dropped.
    w.aws.set_reachable(false);
    assert!(w.engine.heartbeat().await.is_err());
    assert_eq!(w.engine.inbox().unwrap().len(), 1);
}

#[tokio::test]
async fn a_denial_needs_a_reason_and_goes_out_as_the_tasks_failure() {
    let w = world("");
    let token = w.aws.offer_activity(ACTIVITY, &request("deploy"));
    let id = new_request_ids(&w.engine.poll_all(0).await.unwrap()).remove(0);
    for reason in [None, Some("  ")] {
        let error = w.decide(&id, Verdict::Deny, reason).await.unwrap_err();
        assert!(matches!(error, EngineError::Invalid(_)), "{error}");
    }
    assert!(w.engine.history().unwrap().is_empty(), "nothing journalled");
    assert_eq!(w.aws.result_calls(), 0, "nothing sent");

    let outcome = w
        .decide(&id, Verdict::Deny, Some("not during the freeze"))
        .await
        .unwrap();
    assert_eq!(outcome, DeliveryOutcome::Delivered);
    let Some(TaskState::Failed { error, cause }) = w.aws.state(&token) else {
        panic!("{:?}", w.aws.state(&token));
    };
    assert_eq!(error, "Tapprove.Denied");
    let denial = Decision::from_json(cause.as_bytes()).unwrap();
    assert_eq!(denial.statement.reason.as_deref(), Some("not during the freeze"));
}

#[tokio::test]
async fn where_the_settings_require_user_verification_nothing_is_signed_without_it() {
    let w = world("require_user_verification = true");
    w.aws.offer_activity(ACTIVITY, &request("deploy"));
    let id = new_request_ids(&w.engine.poll_all(0).await.unwrap()).remove(0);
    // The key has no PIN: it cannot verify the user.
    let error = w.decide(&id, Verdict::Approve, None).await.unwrap_err();
    assert!(
        matches!(
            error,
            EngineError::Sign(tapprove_authn::SignError::Authenticator(
                tapprove_authn::AuthnError::UserVerificationUnavailable(_)
            ))
        ),
        "{error}"
    );
    // And a face cannot ask for less.
    let error = w
        .engine
        .decide(
            &id,
            Verdict::Approve,
            crate::Reason::default(),
            &w.signer,
            &NoPrompt,
            Some(UserVerification::Preferred),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, EngineError::Invalid(_)), "{error}");
    assert!(w.engine.history().unwrap().is_empty());
    assert_eq!(w.aws.result_calls(), 0);
    assert_eq!(w.engine.inbox().unwrap().len(), 1, "the request still waits");
}

fn queue_body(token: &tapprove_aws::sfn::TaskToken, title: &str) -> String {
    format!(r#"{{"task_token":"{}","request":{}}}"#, token.0, request(title))
}

#[tokio::test]
async fn a_queue_message_is_deleted_once_its_task_is_decided_and_kept_while_pending() {
    let w = world("");
    let url = w.aws.create_queue(&approver_queue_name("dba", "bob"));
    let token = w.aws.offer_on_queue(&url, |t| queue_body(t, "deploy"));
    let id = new_request_ids(&w.engine.poll_all(0).await.unwrap()).remove(0);
    assert_eq!(w.aws.messages_on(&url), 1);

    w.aws.set_reachable(false);
    let outcome = w.decide(&id, Verdict::Approve, None).await.unwrap();
    assert!(matches!(outcome, DeliveryOutcome::Pending { .. }));
    w.aws.set_reachable(true);
    assert_eq!(w.aws.messages_on(&url), 1, "kept while the decision is pending");

    assert_eq!(w.engine.flush().await.unwrap()[0].1, DeliveryOutcome::Delivered);
    assert!(matches!(w.aws.state(&token), Some(TaskState::Succeeded { .. })));
    assert_eq!(w.aws.messages_on(&url), 0, "deleted once decided");
}

#[tokio::test]
async fn a_message_no_one_can_act_on_is_dropped_and_reported() {
    let w = world("");
    let url = w.aws.create_queue(&approver_queue_name("dba", "bob"));
    w.aws
        .put_message(&url, r#"{"task_token":"t","request":{"title":"no"}}"#);
    let error = w.engine.poll_all(0).await.unwrap_err();
    assert!(matches!(error, EngineError::Invalid(_)), "{error}");
    assert_eq!(w.aws.messages_on(&url), 0);
    assert!(w.engine.inbox().unwrap().is_empty());
}

#[tokio::test]
async fn a_request_seen_again_on_the_queue_is_one_inbox_entry() {
    let w = world("");
    let url = w.aws.create_queue(&approver_queue_name("dba", "bob"));
    w.aws.offer_on_queue(&url, |t| queue_body(t, "deploy"));
    assert_eq!(new_request_ids(&w.engine.poll_all(0).await.unwrap()).len(), 1);
    // The visibility timeout ends before a decision: the message comes back.
    w.aws.requeue();
    assert!(new_request_ids(&w.engine.poll_all(0).await.unwrap()).is_empty());
    assert_eq!(w.engine.inbox().unwrap().len(), 1);
}

/// A held request's message does not come back every visibility timeout
/// to fill receives: once seen again it is hidden for longer, and stays one
/// inbox entry. Its first receive is not hidden, so another device of the
/// same approver still sees a new request after the queue's timeout.
#[tokio::test]
async fn a_queued_request_already_held_is_kept_out_of_sight_when_it_comes_back() {
    let w = world("");
    let url = w.aws.create_queue(&approver_queue_name("dba", "bob"));
    w.aws.offer_on_queue(&url, |t| queue_body(t, "deploy"));
    assert_eq!(new_request_ids(&w.engine.poll_all(0).await.unwrap()).len(), 1);
    assert!(
        w.aws.hidden().is_empty(),
        "a new request is not hidden on its first receive"
    );

    w.aws.requeue();
    assert!(new_request_ids(&w.engine.poll_all(0).await.unwrap()).is_empty());
    let hidden = w.aws.hidden();
    assert_eq!(hidden.len(), 1, "{hidden:?}");
    assert_eq!(hidden[0].1, crate::QUEUE_HOLD_SECONDS);

    // The queue's timeout passes again: the message stays out of sight.
    w.aws.requeue();
    w.engine.poll_all(0).await.unwrap();
    assert_eq!(w.aws.hidden().len(), 1, "received again while hidden");

    // Once the longer hold ends it comes back, and is hidden again.
    w.aws.hold_ends();
    w.engine.poll_all(0).await.unwrap();
    assert_eq!(w.aws.hidden().len(), 2);
    assert_eq!(w.engine.inbox().unwrap().len(), 1);
    assert_eq!(w.aws.messages_on(&url), 1, "kept until the request is decided");
}

#[tokio::test]
async fn without_a_queue_of_ones_own_the_error_says_whom_to_ask() {
    let w = world_with("", false);
    let error = w.engine.poll_all(0).await.unwrap_err();
    assert!(error.to_string().contains("tapprove admin grant"), "{error}");
}

#[tokio::test]
async fn a_second_decision_while_the_first_waits_to_be_sent_is_refused() {
    let w = world("");
    let token = w.aws.offer_activity(ACTIVITY, &request("deploy"));
    let id = new_request_ids(&w.engine.poll_all(0).await.unwrap()).remove(0);
    w.engine.approver().await.unwrap();
    w.aws.set_reachable(false);
    let first = w.decide(&id, Verdict::Approve, None).await.unwrap();
    assert!(matches!(first, DeliveryOutcome::Pending { .. }));
    // Changing one's mind offline signs nothing new: the first decision
    // is the one that will reach the gate, and the person is told so.
    let error = w
        .decide(&id, Verdict::Deny, Some("changed my mind"))
        .await
        .unwrap_err();
    assert!(matches!(error, EngineError::Invalid(_)), "{error}");
    assert!(error.to_string().contains("already"), "{error}");
    assert_eq!(w.engine.history().unwrap().len(), 1, "one decision journalled");
    w.aws.set_reachable(true);
    w.engine.flush().await.unwrap();
    assert!(matches!(w.aws.state(&token), Some(TaskState::Succeeded { .. })));
    assert_eq!(w.aws.result_calls(), 1);
}

fn ended(
    status: &str,
    output: Option<&str>,
    error: Option<&str>,
    cause: Option<&str>,
) -> tapprove_aws::sfn::ExecutionState {
    tapprove_aws::sfn::ExecutionState {
        status: status.into(),
        state_machine_arn: "arn:aws:states:eu-west-1:123456789012:stateMachine:deploy".into(),
        output: output.map(str::to_owned),
        error: error.map(str::to_owned),
        cause: cause.map(str::to_owned),
        input: None,
        stopped_at: None,
    }
}

fn execution_of(title: &str) -> String {
    format!("arn:aws:states:eu-west-1:123456789012:execution:deploy:{title}")
}

#[tokio::test]
async fn a_queued_request_someone_else_decided_leaves_the_inbox_and_says_who() {
    let w = world("");
    let url = w.aws.create_queue(&approver_queue_name("dba", "bob"));
    w.aws.offer_on_queue(&url, |t| queue_body(t, "deploy"));
    let id = new_request_ids(&w.engine.poll_all(0).await.unwrap()).remove(0);
    // Still running: it stays, whatever the token's fate.
    w.aws
        .set_execution(&execution_of("deploy"), ended("RUNNING", None, None, None));
    assert!(w.engine.heartbeat().await.unwrap().is_empty());
    assert_eq!(w.engine.inbox().unwrap().len(), 1);
    // Carol's approval ended it.
    w.aws.set_execution(
        &execution_of("deploy"),
        ended(
            "SUCCEEDED",
            Some(&format!(
                r#"{{"approvals":[{{"approver":"carol","verified_at":"2026-11-21T10:03:00Z","request_sha256":"{}"}}]}}"#,
                request_sha256(&tapprove_proto::Request::from_json(request("deploy").as_bytes()).unwrap())
                    .unwrap()
                    .encode()
            )),
            None,
            None,
        ),
    );
    let events = w.engine.heartbeat().await.unwrap();
    let [
        Event::RequestGone {
            id: gone,
            outcome: Some(outcome),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}");
    };
    assert_eq!(gone, &id);
    assert_eq!(outcome.describe(), "approved by carol at 2026-11-21T10:03:00Z");
    assert!(w.engine.inbox().unwrap().is_empty());
    assert_eq!(w.aws.messages_on(&url), 0, "its message is deleted");
    let seen = w.engine.seen().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].outcome.as_ref(), Some(outcome));
    assert!(seen[0].mine.is_none());
    // The same message again (SNS delivers at least once): no new request.
    w.aws.offer_on_queue(&url, |t| queue_body(t, "deploy"));
    assert!(w.engine.poll_all(0).await.unwrap().is_empty());
    assert!(w.engine.inbox().unwrap().is_empty());
    assert_eq!(w.aws.messages_on(&url), 0);
}

#[tokio::test]
async fn the_history_tells_how_a_request_one_decided_ended() {
    let w = world("");
    w.aws.offer_activity(ACTIVITY, &request("deploy"));
    let id = new_request_ids(&w.engine.poll_all(0).await.unwrap()).remove(0);
    w.decide(&id, Verdict::Deny, Some("not during the freeze"))
        .await
        .unwrap();
    // Unknown until Step Functions says.
    assert_eq!(w.engine.settle().await.unwrap(), 0);
    let denial = w.engine.history().unwrap()[0].decision.clone();
    w.aws.set_execution(
        &execution_of("deploy"),
        ended("FAILED", None, Some("Tapprove.Denied"), Some(&denial)),
    );
    assert_eq!(w.engine.settle().await.unwrap(), 1);
    let seen = &w.engine.seen().unwrap()[0];
    assert_eq!(seen.mine.as_ref().unwrap().verdict, "deny");
    assert_eq!(
        seen.outcome.as_ref().unwrap().describe(),
        format!("denied by bob at {}: not during the freeze", UtcTime::at(at()))
    );
    // Ended requests are forgotten after the history's days, not before.
    assert_eq!(w.engine.seen().unwrap().len(), 1);
}

/// `title`'s request as AWS proved bob asked for it (the request endpoint
/// recorded his session; the gate vouched for it).
fn asked_by_bob(title: &str) -> String {
    request(title).replace(
        r#""details""#,
        r#""requester":{"arn":"arn:aws:sts::123456789012:assumed-role/Approver/bob","principal":"AROAEXAMPLE:bob"},"details""#,
    )
}

#[tokio::test]
async fn ones_own_request_is_not_announced_and_cannot_be_approved() {
    let w = world("");
    w.engine.approver().await.unwrap();
    // From the approver's queue: kept in the inbox, which says why.
    let url = w.aws.create_queue(&approver_queue_name("dba", "bob"));
    w.aws.offer_on_queue(&url, |t| {
        format!(
            r#"{{"task_token":"{}","request":{}}}"#,
            t.0,
            asked_by_bob("deploy")
        )
    });
    let events = w.engine.poll_all(0).await.unwrap();
    assert!(new_request_ids(&events).is_empty(), "{events:?}");
    let inbox = w.engine.inbox().unwrap();
    assert_eq!(inbox.len(), 1);
    let why = w.engine.yours(&inbox[0].request).unwrap();
    assert!(why.contains("you asked for this request"), "{why}");
    let error = w.decide(&inbox[0].id, Verdict::Approve, None).await.unwrap_err();
    assert!(
        matches!(&error, EngineError::Service { reason, .. } if reason == "self_approval"),
        "{error:?}"
    );
    assert_eq!(error.code(), crate::ErrorCode::Refused);
    assert!(w.engine.history().unwrap().is_empty(), "nothing was signed");
    // From an activity: handed back at once, so a colleague's app claims
    // it, and the activity is left alone a while (no lap after lap of the
    // same hand-back).
    let token = w.aws.offer_activity(ACTIVITY, &asked_by_bob("mine"));
    assert!(new_request_ids(&w.engine.poll_all(0).await.unwrap()).is_empty());
    assert!(matches!(
        w.aws.state(&token),
        Some(TaskState::Failed { ref error, .. }) if error == "Tapprove.Released"
    ));
    let next = w.aws.offer_activity(ACTIVITY, &request("someone else's"));
    assert!(w.engine.poll_all(0).await.unwrap().is_empty());
    assert_eq!(
        w.aws.state(&next),
        Some(TaskState::Open),
        "not claimed while paused"
    );
    assert_eq!(w.engine.inbox().unwrap().len(), 1, "only the queued one");
    assert!(w.engine.seen().unwrap().iter().all(|s| s.own));
    // Where the organisation allows self-approval, it is an ordinary request.
    let w = world("allow_self_approval = true");
    w.engine.approver().await.unwrap();
    w.aws.offer_activity(ACTIVITY, &asked_by_bob("mine"));
    assert_eq!(new_request_ids(&w.engine.poll_all(0).await.unwrap()).len(), 1);
}

#[tokio::test]
async fn a_request_that_only_names_one_its_requester_is_announced_and_may_be_denied() {
    let w = world("");
    w.engine.approver().await.unwrap();
    // The workflow claims bob asked; AWS proved nothing. Bob hears of it
    // (he is who can say he did not ask), and may deny it, not approve it.
    let token = w.aws.offer_activity(
        ACTIVITY,
        &request("deploy").replace(r#""requested_by":"alice""#, r#""requested_by":"Bob""#),
    );
    let id = new_request_ids(&w.engine.poll_all(0).await.unwrap()).remove(0);
    let why = w.engine.yours(&w.engine.find(&id).unwrap().request).unwrap();
    assert!(why.contains("deny it as unexpected"), "{why}");
    assert!(w.decide(&id, Verdict::Approve, None).await.is_err());
    let outcome = w
        .engine
        .decide(
            &id,
            Verdict::Deny,
            crate::Reason::unexpected(None),
            &w.signer,
            &NoPrompt,
            None,
        )
        .await
        .unwrap()
        .1;
    assert_eq!(outcome, DeliveryOutcome::Delivered);
    let Some(TaskState::Failed { cause, .. }) = w.aws.state(&token) else {
        panic!("{:?}", w.aws.state(&token));
    };
    let denial = Decision::from_json(cause.as_bytes()).unwrap();
    assert_eq!(
        denial.statement.reason_code,
        Some(tapprove_proto::ReasonCode::Unexpected)
    );
    assert_eq!(denial.statement.reason, None);
}

#[tokio::test]
async fn a_redriven_request_comes_back_and_an_ended_one_is_handed_back() {
    let w = world("");
    let first = w.aws.offer_activity(ACTIVITY, &request("deploy"));
    w.engine.poll_all(0).await.unwrap();
    w.aws.close(&first, TaskState::TimedOut);
    w.aws
        .set_execution(&execution_of("deploy"), ended("ABORTED", None, None, None));
    assert_eq!(w.engine.heartbeat().await.unwrap().len(), 1);
    // A task for it after it ended (a late delivery): handed back, silent.
    let late = w.aws.offer_activity(ACTIVITY, &request("deploy"));
    assert!(w.engine.poll_all(0).await.unwrap().is_empty());
    assert!(
        matches!(w.aws.state(&late), Some(TaskState::Failed { ref error, .. }) if error == "Tapprove.Released")
    );
    // Redriven: Step Functions says it runs again, so it is a request again.
    w.aws
        .set_execution(&execution_of("deploy"), ended("RUNNING", None, None, None));
    w.aws.offer_activity(ACTIVITY, &request("deploy"));
    assert_eq!(new_request_ids(&w.engine.poll_all(0).await.unwrap()).len(), 1);
    assert!(w.engine.seen().unwrap()[0].outcome.is_none());
}

#[tokio::test]
async fn an_app_holds_a_bounded_number_of_activity_tasks_and_leaves_the_rest() {
    let w = world("");
    let tokens: Vec<_> = (0..crate::MAX_CLAIMED + 5)
        .map(|i| w.aws.offer_activity(ACTIVITY, &request(&format!("r{i}"))))
        .collect();
    for _ in 0..tokens.len() {
        w.engine.poll_all(0).await.unwrap();
    }
    assert_eq!(w.engine.inbox().unwrap().len(), crate::MAX_CLAIMED);
    // The rest were never claimed: a colleague's app gets them.
    for token in &tokens[crate::MAX_CLAIMED..] {
        assert!(w.aws.unclaimed(ACTIVITY, token), "{token:?} was claimed");
    }
}
