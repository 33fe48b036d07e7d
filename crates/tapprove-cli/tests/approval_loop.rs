//! The whole approval loop of docs/protocol.md against a local emulator: moto runs
//! the real gate definition from `deploy/`, the verifier runs as an
//! activity worker (the library `tapprove-verifier worker` runs) beside
//! the enrolment service (what `tapprove-verifier serve` runs), and
//! approvers use the real `tapprove` binary, each as its own IAM user with
//! its own state directory, enrolling through the service.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Approver, Loop, assert_delivery_pending, json_of};
use serde_json::{Value, json};
use tapprove_aws::sfn::StepFunctions;
use tapprove_config::Config;
use tapprove_test_support as support;

#[test]
fn an_approval_resumes_the_workflow_with_the_verified_approver() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let execution = l.start("Deploy api v2.3 to prod", "alice", 1, 600);
    let id = l.inbox_id(&bob);
    let shown = json_of(&l.as_(&bob, &["--json", "show", &id]));
    assert_eq!(shown["request"]["title"], "Deploy api v2.3 to prod");
    assert_eq!(shown["request"]["details"]["commit"], "4f1c2e9");

    let out = l.as_(
        &bob,
        &["--json", "approve", &id, "--reason", "release checklist done"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    let approval = &output["approvals"][0];
    assert_eq!(approval["approver"], "bob");
    assert_eq!(approval["credential_label"], "laptop");
    assert_eq!(
        approval["decision"]["statement"]["reason"],
        "release checklist done"
    );
    let registered = json_of(&l.admin(&["--json", "admin", "credentials", "bob"]));
    assert_eq!(
        approval["credential_id"],
        registered["credentials"][0]["credential_id"]
    );
    // The audit trail has the accepted verification.
    let audit = json_of(&l.admin(&["--json", "admin", "audit", &execution]));
    assert_eq!(audit["records"][0]["outcome"], "accepted");
}

#[test]
fn a_signed_denial_fails_the_workflow_with_the_denial_as_cause() {
    let l = Loop::new("activity");
    let carol = l.approver("carol", &["prod-approvers"]);
    let execution = l.start("Rotate prod database password", "alice", 1, 600);
    let id = l.inbox_id(&carol);
    let out = l.as_(&carol, &["deny", &id]);
    assert_eq!(out.status.code(), Some(2), "a denial without a reason is refused");
    let out = l.as_(&carol, &["deny", &id, "--reason", "not during the freeze"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(
        (state.status.as_str(), state.error.as_deref()),
        ("FAILED", Some("Tapprove.Denied"))
    );
    let cause: Value = serde_json::from_str(state.cause.as_deref().unwrap()).unwrap();
    assert_eq!(cause["tapprove"], "approval/v1");
    assert_eq!(cause["statement"]["decision"], "deny");
    assert_eq!(cause["statement"]["reason"], "not during the freeze");
    assert_eq!(cause["statement"]["approver"], "carol");
}

#[test]
fn self_approval_and_approvers_outside_the_group_are_refused_and_not_counted() {
    let l = Loop::new("activity");
    let alice = l.approver("alice", &["prod-approvers"]);
    let execution = l.start("Deploy", "alice", 1, 600);
    // The workflow names alice as its requester. Her client lists it with
    // why she cannot approve it, and refuses her approval before signing.
    let id = l.inbox_id(&alice);
    let inbox = json_of(&l.as_(&alice, &["--json", "inbox"]));
    assert!(
        inbox["requests"][0]["yours"]
            .as_str()
            .is_some_and(|y| y.contains("cannot approve it")),
        "{inbox}"
    );
    let out = l.as_(&alice, &["--json", "approve", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["code"], "self_approval");
    // A client that signs it anyway (a modified one, or a hand-made
    // decision) is refused by the gate's verifier and audited with the
    // rule; the gate goes on asking.
    let held = tapprove_engine::Store::open(&alice.state.join("tapprove.sqlite3"))
        .unwrap()
        .inbox()
        .unwrap()
        .remove(0);
    l.send(
        &held.task_token,
        &l.sign_as(&alice, "alice", &held.request).to_json(),
    );
    assert_eq!(l.outcomes_after(&execution, 1), ["self_approval"]);
    assert_eq!(l.state(&execution).status, "RUNNING");

    // Dave's key was registered by an admin from a request file.
    let dave = l.approver_registered_by_admin("dave", &["staging-approvers"]);
    let execution = l.start("Deploy again", "alice", 1, 600);
    let id = l.inbox_id_titled(&dave, "again");
    assert!(l.as_(&dave, &["approve", &id]).status.success());
    assert_eq!(l.outcomes_after(&execution, 1), ["not_in_group"]);
    assert_eq!(l.state(&execution).status, "RUNNING");

    // A member of the group who did not ask approves it.
    let bob = l.approver("bob", &["prod-approvers"]);
    let id = l.inbox_id_titled(&bob, "again");
    assert!(l.as_(&bob, &["approve", &id]).status.success());
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    assert_eq!(l.outcomes(&execution), ["not_in_group", "accepted"]);
}

#[test]
fn quorum_two_needs_two_distinct_approvers() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let carol = l.approver("carol", &["prod-approvers"]);
    let execution = l.start("Delete the staging cluster", "alice", 2, 600);

    let id = l.inbox_id(&bob);
    assert!(l.as_(&bob, &["approve", &id]).status.success());
    // The gate asks again; bob approving a second time is not counted.
    let id = l.inbox_id(&bob);
    assert!(l.as_(&bob, &["approve", &id]).status.success());
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(l.state(&execution).status, "RUNNING");
    let audit = json_of(&l.admin(&["--json", "admin", "audit", &execution]));
    let outcomes: Vec<&str> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"duplicate_approver"), "{outcomes:?}");

    let id = l.inbox_id(&carol);
    assert!(l.as_(&carol, &["approve", &id]).status.success());
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    let approvers: Vec<&str> = output["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["approver"].as_str().unwrap())
        .collect();
    assert_eq!(approvers, ["bob", "carol"]);
}

#[test]
fn an_expired_request_closes_in_the_outbox_and_fails_the_workflow() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let execution = l.start("Quick one", "alice", 1, 4);
    let id = l.inbox_id(&bob);
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(
        (state.status.as_str(), state.error.as_deref()),
        ("FAILED", Some("Tapprove.Expired"))
    );
    let out = l.as_(&bob, &["--json", "approve", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["code"], "task_gone");
    let history = json_of(&l.as_(&bob, &["--json", "outbox"]));
    assert_eq!(history["decisions"][0]["state"], "closed");
    assert!(history["decisions"][0]["reason"].is_string());
}

#[test]
fn two_approvers_racing_on_a_queue_request_count_once() {
    let l = Loop::new("queue");
    let bob = l.approver("bob", &["prod-approvers"]);
    let carol = l.approver("carol", &["prod-approvers"]);
    let execution = l.start("Open prod access for an incident", "alice", 1, 600);
    // Every approver sees every request.
    let bob_id = l.inbox_id(&bob);
    let carol_id = l.inbox_id(&carol);
    assert_eq!(bob_id, carol_id);
    // On AWS, SNS delivers to a queue only if the queue's policy lets the
    // topic send (moto does not check): grant wrote that policy.
    let (policy, queue_arn, topic_arn) = l.runtime.block_on(async {
        let aws = l.moto.sdk_config().await;
        let queues = tapprove_aws::sqs::Queues::new(&aws);
        let name = tapprove_engine::approver_queue_name("prod-approvers", "bob");
        let url = queues.url_of(&name).await.unwrap().unwrap();
        let config = Config::load(&l.config_path()).unwrap();
        let topic = config
            .sources
            .iter()
            .find_map(|s| match s {
                tapprove_config::Source::Queue { topic_arn, .. } => Some(topic_arn.clone()),
                _ => None,
            })
            .unwrap();
        (
            queues.access_policy(&url).await.unwrap(),
            queues.queue_arn(&url).await.unwrap(),
            topic,
        )
    });
    let policy: Value = serde_json::from_str(&policy.expect("bob's queue has no access policy")).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(
        (
            &statement["Effect"],
            &statement["Principal"]["Service"],
            &statement["Action"],
        ),
        (
            &json!("Allow"),
            &json!("sns.amazonaws.com"),
            &json!("sqs:SendMessage")
        )
    );
    assert_eq!(statement["Resource"], queue_arn);
    assert_eq!(statement["Condition"]["ArnEquals"]["aws:SourceArn"], topic_arn);
    // Another core stack's group of the same name would take bob's queue
    // over (queue names are per account and region): its grant is refused
    // before anything changes.
    let other_topic = l.runtime.block_on(async {
        tapprove_aws::sns::Topics::new(&l.moto.sdk_config().await)
            .create_topic("tapprove-staging-prod-approvers")
            .await
            .unwrap()
    });
    let other_config = l.dir.path().join("staging.toml");
    std::fs::write(
        &other_config,
        std::fs::read_to_string(l.config_path())
            .unwrap()
            .replace(&topic_arn, &other_topic),
    )
    .unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_tapprove"))
        .args(["admin", "grant", "bob", "prod-approvers"])
        .envs(l.moto.env(None))
        .env("TAPPROVE_CONFIG", &other_config)
        .env("TAPPROVE_STATE_DIR", l.dir.path().join("admin"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("Group names must be unique per account and region"),
        "{stderr}"
    );
    let policy_after = l.runtime.block_on(async {
        let queues = tapprove_aws::sqs::Queues::new(&l.moto.sdk_config().await);
        let name = tapprove_engine::approver_queue_name("prod-approvers", "bob");
        let url = queues.url_of(&name).await.unwrap().unwrap();
        queues.allowed_topics(&url).await.unwrap()
    });
    assert_eq!(policy_after, [topic_arn.as_str()]);
    let first = l.as_(&bob, &["--json", "approve", &bob_id]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    // Carol answers once bob's approval has ended the gate. (Sooner, moto
    // under load sometimes takes a second result for a task whose first
    // result it has not consumed yet; Step Functions completes a task once.)
    assert_eq!(
        l.finished(&execution, Duration::from_secs(30)).status,
        "SUCCEEDED"
    );
    let second = l.as_(&carol, &["--json", "approve", &carol_id]);
    assert_eq!(second.status.code(), Some(1));
    let v = json_of(&second);
    assert_eq!(v["code"], "task_gone");
    assert!(v["message"].as_str().unwrap().contains("already decided"), "{v}");
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["approvals"].as_array().unwrap().len(), 1);
    assert_eq!(output["approvals"][0]["approver"], "bob");
}

#[test]
fn a_decision_made_while_offline_is_delivered_later_exactly_once() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let execution = l.start("Deploy while the network is down", "alice", 1, 600);
    let id = l.inbox_id(&bob);

    // The emulator is unreachable when the decision is sent: a closed port.
    let mut offline = l.moto.env(Some(&bob.iam));
    for (k, v) in &mut offline {
        if k == "AWS_ENDPOINT_URL" {
            *v = "http://127.0.0.1:9".into();
        }
    }
    let out = l.run(offline, &bob.state, &["--json", "approve", &id]);
    assert_delivery_pending(&out);
    assert_eq!(l.state(&execution).status, "RUNNING");

    // A later process (the first one has exited: a restart) delivers it.
    let out = l.as_(&bob, &["--json", "outbox", "--flush"]);
    assert!(out.status.success());
    let decisions = json_of(&out)["decisions"].clone();
    assert_eq!(
        decisions.as_array().unwrap().len(),
        1,
        "one decision, not two: {decisions}"
    );
    assert_eq!(decisions[0]["state"], "delivered");
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    // Flushing again sends nothing.
    let again = json_of(&l.as_(&bob, &["--json", "outbox", "--flush"]));
    assert_eq!(again["decisions"][0]["attempts"], decisions[0]["attempts"]);
}

#[test]
fn a_decision_sent_to_a_hung_emulator_waits_in_the_outbox_and_counts_once() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let execution = l.start("Deploy while AWS hangs", "alice", 1, 600);
    let id = l.inbox_id(&bob);

    // The emulator accepts connections and never answers (SIGSTOP).
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &l.moto.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    let started = Instant::now();
    let out = l.as_(&bob, &["--json", "approve", &id]);
    let waited = started.elapsed();
    signal("-CONT");
    assert_delivery_pending(&out);
    // Held up for the call timeouts (identity, then the send), not for minutes.
    assert!(
        waited < tapprove_aws::CALL_TIMEOUT * 2 + Duration::from_secs(10),
        "approve hung for {waited:?}"
    );

    // The emulator resumes and may still act on the request it had
    // swallowed; the flush then delivers or learns the task is closed.
    // Either way the decision counts exactly once.
    let out = l.as_(&bob, &["--json", "outbox", "--flush"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let decisions = json_of(&out)["decisions"].clone();
    assert_eq!(decisions.as_array().unwrap().len(), 1, "{decisions}");
    assert_ne!(decisions[0]["state"], "pending", "{decisions}");
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["approvals"].as_array().unwrap().len(), 1);
    let audit = json_of(&l.admin(&["--json", "admin", "audit", &execution]));
    let accepted = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "accepted")
        .count();
    assert_eq!(accepted, 1, "{audit}");
}

#[test]
fn tampered_decisions_are_refused_by_the_gate_with_the_rule_that_broke() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);

    // The approver was shown (and signed) an edited request detail; then
    // an approval whose reason was changed after signing. Each is audited
    // with its rule and not counted; the gate asks again (a new task).
    let execution = l.start("Deploy api", "alice", 1, 600);
    let (token, request) = l.claim();
    let mut edited = request.clone();
    edited.details["commit"] = "deadbeef".into();
    l.send(&token, &l.sign_as(&bob, "bob", &edited).to_json());
    assert_eq!(l.outcomes_after(&execution, 1), ["request_mismatch"]);
    let (token, again) = l.claim();
    assert_eq!(again, request, "the gate asks again for the same request");
    let mut decision = l.sign_as(&bob, "bob", &request);
    decision.statement.reason = Some("approved by the CTO".into());
    l.send(&token, &decision.to_json());
    assert_eq!(
        l.outcomes_after(&execution, 2),
        ["request_mismatch", "challenge_mismatch"]
    );
    assert_eq!(l.state(&execution).status, "RUNNING");
    // An honest approval still ends it.
    let (token, _) = l.claim();
    l.send(&token, &l.sign_as(&bob, "bob", &request).to_json());
    assert_eq!(
        l.finished(&execution, Duration::from_secs(30)).status,
        "SUCCEEDED"
    );

    // Another request's signature replayed on this one.
    let first = l.start("Request A", "alice", 1, 600);
    let (token_a, request_a) = l.claim();
    let second = l.start("Request B", "alice", 1, 600);
    let (token_b, _) = l.claim();
    let for_a = l.sign_as(&bob, "bob", &request_a).to_json();
    l.send(&token_b, &for_a);
    assert_eq!(l.outcomes_after(&second, 1), ["request_mismatch"]);
    assert_eq!(l.state(&second).status, "RUNNING");
    // The same signature on its own request still counts (it was not consumed).
    l.send(&token_a, &for_a);
    assert_eq!(l.finished(&first, Duration::from_secs(30)).status, "SUCCEEDED");
}

