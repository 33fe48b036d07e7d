//! The approval loop's world, shared by the suites that drive it: moto
//! runs the real gate definition from `deploy/`, the verifier runs as an
//! activity worker beside the enrolment service, and approvers use the real
//! `tapprove` binary, each with their own AWS identity and state directory.

// Each suite uses part of this.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::moto::{IamUser, Moto};
use tapprove_aws::sfn::{ExecutionState, StepFunctions};
use tapprove_config::Config;
use tapprove_test_support as support;

/// The role whose sessions the organisation's loop takes for people.
pub const APPROVER_ROLE: &str = "TapproveApprover";

/// A gate installed in a fresh emulator, with its verifier running.
pub struct Loop {
    pub moto: Moto,
    pub dir: tempfile::TempDir,
    pub state_machine: String,
    pub runtime: tokio::runtime::Runtime,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub worker: Option<std::thread::JoinHandle<()>>,
    pub enrolment_url: String,
}

pub struct Approver {
    pub iam: IamUser,
    pub state: PathBuf,
}

impl Loop {
    /// The loop with IAM users as approvers (the emulator has no IAM
    /// Identity Center, so its people are IAM users: the demo's explicit
    /// `--allow-iam-users`).
    pub fn new(source: &str) -> Self {
        Self::installed(source, &["--allow-iam-users"])
    }

    /// The loop as a real organisation sets it up: only sessions of the
    /// approver role `TapproveApprover` (standing in for IAM Identity
    /// Center's permission-set role) enrol; IAM users do not.
    pub fn organisation(source: &str) -> Self {
        Self::installed(source, &["--approver-role", APPROVER_ROLE])
    }

