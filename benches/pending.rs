//! A thousand requests pending for one approver, against the local
//! emulator, through each source:
//!
//!     cargo bench -p tapprove-benches --bench pending
//!
//! **Activity** (one activity per group; apps claim tasks): the engine
//! claims at most 20 at once and leaves the rest to colleagues. Prints how
//! many one app held after polling until it stopped claiming, how many a
//! colleague's app then claimed, the inbox from the cache, and one
//! heartbeat (one `SendTaskHeartbeat` per claimed task, so at most 20,
//! however many wait).
//!
//! **Queue** (the gate's fan-out to the approver's queue), each beside its
//! goal where the issue names one:
//! - intake: receives and seconds until every request is in the inbox, and
//!   whether messages already held came back to fill receives (they are
//!   hidden for `QUEUE_HOLD_SECONDS` once seen again);
//! - the inbox listed from the cache (what `tapprove inbox` and the app
//!   show between polls): p50 and max over 20 reads (goal: at most 100 ms);
//! - memory: growth of this process's resident set from before the intake
//!   to after it (goal: at most 20 MB);
//! - one poll with everything taken, and one heartbeat (at most 20
//!   `DescribeExecution` calls per heartbeat, whatever the inbox holds).
//!
//! The messages are put on the queue as the gate's fan-out writes them (a
//! task token and the request); no execution stands behind them, so the
//! heartbeat's lookups answer "no such execution" and change nothing.
//!
//! Environment: `BENCH_PENDING` (default 1000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use tapprove_config::Source;
use tapprove_engine::Engine;
use tapprove_engine::install::SourceKind;
use tapprove_proto::UtcTime;
use tapprove_test_support::moto::Moto;

use common::GROUP;

fn resident_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

fn message(i: usize, created: &UtcTime) -> String {
    serde_json::json!({
        "task_token": format!("bench-token-{i:04}-{}", "t".repeat(200)),
        "request": {
            "tapprove": "request/v1",
            "execution": format!("arn:aws:states:us-east-1:123456789012:execution:bench-gate:pending-{i:04}"),
            "nonce": format!("0b6f5f9e-4a8e-4c1e-9d59-{i:012}"),
            "created": created.to_string(),
            "timeout_seconds": 86_400,
            "title": format!("Deploy api build {i} to prod"),
            "requested_by": "alice",
            "approvers": GROUP,
            "quorum": 1,
            "details": {"service": "api", "build": i, "commit": format!("{:040x}", i)}
        }
    })
    .to_string()
}

fn main() {
    let pending = std::env::var("BENCH_PENDING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000usize);
    let rt = common::runtime();
    {
        // An emulator of its own: both gates are `bench-gate`.
        let moto = Moto::start(2);
        rt.block_on(activity(&moto, pending));
    }
    let moto = Moto::start(2);
    rt.block_on(async {
        let aws = moto.sdk_config().await;
        let (config, source) = gate(&aws, SourceKind::Queue).await;
        let state = scratch("queue");
        let engine = Engine::open(config, &aws, &state).unwrap();
        let approver = engine.approver().await.unwrap();
        let queues = tapprove_aws::sqs::Queues::new(&aws);
        let url = queues
            .create_queue(&tapprove_engine::approver_queue_name(GROUP, &approver))
            .await
            .unwrap();
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let created = UtcTime::now();
        for batch in (0..pending).collect::<Vec<_>>().chunks(10) {
            let mut send = sqs.send_message_batch().queue_url(&url);
            for &i in batch {
                send = send.entries(
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message_body(message(i, &created))
                        .build()
                        .unwrap(),
                );
            }
            send.send().await.unwrap();
        }

        let before = resident_mb();
        let started = Instant::now();
        let (mut receives, mut empty) = (0u32, 0u32);
        while engine.inbox().unwrap().len() < pending {
            let events = engine.poll(&source, 1).await.unwrap();
            receives += 1;
            if events.is_empty() {
                empty += 1;
            }
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "only {} of {pending} requests in the inbox after 15 minutes",
                engine.inbox().unwrap().len()
            );
        }
        let intake = started.elapsed();
        let after = resident_mb();

        let reads = cache_reads(&engine, pending);

        let at = Instant::now();
        let events = engine.poll(&source, 0).await.unwrap();
        let drained_poll = at.elapsed();
        let new_after = events
            .iter()
            .filter(|e| matches!(e, tapprove_engine::Event::NewRequest { .. }))
            .count();
        let at = Instant::now();
        let gone = engine.heartbeat().await.unwrap();
        let heartbeat = at.elapsed();

        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!("queue source ({pending} messages on the approver's queue)");
        println!(
            "intake             {pending} requests in the inbox after {receives} receives ({empty} returned nothing new) in {:.1} s ({:.1} receives/s)",
            intake.as_secs_f64(),
            f64::from(receives) / intake.as_secs_f64()
        );
        println!(
            "inbox from cache   p50 {:.2} ms  max {:.2} ms over {} reads of {pending} requests (goal: at most 100 ms): {}",
            ms(reads[reads.len() / 2]),
            ms(reads[reads.len() - 1]),
            reads.len(),
            if ms(reads[reads.len() - 1]) <= 100.0 { "met" } else { "NOT met" }
        );
        println!(
            "memory             resident {before:.1} MB before, {after:.1} MB with {pending} pending: +{:.1} MB (goal: at most +20 MB): {}",
            after - before,
            if after - before <= 20.0 { "met" } else { "NOT met" }
        );
        println!(
            "one more poll      {:.1} ms, {new_after} new (every message taken or out of sight)",
            ms(drained_poll)
        );
        println!(
            "one heartbeat      {:.1} ms, {} requests dropped (at most 20 DescribeExecution calls, whatever the inbox holds)",
            ms(heartbeat),
            gone.len()
        );
        let _ = std::fs::remove_dir_all(&state);
    });
}

