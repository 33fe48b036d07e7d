//! The verifier binary as a Lambda function, against a local Lambda
//! Runtime API.
//!
//! There is no Lambda emulator here (moto runs functions in Docker), so
//! the peer is a small server speaking the Runtime API's wire format as
//! AWS documents it: `GET /2018-06-01/runtime/invocation/next` answers an
//! event with the `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`,
//! `-Invoked-Function-Arn` and `-Trace-Id` headers; the function posts the
//! result to `.../invocation/{id}/response` or `.../invocation/{id}/error`.
//! The binary runs exactly as it would as a `bootstrap`: no arguments,
//! `AWS_LAMBDA_RUNTIME_API` set; its registry is DynamoDB in moto.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::{Value, json};

/// What the function posted for one invocation.
#[derive(Debug)]
struct Posted {
    request_id: String,
    kind: String,
    body: Value,
}

struct RuntimeApi {
    port: u16,
    posted: mpsc::Receiver<Posted>,
}

impl RuntimeApi {
    fn start(events: Vec<Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let queue = Arc::new(Mutex::new(
            events
                .into_iter()
                .enumerate()
                .map(|(i, e)| (format!("req-{i}"), e))
                .collect::<VecDeque<_>>(),
        ));
        let (tx, posted) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let queue = Arc::clone(&queue);
                let tx = tx.clone();
                std::thread::spawn(move || serve(stream, &queue, &tx));
            }
        });
        Self { port, posted }
    }

    fn next(&self) -> Posted {
        self.posted
            .recv_timeout(Duration::from_secs(30))
            .expect("the function posted nothing within 30 s")
    }
}

