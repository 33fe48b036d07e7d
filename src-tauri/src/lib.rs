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
mod links;
pub mod models;
mod notify;
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
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime};

pub use crate::command_names::COMMANDS;
use crate::state::Tapprove;

/// The argument autostart passes: start in the tray, no window.
pub const BACKGROUND: &str = "--background";

/// Registers every command the window may call.
pub fn commands<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        commands::overview,
        commands::request,
        commands::decide,
        commands::submit_pin,
        commands::cancel_signing,
        commands::history,
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

/// Sends the current overview to the window and the tray.
pub fn publish<R: Runtime>(app: &AppHandle<R>) {
    let Some(state) = app.try_state::<Arc<Tapprove>>() else {
        return;
    };
    let overview = state.overview(SystemTime::now());
    let _ = app.emit("overview", &overview);
    if let Err(e) = tray::update(app, &overview) {
        eprintln!("tapprove-app: cannot update the tray: {e}");
    }
}

/// What a tray menu entry does.
pub fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match id {
        "open" => window::open(app, "/inbox"),
        "sign-in" => window::open(app, "/sign-in"),
        "pause" => {
            let state = app.state::<Arc<Tapprove>>();
            let minutes = if state.paused(SystemTime::now()) { 0 } else { 60 };
            state.pause(minutes, SystemTime::now());
            publish(app);
        }
        "quit" => quit(app.clone()),
        other => {
            if let Some(request) = other.strip_prefix("request:") {
                window::open(app, &format!("/request/{request}"));
            }
        }
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
                Ok(left) => notify::outbox_left(left),
                Err(e) => eprintln!("tapprove-app: cannot resend the outbox before quitting: {e}"),
            }
        }
        app.exit(0);
    });
}

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
            // A link was handed to the deep-link plugin, which opens it.
            let link = args.iter().skip(1).any(|a| route::is_link(a));
            if !link && !args.iter().any(|a| a == BACKGROUND) {
                window::open(app, "/inbox");
            }
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
            tray::create(&handle, &state.overview(SystemTime::now()))?;
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
    app.run(|app, event| match event {
        // Closing the window keeps the app in the tray; only Quit exits.
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::WindowEvent {
            label,
            event: tauri::WindowEvent::Destroyed,
            ..
        } if label == window::MAIN => {
            let state = app.state::<Arc<Tapprove>>();
            state.window_closed.store(true, Ordering::SeqCst);
            // A poller waiting (not polling) may restart at once.
            state.wake.notify_one();
        }
        _ => {}
    });
}
