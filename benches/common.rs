//! What the emulator benchmarks share: a runtime, and the gate installed in
//! moto as `tapprove gate install` does it.

use tapprove_config::Config;
use tapprove_engine::install::{GatePlan, SourceKind, install};
use tapprove_proto::UtcTime;

/// The group every benchmark's gate asks.
pub const GROUP: &str = "prod-approvers";

/// Two worker threads, as the app's runtime has on this machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The gate `bench-gate` for [`GROUP`] with tables `bench-*`, its tasks
/// reaching approvers through `source`.
pub async fn install_gate(aws: &aws_config::SdkConfig, source: SourceKind) -> Config {
    install(
        aws,
        &GatePlan {
            name: "bench-gate".into(),
            group: GROUP.into(),
            source,
            table_prefix: "bench".into(),
            role_arn: "arn:aws:iam::123456789012:role/bench".into(),
            rp_id: "tapprove.local".into(),
            identity: tapprove_config::IdentitySettings::default(),
            announce: false,
        },
        &UtcTime::now(),
    )
    .await
    .unwrap()
}
