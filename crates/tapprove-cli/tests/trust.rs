//! The trust model under attack: one test per way an attacker could make
//! Tapprove believe an identity it should not, each against the real
//! enrolment service, the real `tapprove` binary and moto (see
//! docs/protocol.md, "Where each identity comes from").
//!
//! The loop here is set up as an organisation sets it up: only sessions of
//! the approver role (standing in for IAM Identity Center's permission-set
//! role, whose session name is the person) enrol, in the deployment's own
//! account; IAM users do not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

mod common;

use common::{APPROVER_ROLE, Approver, Loop, json_of};
use serde_json::Value;
use tapprove_config::Config;

/// The command failed, refused with `code`.
#[track_caller]
fn refused(out: &std::process::Output, code: &str) -> Value {
    let answer = json_of(out);
    assert_eq!(answer["code"], code, "{answer}");
    assert_ne!(out.status.code(), Some(0), "{answer}");
    answer
}

/// The credentials the registry holds for `user`, as `(label, status)`.
fn credentials(l: &Loop, user: &str) -> Vec<(String, String)> {
    l.credential_statuses(user)
}

/// The enrolment service's refusals of callers STS vouched for.
fn refusals(l: &Loop) -> Vec<Value> {
    l.runtime.block_on(async {
        let aws = l.moto.sdk_config().await;
        tapprove_engine::admin::registry(&aws, &Config::load(&l.config_path()).unwrap())
            .enrolment_refusals()
            .await
            .unwrap()
    })
}

#[test]
fn an_outsider_from_another_account_cannot_enrol_even_with_the_approver_roles_name() {
    let l = Loop::organisation("activity");
    let outsider = l.session_of(APPROVER_ROLE, "carol", Some("999999999999"));
    let out = l.as_(&outsider, &["--json", "enroll", "--label", "laptop"]);
    let answer = refused(&out, "account_refused");
    assert!(
        answer["message"].as_str().unwrap().contains("999999999999"),
        "{answer}"
    );
    // Granting carol later gives the outsider nothing: no credential was kept.
    l.grant("carol", &["prod-approvers"]);
    assert!(credentials(&l, "carol").is_empty());
    // The refusal is on record with the outsider's proven ARN; the name is
    // only what they claimed.
    let records = refusals(&l);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["code"], "account_refused");
    assert_eq!(records[0]["claimed_user"], "carol");
    assert!(
        records[0]["caller_arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:sts::999999999999:assumed-role/")
    );
    // A real person of the organisation with the same name enrols.
    let carol = l.person("carol");
    let out = l.as_(&carol, &["--json", "enroll", "--label", "laptop"]);
    assert_eq!(json_of(&out)["receipt"]["status"], "active", "{}", json_of(&out));
}

#[test]
fn iam_users_do_not_count_as_approvers_by_default() {
    // (With `--allow-iam-users`, as the demo and approval_loop.rs install
    // it, they enrol.)
    let l = Loop::organisation("activity");
    let bob = l.user("bob");
    l.grant("bob", &["prod-approvers"]);
    let out = l.as_(&bob, &["--json", "enroll", "--label", "laptop"]);
    refused(&out, "iam_user_refused");
    assert!(credentials(&l, "bob").is_empty());
}

#[test]
fn a_session_of_another_role_named_like_an_approver_cannot_enrol_list_or_revoke() {
    let l = Loop::organisation("activity");
    let bob = l.enrolled(l.person("bob"), "bob", &["prod-approvers"]);
    // Anyone who may assume the CI role can call its session "bob".
    let impostor = l.session_of("ci-deploy", "bob", None);
    refused(
        &l.as_(&impostor, &["--json", "enroll", "--label", "mine"]),
        "role_refused",
    );
    refused(&l.as_(&impostor, &["--json", "authenticators"]), "role_refused");
    let id = json_of(&l.as_(&bob, &["--json", "authenticators"]))["credentials"][0]["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &l.as_(&impostor, &["--json", "authenticators", "revoke", &id]),
        "role_refused",
    );
    assert_eq!(
        credentials(&l, "bob"),
        [("laptop".to_owned(), "active".to_owned())]
    );
}

