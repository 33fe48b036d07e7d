//! Benchmarks live in `protocol.rs`; run them with
//! `cargo bench -p tapprove-benches`.
