//! The overview (what waits, the session's health, the pause), shown
//! everywhere at once: the window receives it as the `overview` event and
//! the tray redraws from it.

use std::sync::Arc;

use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::state::Tapprove;

/// Sends the current overview to the window and the tray.
pub fn publish<R: Runtime>(app: &AppHandle<R>) {
    let Some(state) = app.try_state::<Arc<Tapprove>>() else {
        return;
    };
    let overview = state.overview(state.clock.now());
    let _ = app.emit("overview", &overview);
    if let Err(e) = crate::tray::redraw(app, &overview) {
        eprintln!("tapprove-app: cannot update the tray: {e}");
    }
}
