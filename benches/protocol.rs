//! Signing and verifying one decision, beside a raw P-256 ECDSA verify
//! measured in the same run, so the protocol's overhead over the one
//! signature check it cannot avoid is visible:
//!
//!     cargo bench -p tapprove-benches --bench protocol
//!
//! `verify_decision` is the whole verifier: parsing both documents,
//! canonicalising and hashing the request and the statement, the registry
//! lookups, every rule, the signature, and the single-use commit with its
//! audit record (in memory).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use p256::ecdsa::signature::{Signer, Verifier as _};
use p256::ecdsa::{Signature, SigningKey};
use tapprove_core::Verifier;
use tapprove_core::registry::{MemoryRegistry, Registry};
use tapprove_proto::Verdict;
use tapprove_test_support::{Harness, SIGNED, VERIFIED, block_on, request, request_json, t};

fn benches(c: &mut Criterion) {
    let harness = Harness::new();
    let key = harness.enrol("bob@example.com", &["prod-approvers"], None);
    let request = request();
    let request_bytes = serde_json::to_vec(&request_json()).unwrap_or_default();

    c.bench_function("sign_decision", |b| {
        b.iter(|| black_box(harness.sign(&request, Verdict::Approve, "bob@example.com", &key, SIGNED)))
    });

    let decision = harness.sign(&request, Verdict::Approve, "bob@example.com", &key, SIGNED);
    let decision_bytes = serde_json::to_vec(&decision).unwrap_or_default();
    let record = block_on(harness.registry.credential(key.as_bytes()))
        .ok()
        .flatten();
    let fresh_registry = || {
        let registry = MemoryRegistry::new();
        registry.add_approver("bob@example.com", ["prod-approvers".to_owned()]);
        if let Some(record) = &record {
            registry.add_credential(record.clone());
        }
        registry
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().ok();
    let now = t(VERIFIED);
    c.bench_function("verify_decision", |b| {
        b.iter_batched(
            fresh_registry,
            |registry| {
                let verifier = Verifier::new(&harness.policy, &registry, &registry);
                let out = runtime
                    .as_ref()
                    .map(|rt| rt.block_on(verifier.verify_json(&request_bytes, &decision_bytes, &now)));
                assert!(matches!(out, Some(Ok(_))), "the benchmarked decision must verify");
                black_box(out)
            },
            BatchSize::SmallInput,
        )
    });

    // The floor: one P-256 ECDSA verification over a message of the same
    // shape (37 bytes of authenticator data and a 32-byte hash).
    let signing = SigningKey::random(&mut rand_core::OsRng);
    let verifying = *signing.verifying_key();
    let message = [0x5au8; 69];
    let signature: Signature = signing.sign(&message);
    c.bench_function("raw_p256_verify", |b| {
        b.iter(|| {
            black_box(
                verifying
                    .verify(black_box(&message), black_box(&signature))
                    .is_ok(),
            )
        })
    });
}

criterion_group!(protocol, benches);
criterion_main!(protocol);
