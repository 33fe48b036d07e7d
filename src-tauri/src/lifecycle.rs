//! How the app starts, stays and stops: autostart starts it in the tray
//! only, a second launch wakes the running one, closing the window keeps
//! it in the tray, and Quit waits for the outbox.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tauri::{AppHandle, Manager, RunEvent, Runtime};

use crate::state::Tapprove;

/// The argument autostart passes: start in the tray, no window.
pub const BACKGROUND: &str = "--background";

/// A second launch (its `args`) only wakes this one: it opens the window,
/// unless it carried a link (handed to the deep-link plugin, which opens
/// it) or started in the background.
pub fn second_launch<R: Runtime>(app: &AppHandle<R>, args: &[String]) {
    let link = args.iter().skip(1).any(|a| crate::route::is_link(a));
    if !link && !args.iter().any(|a| a == BACKGROUND) {
        crate::window::open(app, "/inbox");
    }
}

/// Quits once the outbox is flushed (at most 10 s); says what is left.
pub fn quit<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        let state = app.state::<Arc<Tapprove>>().inner().clone();
        state.quitting.store(true, Ordering::SeqCst);
        if let Ok(engine) = state.engine().await {
            match engine.flush_until(Duration::from_secs(10)).await {
                Ok(0) => {}
                Ok(left) => crate::notify::outbox_left(left),
                Err(e) => eprintln!("tapprove-app: cannot resend the outbox before quitting: {e}"),
            }
        }
        app.exit(0);
    });
}

/// The app's own events: closing the window keeps the app in the tray;
/// only Quit exits.
pub fn on_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    match event {
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::WindowEvent {
            label,
            event: tauri::WindowEvent::Destroyed,
            ..
        } if label == crate::window::MAIN => {
            let state = app.state::<Arc<Tapprove>>();
            state.window_closed.store(true, Ordering::SeqCst);
            // A poller waiting (not polling) may restart at once.
            state.wake.notify_one();
        }
        _ => {}
    }
}
