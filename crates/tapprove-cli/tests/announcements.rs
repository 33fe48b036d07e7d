//! Announcements against moto: a gate installed with `--announce`, its
//! topic subscribed by an SQS queue (as an admin subscribes e-mail, HTTPS
//! or AWS Chatbot), and real executions decided with the real `tapprove`
//! binary. The queue receives what every subscriber would: AWS Chatbot's
//! custom-notification format. Withdrawals come from EventBridge, which
//! only the Lambda function hears (`crates/tapprove-verifier/tests/lambda.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

mod common;

use std::time::{Duration, Instant};

use common::{Loop, json_of};
use serde_json::Value;
use tapprove_aws::sfn::StepFunctions;
use tapprove_config::Config;

/// The gate installed with `--announce` and a queue subscribed to its
/// announcements; returns the queue's URL.
fn announced(source: &str) -> (Loop, String) {
    let l = Loop::installed(source, &["--allow-iam-users", "--announce"]);
    let topic = Config::load(&l.config_path())
        .unwrap()
        .announcements
        .expect("gate install --announce writes [announcements]")
        .topic_arn;
    let url = l.runtime.block_on(async {
        let aws = l.moto.sdk_config().await;
        let queues = tapprove_aws::sqs::Queues::new(&aws);
        let url = queues.create_queue("team-chat").await.unwrap();
        let arn = queues.queue_arn(&url).await.unwrap();
        tapprove_aws::sns::Topics::new(&aws)
            .subscribe_queue(&topic, &arn)
            .await
            .unwrap();
        url
    });
    (l, url)
}

/// Announcements on the queue until one of `event` arrives (or 30 s
/// pass); returns every one received, in order.
fn until(l: &Loop, url: &str, event: &str, seen: &mut Vec<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = seen
            .iter()
            .find(|m| m["metadata"]["eventType"] == format!("tapprove.{event}"))
        {
            return found.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no `{event}` announcement; got {seen:#?}"
        );
        let messages = l.runtime.block_on(async {
            let aws = l.moto.sdk_config().await;
            let queues = tapprove_aws::sqs::Queues::new(&aws);
            let got = queues.receive(url, 1, 10).await.unwrap();
            for m in &got {
                queues.delete(url, &m.receipt_handle).await.unwrap();
            }
            got
        });
        for m in messages {
            seen.push(serde_json::from_str(&m.body).expect("an announcement is JSON"));
        }
    }
}

/// AWS Chatbot's documented custom-notification fields, their types and
/// the required ones
/// (https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html).
fn assert_chatbot_format(message: &Value) {
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    for key in keys(message) {
        assert!(
            ["version", "source", "id", "content", "metadata"].contains(&key.as_str()),
            "{key}"
        );
    }
    assert_eq!(message["version"], "1.0");
    assert_eq!(message["source"], "custom");
    assert!(message["content"]["description"].is_string());
    for key in keys(&message["content"]) {
        assert!(
            ["textType", "title", "description", "nextSteps", "keywords"].contains(&key.as_str()),
            "content.{key}"
        );
    }
    assert_eq!(message["content"]["textType"], "client-markdown");
    for key in keys(&message["metadata"]) {
        assert!(
            [
                "threadId",
                "summary",
                "eventType",
                "relatedResources",
                "additionalContext",
                "enableCustomActions"
            ]
            .contains(&key.as_str()),
            "metadata.{key}"
        );
    }
    for v in message["metadata"]["additionalContext"]
        .as_object()
        .unwrap()
        .values()
    {
        assert!(v.is_string(), "additionalContext values are strings: {v}");
    }
}

