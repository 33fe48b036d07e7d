//! What the app holds while it runs: the settings, the engine (rebuilt
//! when the user signs in or out), and the view the tray and the window
//! show. Nothing here knows about windows, menus or processes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tapprove_config::Config;
use tapprove_engine::account::SessionHealth;
use tapprove_engine::{Engine, OutboxState};
use tapprove_proto::{Clock, SystemClock, UtcTime};
use zeroize::Zeroizing;

use crate::error::{AppError, ErrorCode, Result};
use crate::models::{Health, Overview, RequestSummary, SessionView};

/// The app's state, shared by commands, the poller and the tray.
#[derive(Debug)]
pub struct Tapprove {
    pub state_dir: PathBuf,
    pub config_path: PathBuf,
    config: Result<Config>,
    /// The setting keys the organisation's policy fixes.
    pub fixed: Vec<&'static str>,
    pub policy_path: Option<PathBuf>,
    /// The one clock the app and its engine read.
    pub clock: Arc<dyn Clock>,
    engine: tokio::sync::RwLock<Option<Arc<Engine>>>,
    view: Mutex<View>,
    pub signing: Signing,
    /// Wakes the poller early (after sign-in, or a new engine).
    pub wake: tokio::sync::Notify,
    /// When the window was last asked to open (for the open-to-interactive
    /// measurement).
    pub opened_at: Mutex<Option<Instant>>,
    pub quitting: AtomicBool,
    /// The notifications showing, by the requests they name, so each
    /// closes (or the grouped one recounts) when its requests leave the
    /// inbox.
    pub shown: Mutex<ShownNotes>,
    /// Shows and closes them, off the poller (see `notifier::Notifier`).
    pub notifier: crate::notifier::Notifier,
}

/// Notification server ids of the notifications showing.
#[derive(Debug, Default)]
pub struct ShownNotes {
    // (Ids leave when their notification closes, so none is closed twice
    // or, after the server restarts, mistaken for another's.)
    /// One request's notification, by request id.
    pub single: std::collections::BTreeMap<String, u32>,
    /// The grouped notifications and the requests each counts.
    pub groups: Vec<(u32, Vec<String>)>,
}

#[derive(Debug, Default)]
struct View {
    inbox: Vec<RequestSummary>,
    session: Option<SessionView>,
    paused_until: Option<SystemTime>,
    problem: Option<AppError>,
    outbox_pending: usize,
}

impl ShownNotes {
    /// Forgets notification `id`: the server closed it.
    pub fn closed(&mut self, id: u32) {
        self.single.retain(|_, n| *n != id);
        self.groups.retain(|(n, _)| *n != id);
    }
}

impl Tapprove {
    /// Reads the settings (`TAPPROVE_CONFIG` or the OS config directory);
    /// a missing or broken file is kept as the reason nothing works.
    /// The organisation's policy (see `tapprove_config::policy`) wins over
    /// the user's file; the keys it fixes are shown read-only.
    pub fn load() -> Self {
        let config_path = Config::locate(None);
        let settings = tapprove_config::Settings::load(&config_path, &tapprove_config::policy_path());
        let fixed = settings.as_ref().map(|s| s.fixed.clone()).unwrap_or_default();
        let policy_path = settings.as_ref().ok().and_then(|s| s.policy_path.clone());
        let config = settings.map(|s| s.config).map_err(|e| {
            AppError::new(
                ErrorCode::NotConfigured,
                format!("{e}: ask your admin for Tapprove's settings, or run `tapprove gate install`"),
            )
        });
        let mut this = Self::with_config(config_path, tapprove_config::state_dir(), config);
        this.fixed = fixed;
        this.policy_path = policy_path;
        this
    }

    pub fn with_config(config_path: PathBuf, state_dir: PathBuf, config: Result<Config>) -> Self {
        Self {
            state_dir,
            config_path,
            config,
            fixed: Vec::new(),
            policy_path: None,
            clock: Arc::new(SystemClock),
            engine: tokio::sync::RwLock::new(None),
            view: Mutex::new(View::default()),
            signing: Signing::default(),
            wake: tokio::sync::Notify::new(),
            opened_at: Mutex::new(None),
            quitting: AtomicBool::new(false),
            shown: Mutex::new(ShownNotes::default()),
            notifier: crate::notifier::Notifier::default(),
        }
    }

    pub fn config(&self) -> Result<&Config> {
        self.config.as_ref().map_err(Clone::clone)
    }

    fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// (Re)builds the engine with the current AWS settings: the session's
    /// role credentials when signed in, else the standard chain.
    pub async fn connect(&self) -> Result<Arc<Engine>> {
        let config = self.config()?.clone();
        let aws = tapprove_engine::account::aws_config(&self.state_dir).await?;
        let engine = Arc::new(Engine::open(config, &aws, &self.state_dir)?.with_clock(self.clock.clone()));
        *self.engine.write().await = Some(engine.clone());
        self.view().session = None;
        self.wake.notify_one();
        Ok(engine)
    }

    /// The sign-in session of this machine, reading the app's clock.
    pub fn account(&self) -> Result<tapprove_engine::account::Account> {
        Ok(tapprove_engine::account::Account::open(&self.state_dir)?.with_clock(self.clock.clone()))
    }

    /// The engine, built on first use.
    pub async fn engine(&self) -> Result<Arc<Engine>> {
        if let Some(engine) = self.engine.read().await.as_ref() {
            return Ok(engine.clone());
        }
        self.connect().await
    }