#[test]
fn a_name_belongs_to_the_principal_that_enrolled_it_first() {
    // Two roles count as people here (two permission sets, say); a session
    // of the second that calls itself bob is still not bob.
    let l = Loop::installed(
        "activity",
        &[
            "--approver-role",
            APPROVER_ROLE,
            "--approver-role",
            "TapproveAuditors",
        ],
    );
    let bob = l.enrolled(l.person("bob"), "bob", &["prod-approvers"]);
    let other = l.session_of("TapproveAuditors", "bob", None);
    refused(
        &l.as_(&other, &["--json", "enroll", "--label", "mine"]),
        "principal_mismatch",
    );
    refused(
        &l.as_(&other, &["--json", "authenticators"]),
        "principal_mismatch",
    );
    let id = json_of(&l.as_(&bob, &["--json", "authenticators"]))["credentials"][0]["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &l.as_(&other, &["--json", "authenticators", "rename", &id, "pwned"]),
        "principal_mismatch",
    );
    refused(
        &l.as_(&other, &["--json", "authenticators", "revoke", &id]),
        "principal_mismatch",
    );
    assert_eq!(
        credentials(&l, "bob"),
        [("laptop".to_owned(), "active".to_owned())]
    );
    // Bob himself still manages his own.
    let out = l.as_(&bob, &["--json", "authenticators", "rename", &id, "work laptop"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let codes: Vec<Value> = refusals(&l).iter().map(|r| r["code"].clone()).collect();
    assert_eq!(codes.len(), 4, "{codes:?}");
    assert!(codes.iter().all(|c| c == "principal_mismatch"), "{codes:?}");

    // Only an admin moves the name to another principal (bob changed
    // permission set), and it is on record; then the old one is refused.
    let principal_of = |who: &Approver| {
        l.runtime.block_on(async {
            tapprove_aws::sts::Identity::new(&l.moto.sdk_config_as(Some(&who.iam)).await)
                .caller()
                .await
                .unwrap()
                .user_id
        })
    };
    let moved = principal_of(&other);
    assert!(moved.ends_with(":bob"), "{moved}");
    let out = l.admin(&["admin", "bind", "bob", &moved]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = l.as_(&other, &["--json", "authenticators"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    refused(&l.as_(&bob, &["--json", "authenticators"]), "principal_mismatch");
    let records = json_of(&l.admin(&["--json", "admin", "audit", "--user", "bob"]))["records"].clone();
    let bound = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["event"] == "bound")
        .unwrap_or_else(|| panic!("{records}"));
    assert_eq!(bound["principal"], moved.as_str());
    refused(
        &l.admin(&["--json", "admin", "bind", "bob", "not a principal!"]),
        "input_error",
    );
}

#[test]
fn a_first_credential_waits_for_an_admin_unless_the_person_was_granted_a_group() {
    let l = Loop::organisation("activity");
    // Dave is a person of the organisation, but no admin named him an
    // approver: his key waits.
    let dave = l.enrolled(l.person("dave"), "dave", &[]);
    assert_eq!(
        credentials(&l, "dave"),
        [("laptop".to_owned(), "pending".to_owned())]
    );
    // Granting him a group later does not activate what he enrolled before.
    l.grant("dave", &["prod-approvers"]);
    assert_eq!(
        credentials(&l, "dave"),
        [("laptop".to_owned(), "pending".to_owned())]
    );
    let id = json_of(&l.as_(&dave, &["--json", "authenticators"]))["credentials"][0]["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = l.admin(&["admin", "credentials", "dave", "--activate", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        credentials(&l, "dave"),
        [("laptop".to_owned(), "active".to_owned())]
    );
}

/// Posts `body` to the enrolment service as is (no SigV4: `serve` on
/// loopback), answering the status and the JSON body.
fn post(l: &Loop, path: &str, body: &[u8]) -> (u16, Value) {
    l.runtime.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", l.enrolment_url))
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    })
}

/// A presigned identity proof of `who` for the request whose proof hash is
/// `body_sha256`, naming `server_id`.
fn proof(
    l: &Loop,
    who: &Approver,
    server_id: &str,
    body_sha256: &str,
) -> tapprove_proto::enrolment::PresignedCallerIdentity {
    l.runtime.block_on(async {
        let aws = l.moto.sdk_config_as(Some(&who.iam)).await;
        tapprove_aws::sts::presign_caller_identity(&aws, server_id, body_sha256)
            .await
            .unwrap()
    })
}

fn list_request() -> tapprove_proto::enrolment::CredentialsRequest {
    tapprove_proto::enrolment::CredentialsRequest {
        tapprove: tapprove_proto::enrolment::CredentialsVersion,
        rp_id: "tapprove.local".into(),
        action: tapprove_proto::enrolment::CredentialAction::List,
        identity: None,
        id_token: None,
    }
}

#[test]
fn an_identity_proof_is_good_once_for_its_own_request_and_deployment() {
    use tapprove_core::canonical::proof_body_sha256;
    use tapprove_proto::enrolment::CREDENTIALS_PATH;
    let l = Loop::organisation("activity");
    let bob = l.enrolled(l.person("bob"), "bob", &["prod-approvers"]);
    let server_id = l.endpoint().server_id;

    // Replayed: the same request with the same proof works once.
    let mut request = list_request();
    request.identity = Some(proof(&l, &bob, &server_id, &proof_body_sha256(&request).unwrap()));
    let body = serde_json::to_vec(&request).unwrap();
    let (status, first) = post(&l, CREDENTIALS_PATH, &body);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["user"], "bob");
    let (status, again) = post(&l, CREDENTIALS_PATH, &body);
    assert_eq!(
        (status, again["code"].as_str()),
        (403, Some("proof_reused")),
        "{again}"
    );

    // Attached to another body: a proof made for a listing, moved to a
    // revocation of Bob's key.
    let id = first["credentials"][0]["credential_id"].clone();
    let listing = list_request();
    let mut revoke = list_request();
    revoke.action = serde_json::from_value(serde_json::json!({"revoke": {"credential_id": id}})).unwrap();
    revoke.identity = Some(proof(&l, &bob, &server_id, &proof_body_sha256(&listing).unwrap()));
    let (status, answer) = post(&l, CREDENTIALS_PATH, &serde_json::to_vec(&revoke).unwrap());
    refused_with(status, &answer, "identity_refused");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("made for another request")
    );

    // Made for another deployment of the same organisation (same rp id).
    let mut request = list_request();
    request.identity = Some(proof(
        &l,
        &bob,
        "tapprove.local/other-registry",
        &proof_body_sha256(&request).unwrap(),
    ));
    let (status, answer) = post(&l, CREDENTIALS_PATH, &serde_json::to_vec(&request).unwrap());
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("names the service"),
        "{answer}"
    );

    // Stale: signed 20 minutes ago.
    let mut request = list_request();
    let mut stale = proof(&l, &bob, &server_id, &proof_body_sha256(&request).unwrap());
    let then = tapprove_proto::UtcTime::from_unix(tapprove_proto::UtcTime::now().unix_seconds() - 20 * 60);
    stale
        .headers
        .insert("x-amz-date".into(), then.as_str().replace(['-', ':'], ""));
    request.identity = Some(stale);
    let (status, answer) = post(&l, CREDENTIALS_PATH, &serde_json::to_vec(&request).unwrap());
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("more than 15 minutes"),
        "{answer}"
    );

    assert_eq!(
        credentials(&l, "bob"),
        [("laptop".to_owned(), "active".to_owned())]
    );
}

#[test]
fn the_enrolment_service_is_https_and_the_org_policy_fixes_it() {
    let l = Loop::organisation("activity");
    let bob = l.person("bob");
    l.grant("bob", &["prod-approvers"]);
    // Plain http to another machine is refused.
    let out = l.as_(
        &bob,
        &["--json", "enroll", "--service", "http://enrol.example.com"],
    );
    let answer = refused(&out, "input_error");
    assert!(
        answer["message"].as_str().unwrap().contains("plain http"),
        "{answer}"
    );
    // Under a policy that fixes [enrolment], --service cannot send the
    // proof elsewhere.
    let policy = l.dir.path().join("policy.toml");
    std::fs::write(&policy, format!("[enrolment]\nurl = \"{}\"\n", l.enrolment_url)).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut env = l.moto.env(Some(&bob.iam));
    env.push(("TAPPROVE_POLICY".into(), policy.to_str().unwrap().into()));
    let out = l.run(
        env,
        &bob.state,
        &["--json", "enroll", "--service", "https://enrol.example.com"],
    );
    let answer = refused(&out, "input_error");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("policy fixes the enrolment service"),
        "{answer}"
    );
    assert!(credentials(&l, "bob").is_empty());
}

/// Signs `body` for a POST to `url` as `who`, for `service`, at `time`.
fn signed_headers(
    l: &Loop,
    who: &Approver,
    service: &str,
    url: &str,
    body: &[u8],
    time: std::time::SystemTime,
) -> std::collections::BTreeMap<String, String> {
    l.runtime.block_on(async {
        let aws = l.moto.sdk_config_as(Some(&who.iam)).await;
        tapprove_aws::sigv4::sign_request(
            &aws,
            service,
            "us-east-1",
            tapprove_aws::sigv4::Unsigned {
                method: "POST",
                url,
                headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
                body,
            },
            time,
        )
        .await
        .unwrap()
    })
}

