//! The tray agent: the process that runs all day on Linux. It holds the
//! engine and its polls, the tray (D-Bus, `sni`), the notifications and
//! the single-instance name, and links no GTK or WebKit; the window is a
//! process of its own (`window`), started when asked for and gone when
//! closed. Both act on one state: the window's commands run here.
//!
//! `tapprove-app` opens the window; `tapprove-app --background` (how it
//! starts at login) starts in the tray only; `tapprove-app tapprove://…`
//! opens a link. A later launch hands its arguments to the running agent.

mod instance;
mod sni;
mod window;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use ksni::TrayMethods;

use crate::error::{AppError, ErrorCode, Result};
use crate::models::Overview;
use crate::shell::Shell;
use crate::state::Tapprove;
use crate::wire::Down;
use crate::{BACKGROUND, route};

/// The window binary, beside the agent.
fn window_program() -> PathBuf {
    std::env::current_exe()
        .map(|exe| exe.with_file_name("tapprove-window"))
        .unwrap_or_else(|_| PathBuf::from("tapprove-window"))
}

/// When the first update check runs, and how often after that.
const FIRST_UPDATE_CHECK: Duration = Duration::from_secs(60);
const UPDATE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

struct AgentShell {
    me: Weak<AgentShell>,
    state: Arc<Tapprove>,
    window: Arc<window::Host>,
    tray: Mutex<Option<ksni::Handle<sni::Item>>>,
    /// What the tray last showed, so an unchanged overview costs nothing.
    tray_shown: Mutex<Option<String>>,
    runtime: tokio::runtime::Handle,
    done: tokio::sync::Notify,
    autostart: Option<auto_launch::AutoLaunch>,
}

impl std::fmt::Debug for AgentShell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentShell")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Shell for AgentShell {
    fn emit(&self, event: &str, payload: serde_json::Value) {
        self.window.send(Down::Event {
            name: event.to_owned(),
            payload,
        });
    }

    fn open(&self, route: &str) {
        let me: Weak<dyn Shell> = self.me.clone();
        self.window.open(route, me, self.state.clone());
    }

    fn prepare(&self) {
        let me: Weak<dyn Shell> = self.me.clone();
        self.window.prepare(me, self.state.clone());
    }

    fn tray(&self, overview: &Overview) {
        let signature = format!(
            "{:?}{:?}{}",
            crate::tray::look(overview),
            crate::tray::entries(overview),
            crate::tray::tooltip(overview)
        );
        {
            let mut shown = self.tray_shown.lock().unwrap_or_else(PoisonError::into_inner);
            if shown.as_deref() == Some(signature.as_str()) {
                return;
            }
            *shown = Some(signature);
        }
        let Some(tray) = self.tray.lock().unwrap_or_else(PoisonError::into_inner).clone() else {
            return;
        };
        let overview = overview.clone();
        self.runtime.spawn(async move {
            tray.update(move |item| item.overview = overview).await;
        });
    }

    fn quit(&self) {
        let state = self.state.clone();
        let Some(me) = self.me.upgrade() else {
            return;
        };
        self.runtime.spawn(async move {
            crate::poller::before_quit(&state).await;
            me.done.notify_one();
        });
    }

    fn autostart(&self) -> bool {
        self.autostart
            .as_ref()
            .is_some_and(|a| a.is_enabled().unwrap_or(false))
    }

    fn set_autostart(&self, enabled: bool) -> Result<()> {
        let launcher = self.autostart.as_ref().ok_or_else(|| {
            AppError::new(
                ErrorCode::Internal,
                "cannot change start at login: Tapprove cannot tell where it is installed",
            )
        })?;
        let done = if enabled {
            launcher.enable()
        } else {
            launcher.disable()
        };
        done.map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot change start at login: {e}")))
    }
}

/// Start at login: the XDG autostart entry `Tapprove.desktop`, running
/// this binary with `--background` (the name the one-process app's
/// plugin used, so an entry it wrote is the same).
fn launcher() -> Option<auto_launch::AutoLaunch> {
    let exe = std::env::current_exe().ok()?;
    auto_launch::AutoLaunchBuilder::new()
        .set_app_name("Tapprove")
        .set_app_path(&exe.to_string_lossy())
        .set_args(&[BACKGROUND])
        .build()
        .ok()
}