    /// Reloads the inbox and the outbox count from the engine's database;
    /// `true` when what the user sees changed.
    pub fn refresh(&self, engine: &Engine) -> Result<bool> {
        let inbox: Vec<RequestSummary> = engine
            .inbox()?
            .iter()
            .map(|item| RequestSummary::of(item, engine))
            .collect();
        let pending = engine
            .history()?
            .iter()
            .filter(|e| e.state == OutboxState::Pending)
            .count();
        let mut view = self.view();
        let changed = view.inbox != inbox || view.outbox_pending != pending;
        view.inbox = inbox;
        view.outbox_pending = pending;
        Ok(changed)
    }

    /// Records the last polling problem (`None` clears it); `true` if it
    /// changed.
    pub fn set_problem(&self, problem: Option<AppError>) -> bool {
        let mut view = self.view();
        let changed = view.problem != problem;
        view.problem = problem;
        changed
    }

    pub fn set_session(&self, session: SessionView) -> bool {
        let mut view = self.view();
        let changed = view.session.as_ref() != Some(&session);
        view.session = Some(session);
        changed
    }

    pub fn session_known(&self) -> bool {
        self.view().session.is_some()
    }

    /// Pauses notifications for `minutes` (0 resumes).
    pub fn pause(&self, minutes: u32, now: SystemTime) {
        self.view().paused_until = (minutes > 0).then(|| now + Duration::from_secs(u64::from(minutes) * 60));
    }

    /// Pauses notifications until `until`.
    pub fn pause_until(&self, until: SystemTime) {
        self.view().paused_until = Some(until);
    }

    /// Until when notifications are paused, if they are.
    pub fn paused_until(&self) -> Option<SystemTime> {
        self.view().paused_until
    }

    pub fn paused(&self, now: SystemTime) -> bool {
        self.view().paused_until.is_some_and(|until| until > now)
    }

    /// Whether new requests stay silent: paused from the tray, or in the
    /// quiet hours the settings (or the organisation's policy) name.
    pub fn notifications_held(&self, now: SystemTime) -> bool {
        self.paused(now) || self.in_quiet_hours(now)
    }

    fn in_quiet_hours(&self, now: SystemTime) -> bool {
        use chrono::Timelike;
        let Some(quiet) = self
            .config
            .as_ref()
            .ok()
            .and_then(|c| c.notifications.as_ref())
            .and_then(|n| n.quiet_hours)
        else {
            return false;
        };
        let local = chrono::DateTime::<chrono::Local>::from(now);
        let hour = u8::try_from(local.hour()).unwrap_or_default();
        let minute = u8::try_from(local.minute()).unwrap_or_default();
        tapprove_config::ClockTime::new(hour, minute).is_some_and(|now| quiet.contains(now))
    }

    pub fn overview(&self, now: SystemTime) -> Overview {
        let view = self.view();
        let session = match (&self.config, &view.session) {
            (Err(e), _) => SessionView {
                health: Health::NotConfigured,
                approver: None,
                sign_in_kind: None,
                detail: Some(e.message.clone()),
                expires_at: None,
            },
            (Ok(_), Some(s)) => s.clone(),
            (Ok(_), None) => SessionView::unknown(),
        };
        Overview {
            session,
            inbox: view.inbox.clone(),
            paused_until: view
                .paused_until
                .filter(|until| *until > now)
                .map(|until| system_time(until).as_str().to_owned()),
            outbox_pending: view.outbox_pending,
            problem: view.problem.clone(),
            today: UtcTime::at(now).as_str()[..10].to_owned(),
        }
    }

    /// Who is signed in and how healthy the session is. Asks the identity
    /// provider (a refresh when due) and STS; never prompts.
    pub async fn check_session(&self) -> SessionView {
        match self.engine().await {
            Ok(engine) => engine.session_health().await.into(),
            Err(e) => SessionHealth::without_engine(e.code, e.message).into(),
        }
    }
}

pub fn system_time(t: SystemTime) -> UtcTime {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    UtcTime::from_unix(i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
}

/// One signing at a time, and the channel its PIN prompt waits on.
#[derive(Debug, Default)]
pub struct Signing {
    busy: AtomicBool,
    cancelled: AtomicBool,
    pin: Mutex<Option<std::sync::mpsc::SyncSender<Option<Zeroizing<String>>>>>,
}

/// Held while a signing runs; ends it when dropped.
#[derive(Debug)]
pub struct SigningTurn<'a>(&'a Signing);

impl Drop for SigningTurn<'_> {
    fn drop(&mut self) {
        *self.0.pin.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.0.busy.store(false, Ordering::SeqCst);
    }
}

impl Signing {
    pub fn begin(&self) -> Result<SigningTurn<'_>> {
        if self.busy.swap(true, Ordering::SeqCst) {
            return Err(AppError::new(
                ErrorCode::Busy,
                "another signing is in progress: finish or cancel it first",
            ));
        }
        self.cancelled.store(false, Ordering::SeqCst);
        Ok(SigningTurn(self))
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(tx) = self.pin.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = tx.try_send(None);
        }
    }

    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Whether a signing or enrolment is running.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// Opens the PIN channel; the prompt waits on the receiver.
    pub fn expect_pin(&self) -> std::sync::mpsc::Receiver<Option<Zeroizing<String>>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        *self.pin.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        rx
    }

    /// Hands the PIN (or `None`: cancelled) to the waiting prompt.
    pub fn answer_pin(&self, pin: Option<Zeroizing<String>>) -> Result<()> {
        let tx = self.pin.lock().unwrap_or_else(PoisonError::into_inner).take();
        match tx {
            Some(tx) => {
                let _ = tx.try_send(pin);
                Ok(())
            }
            None => Err(AppError::invalid("no PIN was asked for")),
        }
    }
}
