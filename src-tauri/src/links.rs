//! Links that reach the standalone app (the Linux agent reads its own): the one it was started with, and every one
//! a second launch hands over, each opens its route in the window (see
//! `route` for what a link may say). A link that is not one of Tapprove's
//! opens the inbox, and a notification says why.
//!
//! The installers register the scheme (the desktop entry's
//! `x-scheme-handler/tapprove` on Linux, the bundle's URL types on macOS,
//! the registry on Windows); the OS starts the app with the link as its
//! only argument, and a running app receives it from the second launch
//! (`tauri-plugin-single-instance` hands it to `tauri-plugin-deep-link`).

use tauri::{AppHandle, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

/// Opens the link the app was started with, if any, and every link that
/// reaches it later. Returns whether the window was opened for a link.
pub fn watch<R: Runtime>(app: &AppHandle<R>) -> bool {
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            open(&handle, url.as_str());
        }
    });
    let launched = app.deep_link().get_current().ok().flatten().unwrap_or_default();
    for url in &launched {
        open(app, url.as_str());
    }
    !launched.is_empty()
}

fn open<R: Runtime>(app: &AppHandle<R>, link: &str) {
    match tapprove_desk::route::from_link(link) {
        Ok(route) => {
            eprintln!("tapprove-app: opening {route} (a link)");
            crate::window::open(app, &route);
        }
        Err(e) => {
            eprintln!("tapprove-app: {e}");
            tapprove_desk::notify::bad_link(&e.to_string());
            crate::window::open(app, "/inbox");
        }
    }
}
