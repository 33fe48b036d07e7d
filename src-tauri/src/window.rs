//! The one window. It exists only while it is shown: closing it destroys
//! the webview (and on Linux ends the window process). Opening it again
//! builds a fresh one at the route asked for.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use tapprove_desk::Tapprove;

pub const MAIN: &str = "main";

/// Where the page is to go, kept while it cannot be told: until its first
/// command it may not listen yet (the page registers its listeners before
/// it asks for anything), and a "navigate" event would be lost. A window
/// opened hidden ([`prepare`]) and opened while still loading is the case.
#[derive(Debug, Default)]
struct Landing {
    listening: bool,
    route: Option<String>,
}

fn landing<R: Runtime>(app: &AppHandle<R>) -> tauri::State<'_, Mutex<Landing>> {
    app.manage(Mutex::new(Landing::default()));
    app.state::<Mutex<Landing>>()
}

/// Sends the page to `route` now, or once it listens.
fn navigate<R: Runtime>(app: &AppHandle<R>, route: String) {
    let landing = landing(app);
    let mut landing = landing.lock().unwrap_or_else(PoisonError::into_inner);
    if landing.listening {
        drop(landing);
        let _ = app.emit_to(MAIN, "navigate", &route);
    } else {
        landing.route = Some(route);
    }
}

/// The page called a command, so it listens: a route kept for it is sent.
pub fn page_called<R: Runtime>(app: &AppHandle<R>) {
    let route = {
        let landing = landing(app);
        let mut landing = landing.lock().unwrap_or_else(PoisonError::into_inner);
        landing.listening = true;
        landing.route.take()
    };
    if let Some(route) = route {
        let _ = app.emit_to(MAIN, "navigate", &route);
    }
}

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

/// Builds the window at `route` without showing it, unless one exists:
/// its page loads and renders now, so that a later [`open`] only shows it
/// (the agent's warm start, see `tapprove_desk::agent::window`).
pub fn prepare<R: Runtime>(app: &AppHandle<R>, route: &str) {
    let route = tapprove_desk::route::checked(route);
    let handle = app.clone();
    let _ = app.run_on_main_thread(move || {
        if handle.get_webview_window(MAIN).is_none() {
            build(&handle, &route, false, None);
        }
    });
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
            // First where to go, so the page does not show the old screen
            // for a frame. An approval route still starts nothing unseen:
            // the page's commands are taken on this (main) thread, after
            // the window is shown below. The page answers a "navigate"
            // with `ui_ready` once drawn.
            navigate(&handle, route);
            if let Some(anchor) = anchor {
                place_near(&window, anchor);
            }
            let _ = window.show();
            let _ = window.unminimize();
            let _ = window.set_focus();
            return;
        }
        build(&handle, &route, true, anchor);
    });
}

/// Builds the window at `route`, shown or not (on the main thread).
fn build<R: Runtime>(app: &AppHandle<R>, route: &str, visible: bool, anchor: Option<(f64, f64)>) {
    *landing(app).lock().unwrap_or_else(PoisonError::into_inner) = Landing::default();
    let built = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App(format!("index.html#{route}").into()))
        .title("Tapprove")
        .inner_size(460.0, 700.0)
        .min_inner_size(360.0, 420.0)
        .visible(visible)
        .focused(visible)
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
}