/// The bench gate installed with `kind`, and its source.
async fn gate(aws: &aws_config::SdkConfig, kind: SourceKind) -> (tapprove_config::Config, Source) {
    let config = common::install_gate(aws, kind).await;
    let source = config
        .sources
        .iter()
        .find(|s| {
            matches!(
                (s, kind),
                (Source::Queue { .. }, SourceKind::Queue) | (Source::Activity { .. }, SourceKind::Activity)
            )
        })
        .cloned()
        .expect("the gate's source");
    (config, source)
}

/// Times 20 reads of the inbox from the cache (each must list `expected`), sorted.
fn cache_reads(engine: &Engine, expected: usize) -> Vec<Duration> {
    let mut reads: Vec<Duration> = (0..20)
        .map(|_| {
            let at = Instant::now();
            assert_eq!(engine.inbox().unwrap().len(), expected);
            at.elapsed()
        })
        .collect();
    reads.sort();
    reads
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tapprove-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `pending` executions waiting on the group's activity (the gate's task
/// state alone, its input the request as the gate passes it); one app
/// polls until it claims no more, then a colleague's.
async fn activity(moto: &Moto, pending: usize) {
    let aws = moto.sdk_config().await;
    let (config, source) = gate(&aws, SourceKind::Activity).await;
    let Source::Activity { arn, .. } = &source else {
        unreachable!()
    };
    let sfn = aws_sdk_sfn::Client::new(&aws);
    let definition = serde_json::json!({
        "StartAt": "Wait for decision",
        "States": {"Wait for decision": {"Type": "Task", "Resource": arn, "TimeoutSeconds": 86_400, "End": true}}
    });
    let machine = sfn
        .create_state_machine()
        .name("bench-activity-waits")
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/bench")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let created = UtcTime::now();
    let started = Instant::now();
    for i in 0..pending {
        let request: serde_json::Value = serde_json::from_str(&message(i, &created)).unwrap();
        sfn.start_execution()
            .state_machine_arn(&machine)
            .name(format!("pending-{i:04}"))
            .input(request["request"].to_string())
            .send()
            .await
            .unwrap();
    }
    let start_s = started.elapsed().as_secs_f64();

    let state = scratch("activity");
    let engine = Engine::open(config.clone(), &aws, &state).unwrap();
    let before = resident_mb();
    let started = Instant::now();
    let mut polls = 0u32;
    loop {
        let events = engine.poll(&source, 0).await.unwrap();
        polls += 1;
        if events.is_empty() {
            break;
        }
        assert!(
            polls < 200,
            "the app kept claiming: {} held",
            engine.inbox().unwrap().len()
        );
    }
    let claim_s = started.elapsed().as_secs_f64();
    let held = engine.inbox().unwrap().len();
    let after = resident_mb();

    let colleague_state = scratch("activity-colleague");
    let colleague = Engine::open(config, &aws, &colleague_state).unwrap();
    while !colleague.poll(&source, 0).await.unwrap().is_empty() {}
    let colleague_held = colleague.inbox().unwrap().len();

    let reads = cache_reads(&engine, held);
    let at = Instant::now();
    let gone = engine.heartbeat().await.unwrap();
    let heartbeat = at.elapsed();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "activity source ({pending} executions started in {start_s:.1} s, each waiting on the group's activity)"
    );
    println!(
        "  one app          claimed {held} in {polls} polls ({claim_s:.1} s), then stopped: at most 20 held at once: {}",
        if held <= 20 && held > 0 { "met" } else { "NOT met" }
    );
    println!(
        "  a colleague      claimed {colleague_held} of the rest: {}",
        if colleague_held > 0 {
            "the rest are left for colleagues"
        } else {
            "NOT left"
        }
    );
    println!(
        "  inbox from cache p50 {:.2} ms  max {:.2} ms over {} reads (goal: at most 100 ms): {}",
        ms(reads[reads.len() / 2]),
        ms(reads[reads.len() - 1]),
        reads.len(),
        if ms(reads[reads.len() - 1]) <= 100.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  memory           +{:.1} MB while claiming (goal: at most +20 MB): {}",
        after - before,
        if after - before <= 20.0 { "met" } else { "NOT met" }
    );
    println!(
        "  one heartbeat    {:.1} ms, {held} SendTaskHeartbeat calls (one per claimed task, at most 20 every 10 s), {} dropped",
        ms(heartbeat),
        gone.len()
    );
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_dir_all(&colleague_state);
}
