//! The engine: the one API the tray app and the CLI both call, and
//! nothing below it depends on. See ARCHITECTURE.md, "The engine's
//! surface", for which call does what.
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
//! gone. Step Functions takes one result per task, so a resend can never
//! count twice.
//!
//! Where IO and time enter: AWS through [`tasks::TaskSource`] and
//! [`tasks::DecisionRoute`], the wall clock through one
//! [`tapprove_proto::Clock`] ([`Parts`]); the unit tests in `tests/` swap
//! all three.

#![forbid(unsafe_code)]

pub mod account;
pub mod admin;
mod approver_queue;
pub mod credentials;
pub mod endpoint;
pub mod enrol;
mod error;
pub mod gate;
mod history;
pub mod install;
mod keys;
pub mod metadata;
pub mod store;
mod tasks;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tapprove_authn::software::KeyStore;
use tapprove_authn::{SigningRequest, UserPrompt, UserVerification, sign_decision};
use tapprove_aws::sfn::{Delivery, TaskGone, TaskToken};
use tapprove_config::{Config, Source};
use tapprove_core::canonical::request_sha256;
use tapprove_proto::offered::Offered;
use tapprove_proto::{Clock, ReasonCode, SystemClock, UtcTime, Verdict};

use crate::tasks::{AwsTasks, DecisionRoute, StepFunctionsRoute, TaskSource};

pub use approver_queue::approver_queue_name;
pub use credentials::{Enroller, NewKey};
pub use endpoint::DecisionEndpoint;
pub use error::{EngineError, ErrorCode, Result, ServiceFailure};
pub use keys::{AuthenticatorChoice, Signer};

/// What the end-to-end tests use to attack the enrolment service directly
/// (a forged request, as a client that skips the engine would send it).
#[cfg(feature = "test-seam")]
pub mod seam {
    /// Posts `request` with this caller's identity proof, as is.
    pub async fn submit(
        aws: &aws_config::SdkConfig,
        endpoint: &crate::enrol::Endpoint,
        request: tapprove_proto::enrolment::EnrolmentRequest,
    ) -> crate::Result<tapprove_proto::enrolment::EnrolmentReceipt> {
        crate::enrol::submit(aws, endpoint, request).await
    }
}

/// What the offline tools (`tapprove key create`) use: a software
/// credential made without any service.
pub mod offline {
    pub use crate::keys::{NewSoftwareCredential, SoftwareKeySpec, new_software_credential};
}

/// What a face implements to talk to the person while the engine works
/// (an authenticator's touch and PIN, a sign-in's browser or code), and
/// the user verification it may ask for.
pub mod prompt {
    pub use tapprove_authn::software::SoftwareKeyInfo;
    pub use tapprove_authn::{PinRequest, Prompt, UserPrompt, UserVerification};
    pub use tapprove_session::LoginPrompt;
}
pub use history::{Decided, Mine, Outcome, Seen};
pub use store::{InboxItem, OutboxEntry, OutboxState, Store};

/// Something that happened, for the UI to show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A request arrived that the approver may decide (never one they
    /// asked for themselves: that one is not announced to them).
    NewRequest {
        id: String,
        title: String,
        source: String,
    },
    /// A request left the inbox without our decision: decided by someone
    /// else, expired, or withdrawn; `outcome` as Step Functions tells it,
    /// when it has ended.
    RequestGone {
        id: String,
        reason: TaskGone,
        outcome: Option<Outcome>,
    },
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

/// Why the approver decided as they did: their words, and for a denial a
/// code the gate acts on (`unexpected`: "I did not expect this", which
/// needs no words and is announced to the admins as an alert).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reason {
    pub text: Option<String>,
    pub code: Option<ReasonCode>,
}

impl Reason {
    /// The approver's words (empty words are none).
    pub fn text(text: Option<String>) -> Self {
        Self {
            text: text.filter(|t| !t.trim().is_empty()),
            code: None,
        }
    }

    /// "I did not expect this", with optional words.
    pub fn unexpected(text: Option<String>) -> Self {
        Self {
            code: Some(ReasonCode::Unexpected),
            ..Self::text(text)
        }
    }
}

