//! Giving back what the webview cost. Destroying the window ends WebKit's
//! web process, but not its network process, and the app's own process
//! keeps the libraries and heap the webview brought in: about 130 MB after
//! one open against 57 MB for a tray that never opened a window (Linux,
//! measured by `scripts/bench-app`). So once the window is closed, the
//! poller replaces the process with a fresh copy of itself (`exec`, same
//! PID, `--background`) between two polls: never during a long poll, a
//! signing, or while a window is open again. The pause carries over as an
//! argument; everything else is on disk or recomputed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tauri::{AppHandle, Manager, Runtime};

use crate::state::Tapprove;

/// Marks a process started by [`restart`].
pub const RESTARTED: &str = "--restarted";

/// The argument that carries a pause across the restart (Unix seconds).
pub const PAUSED_UNTIL: &str = "--paused-until=";

/// Whether now is a good time: the window was closed, none is open, no
/// signing runs, and no notification still waits for a click (its action
/// would reach a process that is gone).
pub fn due<R: Runtime>(app: &AppHandle<R>, state: &Tapprove) -> bool {
    state.window_closed.load(Ordering::SeqCst)
        && app.get_webview_window(crate::window::MAIN).is_none()
        && !state.signing.busy()
        && state.notifications_open.load(Ordering::SeqCst) == 0
        && !state.quitting.load(Ordering::SeqCst)
}

/// Replaces the process with a fresh copy of itself; returns only if that
/// failed (the app then goes on as it is).
#[cfg(unix)]
pub fn restart(state: &Arc<Tapprove>) {
    use std::os::unix::process::CommandExt;

    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command.arg(crate::lifecycle::BACKGROUND).arg(RESTARTED);
    if let Some(until) = state.paused_until().filter(|u| *u > state.clock.now())
        && let Ok(since) = until.duration_since(SystemTime::UNIX_EPOCH)
    {
        command.arg(format!("{PAUSED_UNTIL}{}", since.as_secs()));
    }
    let error = command.exec();
    state.window_closed.store(false, Ordering::SeqCst);
    eprintln!("tapprove-app: could not restart to free the window's memory ({error}); carrying on");
}

/// Elsewhere the webview's processes end with the window (WebView2,
/// WKWebView); nothing to shed.
#[cfg(not(unix))]
pub fn restart(state: &Arc<Tapprove>) {
    state.window_closed.store(false, Ordering::SeqCst);
}

/// The pause passed by [`restart`], if any.
pub fn paused_until_arg(args: &[String]) -> Option<SystemTime> {
    args.iter()
        .find_map(|a| a.strip_prefix(PAUSED_UNTIL))
        .and_then(|secs| secs.parse::<u64>().ok())
        .map(|secs| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Reaps the child processes the previous image left (WebKit's processes
/// end when their parent's image is replaced, and stay as zombies until
/// someone waits for them). Call before anything else starts a child.
#[cfg(unix)]
pub fn reap_leftovers() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    use nix::unistd::Pid;

    // Give them a moment to notice their parent went away.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                if std::time::Instant::now() > deadline {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Ok(_) => continue,
            // ECHILD: none left.
            Err(_) => return,
        }
    }
}

#[cfg(not(unix))]
pub fn reap_leftovers() {}