/// Serves one connection (keep-alive: requests until the peer closes).
fn serve(stream: TcpStream, queue: &Mutex<VecDeque<(String, Value)>>, tx: &mpsc::Sender<Posted>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header == "\r\n" || header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        match (method.as_str(), path.as_str()) {
            ("GET", "/2018-06-01/runtime/invocation/next") => {
                let next = queue.lock().unwrap().pop_front();
                let Some((id, event)) = next else {
                    // No more work: hold the long poll, as Lambda does.
                    std::thread::sleep(Duration::from_secs(3600));
                    return;
                };
                let body = event.to_string();
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 30_000;
                write!(
                    writer,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:tapprove-verifier\r\nLambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
            ("POST", p) if p.starts_with("/2018-06-01/runtime/invocation/") => {
                let rest = &p["/2018-06-01/runtime/invocation/".len()..];
                let (id, kind) = rest.split_once('/').unwrap();
                tx.send(Posted {
                    request_id: id.to_owned(),
                    kind: kind.to_owned(),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                })
                .unwrap();
                let ok = "{\"status\":\"OK\"}";
                write!(
                    writer,
                    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{ok}",
                    ok.len()
                )
                .unwrap();
            }
            _ => {
                write!(writer, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").unwrap();
            }
        }
        writer.flush().unwrap();
    }
}

/// The verifier binary as a Lambda `bootstrap`, with no arguments and the
/// environment Lambda gives it; its settings name `rp_id` and the tables
/// `<prefix>-registry`, `-ledger`, `-audit` in moto.
struct Function {
    child: Child,
    /// Holds the settings file while the function runs.
    _settings: tempfile::TempDir,
}

impl Function {
    fn start(api: &RuntimeApi, moto: &tapprove_test_support::moto::Moto, rp_id: &str, prefix: &str) -> Self {
        Self::with_settings(api, moto, rp_id, prefix, "")
    }

    /// With `more` (TOML tables) after the tables.
    fn with_settings(
        api: &RuntimeApi,
        moto: &tapprove_test_support::moto::Moto,
        rp_id: &str,
        prefix: &str,
        more: &str,
    ) -> Self {
        Self::with_env(api, moto, rp_id, prefix, more, &[])
    }

    /// With `env` set after moto's (an endpoint elsewhere, a trust store).
    fn with_env(
        api: &RuntimeApi,
        moto: &tapprove_test_support::moto::Moto,
        rp_id: &str,
        prefix: &str,
        more: &str,
        env: &[(&str, String)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "rp_id = \"{rp_id}\"\n[tables]\nregistry = \"{prefix}-registry\"\nledger = \"{prefix}-ledger\"\naudit = \"{prefix}-audit\"\n{more}"
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tapprove-verifier"))
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", api.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", "tapprove-verifier")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/tapprove-verifier")
            .env("TAPPROVE_CONFIG", &config)
            .envs(moto.env(None))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Self {
            child,
            _settings: dir,
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request() -> Value {
    json!({
        "tapprove": "request/v1",
        "execution": "arn:aws:states:us-east-1:123456789012:execution:tapprove-gate:7f3c2b1a",
        "nonce": "0b6f5f9e-4a8e-4c1e-9d59-2b1f1c0f7a11",
        "created": "2026-11-21T10:00:00Z",
        "timeout_seconds": 31_536_000,
        "title": "Deploy api v2.3 to prod",
        "requested_by": "alice",
        "approvers": "prod-approvers",
        "quorum": 1,
        "details": {"service": "api"}
    })
}

#[test]
fn the_binary_answers_gate_calls_and_enrolment_urls_as_a_lambda_function() {
    let tally = json!({"approvals": [], "met": false, "remaining_seconds": 0});
    let api = RuntimeApi::start(vec![
        json!({"op": "remaining", "request": request(), "tally": tally}),
        json!({"op": "verify", "request": request(), "decision": {"tapprove": "approval/v1"}, "tally": tally}),
        // A Lambda function URL event (payload format 2.0).
        json!({
            "version": "2.0",
            "rawPath": "/v1/enrolments",
            "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/v1/enrolments", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "tapprove"}},
            "body": "eyJ0YXBwcm92ZSI6ICJlbnJvbG1lbnQvdjEifQ==",
            "isBase64Encoded": true
        }),
    ]);
    let moto = tapprove_test_support::moto::Moto::start(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let aws = moto.sdk_config().await;
        let tables = tapprove_aws::dynamodb::TableNames::with_prefix("t");
        tapprove_aws::dynamodb::DynamoRegistry::new(&aws, tables)
            .create_tables()
            .await
            .unwrap();
    });
    let _function = Function::start(&api, &moto, "approve.example.com", "t");

    let remaining = api.next();
    assert_eq!(
        (remaining.request_id.as_str(), remaining.kind.as_str()),
        ("req-0", "response")
    );
    assert_eq!(remaining.body["last"], "waiting");
    assert!(remaining.body["remaining_seconds"].as_i64().unwrap() > 0);

    // A refused decision does not end the gate: the function answers the
    // tally with the refusal, which the gate counts as none and asks again.
    let rejected = api.next();
    assert_eq!(
        (rejected.request_id.as_str(), rejected.kind.as_str()),
        ("req-1", "response")
    );
    assert_eq!(rejected.body["last"], "refused", "{}", rejected.body);
    assert_eq!(rejected.body["met"], false);
    assert_eq!(rejected.body["refusals"], 1);
    assert_eq!(rejected.body["backoff_seconds"], 1);
    assert_eq!(rejected.body["refusal"]["code"], "malformed_decision");
    // ...and audited like every verification.
    let audit = runtime.block_on(async {
        let aws = moto.sdk_config().await;
        tapprove_aws::dynamodb::DynamoRegistry::new(
            &aws,
            tapprove_aws::dynamodb::TableNames::with_prefix("t"),
        )
        .audit_of(request()["execution"].as_str().unwrap())
        .await
        .unwrap()
    });
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["outcome"], "malformed_decision");

    // An enrolment through the function URL answers as HTTP: an
    // incomplete request is refused before anything is looked up.
    let http = api.next();
    assert_eq!(
        (http.request_id.as_str(), http.kind.as_str()),
        ("req-2", "response")
    );
    assert_eq!(http.body["statusCode"], 400);
    let body: Value = serde_json::from_str(http.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["code"], "bad_request");
}

/// The verifier reaches AWS over HTTPS with the one client every SDK
/// configuration gets (`tapprove_aws::defaults`: rustls on `ring`, the OS's
/// roots, which `SSL_CERT_FILE` replaces): through a TLS front for moto it
/// writes its audit record; when it does not trust the front's certificate,
/// the handshake fails and nothing is written.
#[test]
fn the_binary_calls_aws_over_https_and_checks_the_certificate() {
    use tapprove_test_support::moto::{Moto, TlsFront};
    let moto = Moto::start(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let registry = runtime.block_on(async {
        let registry = tapprove_aws::dynamodb::DynamoRegistry::new(
            &moto.sdk_config().await,
            tapprove_aws::dynamodb::TableNames::with_prefix("h"),
        );
        registry.create_tables().await.unwrap();
        registry
    });
    let front = TlsFront::start(&moto);
    let stranger = TlsFront::start(&moto);
    // One gate call to the function reaching AWS through the front while
    // trusting the certificate `trusted`: what it answered.
    let call_through_front = |execution: &str, trusted: std::path::PathBuf| {
        let mut request = request();
        request["execution"] = execution.into();
        let api = RuntimeApi::start(vec![json!({
            "op": "verify", "request": request, "decision": {"tapprove": "approval/v1"},
            "tally": {"approvals": [], "met": false, "remaining_seconds": 0}
        })]);
        let _function = Function::with_env(
            &api,
            &moto,
            "example.com",
            "h",
            "",
            &[
                ("AWS_ENDPOINT_URL", front.endpoint()),
                ("SSL_CERT_FILE", trusted.display().to_string()),
            ],
        );
        api.next()
    };
    let trusted = "arn:aws:states:us-east-1:123456789012:execution:tapprove-gate:over-tls";
    let untrusted = "arn:aws:states:us-east-1:123456789012:execution:tapprove-gate:untrusted-tls";

    let answered = call_through_front(trusted, front.cert());
    assert_eq!(answered.kind, "response", "{}", answered.body);
    assert_eq!(answered.body["last"], "refused", "{}", answered.body);
    assert_eq!(runtime.block_on(registry.audit_of(trusted)).unwrap().len(), 1);
    let handshakes = front.handshakes();
    assert!(
        !handshakes.is_empty() && handshakes.iter().all(|h| h == "ok"),
        "{handshakes:?}"
    );

    // The same front, but the process trusts another certificate only.
    let answered = call_through_front(untrusted, stranger.cert());
    assert_eq!(answered.kind, "error", "{}", answered.body);
    let handshakes = front.handshakes();
    assert!(
        !handshakes.is_empty() && handshakes.iter().all(|h| h.starts_with("failed")),
        "{handshakes:?}"
    );
    assert!(runtime.block_on(registry.audit_of(untrusted)).unwrap().is_empty());
}

/// An API Gateway HTTP API event (payload format 2.0) for `POST
/// /v1/decisions` carrying `authorization`: the authorizer's (`type:
/// REQUEST`) or, with `body`, the route integration's.
fn decisions_event(authorization: Option<&str>, body: Option<&Value>) -> Value {
    let mut headers = json!({"content-type": "application/json", "user-agent": "tapprove"});
    if let Some(a) = authorization {
        headers["authorization"] = a.into();
    }
    let context = json!({
        "accountId": "123456789012",
        "apiId": "abcdef123",
        "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "abcdef123",
        "http": {"method": "POST", "path": "/v1/decisions", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "tapprove"},
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "POST /v1/decisions",
        "stage": "$default",
        "time": "22/Nov/2026:10:00:00 +0000",
        "timeEpoch": 1_795_341_600_000_u64
    });
    match body {
        None => json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/POST/v1/decisions",
            "identitySource": authorization.map(|a| vec![a]).unwrap_or_default(),
            "routeKey": "POST /v1/decisions",
            "rawPath": "/v1/decisions",
            "rawQueryString": "",
            "headers": headers,
            "requestContext": context,
        }),
        Some(body) => {
            let mut context = context;
            context["authorizer"] = json!({"lambda": {"approver": "bob@example.com"}});
            json!({
                "version": "2.0",
                "routeKey": "POST /v1/decisions",
                "rawPath": "/v1/decisions",
                "rawQueryString": "",
                "headers": headers,
                "requestContext": context,
                "body": body.to_string(),
                "isBase64Encoded": false,
            })
        }
    }
}

