//! The one window. It exists only while it is shown: closing it destroys
//! the webview, so an idle tray app holds no WebKit process (about 200 MB
//! on Linux). Opening it again builds a fresh one at the route asked for.

use std::sync::{Arc, PoisonError};
use std::time::Instant;

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::state::Tapprove;

pub const MAIN: &str = "main";

/// A route the front end knows, from a fixed set of shapes; anything else
/// becomes the inbox. Request ids are the inbox's short ids.
pub fn checked_route(route: &str) -> String {
    let ok_id = |id: &str| !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric());
    let parts: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let valid = match parts.as_slice() {
        ["inbox" | "history" | "settings" | "authenticators" | "sign-in"] => true,
        ["request", id] => ok_id(id),
        ["request", id, "approve"] => ok_id(id),
        _ => false,
    };
    if valid {
        format!("/{}", parts.join("/"))
    } else {
        "/inbox".to_owned()
    }
}

/// Shows the window at `route`: navigates the open one, or builds it.
pub fn open<R: Runtime>(app: &AppHandle<R>, route: &str) {
    let route = checked_route(route);
    if let Some(state) = app.try_state::<Arc<Tapprove>>() {
        *state.opened_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }
    let handle = app.clone();
    let _ = app.run_on_main_thread(move || {
        if let Some(window) = handle.get_webview_window(MAIN) {
            let _ = handle.emit_to(MAIN, "navigate", &route);
            let _ = window.show();
            let _ = window.unminimize();
            let _ = window.set_focus();
            return;
        }
        let built = WebviewWindowBuilder::new(
            &handle,
            MAIN,
            WebviewUrl::App(format!("index.html#{route}").into()),
        )
        .title("Tapprove")
        .inner_size(460.0, 700.0)
        .min_inner_size(360.0, 420.0)
        .focused(true)
        .build();
        if let Err(e) = built {
            eprintln!("tapprove-app: cannot open the window: {e}");
        }
    });
}
