//! How the standalone app starts, stays and stops: a second launch wakes
//! the running one, closing the window keeps it in the tray, and Quit
//! waits for the outbox.

use tauri::{AppHandle, RunEvent, Runtime};

use tapprove_desk::BACKGROUND;

/// A second launch (its `args`) only wakes this one: it opens the window,
/// unless it carried a link (handed to the deep-link plugin, which opens
/// it) or started in the background.
pub fn second_launch<R: Runtime>(app: &AppHandle<R>, args: &[String]) {
    let link = args.iter().skip(1).any(|a| tapprove_desk::route::is_link(a));
    if !link && !args.iter().any(|a| a == BACKGROUND) {
        crate::window::open(app, "/inbox");
    }
}

/// The app's own events: closing the window keeps the app in the tray;
/// only Quit exits.
pub fn on_event<R: Runtime>(_app: &AppHandle<R>, event: RunEvent) {
    if let RunEvent::ExitRequested { code: None, api, .. } = event {
        api.prevent_exit();
    }
}