#[test]
fn the_binary_is_the_decision_endpoints_authorizer_and_integration() {
    use tapprove_test_support::{Harness, SIGNED};
    use tapprove_verifier::decisions::authorization_for;

    // bob's software key, registered in DynamoDB (in moto) as enrolment would.
    let h = Harness::new();
    let bob = h.enrol("bob@example.com", &["prod-approvers"], None);
    let record = tapprove_test_support::block_on(tapprove_core::registry::Registry::credential(
        &h.registry,
        bob.as_bytes(),
    ))
    .unwrap()
    .unwrap();
    let moto = tapprove_test_support::moto::Moto::start(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let aws = moto.sdk_config().await;
        let registry = tapprove_aws::dynamodb::DynamoRegistry::new(
            &aws,
            tapprove_aws::dynamodb::TableNames::with_prefix("d"),
        );
        registry.create_tables().await.unwrap();
        let by_admin = |event| tapprove_aws::dynamodb::RegistryEvent {
            by: tapprove_aws::dynamodb::ChangedBy::Admin,
            user: "bob@example.com".into(),
            event,
            at: tapprove_test_support::t(SIGNED),
            caller_arn: "arn:aws:iam::123456789012:user/admin".into(),
            account: "123456789012".into(),
            detail: Default::default(),
        };
        registry
            .put_credential(
                &record,
                &tapprove_test_support::t(SIGNED),
                &by_admin("registered"),
            )
            .await
            .unwrap();
        assert!(
            registry
                .grant("bob@example.com", "prod-approvers", &by_admin("granted"))
                .await
                .unwrap()
        );
    });
    let decision = h.sign(
        &tapprove_test_support::request(),
        tapprove_proto::Verdict::Approve,
        "bob@example.com",
        &bob,
        SIGNED,
    );
    let valid = authorization_for(&serde_json::to_string(&decision).unwrap());
    let mut edited = serde_json::to_value(&decision).unwrap();
    edited["statement"]["reason"] = "edited after signing".into();
    let edited = authorization_for(&edited.to_string());
    let token =
        json!({"task_token": "AAAAKgAAAAIAAAAAAAAAAbogus", "request": tapprove_test_support::request_json()});

    let api = RuntimeApi::start(vec![
        decisions_event(Some(&valid), None),
        decisions_event(Some(&edited), None),
        decisions_event(None, None),
        decisions_event(Some(&edited), Some(&token)),
        decisions_event(Some(&valid), Some(&token)),
    ]);
    let _function = Function::start(&api, &moto, "example.com", "d");

    // The authorizer: a simple response, authorised only for a signature
    // that verifies with the approver's registered credential.
    let admitted = api.next();
    assert_eq!(admitted.kind, "response");
    assert_eq!(admitted.body["isAuthorized"], true, "{:?}", admitted.body);
    assert_eq!(admitted.body["context"]["approver"], "bob@example.com");
    assert_eq!(admitted.body["context"]["verdict"], "approve");
    for refused in [api.next(), api.next()] {
        assert_eq!(refused.kind, "response");
        assert_eq!(refused.body, json!({"isAuthorized": false}));
    }
    // The integration checks again what it sends, and says why it does not.
    let answer = |posted: Posted| {
        assert_eq!(posted.kind, "response");
        let body: Value = serde_json::from_str(posted.body["body"].as_str().unwrap()).unwrap();
        (posted.body["statusCode"].as_u64().unwrap(), body)
    };
    let (status, body) = answer(api.next());
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("challenge_mismatch")),
        "{body}"
    );
    // An admitted decision that matches its request, but the request's
    // execution is no running execution of this deployment's gates (here it
    // does not exist at all): nothing is sent, whatever task token comes
    // with it. (A delivery that passes every check reaches Step Functions
    // in approval_loop.rs.)
    let (status, body) = answer(api.next());
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("not_a_gate")),
        "{body}"
    );
}

