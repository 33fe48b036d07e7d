//! The decision path's crash points, against moto: `tapprove approve` is
//! killed (aborted, as a crash or `kill -9` would end it) after the journal
//! write, after the send, and after both, before it could record what Step
//! Functions answered. Whatever the point, the next run leaves nothing
//! pending, the gate counts the approval exactly once, and the approver's
//! history says how the request ended. (The journal write and the send
//! overlap: see `Engine::decide`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

mod common;

use std::time::Duration;

use common::{Loop, json_of};

fn killed_at(point: &str) {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let execution = l.start(&format!("Deploy (killed after {point})"), "alice", 1, 600);
    let id = l.inbox_id(&bob);

    let mut env = l.moto.env(Some(&bob.iam));
    env.push(("TAPPROVE_TEST_CRASH_AFTER".into(), point.into()));
    let out = l.run(env, &bob.state, &["--json", "approve", &id]);
    assert_eq!(
        out.status.code(),
        None,
        "the run was to be killed after {point}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The next run (any command flushes the outbox first).
    let outbox = json_of(&l.as_(&bob, &["--json", "outbox", "--flush"]));
    let rows = outbox["decisions"].as_array().unwrap().clone();
    assert!(
        rows.iter().all(|r| r["state"] != "pending"),
        "killed after {point}: still pending after the next run: {outbox}"
    );
    // After the journal write the row exists; after the send alone it
    // may not (the decision reached Step Functions, nothing resends it).
    if point != "send" {
        assert_eq!(rows.len(), 1, "killed after {point}: {outbox}");
    }
    assert!(rows.len() <= 1, "{outbox}");

    // The gate took the approval, and counted it once.
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "killed after {point}: {state:?}");
    let counted = l.outcomes(&execution);
    assert_eq!(
        counted.iter().filter(|o| *o == "accepted").count(),
        1,
        "killed after {point}: {counted:?}"
    );
    // The approver is told how it ended.
    let history = json_of(&l.as_(&bob, &["--json", "history"]));
    let seen = &history["requests"][0];
    assert_eq!(
        seen["outcome"]["outcome"], "approved",
        "killed after {point}: {history}"
    );
    assert_eq!(seen["outcome"]["by"][0]["by"], "bob", "{history}");
    assert!(
        json_of(&l.as_(&bob, &["--json", "inbox"]))["requests"]
            .as_array()
            .unwrap()
            .is_empty(),
        "killed after {point}: the request is still in the inbox"
    );
}

#[test]
fn killed_after_the_journal_write() {
    killed_at("journal");
}

#[test]
fn killed_after_the_send() {
    killed_at("send");
}

#[test]
fn killed_after_both_before_the_outcome_is_recorded() {
    killed_at("both");
}