#[test]
fn any_workflow_can_wait_on_the_gate_with_start_execution_sync() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    // The snippet of the README's "For admins", in a workflow of its own.
    let definition = json!({
        "StartAt": "Approval",
        "States": {
            "Approval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {
                    "StateMachineArn": l.state_machine,
                    "Input": {
                        "title": "Deploy api to prod",
                        "requested_by.$": "$.requested_by",
                        "approvers": "prod-approvers",
                        "quorum": 1,
                        "timeout_seconds": 3600,
                        "details.$": "$.change"
                    }
                },
                "Next": "Deploy"
            },
            "Deploy": {"Type": "Pass", "Result": "deployed", "ResultPath": "$.deploy", "End": true}
        }
    });
    let execution = l.runtime.block_on(async {
        let sfn = StepFunctions::new(&l.moto.sdk_config().await);
        let arn = sfn
            .put_state_machine(
                "deploy",
                &definition.to_string(),
                "arn:aws:iam::123456789012:role/deploy",
            )
            .await
            .unwrap();
        sfn.start_execution(
            &arn,
            &json!({"requested_by": "alice", "change": {"version": "2.3.0"}}).to_string(),
        )
        .await
        .unwrap()
    });
    let id = l.inbox_id(&bob);
    let shown = json_of(&l.as_(&bob, &["--json", "show", &id]));
    assert_eq!(shown["request"]["details"]["version"], "2.3.0");
    assert!(l.as_(&bob, &["approve", &id]).status.success());
    let state = l.finished(&execution, Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["deploy"], "deployed");
    assert_eq!(output["Output"]["approvals"][0]["approver"], "bob");
}