#[test]
fn the_team_hears_of_a_request_and_its_outcome_but_never_its_token() {
    let (l, url) = announced("queue");
    let bob = l.approver("bob", &["prod-approvers"]);
    let execution = l.start("Deploy api v2.3 to prod", "alice", 1, 600);
    let id = l.inbox_id(&bob);
    // The task token the gate published to the approvers' queues.
    let token = l.runtime.block_on(async {
        StepFunctions::new(&l.moto.sdk_config().await)
            .latest_wait(&execution)
            .await
            .unwrap()
            .unwrap()
            .task_token
            .expect("the queue source publishes a task token")
    });
    let mut seen = Vec::new();
    let opened = until(&l, &url, "opened", &mut seen);
    assert_chatbot_format(&opened);
    let text = opened.to_string();
    assert!(text.contains("Deploy api v2.3 to prod"), "{text}");
    assert!(text.contains("alice (not verified)"), "{text}");
    assert!(text.contains("1 of prod-approvers"), "{text}");
    assert_eq!(opened["metadata"]["threadId"], execution);
    // The deep link opens the request the approvers have: its inbox id.
    assert_eq!(
        opened["metadata"]["additionalContext"]["link"],
        format!("tapprove://request/{id}")
    );
    assert!(
        opened["content"]["description"]
            .as_str()
            .unwrap()
            .contains("*Decide by:* "),
        "{opened}"
    );

    let out = l.as_(&bob, &["--json", "approve", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        l.finished(&execution, Duration::from_secs(30)).status,
        "SUCCEEDED"
    );
    let approved = until(&l, &url, "approved", &mut seen);
    assert_chatbot_format(&approved);
    assert!(
        approved["content"]["title"]
            .as_str()
            .unwrap()
            .starts_with("Approved by `bob` at "),
        "{approved}"
    );
    // Nothing announced lets a reader decide: no task token, and not the
    // request's details either.
    for message in &seen {
        let text = message.to_string();
        assert!(!text.contains(&token), "a task token was announced: {text}");
        assert!(!text.contains("4f1c2e9"), "the details were announced: {text}");
    }
    assert_eq!(seen.len(), 2, "one announcement each: {seen:#?}");
}

#[test]
fn an_unexpected_request_is_denied_without_words_and_alerts_the_admins() {
    let (l, url) = announced("activity");
    let carol = l.approver("carol", &["prod-approvers"]);
    let execution = l.start("Open prod database to the internet", "dave", 1, 600);
    let id = l.inbox_id(&carol);
    // `--unexpected` is a denial's: an approval cannot carry it.
    let out = l.as_(&carol, &["approve", &id, "--unexpected"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = l.as_(&carol, &["--json", "deny", &id, "--unexpected"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(
        (state.status.as_str(), state.error.as_deref()),
        ("FAILED", Some("Tapprove.Denied"))
    );
    // The verified denial carries the signed code.
    let cause: Value = serde_json::from_str(state.cause.as_deref().unwrap()).unwrap();
    assert_eq!(cause["statement"]["reason_code"], "unexpected");
    assert_eq!(cause["statement"]["approver"], "carol");
    assert!(cause["statement"].get("reason").is_none());
    // The verifier's record says so.
    let audit = json_of(&l.admin(&["--json", "admin", "audit", &execution]));
    let accepted = &audit["records"][0];
    assert_eq!(accepted["outcome"], "accepted");
    assert!(
        accepted["message"].as_str().unwrap().contains("unexpected"),
        "{accepted}"
    );
    // And the admins' topic has the alert.
    let mut seen = Vec::new();
    let alert = until(&l, &url, "unexpected", &mut seen);
    assert_chatbot_format(&alert);
    let title = alert["content"]["title"].as_str().unwrap();
    assert!(title.contains("`carol` did not expect this request"), "{title}");
    assert!(alert.to_string().contains("dave (not verified)"));
    assert!(
        alert["content"]["nextSteps"][0]
            .as_str()
            .unwrap()
            .contains("who started this execution")
    );
}

#[test]
fn an_expired_request_is_announced_as_expired() {
    let (l, url) = announced("activity");
    let _bob = l.approver("bob", &["prod-approvers"]);
    let execution = l.start("Quick one", "alice", 1, 4);
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(state.error.as_deref(), Some("Tapprove.Expired"));
    let mut seen = Vec::new();
    let expired = until(&l, &url, "expired", &mut seen);
    assert_chatbot_format(&expired);
    assert!(
        expired["content"]["title"]
            .as_str()
            .unwrap()
            .starts_with("Expired without a decision: `Quick one`")
    );
    // Opened, then expired; nothing approved or denied.
    let events: Vec<_> = seen
        .iter()
        .map(|m| m["metadata"]["eventType"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["tapprove.opened", "tapprove.expired"]);
}