fn post_with(l: &Loop, url: &str, headers: &std::collections::BTreeMap<String, String>, body: &[u8]) -> u16 {
    l.runtime.block_on(async {
        let mut post = reqwest::Client::new().post(url).body(body.to_vec());
        for (name, value) in headers {
            if name != "host" {
                post = post.header(name, value);
            }
        }
        post.send().await.unwrap().status().as_u16()
    })
}

#[test]
fn behind_an_iam_authorised_function_url_only_signed_calls_reach_the_service() {
    use tapprove_test_support::function_url::{FunctionUrl, Key};
    let l = Loop::organisation("activity");
    let bob = l.person("bob");
    l.grant("bob", &["prod-approvers"]);
    let keys = [(
        bob.iam.access_key_id.clone(),
        Key {
            secret_access_key: bob.iam.secret_access_key.clone(),
            session_token: bob.iam.session_token.clone(),
        },
    )]
    .into();
    let front = l
        .runtime
        .block_on(FunctionUrl::start(&l.enrolment_url, "us-east-1", keys));
    let mut config = Config::load(&l.config_path()).unwrap();
    config.enrolment.as_mut().unwrap().url = Some(front.url.clone());
    config.save(&l.config_path()).unwrap();

    // The real client's calls pass IAM auth: enrol, then list.
    let out = l.as_(&bob, &["--json", "enroll", "--label", "laptop"]);
    assert_eq!(json_of(&out)["receipt"]["status"], "active", "{}", json_of(&out));
    let out = l.as_(&bob, &["--json", "authenticators"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(front.refused(), Vec::<String>::new());

    // Unsigned, signed for another body, stale, or for another service:
    // 403 before the service sees it.
    let url = format!("{}{}", front.url, tapprove_proto::enrolment::CREDENTIALS_PATH);
    let body = serde_json::to_vec(&list_request()).unwrap();
    let now = std::time::SystemTime::now();
    assert_eq!(post_with(&l, &url, &Default::default(), &body), 403);
    let for_other_body = signed_headers(&l, &bob, "lambda", &url, b"{}", now);
    assert_eq!(post_with(&l, &url, &for_other_body, &body), 403);
    let stale = signed_headers(
        &l,
        &bob,
        "lambda",
        &url,
        &body,
        now - std::time::Duration::from_secs(600),
    );
    assert_eq!(post_with(&l, &url, &stale, &body), 403);
    let other_service = signed_headers(&l, &bob, "execute-api", &url, &body, now);
    assert_eq!(post_with(&l, &url, &other_service, &body), 403);
    let refused = front.refused();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert!(refused[0].contains("no Authorization"), "{refused:?}");
    assert!(refused[1].contains("does not match"), "{refused:?}");
    assert!(refused[2].contains("away from now"), "{refused:?}");
    assert!(refused[3].contains("not lambda"), "{refused:?}");
    // And a correctly signed call of the same shape goes through (to the
    // service, which then wants its identity proof).
    let good = signed_headers(&l, &bob, "lambda", &url, &body, now);
    assert_eq!(post_with(&l, &url, &good, &body), 401);
    assert_eq!(
        credentials(&l, "bob"),
        [("laptop".to_owned(), "active".to_owned())]
    );
}

#[test]
fn only_a_verified_result_ends_a_gate_and_garbage_from_a_token_holder_is_audited_and_not_counted() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let carol = l.approver("carol", &["prod-approvers"]);
    let execution = l.start("Deploy", "alice", 2, 600);

    // Whoever holds the task token can send any result for it.
    let (token, request) = l.claim();
    l.send(&token, "{}");
    assert_eq!(l.outcomes_after(&execution, 1), ["malformed_decision"]);
    let (token, _) = l.claim();
    l.fail_task(&token, "Pipeline.Cancel", "not a decision");
    assert_eq!(l.outcomes_after(&execution, 2)[1], "unverified_result");
    let (token, _) = l.claim();
    l.fail_task(&token, "Tapprove.Denied", "");
    assert_eq!(l.outcomes_after(&execution, 3)[2], "malformed_decision");
    // A hand-back: the gate asks again (nothing to audit: no decision
    // came). (A forged `States.Timeout` goes the same way in the gate's
    // definition; the emulator fails any execution given an error named
    // `States.*` by SendTaskFailure before a catcher sees it, see
    // docs/protocol.md.)
    let (token, _) = l.claim();
    l.fail_task(&token, "Tapprove.Released", "");
    assert_eq!(l.state(&execution).status, "RUNNING");

    // A counted statement sent again counts once.
    let bobs = l.sign_as(&bob, "bob", &request).to_json();
    let (token, _) = l.claim();
    l.send(&token, &bobs);
    assert_eq!(l.outcomes_after(&execution, 4)[3], "accepted");
    let (token, _) = l.claim();
    l.send(&token, &bobs);
    assert_eq!(l.outcomes_after(&execution, 5)[4], "statement_replayed");
    assert_eq!(l.state(&execution).status, "RUNNING");

    // A second, distinct, verified approval meets the quorum.
    let (token, _) = l.claim();
    l.send(&token, &l.sign_as(&carol, "carol", &request).to_json());
    let state = l.finished(&execution, std::time::Duration::from_secs(60));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    let approvers: Vec<&str> = output["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["approver"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(approvers, ["bob", "carol"], "{output}");
    assert_eq!(l.outcomes(&execution).len(), 6, "the hand-back left no record");
}

#[test]
fn the_gate_decides_who_approves_and_a_workflow_cannot_name_another_group() {
    let l = Loop::new("activity");
    let _dev = l.approver("dave", &["dev-approvers"]);
    // `gate install` pinned the gate to its group.
    let shown = json_of(&l.admin(&["--json", "admin", "gate-policy", "tapprove-gate"]));
    assert_eq!(
        shown["policy"]["rule"],
        serde_json::json!([{"group": "prod-approvers", "count": 1}])
    );

    // A request to this gate naming the dev group fails at its first step,
    // before anyone is asked, and the refusal is audited.
    let execution = l.start_for("Deploy api to prod", "alice", "dev-approvers", 1, 600);
    let state = l.finished(&execution, std::time::Duration::from_secs(30));
    assert_eq!(
        (state.status.as_str(), state.error.as_deref()),
        ("FAILED", Some("Tapprove.gate_policy_refused")),
        "{state:?}"
    );
    assert!(
        state
            .cause
            .as_deref()
            .unwrap()
            .contains("cannot choose its approvers"),
        "{state:?}"
    );
    assert_eq!(l.outcomes(&execution), ["gate_policy_refused"]);
    // So does a quorum of 0.
    let execution = l.start_for("Deploy api to prod", "alice", "prod-approvers", 0, 600);
    let state = l.finished(&execution, std::time::Duration::from_secs(30));
    assert_eq!(
        (state.status.as_str(), state.error.as_deref()),
        ("FAILED", Some("Tapprove.malformed_request")),
        "{state:?}"
    );
    // Absurd policies are refused with what to do.
    for rule in ["prod-approvers:0", "prod-approvers", "prod-approvers:99"] {
        let out = l.admin(&["--json", "admin", "gate-policy", "tapprove-gate", "--rule", rule]);
        refused(&out, "input_error");
    }
}

#[test]
fn a_rule_of_two_groups_needs_one_approver_of_each() {
    // The activity source hands each lap's task to the next approver who
    // polls, so three approvers in turn each answer the current task.
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let carol = l.approver("carol", &["prod-approvers"]);
    let sam = l.approver("sam", &["security"]);
    let out = l.admin(&[
        "--json",
        "admin",
        "gate-policy",
        "tapprove-gate",
        "--rule",
        "prod-approvers:1",
        "--rule",
        "security:1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(json_of(&out)["policy"]["min_quorum"], 2);
    let records =
        json_of(&l.admin(&["--json", "admin", "audit", "--user", "gate:tapprove-gate"]))["records"].clone();
    assert!(
        records
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["event"] == "gate_policy_set"),
        "{records}"
    );

    // The workflow asks for one approver of prod-approvers; the gate's
    // rule wants one of prod-approvers and one of security.
    let execution = l.start("Rotate the root key", "alice", 1, 600);
    for who in [&bob, &carol] {
        let id = l.inbox_id(who);
        let out = l.as_(who, &["--json", "approve", &id]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    assert_eq!(l.outcomes_after(&execution, 2), ["accepted", "accepted"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        l.state(&execution).status,
        "RUNNING",
        "two of one group are not enough"
    );
    let id = l.inbox_id(&sam);
    // Sam's task says where the request stands: the rule, and which of its
    // clauses still waits.
    let shown = l.as_(&sam, &["show", &id]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("progress      1 of prod-approvers ✓, 1 of security pending"),
        "{text}"
    );
    let inbox = json_of(&l.as_(&sam, &["--json", "inbox"]));
    assert_eq!(
        inbox["requests"][0]["progress"], "1 of prod-approvers ✓, 1 of security pending",
        "{inbox}"
    );
    let out = l.as_(&sam, &["--json", "approve", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let state = l.finished(&execution, std::time::Duration::from_secs(30));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["approvals"].as_array().unwrap().len(), 3, "{output}");
}

#[test]
fn a_new_machines_key_is_confirmed_by_the_key_the_person_already_has() {
    let l = Loop::new("activity");
    let laptop = l.approver("bob", &["prod-approvers"]);
    let desktop = Approver {
        iam: laptop.iam.clone(),
        state: l.dir.path().join("bob-desktop"),
    };
    let out = l.as_(&desktop, &["--json", "enroll", "--label", "desktop"]);
    let receipt = json_of(&out)["receipt"].clone();
    assert_eq!(receipt["status"], "pending", "{receipt}");
    let pending = receipt["credential_id"].as_str().unwrap().to_owned();

    // The new machine cannot vouch for itself: it holds no other key of bob's.
    let out = l.as_(&desktop, &["--json", "authenticators", "confirm", &pending]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Nor can another person's active key, even granted the same group:
    // the credential is not theirs.
    let mallory = l.approver("mallory", &["prod-approvers"]);
    let out = l.as_(&mallory, &["--json", "authenticators", "confirm", &pending]);
    assert!(
        refused(&out, "input_error")["message"]
            .as_str()
            .unwrap()
            .contains("no pending credential")
    );
    assert_eq!(
        credentials(&l, "bob"),
        [
            ("laptop".to_owned(), "active".to_owned()),
            ("desktop".to_owned(), "pending".to_owned())
        ]
    );

    // The laptop's key confirms it, and it is on record by which key.
    let out = l.as_(&laptop, &["--json", "authenticators", "confirm", &pending]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        credentials(&l, "bob"),
        [
            ("laptop".to_owned(), "active".to_owned()),
            ("desktop".to_owned(), "active".to_owned())
        ]
    );
    let records = l.enrolment_audit("bob");
    let confirmed = records
        .iter()
        .find(|r| r["event"] == "confirmed")
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(confirmed["credential_id"], pending.as_str());
    let laptop_id = json_of(&l.as_(&laptop, &["--json", "authenticators"]))["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "laptop")
        .unwrap()["credential_id"]
        .clone();
    assert_eq!(confirmed["confirmed_by"], laptop_id);
    assert_eq!(confirmed["key_sha256"].as_str().unwrap().len(), 64);
    // Nothing left to confirm.
    let out = l.as_(&laptop, &["--json", "authenticators", "confirm", &pending]);
    assert!(
        refused(&out, "input_error")["message"]
            .as_str()
            .unwrap()
            .contains("no pending credential")
    );

    // Where the organisation has an admin confirm every credential, a
    // person cannot confirm their own.
    let mut config = Config::load(&l.config_path()).unwrap();
    config.enrolment.as_mut().unwrap().require_admin = true;
    let strict = l.start_enrolment(&config);
    config.enrolment.as_mut().unwrap().url = Some(strict);
    config.save(&l.config_path()).unwrap();
    let third = Approver {
        iam: laptop.iam.clone(),
        state: l.dir.path().join("bob-third"),
    };
    let out = l.as_(&third, &["--json", "enroll", "--label", "third"]);
    let third_id = json_of(&out)["receipt"]["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &l.as_(&laptop, &["--json", "authenticators", "confirm", &third_id]),
        "admin_required",
    );
}

/// The loop with a request endpoint open to the emulator's IAM users (the
/// demo's people) and to the `ci-deploy` role's sessions.
fn with_request_endpoint() -> Loop {
    Loop::installed(
        "activity",
        &[
            "--allow-iam-users",
            "--requester",
            "arn:aws:iam::*:user/*",
            "--requester",
            "arn:aws:sts::*:assumed-role/ci-deploy/*",
        ],
    )
}

/// `tapprove gate request` through the request endpoint, as `who`.
fn request_as(l: &Loop, who: &Approver, title: &str) -> std::process::Output {
    l.as_(
        who,
        &["--json", "gate", "request", "--title", title, "--timeout", "600"],
    )
}

#[test]
fn a_requester_aws_proved_is_what_approvers_see_and_sign_and_cannot_approve() {
    let l = with_request_endpoint();
    let alice = l.approver("alice", &["prod-approvers"]);
    let bob = l.approver("bob", &["prod-approvers"]);
    let out = request_as(&l, &alice, "Deploy api to prod");
    let receipt = json_of(&out);
    assert!(out.status.success(), "{receipt}");
    assert_eq!(receipt["requester_verified"], true, "{receipt}");
    assert_eq!(receipt["requester"]["person"], "alice", "{receipt}");
    let execution = receipt["execution"].as_str().unwrap().to_owned();

    // The request every approver sees carries the proven requester.
    let (token, request) = l.claim();
    let requester = request.requester.clone().expect("a proven requester");
    assert_eq!(requester.person.as_deref(), Some("alice"));
    assert!(requester.arn.ends_with(":user/alice"), "{requester:?}");
    assert_eq!(request.requested_by, "alice");
    // Alice cannot approve her own request, whatever name she signs with.
    l.send(&token, &l.sign_as(&alice, "alice", &request).to_json());
    assert_eq!(l.outcomes_after(&execution, 2)[1], "self_approval");
    // Bob approves; the gate's output names the requester as verified.
    let (token, request) = l.claim();
    l.send(&token, &l.sign_as(&bob, "bob", &request).to_json());
    let state = l.finished(&execution, std::time::Duration::from_secs(60));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    assert_eq!(
        output["requester"],
        serde_json::json!({"name": "alice", "verified": true}),
        "{output}"
    );
    // The execution's trail opens with who asked, as AWS said.
    let records = json_of(&l.admin(&["--json", "admin", "audit", &execution]))["records"].clone();
    assert_eq!(records[0]["outcome"], "requested", "{records}");
    assert!(
        records[0]["requester"]["arn"]
            .as_str()
            .unwrap()
            .ends_with(":user/alice")
    );
    // Bob's inbox said so while it waited (the CLI marks only claims).
    let out = l.as_(&bob, &["--json", "inbox"]);
    assert!(out.status.success());
}

#[test]
fn a_claimed_requester_is_shown_as_such_and_refused_where_the_gate_wants_a_proven_one() {
    let l = with_request_endpoint();
    let bob = l.approver("bob", &["prod-approvers"]);
    let alice = l.user("alice");
    // A workflow names ci-bot, and even writes a requester of its own into
    // the input: the gate takes neither as proven.
    let forged = l.runtime.block_on(async {
        let sfn = tapprove_aws::sfn::StepFunctions::new(&l.moto.sdk_config().await);
        let input = serde_json::json!({
            "title": "Deploy api to prod", "requested_by": "ci-bot",
            "approvers": "prod-approvers", "quorum": 1, "timeout_seconds": 600,
            "details": {},
            "requester": {"arn": "arn:aws:iam::123456789012:user/ci-bot", "principal": "AIDAX", "person": "ci-bot"}
        });
        sfn.start_execution(&l.state_machine, &input.to_string())
            .await
            .unwrap()
    });
    let id = l.inbox_id(&bob);
    let shown = json_of(&l.as_(&bob, &["--json", "show", &id]));
    assert_eq!(shown["requester_verified"], false, "{shown}");
    let out = l.as_(&bob, &["inbox"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ci-bot (?)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    l.runtime.block_on(async {
        let sfn = tapprove_aws::sfn::StepFunctions::new(&l.moto.sdk_config().await);
        sfn.stop_execution(&forged, "Test.Done", "").await.unwrap();
    });

    // The admin requires proven requesters at this gate.
    let out = l.admin(&[
        "--json",
        "admin",
        "gate-policy",
        "tapprove-gate",
        "--rule",
        "prod-approvers:1",
        "--require-verified-requester",
    ]);
    assert!(out.status.success(), "{}", json_of(&out));
    let direct = l.as_(
        &alice,
        &[
            "--json",
            "gate",
            "request",
            "--title",
            "Deploy",
            "--requested-by",
            "alice",
            "--timeout",
            "600",
        ],
    );
    let execution = json_of(&direct)["execution"].as_str().unwrap().to_owned();
    let state = l.finished(&execution, std::time::Duration::from_secs(30));
    assert_eq!(
        (state.status.as_str(), state.error.as_deref()),
        ("FAILED", Some("Tapprove.gate_policy_refused")),
        "{state:?}"
    );
    assert_eq!(l.outcomes(&execution), ["gate_policy_refused"]);
    // Through the endpoint, the same person's request waits for approval.
    let receipt = json_of(&request_as(&l, &alice, "Deploy"));
    let execution = receipt["execution"].as_str().unwrap().to_owned();
    let id = l.inbox_id_titled(&bob, "Deploy");
    let shown = json_of(&l.as_(&bob, &["--json", "show", &id]));
    assert_eq!(shown["requester_verified"], true, "{shown}");
    assert_eq!(l.state(&execution).status, "RUNNING");
}

#[test]
fn only_listed_callers_open_requests_and_a_pipeline_is_named_by_its_role() {
    let l = with_request_endpoint();
    // A session of a role nobody listed: refused, audited, nothing started.
    let dev = l.session_of("developer", "alice", None);
    let out = request_as(&l, &dev, "Deploy");
    refused(&out, "requester_refused");
    let records = refusals(&l);
    assert_eq!(
        records.last().unwrap()["code"],
        "requester_refused",
        "{records:?}"
    );
    let started = l.runtime.block_on(async {
        aws_sdk_sfn::Client::new(&l.moto.sdk_config().await)
            .list_executions()
            .state_machine_arn(&l.state_machine)
            .send()
            .await
            .unwrap()
            .executions()
            .len()
    });
    assert_eq!(started, 0, "a refused caller started nothing");

    // The pipeline's role: proven, but no person; shown by its ARN.
    let ci = l.session_of("ci-deploy", "run-42", None);
    let receipt = json_of(&request_as(&l, &ci, "Deploy"));
    assert_eq!(receipt["requester_verified"], true, "{receipt}");
    assert!(receipt["requester"].get("person").is_none(), "{receipt}");
    let (_, request) = l.claim();
    // Only the role is proven: whoever assumed it named the session.
    assert_eq!(
        request.requester_shown(),
        "role ci-deploy (session \"run-42\", named by whoever assumed it)"
    );
}

#[test]
fn a_person_asking_under_another_role_is_still_the_requester() {
    let l = Loop::installed(
        "activity",
        &[
            "--approver-role",
            APPROVER_ROLE,
            "--approver-role",
            "TapproveAuditors",
            "--requester",
            "arn:aws:sts::*:assumed-role/*",
        ],
    );
    let alice = l.enrolled(l.person("alice"), "alice", &["prod-approvers"]);
    // Under a second permission set her name is bound elsewhere: refused,
    // on record, nothing started.
    let other_set = l.session_of("TapproveAuditors", "alice", None);
    refused(&request_as(&l, &other_set, "Deploy"), "principal_mismatch");
    assert_eq!(refusals(&l).last().unwrap()["code"], "principal_mismatch");
    // Under a pipeline's role, with the session named after her: the
    // request opens, shown by the role, and she cannot approve it.
    let pipeline = l.session_of("ci-deploy", "alice", None);
    let receipt = json_of(&request_as(&l, &pipeline, "Deploy"));
    let execution = receipt["execution"].as_str().unwrap().to_owned();
    let (token, request) = l.claim();
    l.send(&token, &l.sign_as(&alice, "alice", &request).to_json());
    assert_eq!(l.outcomes_after(&execution, 2)[1], "self_approval");
}

/// The service answered 403 with `code`.
#[track_caller]
fn refused_with(status: u16, answer: &Value, code: &str) {
    assert_eq!((status, answer["code"].as_str()), (403, Some(code)), "{answer}");
}

/// The role whose sessions OpenID Connect sign-in makes
/// (`AssumeRoleWithWebIdentity`: the client names the session).
const OIDC_ROLE: &str = "TapproveOidc";

/// A credentials listing by `who`, carrying `id_token`, with a fresh proof.
fn list_with_token(l: &Loop, who: &Approver, id_token: Option<&str>) -> (u16, Value) {
    use tapprove_core::canonical::proof_body_sha256;
    let mut request = list_request();
    request.id_token = id_token.map(str::to_owned);
    let server_id = l.endpoint().server_id;
    request.identity = Some(proof(l, who, &server_id, &proof_body_sha256(&request).unwrap()));
    post(
        l,
        tapprove_proto::enrolment::CREDENTIALS_PATH,
        &serde_json::to_vec(&request).unwrap(),
    )
}

#[test]
fn an_openid_connect_user_is_named_by_the_providers_token_not_by_the_session_they_chose() {
    let idp = tapprove_test_support::oidc::Provider::start();
    let l = Loop::installed(
        "activity",
        &[
            "--approver-role",
            APPROVER_ROLE,
            "--oidc-issuer",
            &idp.issuer,
            "--oidc-client-id",
            tapprove_test_support::oidc::CLIENT_ID,
            "--oidc-role",
            OIDC_ROLE,
        ],
    );
    let bobs = idp.id_tokens("bob", 3);
    let alices = idp.id_tokens("alice", 1);
    // Alice, signed in through the provider, asks STS for a session of the
    // web-identity role named after Bob: the client chooses that name.
    let impostor = l.session_of(OIDC_ROLE, "bob@example.com", None);
    let bob = l.session_of(OIDC_ROLE, "bob@example.com", None);

    // The name alone is not enough...
    let (status, answer) = list_with_token(&l, &impostor, None);
    refused_with(status, &answer, "id_token_required");
    // ...nor is Alice's own token.
    let (status, answer) = list_with_token(&l, &impostor, Some(&alices[0]));
    refused_with(status, &answer, "id_token_mismatch");
    assert!(
        answer["message"].as_str().unwrap().contains("alice@example.com"),
        "{answer}"
    );
    // A token the provider never signed (Bob's claims, another key) is refused.
    let forged = forged_token(&idp.issuer, "bob@example.com");
    let (status, answer) = list_with_token(&l, &impostor, Some(&forged));
    refused_with(status, &answer, "id_token_refused");

    // Bob's own token names him; once.
    let (status, answer) = list_with_token(&l, &bob, Some(&bobs[0]));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"], "bob@example.com");
    let (status, answer) = list_with_token(&l, &impostor, Some(&bobs[0]));
    refused_with(status, &answer, "id_token_reused");
    // A fresh token of his works again.
    let (status, answer) = list_with_token(&l, &bob, Some(&bobs[1]));
    assert_eq!(status, 200, "{answer}");

    // Each refusal of a caller STS vouched for is on record, the name as claimed.
    let codes: Vec<String> = refusals(&l)
        .iter()
        .map(|r| r["code"].as_str().unwrap_or_default().to_owned())
        .collect();
    for code in [
        "id_token_required",
        "id_token_mismatch",
        "id_token_refused",
        "id_token_reused",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} not audited: {codes:?}");
    }
    // IAM Identity Center sessions need no token, as before.
    let carol = l.person("carol");
    let (status, answer) = list_with_token(&l, &carol, None);
    assert_eq!(status, 200, "{answer}");
}

/// An RS256 JWT with the provider's issuer and audience and `email`, signed
/// with a key the provider does not publish (but naming its key id).
fn forged_token(issuer: &str, email: &str) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = tapprove_proto::UtcTime::now().unix_seconds();
    let header = serde_json::json!({"alg": "RS256", "kid": "test-rs256", "typ": "JWT"});
    let claims = serde_json::json!({
        "iss": issuer, "aud": tapprove_test_support::oidc::CLIENT_ID, "sub": "bob",
        "email": email, "email_verified": true, "iat": now, "exp": now + 300
    });
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 256]);
    format!("{}.{}.{signature}", b64(&header), b64(&claims))
}

#[test]
fn the_terminal_shows_hidden_and_direction_changing_characters_as_markers() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    // A title that reads "Deploy to staging" in a terminal that obeys
    // U+202E, a requester with a zero-width space, details with tag
    // characters (invisible ASCII) and an escape sequence.
    let input = serde_json::json!({
        "title": "Deploy to \u{202E}gnigats\u{202C} prod",
        "requested_by": "ali\u{200B}ce",
        "approvers": "prod-approvers",
        "quorum": 1,
        "timeout_seconds": 600,
        "details": {"note": "ok\u{E0041}\u{E0042}", "cmd": "\u{1B}[2J"}
    });
    l.runtime.block_on(async {
        tapprove_aws::sfn::StepFunctions::new(&l.moto.sdk_config().await)
            .start_execution(&l.state_machine, &input.to_string())
            .await
            .unwrap()
    });
    let id = l.inbox_id(&bob);
    let shown = |args: &[&str]| {
        let out = l.as_(&bob, args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let inbox = shown(&["inbox"]);
    assert!(
        inbox.contains("Deploy to ⟨U+202E⟩gnigats⟨U+202C⟩ prod"),
        "{inbox}"
    );
    assert!(inbox.contains("ali⟨U+200B⟩ce"), "{inbox}");
    let show = shown(&["show", &id]);
    for marker in ["⟨U+202E⟩", "⟨U+200B⟩", "⟨U+E0041⟩⟨U+E0042⟩"] {
        assert!(show.contains(marker), "{marker} missing from:\n{show}");
    }
    assert!(show.contains("\\u001b[2J"), "JSON escapes the escape: {show}");
    let denied = l.as_(&bob, &["deny", &id, "--reason", "not what it says"]);
    assert!(
        denied.status.success(),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    let outbox = shown(&["outbox"]);
    assert!(outbox.contains("⟨U+202E⟩"), "{outbox}");
    // None of the characters themselves reached the terminal.
    for text in [&inbox, &show, &outbox] {
        assert!(
            !text
                .chars()
                .any(|c| tapprove_proto::text::is_hidden(c) || c == '\u{1B}'),
            "{text:?}"
        );
    }
}

#[test]
fn a_number_json_readers_read_differently_is_refused_before_anyone_is_asked() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    // 2^53 + 1: JavaScript (the app) would show 9007199254740992, the
    // canonical encoding sign that, and the workflow use ...993.
    let start = |details: &str| {
        let input = format!(
            r#"{{"title": "Rotate key", "requested_by": "alice", "approvers": "prod-approvers", "quorum": 1, "timeout_seconds": 600, "details": {details}}}"#
        );
        l.runtime.block_on(async {
            tapprove_aws::sfn::StepFunctions::new(&l.moto.sdk_config().await)
                .start_execution(&l.state_machine, &input)
                .await
                .unwrap()
        })
    };
    let execution = start(r#"{"key_id": 9007199254740993}"#);
    let state = l.finished(&execution, std::time::Duration::from_secs(30));
    assert_eq!(
        (state.status.as_str(), state.error.as_deref()),
        ("FAILED", Some("Tapprove.malformed_request")),
        "{state:?}"
    );
    assert!(
        state.cause.as_deref().unwrap().contains("send it as a string"),
        "{state:?}"
    );
    assert_eq!(
        l.outcomes(&execution),
        ["malformed_request"],
        "the refusal is on record"
    );
    // The CLI refuses it before starting anything.
    let out = l.admin(&[
        "--json",
        "gate",
        "request",
        "--title",
        "Rotate key",
        "--requested-by",
        "alice",
        "--details",
        r#"{"key_id": 9007199254740993}"#,
    ]);
    assert!(
        refused(&out, "input_error")["message"]
            .as_str()
            .unwrap()
            .contains("9007199254740993"),
    );
    // As a string it is shown and signed exactly.
    let execution = start(r#"{"key_id": "9007199254740993"}"#);
    let id = l.inbox_id(&bob);
    let shown = json_of(&l.as_(&bob, &["--json", "show", &id]));
    assert_eq!(
        shown["request"]["details"]["key_id"], "9007199254740993",
        "{shown}"
    );
    let out = l.as_(&bob, &["--json", "approve", &id]);
    assert!(out.status.success(), "{}", json_of(&out));
    let state = l.finished(&execution, std::time::Duration::from_secs(60));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");
    let output: Value = serde_json::from_str(state.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["request"]["details"]["key_id"], "9007199254740993");
}

#[test]
fn the_cli_asks_for_user_verification_wherever_the_settings_or_the_org_policy_require_it() {
    let l = Loop::new("activity");
    // Bob's software key has no PIN: it cannot verify him.
    let bob = l.approver("bob", &["prod-approvers"]);
    l.start("Deploy", "alice", 1, 600);
    let id = l.inbox_id(&bob);
    let outbox_is_empty = || {
        let out = l.as_(&bob, &["--json", "outbox"]);
        json_of(&out)["decisions"].as_array().unwrap().is_empty()
    };

    // Required by the user's settings: no decision is signed without it.
    let config = l.config_path();
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("require_user_verification = false"), "{text}");
    std::fs::write(
        &config,
        text.replace(
            "require_user_verification = false",
            "require_user_verification = true",
        ),
    )
    .unwrap();
    let out = l.as_(&bob, &["--json", "approve", &id]);
    refused(&out, "user_verification_unavailable");
    let out = l.as_(
        &bob,
        &["--json", "approve", &id, "--user-verification", "discouraged"],
    );
    assert!(
        refused(&out, "input_error")["message"]
            .as_str()
            .unwrap()
            .contains("requires user verification")
    );
    assert!(
        outbox_is_empty(),
        "a decision was signed without user verification"
    );

    // Required by the organisation's policy, whatever the user's file says.
    std::fs::write(&config, &text).unwrap();
    let policy = l.dir.path().join("uv-policy.toml");
    std::fs::write(&policy, "require_user_verification = true\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut env = l.moto.env(Some(&bob.iam));
    env.push(("TAPPROVE_POLICY".into(), policy.to_str().unwrap().into()));
    let out = l.run(env, &bob.state, &["--json", "approve", &id]);
    refused(&out, "user_verification_unavailable");
    assert!(
        outbox_is_empty(),
        "a decision was signed without user verification"
    );

    // Where nothing requires it, the same key approves.
    let out = l.as_(&bob, &["--json", "approve", &id]);
    assert!(out.status.success(), "{}", json_of(&out));
    assert!(!outbox_is_empty());
}

/// A software key that claims to be a YubiKey (its own key signs the claim)
/// is refused by the enrolment service wherever the organisation's rules
/// depend on the model, with its own code, audited, and registers nothing;
/// where the organisation accepts self-reported models, the same claim
/// enrols.
#[test]
fn a_software_key_claiming_a_security_key_model_is_refused_by_the_service() {
    use tapprove_proto::Base64Url;
    use tapprove_proto::enrolment::{EnrolmentRequest, EnrolmentVersion};
    use tapprove_test_support::forged::{forge, yubikey_5};
    let l = Loop::new("activity");
    let erin = l.user("erin");
    let mut config = Config::load(&l.config_path()).unwrap();
    config.allow_software_authenticators = false;
    let submit = |config: &Config| {
        let mut endpoint = l.endpoint();
        endpoint.url = l.start_enrolment(config);
        let forged = forge(&config.rp_id, yubikey_5(), "packed");
        let request = EnrolmentRequest {
            tapprove: EnrolmentVersion,
            user: "erin".into(),
            label: "definitely a yubikey".into(),
            rp_id: config.rp_id.clone(),
            credential_id: Base64Url::new(forged.credential_id),
            challenge: Base64Url::new(forged.challenge.to_vec()),
            client_data_json: Base64Url::new(forged.client_data),
            attestation_object: Base64Url::new(forged.attestation_object),
            identity: None,
            id_token: None,
        };
        l.runtime.block_on(async {
            let aws = l.moto.sdk_config_as(Some(&erin.iam)).await;
            tapprove_engine::seam::submit(&aws, &endpoint, request).await
        })
    };
    let (reason, message) = common::service_refusal(submit(&config));
    assert_eq!(reason, "model_not_proven", "{message}");
    assert!(l.credential_statuses("erin").is_empty(), "nothing registered");
    let records = refusals(&l);
    let last = records.last().unwrap();
    assert_eq!(
        (&last["code"], &last["caller_arn"]),
        (
            &Value::from("model_not_proven"),
            &Value::from("arn:aws:iam::123456789012:user/erin")
        ),
        "the refusal is audited with who sent it: {records:?}"
    );

    config.accept_self_reported_models = true;
    let receipt = submit(&config).unwrap();
    assert_eq!(receipt.user, "erin");
    let audit = l.enrolment_audit("erin");
    assert!(
        audit
            .iter()
            .any(|r| r["event"] == "enrolled" && r["model_proven"] == false),
        "the registry says the model was only claimed: {audit:?}"
    );
    // And so does the admin's listing, where an upgrade shows who is
    // affected.
    let listing = l.admin(&["admin", "credentials", "erin"]);
    let text = String::from_utf8_lossy(&listing.stdout);
    assert!(text.contains("model claimed"), "{text}");
    let listing = json_of(&l.admin(&["--json", "admin", "credentials", "erin"]));
    assert_eq!(listing["credentials"][0]["model_proven"], false, "{listing}");
}

/// FIDO's metadata, imported by an admin, is what the enrolment service and
/// the gate judge models by: a BLOB that does not verify to the root is
/// refused and stores nothing, an older one cannot replace a newer one, a
/// model FIDO lists with its vendor's root enrols as proven without any
/// org roots, and once FIDO reports a model revoked it neither enrols nor
/// verifies at the gate, each refusal audited with FIDO's words.
#[test]
fn fido_metadata_an_admin_imports_decides_enrolment_and_every_later_verification() {
    use tapprove_proto::Base64Url;
    use tapprove_proto::enrolment::{EnrolmentRequest, EnrolmentVersion};
    use tapprove_proto::registry::SOFTWARE_AAGUID;
    use tapprove_test_support::forged::{certified, yubikey_5};
    use tapprove_test_support::mds::{blob, entry, fixture};
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let erin = l.user("erin");
    l.grant("erin", &["prod-approvers"]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("test-root.der");
    std::fs::write(&root, fixture("fido-root.der")).unwrap();
    let vendor_root =
        std::fs::read(tapprove_test_support::repo_root().join("tests/vectors/attestation/root.der")).unwrap();
    let write_blob = |name: &str, no: u64, revoked: bool| {
        let mut statuses = vec![("FIDO_CERTIFIED_L1", "2026-01-01")];
        if revoked {
            statuses.push(("REVOKED", "2026-11-30"));
        }
        let entries = vec![
            entry(
                yubikey_5(),
                "YubiKey 5 Series",
                std::slice::from_ref(&vendor_root),
                &statuses,
            ),
            entry(SOFTWARE_AAGUID, "Tapprove software key", &[], &statuses),
        ];
        let path = dir.path().join(name);
        std::fs::write(&path, blob(no, "2099-01-01", entries, "signer")).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let import = |path: &str| {
        l.admin(&[
            "--json",
            "admin",
            "mds",
            "import",
            path,
            "--fido-root",
            root.to_str().unwrap(),
        ])
    };
    let status = || json_of(&l.admin(&["--json", "admin", "mds", "status"]));
    assert_eq!(status()["imported"], false);

    // Signed by FIDO's root, not the test root: refused, nothing stored.
    let certified_only = write_blob("five.jwt", 5, false);
    let out = l.admin(&["--json", "admin", "mds", "import", &certified_only]);
    refused(&out, "blob_untrusted");
    assert_eq!(status()["imported"], false);
    // An edited payload: refused, nothing stored.
    let text = std::fs::read_to_string(&certified_only).unwrap();
    let parts: Vec<&str> = text.split('.').collect();
    let other = std::fs::read_to_string(write_blob("six.jwt", 6, true)).unwrap();
    let spliced = dir.path().join("spliced.jwt");
    std::fs::write(
        &spliced,
        format!("{}.{}.{}", parts[0], other.split('.').nth(1).unwrap(), parts[2]),
    )
    .unwrap();
    refused(&import(spliced.to_str().unwrap()), "blob_signature_invalid");
    assert_eq!(status()["imported"], false);

    let out = import(&certified_only);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer = json_of(&out);
    assert_eq!(
        (answer["blob_no"].as_u64(), answer["models"].as_u64()),
        (Some(5), Some(2)),
        "{answer}"
    );
    assert_eq!(status()["blob_no"], 5);

    // A model FIDO lists with its vendor's root enrols as proven, with no
    // org roots, where software keys are forbidden.
    let mut config = Config::load(&l.config_path()).unwrap();
    config.allow_software_authenticators = false;
    config.accept_self_reported_models = false;
    let enrol_yubikey = |label: &str| {
        let mut endpoint = l.endpoint();
        endpoint.url = l.start_enrolment(&config);
        let fixture = |name: &str| {
            std::fs::read(
                tapprove_test_support::repo_root()
                    .join("tests/vectors/attestation")
                    .join(name),
            )
            .unwrap()
        };
        let registration = certified(
            &config.rp_id,
            yubikey_5(),
            &[fixture("leaf-aaguid.der"), fixture("intermediate.der")],
            &fixture("leaf-aaguid.key"),
        );
        let request = EnrolmentRequest {
            tapprove: EnrolmentVersion,
            user: "erin".into(),
            label: label.into(),
            rp_id: config.rp_id.clone(),
            credential_id: Base64Url::new(registration.credential_id),
            challenge: Base64Url::new(registration.challenge.to_vec()),
            client_data_json: Base64Url::new(registration.client_data),
            attestation_object: Base64Url::new(registration.attestation_object),
            identity: None,
            id_token: None,
        };
        l.runtime.block_on(async {
            let aws = l.moto.sdk_config_as(Some(&erin.iam)).await;
            tapprove_engine::seam::submit(&aws, &endpoint, request).await
        })
    };
    enrol_yubikey("yubikey").unwrap();
    let enrolled = l.enrolment_audit("erin");
    let record = enrolled.iter().find(|r| r["event"] == "enrolled").unwrap();
    assert_eq!(
        (&record["model_proven"], &record["trust_path"]),
        (&Value::from(true), &Value::from("fido_metadata")),
        "{record}"
    );

    // Before FIDO's report, bob's key verifies at the gate.
    let execution = l.start("Deploy", "alice", 1, 600);
    let (token, request) = l.claim();
    l.send(&token, &l.sign_as(&bob, "bob", &request).to_json());
    assert_eq!(l.outcomes_after(&execution, 1), ["accepted"]);

    // FIDO revokes both models (BLOB #6); BLOB #5 cannot come back.
    let revoked = write_blob("six.jwt", 6, true);
    let out = import(&revoked);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_of(&out)["distrusted"].as_array().unwrap().len(), 2);
    refused(&import(&certified_only), "blob_older");
    assert_eq!(status()["blob_no"], 6);

    let (reason, message) = common::service_refusal(enrol_yubikey("another yubikey"));
    assert_eq!(reason, "model_distrusted", "{message}");
    assert!(message.contains("REVOKED"), "{message}");
    let last = refusals(&l).last().cloned().unwrap();
    assert_eq!(last["code"], "model_distrusted", "{last}");

    let execution = l.start("Deploy again", "alice", 1, 600);
    let (token, request) = l.claim();
    l.send(&token, &l.sign_as(&bob, "bob", &request).to_json());
    assert_eq!(l.outcomes_after(&execution, 1), ["authenticator_not_allowed"]);
    let audit = l.runtime.block_on(async {
        let aws = l.moto.sdk_config().await;
        tapprove_engine::admin::registry(&aws, &Config::load(&l.config_path()).unwrap())
            .audit_of(&execution)
            .await
            .unwrap()
    });
    let message = audit[0]["message"].as_str().unwrap();
    assert!(
        message.contains("REVOKED") && message.contains("no longer verifies"),
        "{message}"
    );
}