/// Runs the agent; returns the process's exit code.
pub fn run() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tapprove-app: cannot start: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(agent(args));
    // A signing still waiting on a blocking thread (cancelled by Quit, but
    // perhaps inside the authenticator's driver) must not keep the process.
    runtime.shutdown_timeout(Duration::from_secs(2));
    code
}

async fn agent(args: Vec<String>) -> i32 {
    let (_bus, mut launches) = match instance::claim(&args).await {
        Ok(instance::Claim::First { bus, launches }) => (Some(bus), launches),
        Ok(instance::Claim::Handed) => return 0,
        Err(e) => {
            eprintln!(
                "tapprove-app: cannot reach the session bus ({e}): Tapprove needs a desktop session (its tray and notifications are on D-Bus)"
            );
            return 1;
        }
    };
    let state = Arc::new(Tapprove::load());
    let shell = Arc::new_cyclic(|me| AgentShell {
        me: me.clone(),
        state: state.clone(),
        window: Arc::new(window::Host::new(
            window_program(),
            tokio::runtime::Handle::current(),
        )),
        tray: Mutex::new(None),
        tray_shown: Mutex::new(None),
        runtime: tokio::runtime::Handle::current(),
        done: tokio::sync::Notify::new(),
        autostart: launcher(),
    });
    let dyn_shell: Arc<dyn Shell> = shell.clone();
    let item = sni::Item {
        overview: state.overview(state.clock.now()),
        shell: dyn_shell.clone(),
        state: state.clone(),
    };
    match item.assume_sni_available(true).spawn().await {
        Ok(tray) => *shell.tray.lock().unwrap_or_else(PoisonError::into_inner) = Some(tray),
        Err(e) => eprintln!("tapprove-app: no tray icon ({e}); notifications and the window still work"),
    }
    tokio::spawn(keep_polling(dyn_shell.clone(), state.clone()));
    tokio::spawn(update_checks());
    launched(&dyn_shell, &args);
    loop {
        tokio::select! {
            Some(args) = launches.recv() => launched(&dyn_shell, &args),
            () = shell.done.notified() => break,
        }
    }
    0
}

/// Runs the background loop, and again if it ever fails (a panic), so a
/// bug costs a poll, not every request after it.
async fn keep_polling(shell: Arc<dyn Shell>, state: Arc<Tapprove>) {
    loop {
        match tokio::spawn(crate::poller::run(shell.clone(), state.clone())).await {
            Ok(()) => return,
            Err(e) => {
                eprintln!("tapprove-app: the background loop failed ({e}); starting it again in 10 s");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    }
}

/// What a launch's arguments (its own name first) ask for: each link
/// opens its route (a bad one the inbox, and a notification says why);
/// without a link the window opens, unless started in the background.
fn launched(shell: &Arc<dyn Shell>, args: &[String]) {
    let links: Vec<&String> = args.iter().skip(1).filter(|a| route::is_link(a)).collect();
    for link in &links {
        match route::from_link(link) {
            Ok(route) => {
                eprintln!("tapprove-app: opening {route} (a link)");
                shell.open(&route);
            }
            Err(e) => {
                eprintln!("tapprove-app: {e}");
                crate::notify::bad_link(&e.to_string());
                shell.open("/inbox");
            }
        }
    }
    let background = args.iter().any(|a| a == BACKGROUND);
    if links.is_empty() && !background {
        shell.open("/inbox");
    }
}

/// Update checks: the window binary checks, verifies and installs (the
/// updater and its key live there), as a short-lived process without a
/// window, a minute after start and then daily.
async fn update_checks() {
    tokio::time::sleep(FIRST_UPDATE_CHECK).await;
    loop {
        let status = tokio::process::Command::new(window_program())
            .arg("--check-updates")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status()
            .await;
        match status {
            Ok(status) if status.code() == Some(crate::UPDATES_OFF) => return,
            Ok(_) => {}
            Err(e) => eprintln!("tapprove-app: cannot check for updates ({e})"),
        }
        tokio::time::sleep(UPDATE_EVERY).await;
    }
}
