//! What the tray menu's entries do (`tray` draws them): open the window at
//! a request or a screen, pause or resume notifications, quit.

use std::sync::Arc;

use tauri::{AppHandle, Manager, Runtime};

use crate::state::Tapprove;
use crate::window;

/// What a tray menu entry does.
pub fn chosen<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match id {
        "open" => window::open(app, "/inbox"),
        "sign-in" => window::open(app, "/sign-in"),
        "pause" => {
            let state = app.state::<Arc<Tapprove>>();
            let minutes = if state.paused(state.clock.now()) { 0 } else { 60 };
            state.pause(minutes, state.clock.now());
            crate::overview::publish(app);
        }
        "quit" => crate::lifecycle::quit(app.clone()),
        other => {
            if let Some(request) = other.strip_prefix("request:") {
                window::open(app, &format!("/request/{request}"));
            }
        }
    }
}
