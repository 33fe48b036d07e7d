//! The engine: what the tray app and the CLI both run.
//!
//! It owns the configuration, the sources being polled (activities with
//! `GetActivityTask`, approver queues with `ReceiveMessage`), the inbox of
//! pending requests, and the outbox journal of signed decisions not yet
//! acknowledged. It reports what happens as [`Event`]s.
//!
//! Delivery is journalled: [`Engine::decide`] writes the signed decision to
//! the outbox before sending it (to Step Functions, or through the
//! organisation's decision endpoint, [`endpoint`]), and [`Engine::flush`]
//! resends whatever is still pending (after a network failure, a crash or
//! a restart) until Step Functions acknowledges it or says the task is
//! gone. Step Functions takes
//! one result per task, so a resend can never count twice.

#![forbid(unsafe_code)]

pub mod admin;
pub mod endpoint;
pub mod enrol;
mod error;
pub mod gate;
pub mod install;
pub mod keys;
pub mod store;
pub mod tasks;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tapprove_authn::{Authenticator, SigningRequest, UserPrompt, UserVerification, sign_decision};
use tapprove_aws::sfn::{Delivery, TaskGone, TaskToken};
use tapprove_config::{Config, Source};
use tapprove_core::canonical::request_sha256;
use tapprove_proto::offered::Offered;
use tapprove_proto::{Base64Url, Clock, SystemClock, UtcTime, Verdict};

use crate::tasks::{AwsTasks, DecisionRoute, StepFunctionsRoute, TaskSource};

pub use endpoint::DecisionEndpoint;
pub use error::{EngineError, Result};
pub use store::{InboxItem, OutboxEntry, OutboxState, Store};

/// Something that happened, for the UI to show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A request arrived.
    NewRequest {
        id: String,
        title: String,
        source: String,
    },
    /// A request left without our decision: decided by someone else,
    /// expired, or withdrawn.
    RequestGone { id: String, reason: TaskGone },
    /// Step Functions acknowledged our decision.
    DecisionDelivered { id: String, verdict: String },
    /// Step Functions will not take our decision; the outbox says why.
    DecisionClosed {
        id: String,
        verdict: String,
        reason: TaskGone,
    },
    /// A decision could not be sent yet; it stays in the outbox.
    DecisionPending { id: String, error: String },
}

/// What happened to one decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeliveryOutcome {
    Delivered,
    /// Already decided by someone else, or expired.
    Closed {
        reason: TaskGone,
    },
    /// Not sent yet (the service was unreachable); retried later.
    Pending {
        error: String,
    },
}

/// The queue name of `user`'s queue for `group`:
/// `tapprove-<group>_<slug>-<hash>`.
///
/// The group part has every character but letters, digits and `-` mapped
/// to `-`, so it holds no `_`: the group stack's approver policy allows
/// `tapprove-<group>_*`, and that pattern ends exactly at the group (the
/// pattern of `prod` does not cover the queues of `prod-approvers`, nor the
/// other way round). The slug is the user name reduced to SQS's characters;
/// the hash of the full name keeps `bob.x` and `bob-x` apart. At most
/// 9 + 24 + 1 + 37 + 1 + 8 = 80 characters, SQS's limit.
pub fn approver_queue_name(group: &str, user: &str) -> String {
    let slug: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(37)
        .collect();
    let hash = short_hash(user);
    let group: String = group
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(24)
        .collect();
    format!("tapprove-{group}_{slug}-{hash}")
}

