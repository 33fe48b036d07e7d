//! The whole app in one process (macOS and Windows, where the webview's
//! processes end with the window; `--standalone` anywhere): Tauri's tray,
//! the plugins for a single instance, links, updates and autostart, and
//! the core's background loop on Tauri's runtime.

use std::sync::Arc;

use tapprove_desk::{BACKGROUND, Tapprove};

use tauri::{AppHandle, Manager, Runtime};

use crate::shell::of;

/// What a tray menu entry does (`tapprove_desk::tray::chosen`).
fn chosen<R: Runtime>(app: &AppHandle<R>, id: &str) {
    if let Some(state) = app.try_state::<Arc<Tapprove>>() {
        tapprove_desk::tray::chosen(&of(app), &state, id);
    }
}

pub fn run(args: &[String]) {
    let background = args.iter().any(|a| a == BACKGROUND);
    let state = Arc::new(Tapprove::load());
    let app = tauri::Builder::default()
        // First: a second launch only wakes this one.
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            crate::lifecycle::second_launch(app, &args);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![BACKGROUND]),
        ))
        .manage(state.clone())
        .invoke_handler(crate::shell::commands())
        .setup(move |app| {
            let handle = app.handle().clone();
            crate::tray::create(&handle, &state.overview(state.clock.now()), chosen)?;
            tauri::async_runtime::spawn(tapprove_desk::poller::run(of(&handle), state.clone()));
            crate::updates::spawn_checks(handle.clone(), state.config().ok().cloned());
            let opened = crate::links::watch(&handle);
            if !background && !opened {
                crate::window::open(&handle, "/inbox");
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
    app.run(crate::lifecycle::on_event);
}