#[test]
fn enrolment_registers_under_the_aws_caller_first_active_then_pending() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);

    // A second key (Bob's desktop: same AWS identity, another machine)
    // waits for confirmation.
    let desktop = Approver {
        iam: bob.iam.clone(),
        state: l.dir.path().join("bob-desktop"),
    };
    let out = l.as_(&desktop, &["--json", "enroll", "--label", "desktop"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let receipt = &json_of(&out)["receipt"];
    assert_eq!(
        (receipt["user"].as_str(), receipt["status"].as_str()),
        (Some("bob"), Some("pending"))
    );
    let pending = receipt["credential_id"].as_str().unwrap().to_owned();
    let statuses = |l: &Loop| -> std::collections::BTreeMap<String, String> {
        l.credential_statuses("bob").into_iter().collect()
    };
    assert_eq!(
        statuses(&l),
        [("desktop", "pending"), ("laptop", "active")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .into()
    );
    // Each enrolment is in the audit trail with the AWS principal that made it.
    let audit = l.enrolment_audit("bob");
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(
        audit
            .iter()
            .all(|r| r["caller_arn"].as_str().unwrap().ends_with(":user/bob"))
    );
    let bob_arn = audit[0]["caller_arn"].as_str().unwrap().to_owned();
    let desktop_record = audit.iter().find(|r| r["label"] == "desktop").unwrap();
    assert_eq!(desktop_record["status"], "pending");

    // An admin confirms it; a second confirmation has nothing to confirm.
    let out = l.admin(&["admin", "credentials", "bob", "--activate", &pending]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(statuses(&l)["desktop"], "active");
    let out = l.admin(&["admin", "credentials", "bob", "--activate", &pending]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pending credential"));

    // Revoking is immediate, and a revoked credential never comes back.
    let out = l.admin(&["admin", "credentials", "bob", "--revoke", &pending]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(statuses(&l)["desktop"], "revoked");
    let out = l.admin(&["admin", "credentials", "bob", "--activate", &pending]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(statuses(&l)["desktop"], "revoked");
    let out = l.admin(&["admin", "credentials", "bob", "--revoke", &pending]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked already"));

    // Another user's credential id is refused, so nothing is filed under
    // the wrong name; so is removing someone from a group they are not in.
    let _carol = l.approver("carol", &[]);
    let out = l.admin(&["admin", "credentials", "carol", "--revoke", &pending]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("carol has no credential"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = l.admin(&["admin", "revoke", "carol", "prod-approvers"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("carol is not in prod-approvers"));
    // Granting again changes nothing and records nothing.
    let again = json_of(&l.admin(&["--json", "admin", "grant", "bob", "prod-approvers"]));
    assert_eq!(again["added"], false);

    // The audit trail tells how bob came to approve and who let him: his
    // own enrolments, and each admin change with the admin's AWS identity.
    let admin_arn = l.runtime.block_on(async {
        tapprove_aws::sts::Identity::new(&l.moto.sdk_config().await)
            .caller()
            .await
            .unwrap()
            .arn
    });
    let out = l.admin(&["--json", "admin", "audit", "--user", "bob"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records = json_of(&out)["records"].as_array().unwrap().clone();
    let events: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r["event"].as_str().unwrap(), r["caller_arn"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("granted", admin_arn.as_str()),
            ("enrolled", bob_arn.as_str()),
            ("enrolled", bob_arn.as_str()),
            ("activated", admin_arn.as_str()),
            ("revoked", admin_arn.as_str()),
        ],
        "{records:#?}"
    );
    assert_eq!(records[0]["group"], "prod-approvers");
    for change in &records[3..] {
        assert_eq!(change["credential_id"], pending.as_str());
        assert_eq!(change["label"], "desktop");
        assert_eq!(change["user"], "bob");
    }

    // Removing him from the group is recorded too; an execution's audit
    // and a user's are asked for one at a time.
    let out = l.admin(&["admin", "revoke", "bob", "prod-approvers"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records = json_of(&l.admin(&["--json", "admin", "audit", "--user", "bob"]))["records"].clone();
    let last = records.as_array().unwrap().last().unwrap();
    assert_eq!(
        (&last["event"], &last["group"]),
        (&json!("ungranted"), &json!("prod-approvers"))
    );
    let out = l.admin(&["admin", "audit", "arn:aws:states:x", "--user", "bob"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn enrolment_trusts_the_aws_identity_not_the_client_claim() {
    let l = Loop::new("activity");
    let _bob = l.approver("bob", &["prod-approvers"]);
    let mallory = l.user("mallory");
    // Mallory makes a key and claims it is Bob's.
    let file = l.dir.path().join("mallory.json");
    let out = l.as_(&mallory, &["enroll", "--out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut request =
        tapprove_proto::enrolment::EnrolmentRequest::from_json(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(request.user, "mallory");
    request.user = "bob".into();
    let refused = l.runtime.block_on(async {
        let aws = l.moto.sdk_config_as(Some(&mallory.iam)).await;
        tapprove_engine::seam::submit(&aws, &l.endpoint(), request.clone()).await
    });
    let (reason, message) = common::service_refusal(refused);
    assert_eq!(reason, "identity_refused");
    assert!(message.contains("signed in as `mallory`"), "{message}");
    // Without an identity proof the service does not even look.
    let (status, body) = l.runtime.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/enrolments", l.enrolment_url))
            .body(std::fs::read(&file).unwrap())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("identity_required"));
    let list = json_of(&l.admin(&["--json", "admin", "credentials", "bob"]));
    assert_eq!(
        list["credentials"].as_array().unwrap().len(),
        1,
        "nothing was added to Bob"
    );

    // A submission that fails leaves no key behind on the client.
    let keys = |who: &Approver| {
        let store = who.state.join("keys");
        let out = l.as_(
            who,
            &["--json", "key", "list", "--store", store.to_str().unwrap()],
        );
        json_of(&out)["keys"].as_array().unwrap().len()
    };
    let elsewhere = Approver {
        iam: mallory.iam.clone(),
        state: l.dir.path().join("mallory-2"),
    };
    let out = l.as_(
        &elsewhere,
        &["--json", "enroll", "--service", "http://127.0.0.1:9"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("service_unreachable"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(keys(&elsewhere), 0, "the key of a failed enrolment is removed");
    assert_eq!(keys(&mallory), 1);
}

#[test]
fn watch_reports_new_requests_and_drops_the_ones_that_are_gone() {
    use std::io::BufRead;
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let mut watch = Command::new(env!("CARGO_BIN_EXE_tapprove"))
        .args(["--json", "inbox", "--watch", "--heartbeat-seconds", "5"])
        .envs(l.moto.env(Some(&bob.iam)))
        .env("TAPPROVE_CONFIG", l.config_path())
        .env("TAPPROVE_STATE_DIR", &bob.state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (tx, events) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let next = |kind: &str| loop {
        let event = events
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no `{kind}` event within 30 s"));
        if event["event"] == kind {
            return event;
        }
    };

    let execution = l.start("Deploy api v2.3 to prod", "alice", 1, 600);
    let new = next("new_request");
    assert_eq!(new["title"], "Deploy api v2.3 to prod");
    assert_eq!(new["source"], "activity:prod-approvers");

    // The pipeline withdraws the request: the heartbeat learns the task is
    // gone and the watcher says so.
    l.runtime.block_on(async {
        StepFunctions::new(&l.moto.sdk_config().await)
            .stop_execution(&execution, "Withdrawn", "pipeline cancelled")
            .await
            .unwrap();
    });
    let gone = next("request_gone");
    assert_eq!(gone["id"], new["id"]);
    let _ = watch.kill();
    let _ = watch.wait();
    let inbox = json_of(&l.as_(&bob, &["--json", "inbox"]));
    assert_eq!(inbox["requests"], json!([]));
}

#[test]
fn approvers_list_rename_and_revoke_their_own_authenticators_and_a_revoked_one_never_signs() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let carol = l.approver("carol", &["prod-approvers"]);

    let listed = json_of(&l.as_(&bob, &["--json", "authenticators"]));
    assert_eq!(listed["user"], "bob");
    let credentials = listed["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1, "{listed}");
    assert_eq!(
        (
            credentials[0]["label"].as_str(),
            credentials[0]["kind"].as_str(),
            credentials[0]["status"].as_str()
        ),
        (Some("laptop"), Some("software"), Some("active"))
    );
    let id = credentials[0]["credential_id"].as_str().unwrap().to_owned();

    let renamed = json_of(&l.as_(&bob, &["--json", "authenticators", "rename", &id, "old laptop"]));
    assert_eq!(renamed["credentials"][0]["label"], "old laptop");

    // Carol cannot touch Bob's credential: the service knows her by her AWS
    // identity, and it is not hers.
    let out = l.as_(&carol, &["--json", "authenticators", "revoke", &id]);
    assert!(!out.status.success());
    assert_eq!(json_of(&out)["code"], "no_such_credential");

    let revoked = json_of(&l.as_(&bob, &["--json", "authenticators", "revoke", &id]));
    assert_eq!(revoked["credentials"][0]["status"], "revoked");
    let audit = l.enrolment_audit("bob");
    let events: Vec<&str> = audit.iter().filter_map(|r| r["event"].as_str()).collect();
    assert!(
        events.contains(&"renamed") && events.contains(&"revoked"),
        "{events:?}"
    );

    // The key is still on Bob's machine, but Tapprove knows it is revoked:
    // it does not ask for it, and says what to do.
    l.start("Deploy api", "alice", 1, 600);
    let request = l.inbox_id(&bob);
    let out = l.as_(&bob, &["--json", "approve", &request]);
    assert!(!out.status.success());
    let refusal = json_of(&out);
    assert!(
        refusal["message"].as_str().unwrap().contains("enrol"),
        "{refusal}"
    );

    // Re-enrolling (a replaced laptop) is the normal path: the new key is
    // pending until an admin confirms it, since Bob already had one.
    let out = l.as_(&bob, &["--json", "enroll", "--label", "new laptop"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_of(&out)["receipt"]["status"], "pending");
}

#[test]
fn enrolling_a_platform_or_usb_authenticator_without_one_says_what_to_do_and_registers_nothing() {
    let l = Loop::new("activity");
    let dave = l.user("dave");
    for (kind, says) in [
        ("platform", "no platform authenticator"),
        ("usb", "plug in your security key"),
    ] {
        let out = l.as_(&dave, &["--json", "enroll", "--authenticator", kind]);
        assert!(!out.status.success());
        let refusal = json_of(&out);
        assert!(refusal["message"].as_str().unwrap().contains(says), "{refusal}");
    }
    let listed = json_of(&l.admin(&["--json", "admin", "credentials", "dave"]));
    assert_eq!(
        listed["credentials"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
}

/// The software authenticator, with faults put in where a real device
/// would fail: a credential whose attestation the service refuses, and
/// signing that fails (a timeout, the person cancelling at the touch). It
/// counts the signatures it was asked for.
struct Faulty {
    inner: tapprove_authn::software::SoftwareAuthenticator<tapprove_authn::software::MemoryKeyStore>,
    break_attestation: bool,
    signing_fails: Option<tapprove_authn::AuthnError>,
    asked: std::sync::atomic::AtomicUsize,
}

impl Faulty {
    fn new(break_attestation: bool, signing_fails: Option<tapprove_authn::AuthnError>) -> Self {
        Self {
            inner: tapprove_authn::software::SoftwareAuthenticator::new(
                tapprove_authn::software::MemoryKeyStore::new(),
                tapprove_proto::UtcTime::now(),
            ),
            break_attestation,
            signing_fails,
            asked: Default::default(),
        }
    }
}

impl tapprove_authn::Authenticator for Faulty {
    fn kind(&self) -> tapprove_proto::registry::AuthenticatorKind {
        self.inner.kind()
    }
    fn description(&self) -> String {
        "faulty test authenticator".into()
    }
    fn holds_any(
        &self,
        rp_id: &str,
        ids: &[tapprove_proto::Base64Url],
    ) -> Result<Option<bool>, tapprove_authn::AuthnError> {
        self.inner.holds_any(rp_id, ids)
    }
    fn make_credential(
        &self,
        request: &tapprove_authn::CredentialRequest,
        prompt: &dyn tapprove_authn::UserPrompt,
    ) -> Result<tapprove_authn::NewCredential, tapprove_authn::AuthnError> {
        let mut made = self.inner.make_credential(request, prompt)?;
        if self.break_attestation {
            let last = made.attestation_object.len() - 40;
            made.attestation_object[last] ^= 0x55;
        }
        Ok(made)
    }
    fn get_assertion(
        &self,
        request: &tapprove_authn::AssertionRequest,
        prompt: &dyn tapprove_authn::UserPrompt,
    ) -> Result<tapprove_authn::RawAssertion, tapprove_authn::AuthnError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(error) = &self.signing_fails {
            prompt.show(tapprove_authn::Prompt::TouchKey);
            return Err(error.clone());
        }
        self.inner.get_assertion(request, prompt)
    }
    fn forget(&self, id: &tapprove_proto::Base64Url) -> Result<bool, tapprove_authn::AuthnError> {
        self.inner.forget(id)
    }
}

#[test]
fn a_failed_enrolment_step_leaves_neither_a_key_nor_a_registry_entry() {
    use tapprove_authn::software::KeyStore;
    let l = Loop::new("activity");
    let erin = l.user("erin");
    let aws = l.runtime.block_on(l.moto.sdk_config_as(Some(&erin.iam)));
    let config = Config::load(&l.config_path()).unwrap();
    let endpoint = l.endpoint();
    let registered = |l: &Loop| {
        l.runtime.block_on(async {
            let aws = l.moto.sdk_config().await;
            tapprove_engine::admin::registry(&aws, &config)
                .credentials_of("erin")
                .await
                .unwrap()
        })
    };
    for (break_attestation, signing_fails, code) in [
        (true, None, "attestation_refused"),
        (
            false,
            Some(tapprove_authn::AuthnError::Timeout),
            "test_assertion_failed",
        ),
    ] {
        let faulty = std::sync::Arc::new(Faulty::new(break_attestation, signing_fails));
        let engine = tapprove_engine::Engine::open(config.clone(), &aws, &erin.state).unwrap();
        // A software key without a PIN: no user verification asked.
        let enroller = tapprove_engine::Enroller::for_test(
            tapprove_engine::AuthenticatorChoice::Software,
            Box::new(faulty.clone()),
            "erin",
        );
        let error = l
            .runtime
            .block_on(engine.enrol(
                &endpoint,
                &enroller,
                tapprove_engine::NewKey {
                    label: "faulty",
                    with_pin: false,
                },
                &support::CountingPrompt::new(),
            ))
            .unwrap_err();
        match &error {
            tapprove_engine::EngineError::Service { reason, .. } => assert_eq!(reason, code, "{error}"),
            other => panic!("{other:?}"),
        }
        assert!(
            faulty.inner.store().list().unwrap().is_empty(),
            "the new key was deleted ({code})"
        );
        assert!(
            registered(&l).is_empty(),
            "nothing stays in the registry ({code})"
        );
    }
    let audit = l.runtime.block_on(async {
        let aws = l.moto.sdk_config().await;
        tapprove_engine::admin::registry(&aws, &config)
            .enrolments_of("erin")
            .await
            .unwrap()
    });
    assert!(
        audit.iter().any(|r| r["event"] == "withdrawn"),
        "the withdrawal is in the audit trail: {audit:?}"
    );
}

#[test]
fn cancelling_at_the_authenticator_leaves_no_decision_in_the_outbox() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let execution = l.start("Deploy api", "alice", 1, 600);
    let id = l.inbox_id(&bob);
    let aws = l.runtime.block_on(l.moto.sdk_config_as(Some(&bob.iam)));
    let engine =
        tapprove_engine::Engine::open(Config::load(&l.config_path()).unwrap(), &aws, &bob.state).unwrap();
    let cancelling = std::sync::Arc::new(Faulty::new(false, Some(tapprove_authn::AuthnError::Cancelled)));
    let prompt = support::CountingPrompt::new();
    // The authenticator holds a credential of bob's, so it is asked.
    use tapprove_authn::Authenticator as _;
    let held = cancelling
        .make_credential(
            &tapprove_authn::CredentialRequest {
                rp_id: "tapprove.local".into(),
                user_name: "bob".into(),
                user_handle: vec![2; 16],
                client_data_json: br#"{"type":"webauthn.create"}"#.to_vec(),
                exclude_credentials: vec![],
                user_verification: tapprove_authn::UserVerification::Discouraged,
                label: "held".into(),
            },
            &prompt,
        )
        .unwrap()
        .credential_id;
    let signer = tapprove_engine::Signer::for_test(Box::new(cancelling.clone()), vec![held]);
    let error = l
        .runtime
        .block_on(engine.decide(
            &id,
            tapprove_proto::Verdict::Approve,
            tapprove_engine::Reason::default(),
            &signer,
            &prompt,
            Some(tapprove_authn::UserVerification::Preferred),
        ))
        .unwrap_err();
    assert!(
        matches!(
            error,
            tapprove_engine::EngineError::Sign(tapprove_authn::SignError::Authenticator(
                tapprove_authn::AuthnError::Cancelled
            ))
        ),
        "{error:?}"
    );
    assert_eq!(cancelling.asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(prompt.last(), Some(tapprove_authn::Prompt::TouchKey));
    assert!(engine.history().unwrap().is_empty(), "nothing journalled");
    let outbox = json_of(&l.as_(&bob, &["--json", "outbox"]));
    assert_eq!(outbox["decisions"].as_array().map(Vec::len), Some(0), "{outbox}");
    // The request still waits for a decision.
    assert_eq!(l.inbox_id(&bob), id);
    assert_eq!(l.state(&execution).status, "RUNNING");
}

/// Posts to the decision endpoint as any HTTP client would; returns the
/// status and the JSON answer.
fn post_decision(url: &str, authorization: &str, body: &Value) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
        .args(["-H", &format!("Authorization: {authorization}")])
        .args(["-H", "Content-Type: application/json"])
        .args(["--data-binary", &body.to_string()])
        .arg(format!("{url}/v1/decisions"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (answer, status) = text.rsplit_once('\n').unwrap();
    (
        status.trim().parse().unwrap(),
        serde_json::from_str(answer).unwrap_or(Value::Null),
    )
}

#[test]
fn through_the_decision_endpoint_approvers_need_no_step_functions_access() {
    let l = Loop::new("queue");
    let bob = l.approver("bob", &["prod-approvers"]);
    let carol = l.approver("carol", &["prod-approvers"]);
    let mut config = Config::load(&l.config_path()).unwrap();
    config.delivery = Some(tapprove_config::DeliverySettings {
        endpoint: l.enrolment_url.clone(),
    });
    config.save(&l.config_path()).unwrap();
    // Step Functions is a closed port for the approvers: only the endpoint
    // can deliver their decisions.
    let without_sfn = |who: &Approver| {
        let mut env = l.moto.env(Some(&who.iam));
        env.push(("AWS_ENDPOINT_URL_SFN".into(), "http://127.0.0.1:9".into()));
        env
    };

    let approved = l.start("Scale the fleet to 12", "alice", 1, 600);
    let id = l.inbox_id(&bob);
    let out = l.run(without_sfn(&bob), &bob.state, &["--json", "approve", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let state = l.finished(&approved, Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["approvals"][0]["approver"], "bob");
    let decision = output["approvals"][0]["decision"].clone();
    let decided_request = output["request"].clone();

    let denied = l.start("Drop the orders table", "alice", 1, 600);
    // carol's queue also still holds the request bob decided.
    let id = l.inbox_id_titled(&carol, "Drop the orders table");
    let out = l.run(
        without_sfn(&carol),
        &carol.state,
        &["--json", "deny", &id, "--reason", "not without a backup"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let state = l.finished(&denied, Duration::from_secs(30));
    assert_eq!(
        (state.status.as_str(), state.error.as_deref()),
        ("FAILED", Some("Tapprove.Denied")),
        "{state:?}; carol's deny: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let cause: Value = serde_json::from_str(state.cause.as_deref().unwrap()).unwrap();
    assert_eq!(cause["statement"]["approver"], "carol");

    // What the endpoint refuses, it says why, and sends nothing.
    let auth = |d: &Value| tapprove_proto::delivery::authorization_for(&d.to_string());
    let waiting = l.start("Rotate the signing key", "alice", 1, 600);
    let mut edited = decision.clone();
    edited["statement"]["reason"] = "edited after signing".into();
    let bogus = "AAAAKgAAAAIAAAAAAAAAAbogus";
    let token = json!({"task_token": bogus, "request": decided_request});
    let (status, answer) = post_decision(&l.enrolment_url, &auth(&edited), &token);
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("challenge_mismatch")),
        "{answer}"
    );
    let (status, answer) = post_decision(&l.enrolment_url, "Bearer x", &token);
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("no_decision")),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Tapprove")
    );
    let (status, answer) = post_decision(&l.enrolment_url, &auth(&decision), &json!({"token": "x"}));
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("bad_request")),
        "{answer}"
    );
    // An old decision (already counted) with any other task token: it is
    // checked against its request in full first, so nothing is sent.
    let (status, answer) = post_decision(&l.enrolment_url, &auth(&decision), &token);
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("statement_replayed")),
        "{answer}"
    );
    // A decision for a request that is not this deployment's gate's.
    let id = l.inbox_id_titled(&bob, "Rotate the signing key");
    let shown = json_of(&l.as_(&bob, &["--json", "show", &id]));
    let mut foreign = shown["request"].clone();
    foreign["execution"] = "arn:aws:states:us-east-1:123456789012:execution:payroll:run-1".into();
    let foreign_request = tapprove_proto::Request::from_json(foreign.to_string().as_bytes()).unwrap();
    let signed = serde_json::to_value(l.sign_as(&bob, "bob", &foreign_request)).unwrap();
    let (status, answer) = post_decision(
        &l.enrolment_url,
        &auth(&signed),
        &json!({"task_token": bogus, "request": foreign}),
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("not_a_gate")),
        "{answer}"
    );
    // A request of the caller's own making that names the real, running
    // gate execution (another requester, so that bob may approve it): not
    // the request the gate holds.
    let mut forged = shown["request"].clone();
    forged["requested_by"] = "mallory".into();
    forged["title"] = "Rotate the signing key (as agreed)".into();
    let forged_request = tapprove_proto::Request::from_json(forged.to_string().as_bytes()).unwrap();
    let signed = serde_json::to_value(l.sign_as(&bob, "bob", &forged_request)).unwrap();
    let (status, answer) = post_decision(
        &l.enrolment_url,
        &auth(&signed),
        &json!({"task_token": bogus, "request": forged}),
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("request_mismatch")),
        "{answer}"
    );
    // A valid decision for the waiting request, with a task token that is
    // not the one the gate published for it (one of another workflow,
    // say): checked, and nothing is sent.
    let waiting_request =
        tapprove_proto::Request::from_json(shown["request"].to_string().as_bytes()).unwrap();
    let fresh = serde_json::to_value(l.sign_as(&bob, "bob", &waiting_request)).unwrap();
    let (status, answer) = post_decision(
        &l.enrolment_url,
        &auth(&fresh),
        &json!({"task_token": bogus, "request": shown["request"]}),
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("token_mismatch")),
        "{answer}"
    );
    assert_eq!(l.state(&waiting).status, "RUNNING");
}

/// `ChangeMessageVisibility` as the engine sends it to keep a held
/// request's message out of sight (`tapprove_engine::QUEUE_HOLD_SECONDS`),
/// against moto: the receipt of a receive is what it takes, a message
/// hidden for 0 s is received again at once, one hidden longer is not.
#[test]
fn a_received_message_can_be_hidden_for_longer_or_shown_again() {
    let moto = support::moto::Moto::start(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let aws = moto.sdk_config().await;
        let queues = tapprove_aws::sqs::Queues::new(&aws);
        let url = queues.create_queue("tapprove-hide-test").await.unwrap();
        aws_sdk_sqs::Client::new(&aws)
            .send_message()
            .queue_url(&url)
            .message_body("held")
            .send()
            .await
            .unwrap();
        let first = queues.receive(&url, 1, 10).await.unwrap();
        assert_eq!(first.len(), 1);
        assert!(queues.receive(&url, 0, 10).await.unwrap().is_empty(), "in flight");
        queues.hide(&url, &first[0].receipt_handle, 0).await.unwrap();
        let again = queues.receive(&url, 1, 10).await.unwrap();
        assert_eq!(again.len(), 1, "shown again at once");
        queues
            .hide(
                &url,
                &again[0].receipt_handle,
                tapprove_engine::QUEUE_HOLD_SECONDS,
            )
            .await
            .unwrap();
        assert!(queues.receive(&url, 1, 10).await.unwrap().is_empty());
        // A receipt that is not one of this queue's is refused.
        assert!(queues.hide(&url, "not-a-receipt", 60).await.is_err());
    });
}