/// FNV-1a, 32 bits, as hex: a stable short tag, not a security measure.
fn short_hash(text: &str) -> String {
    let mut h = 0x811c_9dc5u32;
    for byte in text.bytes() {
        h ^= u32::from(byte);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// What the engine talks to: where tasks come from, where decisions go,
/// and the clock. [`Engine::open`] picks AWS and the system clock; tests
/// pass their own to [`Engine::with_parts`].
#[derive(Debug)]
pub struct Parts {
    pub tasks: Box<dyn TaskSource>,
    pub route: Box<dyn DecisionRoute>,
    pub clock: Arc<dyn Clock>,
}

/// The engine over one configuration and one local database.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    tasks: Box<dyn TaskSource>,
    route: Box<dyn DecisionRoute>,
    clock: Arc<dyn Clock>,
    store: Mutex<Store>,
    worker_name: String,
    approver: tokio::sync::OnceCell<String>,
    /// Approver queue URLs by group, looked up once.
    queue_urls: Mutex<std::collections::HashMap<String, String>>,
}

impl Engine {
    /// Opens the engine with its database in `state_dir`, against AWS: the
    /// decisions go to the organisation's decision endpoint when the
    /// settings name one, else to Step Functions.
    pub fn open(config: Config, aws: &aws_config::SdkConfig, state_dir: &Path) -> Result<Self> {
        let route: Box<dyn DecisionRoute> = match &config.delivery {
            Some(delivery) => Box::new(DecisionEndpoint::new(&delivery.endpoint)?),
            None => Box::new(StepFunctionsRoute::new(aws)),
        };
        let store = Store::open(&state_dir.join("tapprove.sqlite3"))?;
        let parts = Parts {
            tasks: Box::new(AwsTasks::new(aws)),
            route,
            clock: Arc::new(SystemClock),
        };
        Ok(Self::with_parts(config, store, parts))
    }

    /// The engine over `store`, talking to `parts`.
    pub fn with_parts(config: Config, store: Store, parts: Parts) -> Self {
        Self {
            config,
            tasks: parts.tasks,
            route: parts.route,
            clock: parts.clock,
            store: Mutex::new(store),
            worker_name: format!("tapprove-{}", std::process::id()),
            approver: tokio::sync::OnceCell::new(),
            queue_urls: Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The clock the engine reads; faces read the same one.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn now(&self) -> UtcTime {
        self.clock.utc()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Who the signed-in principal is, as an approver name (the IAM user
    /// name, or the role session name IAM Identity Center sets to the user).
    pub async fn approver(&self) -> Result<String> {
        self.approver
            .get_or_try_init(|| async {
                let caller = match self.tasks.caller().await {
                    Ok(caller) => caller,
                    // Offline: the identity STS confirmed last time, so a
                    // decision can still be signed and journalled.
                    Err(e) if e.is_transient() => {
                        return self.store().remembered_identity()?.ok_or(EngineError::Aws(e));
                    }
                    Err(e) => return Err(e.into()),
                };
                let approver = caller.approver().map(str::to_owned).ok_or_else(|| {
                    EngineError::Identity(format!(
                        "{} is neither an IAM user nor an assumed role; sign in as yourself",
                        caller.arn
                    ))
                })?;
                self.store()
                    .remember_identity(&approver, &caller.arn, &self.now())?;
                Ok(approver)
            })
            .await
            .cloned()
    }

    /// Pending requests, soonest deadline first.
    pub fn inbox(&self) -> Result<Vec<InboxItem>> {
        self.store().inbox()
    }

    /// The pending request whose id starts with `id`.
    pub fn find(&self, id: &str) -> Result<InboxItem> {
        self.store().find(id)
    }

    /// The outbox journal, oldest first.
    pub fn history(&self) -> Result<Vec<OutboxEntry>> {
        self.store().history()
    }

    fn admit(
        &self,
        source: &Source,
        token: TaskToken,
        offered: Offered,
        queue: Option<(String, String)>,
    ) -> Result<Option<Event>> {
        let Offered { request, status } = offered;
        let hash = request_sha256(&request)
            .map_err(|e| EngineError::Invalid(e.to_string()))?
            .encode();
        let id: String = hash
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(10)
            .collect();
        let store = self.store();
        let known = store.contains(&hash)?;
        let (queue_url, receipt) = queue.map_or((None, None), |(u, r)| (Some(u), Some(r)));
        store.upsert_inbox(&InboxItem {
            id: id.clone(),
            request_sha256: hash,
            source: source.name(),
            task_token: token,
            queue_url,
            receipt,
            received_at: self.now().as_str().to_owned(),
            request: request.clone(),
            status,
        })?;
        Ok((!known).then(|| Event::NewRequest {
            id,
            title: request.title,
            source: source.name(),
        }))
    }

    /// Polls `source` once: an activity long-polls (up to a minute when
    /// nothing waits), a queue waits up to `queue_wait` seconds.
    pub async fn poll(&self, source: &Source, queue_wait: i32) -> Result<Vec<Event>> {
        match source {
            Source::Activity { arn, .. } => {
                let Some(task) = self.tasks.claim(arn, &self.worker_name).await? else {
                    return Ok(Vec::new());
                };
                match Offered::from_activity_input(task.input.as_bytes()) {
                    Ok(offered) => Ok(self
                        .admit(source, task.token, offered, None)?
                        .into_iter()
                        .collect()),
                    Err(e) => {
                        // Not something a person can approve: hand it back
                        // so the gate's verifier reports it.
                        let _ = self
                            .tasks
                            .release(&task.token, &format!("malformed request: {e}"))
                            .await;
                        Err(EngineError::Invalid(format!(
                            "{source:?} delivered a malformed request: {e}"
                        )))
                    }
                }
            }
            Source::Queue { group, .. } => {
                let cached = self
                    .queue_urls
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(group)
                    .cloned();
                let url = match cached {
                    Some(url) => url,
                    None => self.approver_queue_url(group).await?,
                };
                let mut events = Vec::new();
                for message in self.tasks.receive(&url, queue_wait).await? {
                    match Offered::from_message(message.body.as_bytes()) {
                        Ok((token, offered)) => events.extend(self.admit(
                            source,
                            TaskToken(token),
                            offered,
                            Some((url.clone(), message.receipt_handle)),
                        )?),
                        Err(e) => {
                            // A message no approver can act on: drop it.
                            let _ = self.tasks.delete(&url, &message.receipt_handle).await;
                            return Err(EngineError::Invalid(format!(
                                "a message on {url} is not a Tapprove request: {e}"
                            )));
                        }
                    }
                }
                Ok(events)
            }
        }
    }

    /// Finds (and caches) the signed-in approver's queue for `group`.
    async fn approver_queue_url(&self, group: &str) -> Result<String> {
        let name = approver_queue_name(group, &self.approver().await?);
        let url = self.tasks.queue_url(&name).await?.ok_or_else(|| {
            EngineError::Invalid(format!(
                "you have no queue for group `{group}` ({name}): ask an admin to run `tapprove admin grant YOU {group}`"
            ))
        })?;
        self.queue_urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(group.to_owned(), url.clone());
        Ok(url)
    }

    /// Polls every configured source once.
    pub async fn poll_all(&self, queue_wait: i32) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        for source in &self.config.sources {
            events.extend(self.poll(source, queue_wait).await?);
        }
        Ok(events)
    }

    /// Asks Step Functions whether each claimed activity task is still
    /// open (a heartbeat); drops the ones that are gone.
    pub async fn heartbeat(&self) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        for item in self.inbox()? {
            if item.queue_url.is_some() {
                continue;
            }
            if let Delivery::Gone(reason) = self.tasks.heartbeat(&item.task_token).await? {
                self.store().remove_from_inbox(&item.request_sha256)?;
                events.push(Event::RequestGone { id: item.id, reason });
            }
        }
        Ok(events)
    }

    /// Signs `verdict` on the pending request `id` with `authenticator`,
    /// journals it, and delivers it.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide(
        &self,
        id: &str,
        verdict: Verdict,
        reason: Option<String>,
        authenticator: &dyn Authenticator,
        prompt: &dyn UserPrompt,
        allow_credentials: Vec<Base64Url>,
        asked: Option<UserVerification>,
    ) -> Result<(InboxItem, DeliveryOutcome)> {
        let item = self.find(id)?;
        if verdict == Verdict::Deny && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(EngineError::Invalid("a denial needs a reason".into()));
        }
        let user_verification = self.user_verification(asked)?;
        let approver = self.approver().await?;
        let decision = sign_decision(
            authenticator,
            prompt,
            &SigningRequest {
                request: &item.request,
                verdict,
                reason,
                approver,
                rp_id: self.config.rp_id.clone(),
                signed_at: self.now(),
                allow_credentials,
                user_verification,
            },
        )?;
        // An authenticator that ignored the request is caught here, before
        // anything is journalled or sent.
        if user_verification == UserVerification::Required {
            let flags = decision
                .assertion
                .authenticator_data
                .as_bytes()
                .get(32)
                .copied()
                .unwrap_or(0);
            if !tapprove_core::webauthn::Flags(flags).user_verified() {
                return Err(EngineError::Sign(tapprove_authn::SignError::Authenticator(
                    tapprove_authn::AuthnError::UserVerificationUnavailable(
                        "the authenticator signed without verifying you (no PIN or biometry), which your organisation requires"
                            .into(),
                    ),
                )));
            }
        }
        let entry = self
            .store()
            .journal(&item, verdict.as_str(), &decision.to_json(), &self.now())?;
        let outcome = self.deliver(&entry).await?;
        Ok((item, outcome))
    }

    /// The user verification a decision asks for: `Required` whenever the
    /// settings in force (the org policy's, or the user's) require it,
    /// whatever a face asked; otherwise what it asked (`Preferred` if
    /// nothing). Asking for less than the policy requires is an error.
    pub fn user_verification(&self, asked: Option<UserVerification>) -> Result<UserVerification> {
        match (self.config.require_user_verification, asked) {
            (true, Some(UserVerification::Preferred | UserVerification::Discouraged)) => Err(EngineError::Invalid(
                "your organisation requires user verification (PIN or biometry) for every decision: do not ask for less".into(),
            )),
            (true, _) => Ok(UserVerification::Required),
            (false, asked) => Ok(asked.unwrap_or(UserVerification::Preferred)),
        }
    }

    /// Sends one journalled decision and records the outcome.
    async fn deliver(&self, entry: &OutboxEntry) -> Result<DeliveryOutcome> {
        let sent = self.route.send(entry).await;
        let now = self.now();
        let (state, reason, error, outcome) = match sent {
            Ok(Delivery::Acknowledged) => (OutboxState::Delivered, None, None, DeliveryOutcome::Delivered),
            Ok(Delivery::Gone(reason)) => (
                OutboxState::Closed,
                Some(reason),
                None,
                DeliveryOutcome::Closed { reason },
            ),
            Err(error) => (
                OutboxState::Pending,
                None,
                Some(error.clone()),
                DeliveryOutcome::Pending { error },
            ),
        };
        // Once the task is decided, its queue message (if any) is done with.
        let queue = if state == OutboxState::Pending {
            None
        } else {
            self.store()
                .inbox()?
                .into_iter()
                .find(|i| i.request_sha256 == entry.request_sha256)
                .and_then(|i| i.queue_url.zip(i.receipt))
        };
        self.store()
            .record_attempt(entry, state, reason, error.as_deref(), &now)?;
        if let Some((url, receipt)) = queue {
            let _ = self.tasks.delete(&url, &receipt).await;
        }
        Ok(outcome)
    }

    /// Resends every pending decision once; returns what happened to each.
    pub async fn flush(&self) -> Result<Vec<(OutboxEntry, DeliveryOutcome)>> {
        let mut out = Vec::new();
        let pending = self.store().pending()?;
        for entry in pending {
            let outcome = self.deliver(&entry).await?;
            out.push((entry, outcome));
        }
        Ok(out)
    }

    /// Resends pending decisions with backoff (0.5 s doubling to 30 s) until
    /// none is left or `deadline` passes. Returns how many are still pending.
    pub async fn flush_until(&self, deadline: Duration) -> Result<usize> {
        let start = std::time::Instant::now();
        let mut wait = Duration::from_millis(500);
        loop {
            self.flush().await?;
            let left = self.store().pending()?.len();
            if left == 0 || start.elapsed() + wait > deadline {
                return Ok(left);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    }
}

/// The system clock as the protocol's time type.
/// Milliseconds, so two decisions signed within one second differ.
pub fn now() -> UtcTime {
    UtcTime::now()
}

#[cfg(test)]
mod queue_name_tests {
    use super::approver_queue_name;

    /// IAM's `*` in a resource ARN, as the group stack's `Queues`
    /// statement uses it (`tapprove-<group>_*`): any run of characters.
    fn matches(pattern: &str, name: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == name,
            Some((head, tail)) => {
                name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
            }
        }
    }

    fn group_pattern(group: &str) -> String {
        // deploy/group.yaml: tapprove-${Group}_*
        format!("tapprove-{group}_*")
    }

    #[test]
    fn a_groups_pattern_covers_its_own_queues_only() {
        let prod = approver_queue_name("prod", "alice");
        let prod_approvers = approver_queue_name("prod-approvers", "alice");
        assert!(matches(&group_pattern("prod"), &prod), "{prod}");
        assert!(
            matches(&group_pattern("prod-approvers"), &prod_approvers),
            "{prod_approvers}"
        );
        assert!(
            !matches(&group_pattern("prod"), &prod_approvers),
            "{prod_approvers}"
        );
        assert!(!matches(&group_pattern("prod-approvers"), &prod), "{prod}");
        // A user whose name looks like the rest of another group's name
        // stays in its own group.
        let tricky = approver_queue_name("prod", "approvers_alice");
        assert!(!matches(&group_pattern("prod-approvers"), &tricky), "{tricky}");
    }

    #[test]
    fn queue_names_fit_sqs() {
        let longest = approver_queue_name(&"g".repeat(24), &format!("{}@example.com", "u".repeat(60)));
        assert_eq!(longest.len(), 80, "{longest}");
        for (group, user) in [
            ("prod", "bob@example.com"),
            ("a.b_c", "Ünïcode user"),
            (&*"g".repeat(40), &*"u".repeat(90)),
        ] {
            let name = approver_queue_name(group, user);
            assert!(name.len() <= 80, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{name}"
            );
            let group_part = &name["tapprove-".len()..name.find('_').unwrap()];
            assert!(!group_part.contains('_'), "{name}");
        }
        assert_eq!(
            approver_queue_name("a.b_c", "x"),
            format!("tapprove-a-b-c_x-{}", super::short_hash("x"))
        );
    }

    /// The IAM suite (tests/iam/) evaluates the policies against these
    /// names.
    #[test]
    fn the_iam_suite_uses_the_names_grant_gives() {
        let names: std::collections::BTreeMap<String, String> =
            serde_json::from_str(include_str!("../../../tests/iam/fixtures/queue-names.json")).unwrap();
        assert_eq!(names.len(), 4);
        for (key, name) in names {
            let (group, user) = key.split_once('/').unwrap();
            assert_eq!(approver_queue_name(group, user), name, "{key}");
        }
    }

    #[test]
    fn similar_user_names_get_different_queues() {
        assert_ne!(
            approver_queue_name("prod", "bob.x"),
            approver_queue_name("prod", "bob-x")
        );
        assert_ne!(
            approver_queue_name("prod", "Bob"),
            approver_queue_name("prod", "bob")
        );
    }
}