impl From<Option<String>> for Reason {
    fn from(text: Option<String>) -> Self {
        Self::text(text)
    }
}

/// At most this many queued requests are looked up (`DescribeExecution`)
/// per heartbeat: the app beats every 10 s or more, so at most 2 calls a
/// second, a tenth of Step Functions' smallest refill rate for it.
const MAX_DESCRIBES: usize = 20;

/// How long an activity is left alone after this app handed back a request
/// its approver asked for. Without it the requester's app, when no
/// colleague's app polls, would claim and hand back the same request at
/// every lap of the gate (at most a minute apart), filling the execution's
/// history; with it, a lap in five minutes at most, and colleagues' apps
/// claim it meanwhile. The cost: other requests of that group wait for
/// this approver as long.
const OWN_PAUSE: Duration = Duration::from_secs(300);

/// How long a queue message this app already holds in its inbox is kept
/// out of sight when it comes back (`ChangeMessageVisibility`).
///
/// The inbox keeps the message's task token and receipt durably, so this
/// app needs the message only to delete it once the request is decided.
/// Left at the queue's visibility timeout (30 s), every held message came
/// back twice a minute: with hundreds pending, receives filled with
/// requests already known and new ones waited behind them. A new message
/// is not hidden on its first receive: it comes back once after the
/// queue's timeout, so another device of the same approver (the tray app
/// and a terminal share one queue) sees a new request within about a
/// minute; only then is it hidden for this long. If this app's state is
/// lost, the request reappears at the latest after this time.
pub const QUEUE_HOLD_SECONDS: i32 = 15 * 60;

/// At most this many tasks of one activity are claimed (held) at once:
/// a flood of requests is shared among the group's apps instead of all
/// claimed by the first that polls.
const MAX_CLAIMED: usize = 20;