/// EventBridge's event for a Step Functions execution whose status
/// changed, as AWS sends it to a rule's target.
fn status_change(execution: &str, state_machine: &str, status: &str) -> Value {
    json!({
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-21T10:05:00Z",
        "region": "us-east-1",
        "resources": [execution],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": state_machine,
            "name": execution.rsplit(':').next().unwrap(),
            "status": status,
            "startDate": 1_795_341_600_000_u64,
            "stopDate": 1_795_341_900_000_u64,
            "input": "{}",
            "output": null
        }
    })
}

#[test]
fn a_withdrawn_request_is_announced_only_when_step_functions_says_it_was_stopped() {
    let moto = tapprove_test_support::moto::Moto::start(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let input = json!({
        "title": "Deploy api v2.3 to prod",
        "requested_by": "alice",
        "approvers": "prod-approvers",
        "quorum": 2,
        "timeout_seconds": 600,
        "details": {"commit": "4f1c2e9"}
    });
    let (state_machine, stopped, running, topic, queue) = runtime.block_on(async {
        let aws = moto.sdk_config().await;
        tapprove_aws::dynamodb::DynamoRegistry::new(
            &aws,
            tapprove_aws::dynamodb::TableNames::with_prefix("w"),
        )
        .create_tables()
        .await
        .unwrap();
        let sfn = tapprove_aws::sfn::StepFunctions::new(&aws);
        let machine = sfn
            .put_state_machine(
                "tapprove-prod-gate",
                r#"{"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": true}}}"#,
                "arn:aws:iam::123456789012:role/tapprove-gate",
            )
            .await
            .unwrap();
        let stopped = sfn.start_execution(&machine, &input.to_string()).await.unwrap();
        let running = sfn.start_execution(&machine, &input.to_string()).await.unwrap();
        sfn.stop_execution(&stopped, "Withdrawn", "the pipeline was cancelled")
            .await
            .unwrap();
        let topic = tapprove_aws::sns::Topics::new(&aws)
            .create_topic("w-announcements")
            .await
            .unwrap();
        let queues = tapprove_aws::sqs::Queues::new(&aws);
        let queue = queues.create_queue("team-chat").await.unwrap();
        tapprove_aws::sns::Topics::new(&aws)
            .subscribe_queue(&topic, &queues.queue_arn(&queue).await.unwrap())
            .await
            .unwrap();
        (machine, stopped, running, topic, queue)
    });
    let api = RuntimeApi::start(vec![
        // An event claiming a running execution was aborted: Step Functions
        // says otherwise, so nothing is announced.
        status_change(&running, &state_machine, "ABORTED"),
        status_change(&stopped, &state_machine, "ABORTED"),
    ]);
    let _function = Function::with_settings(
        &api,
        &moto,
        "example.com",
        "w",
        &format!("[announcements]\ntopic_arn = \"{topic}\"\n"),
    );
    let forged = api.next();
    assert_eq!(forged.kind, "response");
    assert_eq!(forged.body["announced"], Value::Null, "{}", forged.body);
    let withdrawn = api.next();
    assert_eq!(withdrawn.body["announced"], "withdrawn", "{}", withdrawn.body);

    let messages = runtime.block_on(async {
        let aws = moto.sdk_config().await;
        tapprove_aws::sqs::Queues::new(&aws)
            .receive(&queue, 2, 10)
            .await
            .unwrap()
    });
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message: Value = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(message["version"], "1.0");
    assert_eq!(message["source"], "custom");
    assert_eq!(message["metadata"]["eventType"], "tapprove.withdrawn");
    assert_eq!(message["metadata"]["threadId"], stopped.as_str());
    let title = message["content"]["title"].as_str().unwrap();
    assert_eq!(title, "Withdrawn: `Deploy api v2.3 to prod`");
    let text = message.to_string();
    assert!(text.contains("alice (not verified)"), "{text}");
    assert!(text.contains("2 of prod-approvers"), "{text}");
    assert!(!text.contains("4f1c2e9"), "the details were announced: {text}");
    // The link opens the request by its execution's name.
    assert_eq!(
        message["metadata"]["additionalContext"]["link"],
        format!("tapprove://request/{}", stopped.rsplit(':').next().unwrap())
    );
}

/// Puts `body` at `s3://bucket/key` in moto (creating the bucket).
fn put_object(
    runtime: &tokio::runtime::Runtime,
    moto: &tapprove_test_support::moto::Moto,
    bucket: &str,
    key: &str,
    body: &[u8],
) {
    let client = reqwest::Client::new();
    let base = moto.endpoint().trim_end_matches('/');
    runtime.block_on(async {
        let _ = client.put(format!("{base}/{bucket}")).send().await.unwrap();
        let put = client
            .put(format!("{base}/{bucket}/{key}"))
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{put:?}");
    });
}

/// The daily schedule's event makes the function read FIDO's BLOB from the
/// S3 object its settings name, verify it and store its models; a BLOB that
/// does not verify stores nothing and fails the invocation with why; an
/// event that is not exactly the schedule's is no import.
#[test]
fn the_schedule_imports_fidos_blob_from_s3_and_a_foreign_one_changes_nothing() {
    use tapprove_test_support::mds::{blob, entry, fixture};
    let moto = tapprove_test_support::moto::Moto::start(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let aws = runtime.block_on(moto.sdk_config());
    let registry = tapprove_aws::dynamodb::DynamoRegistry::new(
        &aws,
        tapprove_aws::dynamodb::TableNames::with_prefix("f"),
    );
    runtime.block_on(registry.create_tables()).unwrap();
    let yubikey = tapprove_test_support::forged::yubikey_5();
    let good = blob(
        12,
        "2099-01-01",
        vec![entry(
            yubikey,
            "YubiKey 5 Series",
            &[],
            &[("FIDO_CERTIFIED_L1", "2026-01-01"), ("REVOKED", "2026-11-01")],
        )],
        "signer",
    );
    put_object(&runtime, &moto, "acme-fido", "mds/blob.jwt", good.as_bytes());
    let roots = tempfile::tempdir().unwrap();
    std::fs::write(roots.path().join("test-root.der"), fixture("fido-root.der")).unwrap();
    std::fs::write(roots.path().join("other-root.der"), fixture("other-root.der")).unwrap();
    let settings = |root: &str| {
        format!(
            "[fido_metadata]\nobject = \"s3://acme-fido/mds/blob.jwt\"\nroots = \"{}\"\n",
            roots.path().join(root).display()
        )
    };

    // Under a root that did not sign it: refused, nothing stored.
    let api = RuntimeApi::start(vec![json!({"tapprove": "import_fido_metadata"})]);
    let function = Function::with_settings(&api, &moto, "example.com", "f", &settings("other-root.der"));
    let refused = api.next();
    assert_eq!(refused.kind, "error", "{}", refused.body);
    assert_eq!(
        refused.body["errorType"], "Tapprove.FidoMetadataRefused",
        "{}",
        refused.body
    );
    drop(function);
    assert!(runtime.block_on(registry.stored_metadata()).unwrap().is_none());

    let api = RuntimeApi::start(vec![
        json!({"tapprove": "import_fido_metadata", "object": "s3://elsewhere/blob.jwt"}),
        json!({"tapprove": "import_fido_metadata"}),
        json!({"tapprove": "import_fido_metadata"}),
    ]);
    let _function = Function::with_settings(&api, &moto, "example.com", "f", &settings("test-root.der"));
    // Not the schedule's event: a gate call it is not.
    let other = api.next();
    assert_eq!(other.kind, "error", "{}", other.body);
    assert_eq!(other.body["errorType"], "Tapprove.BadGateInput", "{}", other.body);
    let imported = api.next();
    assert_eq!(imported.kind, "response", "{}", imported.body);
    assert_eq!(imported.body["imported"], 12, "{}", imported.body);
    // The next day, the same BLOB: nothing written, nothing recorded.
    let again = api.next();
    assert_eq!(again.body["unchanged"], true, "{}", again.body);
    let model = runtime
        .block_on(tapprove_core::registry::Registry::model(&registry, &yubikey))
        .unwrap()
        .unwrap();
    assert_eq!(model.distrust.unwrap().status, "REVOKED");
    let records = runtime
        .block_on(registry.admin_events_of("metadata:fido"))
        .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["source"], "s3://acme-fido/mds/blob.jwt");
    assert!(
        records[0]["anchor"].as_str().unwrap().starts_with("roots:"),
        "{}",
        records[0]
    );
}
