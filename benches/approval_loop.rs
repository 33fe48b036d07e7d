//! The approval loop's latency and idle cost against the local emulator,
//! each beside the raw call it wraps, measured in the same run:
//!
//!     cargo bench -p tapprove-benches --bench approval_loop
//!
//! - notify latency: `StartExecution` of the real gate → the engine has the
//!   request in its inbox (long-poll in flight, parse, journal), beside a
//!   raw `GetActivityTask` in flight for the same kind of execution;
//! - decision latency: the engine's approve (signing with the software
//!   authenticator, journalling to SQLite while `SendTaskSuccess` is in
//!   flight) → acknowledged and journalled, beside signing with the same
//!   kind of authenticator and a raw `SendTaskSuccess` (goal: at most
//!   1.1x at p50 and p99);
//! - idle cost: requests per minute one source makes with nothing pending.
//!
//! Environment: `BENCH_RUNS` (default 50), `BENCH_IDLE_SECONDS` (default
//! 120) and `BENCH_POLL_SECONDS` (the emulator's empty long-poll, default 60
//! as in AWS).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use tapprove_authn::UserVerification;
use tapprove_authn::software::{MemoryKeyStore, SoftwareAuthenticator};
use tapprove_aws::sfn::StepFunctions;
use tapprove_config::Source;
use tapprove_engine::install::SourceKind;
use tapprove_engine::{Engine, Signer};
use tapprove_proto::UtcTime;
use tapprove_proto::Verdict;
use tapprove_test_support::moto::Moto;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn report(name: &str, engine: &mut [Duration], raw: &mut [Duration]) {
    let (e50, e99) = (percentile(engine, 0.5), percentile(engine, 0.99));
    let (r50, r99) = (percentile(raw, 0.5), percentile(raw, 0.99));
    println!(
        "{name:<18} engine p50 {:>8.2} ms  p99 {:>8.2} ms | raw p50 {:>8.2} ms  p99 {:>8.2} ms | ratio p50 {:.2}x  p99 {:.2}x",
        e50.as_secs_f64() * 1e3,
        e99.as_secs_f64() * 1e3,
        r50.as_secs_f64() * 1e3,
        r99.as_secs_f64() * 1e3,
        e50.as_secs_f64() / r50.as_secs_f64(),
        e99.as_secs_f64() / r99.as_secs_f64(),
    );
}

const INPUT: &str = r#"{"title":"Deploy api v2.3 to prod","requested_by":"alice","approvers":"prod-approvers","quorum":1,"timeout_seconds":3600,"details":{"service":"api","version":"2.3.0"}}"#;