    /// The loop, with `gate install` given `install` besides the group and
    /// source.
    pub fn installed(source: &str, install: &[&str]) -> Self {
        let moto = Moto::start(2);
        let dir = tempfile::tempdir().unwrap();
        let mut this = Self {
            moto,
            dir,
            state_machine: String::new(),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
            stop: None,
            worker: None,
            enrolment_url: String::new(),
        };
        let mut args = vec![
            "--json",
            "gate",
            "install",
            "--group",
            "prod-approvers",
            "--source",
            source,
        ];
        args.extend(install);
        let out = this.admin(&args);
        assert!(
            out.status.success(),
            "gate install: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let mut config = Config::load(&this.config_path()).unwrap();
        this.state_machine = config.gate.as_ref().unwrap().state_machine_arn.clone();
        this.enrolment_url = this.start_enrolment(&config);
        config.enrolment = Some(tapprove_config::EnrolmentSettings {
            url: Some(this.enrolment_url.clone()),
            require_admin: false,
            server_id: None,
        });
        // Approvers here run without a desktop session, so their keys are
        // files; signin.rs covers the keychain default.
        config.key_store = tapprove_config::KeyStoreKind::Files;
        config.save(&this.config_path()).unwrap();
        this.start_verifier(config);
        this
    }

    /// Starts the enrolment service and the decision endpoint (what
    /// `tapprove-verifier serve` runs) on a free port; they stop with the
    /// runtime.
    pub fn start_enrolment(&self, config: &Config) -> String {
        self.runtime.block_on(async {
            let aws = self.moto.sdk_config().await;
            let service = tapprove_verifier::enrol::EnrolService::from_config(&aws, config).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let decisions = tapprove_verifier::decisions::DecisionService::new(
                config.policy(),
                tapprove_engine_admin_registry(&aws, config),
                StepFunctions::new(&aws),
                config.endpoint_gates(),
            );
            let enrolment = std::sync::Arc::new(service);
            let services = tapprove_verifier::http::Services {
                requests: std::sync::Arc::new(tapprove_verifier::requests::RequestService::new(
                    std::sync::Arc::clone(&enrolment),
                    StepFunctions::new(&aws),
                    config.endpoint_gates(),
                )),
                enrolment,
                decisions: std::sync::Arc::new(decisions),
            };
            tokio::spawn(tapprove_verifier::http::serve(
                listener,
                services,
                std::future::pending(),
            ));
            url
        })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn start_verifier(&mut self, config: Config) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let aws = self.runtime.block_on(self.moto.sdk_config());
        let handle = self.runtime.handle().clone();
        self.worker = Some(std::thread::spawn(move || {
            handle.block_on(async move {
                let sfn = StepFunctions::new(&aws);
                let registry = tapprove_engine_admin_registry(&aws, &config);
                let arn = config.verifier.as_ref().unwrap().activity_arn.clone();
                let announcer = tapprove_verifier::announce::Announcer::from_config(&aws, &config);
                tapprove_verifier::worker::run(
                    &sfn,
                    &arn,
                    "test-verifier",
                    &config.policy(),
                    &registry,
                    announcer.as_ref(),
                    async {
                        let _ = rx.await;
                    },
                )
                .await;
            });
        }));
        self.stop = Some(tx);
    }

    pub fn run(&self, env: Vec<(String, String)>, state: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tapprove"))
            .args(args)
            .envs(env)
            .env("TAPPROVE_CONFIG", self.config_path())
            .env("TAPPROVE_STATE_DIR", state)
            .env_remove("TAPPROVE_RP_ID")
            .output()
            .unwrap()
    }

    /// The credentials the registry holds for `user`, as `(label, status)`,
    /// oldest first (what `tapprove admin credentials` lists).
    pub fn credential_statuses(&self, user: &str) -> Vec<(String, String)> {
        let list = json_of(&self.admin(&["--json", "admin", "credentials", user]));
        list["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["label"].as_str().unwrap().to_owned(),
                    c["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The enrolment service as the approvers' settings name it.
    pub fn endpoint(&self) -> tapprove_engine::enrol::Endpoint {
        tapprove_engine::enrol::Endpoint::from_config(&Config::load(&self.config_path()).unwrap())
            .unwrap()
            .unwrap()
    }

    /// Runs `tapprove` as the admin (moto's default principal).
    pub fn admin(&self, args: &[&str]) -> Output {
        self.run(self.moto.env(None), &self.dir.path().join("admin"), args)
    }

    /// Runs `tapprove` as `who`.
    pub fn as_(&self, who: &Approver, args: &[&str]) -> Output {
        self.run(self.moto.env(Some(&who.iam)), &who.state, args)
    }

    /// Creates an IAM user, granted `groups`, who then enrols a software
    /// key through the enrolment service (their first, after a grant, so it
    /// is active at once; without a group it would wait for an admin).
    pub fn approver(&self, name: &str, groups: &[&str]) -> Approver {
        let who = self.user(name);
        self.enrolled(who, name, groups)
    }

    /// `who` (whose approver name is `name`), granted `groups`, enrols a
    /// software key, which must be active.
    pub fn enrolled(&self, who: Approver, name: &str, groups: &[&str]) -> Approver {
        self.grant(name, groups);
        let out = self.as_(&who, &["--json", "enroll", "--label", "laptop"]);
        assert!(
            out.status.success(),
            "enroll: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = if groups.is_empty() { "pending" } else { "active" };
        assert_eq!(json_of(&out)["receipt"]["status"], expected);
        who
    }

    /// A person signed in through the organisation's approver role (the
    /// session name is the approver's name).
    pub fn person(&self, name: &str) -> Approver {
        self.session_of(APPROVER_ROLE, name, None)
    }

    /// A session of `role` in `account` (default: the deployment's) that
    /// calls itself `session`.
    pub fn session_of(&self, role: &str, session: &str, account: Option<&str>) -> Approver {
        Approver {
            iam: self.moto.assume_role(role, session, account),
            state: self
                .dir
                .path()
                .join(format!("{}-{role}-{session}", account.unwrap_or("own"))),
        }
    }

    /// Like [`Self::approver`], but the key is registered the admin's way:
    /// an enrolment request file and `tapprove admin register`.
    pub fn approver_registered_by_admin(&self, name: &str, groups: &[&str]) -> Approver {
        let who = self.user(name);
        let request = self.dir.path().join(format!("{name}-enrolment.json"));
        let out = self.as_(
            &who,
            &["enroll", "--label", "laptop", "--out", request.to_str().unwrap()],
        );
        assert!(
            out.status.success(),
            "enroll: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = self.admin(&["admin", "register", request.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "register: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.grant(name, groups);
        who
    }

    /// An IAM user of the emulator.
    pub fn user(&self, name: &str) -> Approver {
        Approver {
            iam: self.moto.create_user(name),
            state: self.dir.path().join(name),
        }
    }

    pub fn grant(&self, name: &str, groups: &[&str]) {
        for group in groups {
            let out = self.admin(&["admin", "grant", name, group]);
            assert!(
                out.status.success(),
                "grant: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    pub fn start(&self, title: &str, requested_by: &str, quorum: u32, timeout: u32) -> String {
        self.start_for(title, requested_by, "prod-approvers", quorum, timeout)
    }

    /// Starts the gate with a request naming `approvers` (which the gate's
    /// policy may refuse).
    pub fn start_for(
        &self,
        title: &str,
        requested_by: &str,
        approvers: &str,
        quorum: u32,
        timeout: u32,
    ) -> String {
        self.start_input(json!({
            "title": title,
            "requested_by": requested_by,
            "approvers": approvers,
            "quorum": quorum,
            "timeout_seconds": timeout,
            "details": {"service": "api", "version": "2.3.0", "commit": "4f1c2e9"}
        }))
    }

    /// Starts the gate with this input, as a workflow would.
    pub fn start_input(&self, input: Value) -> String {
        self.runtime.block_on(async {
            let sfn = StepFunctions::new(&self.moto.sdk_config().await);
            sfn.start_execution(&self.state_machine, &input.to_string())
                .await
                .unwrap()
        })
    }

    pub fn state(&self, execution: &str) -> ExecutionState {
        self.runtime.block_on(async {
            StepFunctions::new(&self.moto.sdk_config().await)
                .describe_execution(execution)
                .await
                .unwrap()
        })
    }

    /// Waits for the execution to leave RUNNING (or for `within`).
    pub fn finished(&self, execution: &str, within: Duration) -> ExecutionState {
        let start = Instant::now();
        loop {
            let state = self.state(execution);
            if state.status != "RUNNING" || start.elapsed() > within {
                return state;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The audit trail of `user`'s enrolments and credential changes.
    pub fn enrolment_audit(&self, user: &str) -> Vec<Value> {
        self.runtime.block_on(async {
            let aws = self.moto.sdk_config().await;
            tapprove_engine::admin::registry(&aws, &Config::load(&self.config_path()).unwrap())
                .enrolments_of(user)
                .await
                .unwrap()
        })
    }

    /// The id of the one pending request `who` sees (polling until it shows).
    pub fn inbox_id(&self, who: &Approver) -> String {
        self.inbox_id_titled(who, "")
    }

    /// The id of the pending request `who` sees whose title contains
    /// `title` (polling until it shows).
    pub fn inbox_id_titled(&self, who: &Approver, title: &str) -> String {
        let start = Instant::now();
        loop {
            let out = self.as_(who, &["--json", "inbox"]);
            assert!(
                out.status.success(),
                "inbox: {} {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            let found = v["requests"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["title"].as_str().is_some_and(|t| t.contains(title)));
            if let Some(id) = found.and_then(|r| r["id"].as_str()) {
                return id.to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no request reached the inbox"
            );
        }
    }
}

/// Playing an app (or an attacker holding a task token) by hand.
impl Loop {
    /// Claims the next decision task as an app would (GetActivityTask).
    #[track_caller]
    pub fn claim(&self) -> (tapprove_aws::sfn::TaskToken, tapprove_proto::Request) {
        let (token, offered) = self.claim_offered();
        (token, offered.request)
    }

    /// Claims the next decision task with what the gate says of it (the
    /// request, and where it stands).
    #[track_caller]
    pub fn claim_offered(&self) -> (tapprove_aws::sfn::TaskToken, tapprove_proto::offered::Offered) {
        let config = Config::load(&self.config_path()).unwrap();
        let arn = match &config.sources[0] {
            tapprove_config::Source::Activity { arn, .. } => arn.clone(),
            other => panic!("not an activity source: {other:?}"),
        };
        let claimed = self.runtime.block_on(async {
            let sfn = StepFunctions::new(&self.moto.sdk_config().await);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if let Some(task) = sfn.poll_activity(&arn, "test-app").await.unwrap() {
                    return Some((
                        task.token,
                        tapprove_proto::offered::Offered::from_activity_input(task.input.as_bytes()).unwrap(),
                    ));
                }
            }
            None
        });
        match claimed {
            Some(claimed) => claimed,
            None => panic!("no task to claim within 30 s"),
        }
    }

    /// Signs `verdict` on `request` with `who`'s enrolled software key.
    pub fn sign_as(
        &self,
        who: &Approver,
        name: &str,
        request: &tapprove_proto::Request,
    ) -> tapprove_proto::Decision {
        use tapprove_authn::software::{FileKeyStore, KeyStore, SoftwareAuthenticator};
        let store = FileKeyStore::open(who.state.join("keys")).unwrap();
        let keys = store
            .list()
            .unwrap()
            .into_iter()
            .map(|k| k.credential_id)
            .collect();
        tapprove_authn::sign_decision(
            &SoftwareAuthenticator::new(&store, tapprove_proto::UtcTime::now()),
            &support::CountingPrompt::new(),
            &tapprove_authn::SigningRequest {
                request,
                verdict: tapprove_proto::Verdict::Approve,
                reason: None,
                reason_code: None,
                approver: name.into(),
                rp_id: "tapprove.local".into(),
                signed_at: tapprove_proto::UtcTime::now(),
                allow_credentials: keys,
                user_verification: tapprove_authn::UserVerification::Discouraged,
            },
        )
        .unwrap()
    }

    pub fn send(&self, token: &tapprove_aws::sfn::TaskToken, decision: &str) {
        self.runtime.block_on(async {
            let sfn = StepFunctions::new(&self.moto.sdk_config().await);
            sfn.send_success(token, decision).await.unwrap();
        });
    }

    /// `SendTaskFailure` with any error and cause, as anyone holding the
    /// token can send it.
    pub fn fail_task(&self, token: &tapprove_aws::sfn::TaskToken, error: &str, cause: &str) {
        self.runtime.block_on(async {
            let sfn = StepFunctions::new(&self.moto.sdk_config().await);
            sfn.send_failure(token, error, cause).await.unwrap();
        });
    }
}

/// Audit records and outcomes of one execution.
impl Loop {
    /// The outcome of each verification of `execution`, oldest first.
    pub fn outcomes(&self, execution: &str) -> Vec<String> {
        self.runtime.block_on(async {
            let aws = self.moto.sdk_config().await;
            tapprove_engine::admin::registry(&aws, &Config::load(&self.config_path()).unwrap())
                .audit_of(execution)
                .await
                .unwrap()
                .iter()
                .map(|r| r["outcome"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
    }

    /// Waits (up to 30 s) until `execution`'s audit trail has `count`
    /// records, and answers their outcomes.
    pub fn outcomes_after(&self, execution: &str, count: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let outcomes = self.outcomes(execution);
            if outcomes.len() >= count || start.elapsed() > Duration::from_secs(30) {
                return outcomes;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

pub fn tapprove_engine_admin_registry(
    aws: &aws_config::SdkConfig,
    config: &Config,
) -> tapprove_aws::dynamodb::DynamoRegistry {
    tapprove_engine::admin::registry(aws, config)
}

/// The command signed and journalled its decision but could not deliver it.
pub fn assert_delivery_pending(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(json_of(out)["code"], "delivery_pending");
}

pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The reason and message of the organisation's service refusing, which
/// `result` must be.
pub fn service_refusal<T: std::fmt::Debug>(
    result: Result<T, tapprove_engine::EngineError>,
) -> (String, String) {
    match result {
        Err(tapprove_engine::EngineError::Service {
            failure: tapprove_engine::ServiceFailure::Refused,
            reason,
            message,
        }) => (reason, message),
        other => panic!("expected a refusal by the service, got {other:?}"),
    }
}