/// Debug builds only (the tests): aborts the process at the named point of
/// deciding (`TAPPROVE_TEST_CRASH_AFTER=journal|send|both`), as a crash
/// or a kill there would. Release builds have no such point.
#[cfg(debug_assertions)]
fn crash_point(point: &str) {
    if std::env::var("TAPPROVE_TEST_CRASH_AFTER").is_ok_and(|p| p == point) {
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
fn crash_point(_point: &str) {}

/// Days an ended request is remembered whatever the history shows: SQS
/// keeps a message at most 14 days, and one that comes back after its
/// request was forgotten would be announced as new.
const REMEMBER_DAYS: u32 = 14;

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

/// What the engine talks to: where tasks come from, where decisions go,
/// and the clock. [`Engine::open`] picks AWS and the system clock; tests
/// pass their own to [`Engine::with_parts`].
#[derive(Debug)]
pub(crate) struct Parts {
    /// The AWS settings the engine's own service calls use (enrolment,
    /// requests): the signed-in session's.
    pub aws: aws_config::SdkConfig,
    pub tasks: Box<dyn TaskSource>,
    pub route: Box<dyn DecisionRoute>,
    pub clock: Arc<dyn Clock>,
}

/// The engine over one configuration and one local database.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    state_dir: PathBuf,
    aws: aws_config::SdkConfig,
    tasks: Box<dyn TaskSource>,
    route: Box<dyn DecisionRoute>,
    clock: Arc<dyn Clock>,
    /// Shared with the thread that writes the journal while a decision is
    /// sent ([`Engine::decide`]).
    store: Arc<Mutex<Store>>,
    worker_name: String,
    approver: tokio::sync::OnceCell<String>,
    /// Approver queue URLs by group, looked up once.
    queue_urls: Mutex<std::collections::HashMap<String, String>>,
    /// Where the next heartbeat starts among the queued requests (they are
    /// checked in turn, [`MAX_DESCRIBES`] at a time).
    describe_from: Mutex<usize>,
    /// Activities not polled until then: one just handed back a request
    /// its approver asked for ([`OWN_PAUSE`]).
    paused_sources: Mutex<std::collections::HashMap<String, std::time::Instant>>,
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
            aws: aws.clone(),
            tasks: Box::new(AwsTasks::new(aws)),
            route,
            clock: Arc::new(SystemClock),
        };
        Ok(Self::with_parts(config, state_dir, store, parts))
    }

    /// The same engine reading `clock` (a face's, so both read one).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The engine over `store` and the state in `state_dir` (the
    /// authenticators' local notes, the key files), talking to `parts`.
    pub(crate) fn with_parts(config: Config, state_dir: &Path, store: Store, parts: Parts) -> Self {
        Self {
            config,
            state_dir: state_dir.to_path_buf(),
            aws: parts.aws,
            tasks: parts.tasks,
            route: parts.route,
            clock: parts.clock,
            store: Arc::new(Mutex::new(store)),
            worker_name: format!("tapprove-{}", std::process::id()),
            approver: tokio::sync::OnceCell::new(),
            queue_urls: Mutex::new(std::collections::HashMap::new()),
            describe_from: Mutex::new(0),
            paused_sources: Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The AWS settings the engine talks with.
    pub fn aws(&self) -> &aws_config::SdkConfig {
        &self.aws
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

    /// Takes a task into the inbox. A request AWS proved the approver
    /// asked for themselves raises no event (they cannot approve it): from
    /// an activity it is handed back at once, so a colleague's app claims
    /// it, and that activity is not polled again for [`OWN_PAUSE`]; from
    /// the approver's queue it stays in the inbox, which says why. A
    /// request that only *names* them as its requester is announced to
    /// them like any other (they cannot approve it, but they are the one
    /// who can say they did not ask for it). A task for a request that has
    /// ended is dropped, and handed back if claimed; unless Step Functions
    /// says its execution runs again (a redrive), then it is admitted.
    async fn admit(
        &self,
        source: &Source,
        token: TaskToken,
        offered: Offered,
        queue: Option<(String, String)>,
    ) -> Result<Option<Event>> {
        let digest = request_sha256(&offered.request).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let hash = digest.encode();
        if self.store().ended(&hash)? {
            let runs_again = matches!(
                self.tasks.describe(&offered.request.execution).await,
                Ok(state) if state.status == "RUNNING"
            );
            if runs_again {
                self.store().reopen(&hash)?;
            } else {
                match &queue {
                    Some((url, receipt)) => {
                        let _ = self.tasks.delete(url, receipt).await;
                    }
                    None => {
                        let _ = self
                            .tasks
                            .release(&token, "handed back: this request already ended")
                            .await;
                    }
                }
                return Ok(None);
            }
        }
        let asked = self.asked(&offered.request);
        let proven_own = asked == Some(true);
        let id = tapprove_core::canonical::request_id(&digest);
        if proven_own && queue.is_none() {
            let item = self.item(source, token.clone(), offered, None, id)?;
            self.store().see(&item, true, &self.now())?;
            let _ = self
                .tasks
                .release(
                    &token,
                    "handed back: the approver who claimed it asked for it and cannot approve it",
                )
                .await;
            self.paused_sources
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(source.name(), std::time::Instant::now() + OWN_PAUSE);
            return Ok(None);
        }
        let item = self.item(source, token, offered, queue, id)?;
        let store = self.store();
        let known = store.contains(&item.request_sha256)?;
        store.upsert_inbox(&item)?;
        store.see(&item, asked.is_some(), &self.now())?;
        Ok((!known && !proven_own).then(|| Event::NewRequest {
            id: item.id,
            title: item.request.title,
            source: source.name(),
        }))
    }

    fn item(
        &self,
        source: &Source,
        token: TaskToken,
        offered: Offered,
        queue: Option<(String, String)>,
        id: String,
    ) -> Result<InboxItem> {
        let Offered { request, status } = offered;
        let hash = request_sha256(&request)
            .map_err(|e| EngineError::Invalid(e.to_string()))?
            .encode();
        let (queue_url, receipt) = queue.map_or((None, None), |(u, r)| (Some(u), Some(r)));
        Ok(InboxItem {
            id,
            request_sha256: hash,
            source: source.name(),
            task_token: token,
            queue_url,
            receipt,
            received_at: self.now().as_str().to_owned(),
            request,
            status,
        })
    }

    /// Whether the signed-in approver is `request`'s requester:
    /// `Some(true)` when AWS proved it, `Some(false)` when only the
    /// workflow names them; `None` otherwise, or where the organisation
    /// allows self-approval. Uses the identity STS confirmed last.
    fn asked(&self, request: &tapprove_proto::Request) -> Option<bool> {
        if self.config.allow_self_approval {
            return None;
        }
        let me = match self.approver.get() {
            Some(me) => me.clone(),
            None => self.store().remembered_identity().ok().flatten()?,
        };
        tapprove_core::verify::asked_by(request, &me)?;
        Some(tapprove_core::verify::proven_asker(request, &me))
    }

    /// Why the signed-in approver may not approve `request`, if they are
    /// its requester (the gate's self-approval rule, applied here to tell
    /// them first). They may still deny it.
    pub fn yours(&self, request: &tapprove_proto::Request) -> Option<String> {
        Some(match self.asked(request)? {
            true => format!(
                "you asked for this request, so you cannot approve it: another approver of {} does (you may still deny it)",
                request.approvers
            ),
            false => format!(
                "the workflow names you as this request's requester, so you cannot approve it; if you did not ask for it, deny it as unexpected so your admins hear of it (another approver of {} can approve it)",
                request.approvers
            ),
        })
    }

    /// Polls `source` once: an activity long-polls (up to a minute when
    /// nothing waits), a queue waits up to `queue_wait` seconds.
    pub async fn poll(&self, source: &Source, queue_wait: i32) -> Result<Vec<Event>> {
        match source {
            Source::Activity { arn, .. } => {
                // Who we are, before claiming anything: a task claimed by
                // a poll that then fails would be held until it times out.
                self.approver().await?;
                let paused = self
                    .paused_sources
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&source.name())
                    .is_some_and(|until| *until > std::time::Instant::now());
                // A bounded number held at once: the rest stay with the
                // activity for colleagues' apps to claim.
                let held = self.store().held(&source.name())?;
                if paused || held >= MAX_CLAIMED {
                    return Ok(Vec::new());
                }
                let Some(task) = self.tasks.claim(arn, &self.worker_name).await? else {
                    return Ok(Vec::new());
                };
                match Offered::from_activity_input(task.input.as_bytes()) {
                    Ok(offered) => Ok(self
                        .admit(source, task.token, offered, None)
                        .await?
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
                        Ok((token, offered)) => {
                            let held = self.holds(&offered.request)?;
                            let receipt = message.receipt_handle;
                            events.extend(
                                self.admit(
                                    source,
                                    TaskToken(token),
                                    offered,
                                    Some((url.clone(), receipt.clone())),
                                )
                                .await?,
                            );
                            // Back after the queue's timeout, and still in
                            // the inbox: out of sight for longer (see
                            // QUEUE_HOLD_SECONDS). A failure costs receives only.
                            if let Some(hash) = held
                                && self.store().contains(&hash)?
                            {
                                let _ = self.tasks.hide(&url, &receipt, QUEUE_HOLD_SECONDS).await;
                            }
                        }
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

    /// The request's hash when it is already in the inbox.
    fn holds(&self, request: &tapprove_proto::Request) -> Result<Option<String>> {
        let Ok(digest) = request_sha256(request) else {
            return Ok(None);
        };
        let hash = digest.encode();
        Ok(self.store().contains(&hash)?.then_some(hash))
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

    /// Finds the requests that left the inbox without our decision and
    /// drops them: a claimed activity task whose heartbeat Step Functions
    /// refuses, a queued request whose execution has ended (another
    /// approver decided, it expired, or it was withdrawn). Each one's end,
    /// as Step Functions tells it, goes into the history. A queued request
    /// whose execution still runs stays: the gate sends a newer task for
    /// it.
    pub async fn heartbeat(&self) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        let (queued, claimed): (Vec<InboxItem>, Vec<InboxItem>) =
            self.inbox()?.into_iter().partition(|i| i.queue_url.is_some());
        // Queued requests in turn, a bounded number per heartbeat, so a
        // large inbox stays inside `DescribeExecution`'s rate.
        let queued: Vec<InboxItem> = {
            let mut from = self.describe_from.lock().unwrap_or_else(PoisonError::into_inner);
            let start = if queued.is_empty() {
                0
            } else {
                *from % queued.len()
            };
            *from = start + MAX_DESCRIBES;
            queued
                .into_iter()
                .cycle()
                .skip(start)
                .take(MAX_DESCRIBES)
                .collect::<Vec<_>>()
        };
        let mut checked = std::collections::HashSet::new();
        for item in claimed.into_iter().chain(queued) {
            if !checked.insert(item.request_sha256.clone()) {
                continue;
            }
            let (reason, outcome) = match &item.queue_url {
                None => match self.tasks.heartbeat(&item.task_token).await? {
                    Delivery::Acknowledged => continue,
                    Delivery::Gone(reason) => (reason, self.outcome_of(&item).await),
                },
                Some(_) => match self.outcome_of(&item).await {
                    Some(outcome) => (TaskGone::DoesNotExist, Some(outcome)),
                    None => continue,
                },
            };
            {
                let store = self.store();
                store.remove_from_inbox(&item.request_sha256)?;
                if let Some(outcome) = &outcome {
                    store.settle(&item.request_sha256, outcome, &self.now())?;
                }
            }
            if let (Some(url), Some(receipt)) = (&item.queue_url, &item.receipt) {
                let _ = self.tasks.delete(url, receipt).await;
            }
            events.push(Event::RequestGone {
                id: item.id,
                reason,
                outcome,
            });
        }
        Ok(events)
    }

    /// How `item`'s execution ended, if it has and Step Functions says so
    /// (an error asking is no answer: the request stays as it is).
    async fn outcome_of(&self, item: &InboxItem) -> Option<Outcome> {
        self.ended(&item.request.execution, &item.request_sha256).await
    }

    async fn ended(&self, execution: &str, request_sha256: &str) -> Option<Outcome> {
        match self.tasks.describe(execution).await {
            Ok(state) => Outcome::of(&state, request_sha256),
            Err(_) => None,
        }
    }

    /// Looks up how each request the approver saw and that left the inbox
    /// ended, and forgets ended ones older than the history keeps
    /// (`[history] keep_days`, 90 by default). Returns how many it settled.
    pub async fn settle(&self) -> Result<usize> {
        let mut settled = 0;
        let unsettled = self.store().unsettled()?;
        // Oldest first, a bounded number per call (as heartbeats).
        for (hash, execution) in unsettled.into_iter().take(MAX_DESCRIBES) {
            if let Some(outcome) = self.ended(&execution, &hash).await {
                self.store().settle(&hash, &outcome, &self.now())?;
                settled += 1;
            }
        }
        // An ended request is remembered at least as long as SQS may
        // still deliver its message (14 days), or it would come back as
        // new; the history shows only `keep_days` of it.
        let keep = self
            .config
            .history
            .unwrap_or_default()
            .keep_days
            .max(REMEMBER_DAYS);
        self.store().forget_seen_before(&self.days_ago(keep))?;
        Ok(settled)
    }

    fn days_ago(&self, days: u32) -> UtcTime {
        UtcTime::from_unix(
            self.now()
                .unix_seconds()
                .saturating_sub(i64::from(days).saturating_mul(86_400)),
        )
    }

    /// The requests the approver saw, newest first, within the history's
    /// `keep_days`: their own decision and how each ended.
    pub fn seen(&self) -> Result<Vec<Seen>> {
        let cutoff = self.days_ago(self.config.history.unwrap_or_default().keep_days);
        Ok(self
            .store()
            .seen()?
            .into_iter()
            .filter(|s| {
                s.closed_at
                    .as_deref()
                    .is_none_or(|closed| UtcTime::parse(closed).map_or(true, |c| c >= cutoff))
            })
            .collect())
    }

    /// The state directory the engine keeps its database and notes in.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The approver's key store as the settings say (the keychain, or key
    /// files in the state directory).
    pub(crate) fn key_store(&self) -> Result<Box<dyn KeyStore>> {
        keys::open_store(&self.config, &self.state_dir)
    }

    /// The authenticator that will sign for the signed-in approver, and the
    /// credentials it may use: the platform authenticator, then a security
    /// key, then the software keys of the settings' key store. Nothing is
    /// shown to the person yet.
    pub async fn signer(&self) -> Result<Signer> {
        let approver = self.approver().await?;
        keys::signer(
            &self.config,
            &self.state_dir,
            self.key_store()?,
            &approver,
            self.now(),
        )
    }

    /// Signs `verdict` on the pending request `id` with `signer`, journals
    /// it, and delivers it. The user verification asked for is the one the
    /// settings in force require ([`Engine::user_verification`]).
    pub async fn decide(
        &self,
        id: &str,
        verdict: Verdict,
        reason: Reason,
        signer: &Signer,
        prompt: &dyn UserPrompt,
        asked: Option<UserVerification>,
    ) -> Result<(InboxItem, DeliveryOutcome)> {
        let item = self.find(id)?;
        self.approver().await?;
        if verdict == Verdict::Approve
            && let Some(why) = self.yours(&item.request)
        {
            return Err(EngineError::Service {
                failure: ServiceFailure::Refused,
                reason: "self_approval".into(),
                message: why,
            });
        }
        // One signed decision per request from this machine: the first is
        // what reaches the gate (Step Functions takes one result per
        // task), so a second would only mislead the person who signed it.
        if let Some(waiting) = self
            .store()
            .pending()?
            .into_iter()
            .find(|e| e.request_sha256 == item.request_sha256)
        {
            return Err(EngineError::Invalid(format!(
                "you already signed a decision on {} ({}, {}), and it waits to be sent: it reaches the gate as soon as AWS answers, and a second one could not count",
                item.id, waiting.verdict, waiting.created
            )));
        }
        if verdict == Verdict::Deny && reason.text.is_none() && reason.code.is_none() {
            return Err(EngineError::Invalid(
                "a denial needs a reason (or, for a request you did not expect, `unexpected`)".into(),
            ));
        }
        if verdict == Verdict::Approve && reason.code.is_some() {
            return Err(EngineError::Invalid(
                "\"I did not expect this\" is a denial: it cannot go with an approval".into(),
            ));
        }
        let user_verification = self.user_verification(asked)?;
        let approver = self.approver().await?;
        let decision = sign_decision(
            &*signer.authenticator,
            prompt,
            &SigningRequest {
                request: &item.request,
                verdict,
                reason: reason.text,
                reason_code: reason.code,
                approver,
                rp_id: self.config.rp_id.clone(),
                signed_at: self.now(),
                allow_credentials: signer.credentials.clone(),
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
        // The journal write and the send overlap: the decision goes out at
        // the speed of the network, and is on disk by the time the
        // approver is told. What holds wherever a crash comes (each point
        // is tested against moto, crates/tapprove-cli/tests/crash_points.rs):
        // - the approver is told of the decision only once its row is
        //   durable and the send has an answer (or failed): a decision
        //   they were told about is never lost;
        // - killed after the row is durable, before the send is answered:
        //   the row is pending, and the next run sends it;
        // - killed after the send, before the row is durable: Step
        //   Functions has the decision and nothing sends it again (there is
        //   no row); the approver was told nothing, and the history shows
        //   how the request ended once its task is found gone;
        // - killed after both, before the outcome is recorded: the row is
        //   pending, the next run sends the same statement again, Step
        //   Functions refuses it (its task is closed) and the row closes.
        // A statement is sent at most once per run that signed or resent
        // it, and counts at most once: a task takes one result, and the
        // verifier takes a statement once.
        let unsent = OutboxEntry::unsent(&item, verdict.as_str(), &decision.to_json(), &self.now())?;
        let store = Arc::clone(&self.store);
        let to_journal = unsent.clone();
        let journal = tokio::task::spawn_blocking(move || {
            let entry = store
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .journal(&to_journal);
            crash_point("journal");
            entry
        });
        let sent = self.route.send(&unsent).await;
        crash_point("send");
        let entry = journal
            .await
            .map_err(|e| EngineError::Store(format!("the journal write failed: {e}")))??;
        crash_point("both");
        let outcome = self.record(&entry, sent).await?;
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
        self.record(entry, sent).await
    }

    /// Records what the send of journalled `entry` answered, and lets go
    /// of its queue message once the task is decided.
    async fn record(
        &self,
        entry: &OutboxEntry,
        sent: std::result::Result<Delivery, String>,
    ) -> Result<DeliveryOutcome> {
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

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_seconds(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}