fn main() {
    let runs = env_number("BENCH_RUNS", 50) as usize;
    let idle_seconds = env_number("BENCH_IDLE_SECONDS", 120);
    let poll_seconds = env_number("BENCH_POLL_SECONDS", 60) as u32;
    let moto = Moto::start(poll_seconds);
    let rt = common::runtime();
    rt.block_on(async {
        let aws = moto.sdk_config().await;
        let config = common::install_gate(&aws, SourceKind::Activity).await;
        let gate = config.gate.clone().unwrap().state_machine_arn;
        // The gate's verifier, as `tapprove-verifier worker` runs it: its
        // first step admits each request before anyone is asked.
        {
            let (aws, config) = (aws.clone(), config.clone());
            tokio::spawn(async move {
                let registry = tapprove_engine::admin::registry(&aws, &config);
                let activity = config.verifier.clone().unwrap().activity_arn;
                tapprove_verifier::worker::run(
                    &StepFunctions::new(&aws),
                    &activity,
                    "bench-verifier",
                    &config.policy(),
                    &registry,
                    None,
                    std::future::pending(),
                )
                .await;
            });
        }
        let Source::Activity { arn: activity, .. } = config.sources[0].clone() else { unreachable!() };
        let source = config.sources[0].clone();
        let state = tempfile_dir();
        let engine = std::sync::Arc::new(Engine::open(config, &aws, &state).unwrap());
        let sfn = StepFunctions::new(&aws);
        let authenticator = SoftwareAuthenticator::new(MemoryKeyStore::new(), UtcTime::now());
        let credential = enrol(&authenticator, &engine.approver().await.unwrap());
        let signer = Signer::for_test(Box::new(authenticator), vec![credential]);

        // Notify latency, then decision latency on the request that just
        // arrived (an app holds a bounded number of claimed tasks, so each
        // is decided before the next is claimed). The raw side: a raw
        // `GetActivityTask` in flight, then the least a decision costs,
        // signing with the same kind of authenticator and one
        // `SendTaskSuccess`.
        let raw_key = SoftwareAuthenticator::new(MemoryKeyStore::new(), UtcTime::now());
        let raw_credential = enrol(&raw_key, "raw");
        let (mut engine_notify, mut raw_notify) = (Vec::new(), Vec::new());
        let (mut engine_decide, mut raw_decide) = (Vec::new(), Vec::new());
        let prompt = NoPrompt;
        for i in 0..runs * 2 {
            let measure_engine = i % 2 == 0;
            let polling = engine.clone();
            let source = source.clone();
            let poll_sfn = sfn.clone();
            let activity = activity.clone();
            let poll = tokio::spawn(async move {
                let task = if measure_engine {
                    let events = polling.poll(&source, 1).await.unwrap();
                    assert_eq!(events.len(), 1, "the engine did not report the new request");
                    None
                } else {
                    Some(poll_sfn.poll_activity(&activity, "raw").await.unwrap().unwrap())
                };
                (Instant::now(), task)
            });
            // Let the long-poll reach the emulator before the request exists.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let started = Instant::now();
            sfn.start_execution(&gate, INPUT).await.unwrap();
            let (arrived, task) = poll.await.unwrap();
            if measure_engine { &mut engine_notify } else { &mut raw_notify }.push(arrived - started);
            match task {
                None => {
                    let item = engine.inbox().unwrap().remove(0);
                    let started = Instant::now();
                    let (_, outcome) = engine
                        .decide(
                            &item.id,
                            Verdict::Approve,
                            tapprove_engine::Reason::default(),
                            &signer,
                            &prompt,
                            Some(UserVerification::Discouraged),
                        )
                        .await
                        .unwrap();
                    engine_decide.push(started.elapsed());
                    assert_eq!(outcome, tapprove_engine::DeliveryOutcome::Delivered);
                    // The bench's keys are in no registry, so the gate would
                    // ask again and its task would meet the next poll.
                    sfn.stop_execution(&item.request.execution, "Bench", "measured").await.unwrap();
                }
                Some(task) => {
                    let request = tapprove_proto::offered::Offered::from_activity_input(task.input.as_bytes())
                        .unwrap()
                        .request;
                    let started = Instant::now();
                    let decision = tapprove_authn::sign_decision(
                        &raw_key,
                        &NoPrompt,
                        &tapprove_authn::SigningRequest {
                            request: &request,
                            verdict: Verdict::Approve,
                            reason: None,
                            reason_code: None,
                            approver: "raw".into(),
                            rp_id: "tapprove.local".into(),
                            signed_at: UtcTime::now(),
                            allow_credentials: vec![raw_credential.clone()],
                            user_verification: UserVerification::Discouraged,
                        },
                    )
                    .unwrap();
                    sfn.send_success(&task.token, &decision.to_json()).await.unwrap();
                    raw_decide.push(started.elapsed());
                    sfn.stop_execution(&request.execution, "Bench", "measured").await.unwrap();
                }
            }
        }
        report("notify latency", &mut engine_notify, &mut raw_notify);
        report("decision latency", &mut engine_decide, &mut raw_decide);
        println!("decision goal      engine at most 1.10x (signing + raw SendTaskSuccess) at p50 and p99");

        // Idle cost: one source, nothing pending.
        let counted = Instant::now();
        let mut requests = 0u64;
        while counted.elapsed() < Duration::from_secs(idle_seconds) {
            let events = engine.poll(&source, 20).await.unwrap();
            assert!(events.is_empty());
            requests += 1;
        }
        let per_minute = requests as f64 * 60.0 / counted.elapsed().as_secs_f64();
        println!(
            "idle cost          {per_minute:.2} requests/minute for one activity source ({requests} long-polls in {:.0} s, empty long-poll {poll_seconds} s)",
            counted.elapsed().as_secs_f64()
        );
    });
}

struct NoPrompt;

impl tapprove_authn::UserPrompt for NoPrompt {
    fn show(&self, _prompt: tapprove_authn::Prompt) {}
    fn pin(&self, _request: &tapprove_authn::PinRequest) -> Option<zeroize::Zeroizing<String>> {
        None
    }
}

fn enrol(authenticator: &SoftwareAuthenticator<MemoryKeyStore>, user: &str) -> tapprove_proto::Base64Url {
    use tapprove_authn::{Authenticator, CredentialRequest};
    authenticator
        .make_credential(
            &CredentialRequest {
                rp_id: "tapprove.local".into(),
                user_name: user.into(),
                user_handle: user.as_bytes().to_vec(),
                client_data_json: tapprove_core::canonical::creation_client_data_json(
                    &[1; 32],
                    "https://tapprove.local",
                ),
                exclude_credentials: vec![],
                user_verification: UserVerification::Discouraged,
                label: "bench".into(),
            },
            &NoPrompt,
        )
        .unwrap()
        .credential_id
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tapprove-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
