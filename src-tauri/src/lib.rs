//! Tapprove's tray app: the shell around `tapprove-engine`. It owns the
//! tray icon, the notifications and the one window; the engine does the
//! work. The window exists only while shown (see `window`), and the
//! background loop (`poller`) sleeps on the network, so the app costs
//! little while it waits all day.
//!
//! `tapprove-app` opens the window; `tapprove-app --background` (how it
//! starts at login) starts in the tray only. A second launch opens the
//! running app's window.

#![forbid(unsafe_code)]

mod command_names;
pub mod commands;
pub mod error;
mod lifecycle;
mod links;
mod menu;
pub mod models;
mod notify;
mod overview;
mod poller;
mod prompt;
pub mod route;
mod shed;
pub mod state;
pub mod text;
mod tray;
pub mod updates;
pub mod window;

use std::sync::Arc;

use tauri::Runtime;

pub use crate::command_names::COMMANDS;
use crate::lifecycle::BACKGROUND;
use crate::state::Tapprove;

/// Registers every command the window may call.
pub fn commands<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        commands::overview,
        commands::request,
        commands::request_end,
        commands::decide,
        commands::submit_pin,
        commands::cancel_signing,
        commands::history,
        commands::seen,
        commands::settings,
        commands::set_autostart,
        commands::pause_notifications,
        commands::sign_in,
        commands::sign_out,
        commands::authenticators,
        commands::change_authenticator,
        commands::enrol,
        commands::ui_ready,
    ]
}

/// Starts the app: the plugins, the commands, the tray, the background
/// loop, the update checks and the links, then the window unless started
/// in the background.
pub fn run() {
    let args: Vec<String> = std::env::args().collect();
    let background = args.iter().any(|a| a == BACKGROUND);
    let state = Arc::new(Tapprove::load());
    if let Some(until) = shed::paused_until_arg(&args) {
        state.pause_until(until);
    }
    if args
        .iter()
        .any(|a| a.starts_with(shed::PAUSED_UNTIL) || a == shed::RESTARTED)
    {
        shed::reap_leftovers();
    }
    let app = tauri::Builder::default()
        // First: a second launch only wakes this one.
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            lifecycle::second_launch(app, &args);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![BACKGROUND]),
        ))
        .manage(state.clone())
        .invoke_handler(commands())
        .setup(move |app| {
            let handle = app.handle().clone();
            tray::create(&handle, &state.overview(state.clock.now()), menu::chosen)?;
            tauri::async_runtime::spawn(poller::run(handle.clone(), state.clone()));
            updates::spawn_checks(handle.clone(), state.config().ok().cloned());
            let opened = links::watch(&handle);
            if !background && !opened {
                window::open(&handle, "/inbox");
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("tapprove-app: cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(lifecycle::on_event);
}
