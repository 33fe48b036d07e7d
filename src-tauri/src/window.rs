//! The one window. It exists only while it is shown: closing it destroys
//! the webview (and on Linux ends the window process). Opening it again
//! builds a fresh one at the route asked for.

use std::sync::{Arc, PoisonError};
use std::time::Instant;

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use tapprove_desk::Tapprove;

pub const MAIN: &str = "main";

/// Shows the window at `route`: navigates the open one, or builds it.
pub fn open<R: Runtime>(app: &AppHandle<R>, route: &str) {
    open_near(app, route, None);
}

/// Places `window` next to the tray icon at `anchor` (physical pixels): below
/// it when the tray is at the top of the screen (macOS), above it otherwise
/// (Windows' taskbar).
fn place_near<R: Runtime>(window: &tauri::WebviewWindow<R>, anchor: (f64, f64)) {
    let Ok(size) = window.outer_size() else {
        return;
    };
    let (w, h) = (f64::from(size.width), f64::from(size.height));
    let x = (anchor.0 - w / 2.0).max(0.0);
    let y = if anchor.1 < h {
        anchor.1 + 32.0
    } else {
        (anchor.1 - h - 8.0).max(0.0)
    };
    let _ = window.set_position(tauri::PhysicalPosition::new(x, y));
}

/// [`open`], placed next to the tray icon when `anchor` is given (a click
/// on the icon, on macOS and Windows).
pub fn open_near<R: Runtime>(app: &AppHandle<R>, route: &str, anchor: Option<(f64, f64)>) {
    let route = tapprove_desk::route::checked(route);
    if let Some(state) = app.try_state::<Arc<Tapprove>>() {
        *state.opened_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }
    let handle = app.clone();
    let _ = app.run_on_main_thread(move || {
        if let Some(window) = handle.get_webview_window(MAIN) {
            let _ = handle.emit_to(MAIN, "navigate", &route);
            if let Some(anchor) = anchor {
                place_near(&window, anchor);
            }
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
        .on_page_load(|_, load| crate::trace::trace(&format!("page {:?}", load.event())))
        .build();
        match built {
            Ok(window) => {
                if let Some(anchor) = anchor {
                    place_near(&window, anchor);
                }
            }
            Err(e) => eprintln!("tapprove-app: cannot open the window: {e}"),
        }
    });
}
