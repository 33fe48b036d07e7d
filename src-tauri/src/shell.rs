//! The core's [`Shell`] in one Tauri process (the standalone app, and
//! `tauri::test`'s mock app), and the invoke handler that hands the page's
//! commands to `tapprove_desk::commands::dispatch` in process.

use std::sync::Arc;

use serde_json::Value;
use tapprove_desk::error::{AppError, ErrorCode, Result};
use tapprove_desk::models::Overview;
use tapprove_desk::{COMMANDS, Shell, Tapprove};
use tauri::ipc::{Invoke, InvokeBody};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt;

/// The app's window, tray and launcher, for the core.
#[derive(Debug)]
pub struct TauriShell<R: Runtime>(pub AppHandle<R>);

impl<R: Runtime> Shell for TauriShell<R> {
    fn emit(&self, event: &str, payload: Value) {
        let _ = self.0.emit(event, payload);
    }

    fn open(&self, route: &str) {
        crate::window::open(&self.0, route);
    }

    fn tray(&self, overview: &Overview) {
        if let Err(e) = crate::tray::redraw(&self.0, overview) {
            eprintln!("tapprove-app: cannot update the tray: {e}");
        }
    }

    fn quit(&self) {
        let app = self.0.clone();
        tauri::async_runtime::spawn(async move {
            if let Some(state) = app.try_state::<Arc<Tapprove>>() {
                tapprove_desk::poller::before_quit(&state).await;
            }
            app.exit(0);
        });
    }

    fn autostart(&self) -> bool {
        self.0
            .try_state::<tauri_plugin_autostart::AutoLaunchManager>()
            .is_some_and(|launcher| launcher.is_enabled().unwrap_or(false))
    }

    fn set_autostart(&self, enabled: bool) -> Result<()> {
        if self
            .0
            .try_state::<tauri_plugin_autostart::AutoLaunchManager>()
            .is_none()
        {
            return Err(AppError::new(
                ErrorCode::Internal,
                "cannot change start at login here",
            ));
        }
        let launcher = self.0.autolaunch();
        let done = if enabled {
            launcher.enable()
        } else {
            launcher.disable()
        };
        done.map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot change start at login: {e}")))
    }
}

/// The shell of `app`, as the core takes it.
pub fn of<R: Runtime>(app: &AppHandle<R>) -> Arc<dyn Shell> {
    Arc::new(TauriShell(app.clone()))
}

/// The arguments of an invoke, as JSON (`null` when it carried none).
pub fn arguments(body: &InvokeBody) -> Value {
    match body {
        InvokeBody::Json(value) => value.clone(),
        InvokeBody::Raw(_) => Value::Null,
    }
}

/// Runs the page's commands in this process (the app's state must be
/// managed as `Arc<Tapprove>`). An unknown name is left to Tauri, which
/// answers that it does not exist.
pub fn commands<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    |invoke: Invoke<R>| {
        let command = invoke.message.command().to_owned();
        if !COMMANDS.contains(&command.as_str()) {
            return false;
        }
        let app = invoke.message.webview().app_handle().clone();
        crate::window::page_called(&app);
        let resolver = invoke.resolver;
        let Some(state) = app.try_state::<Arc<Tapprove>>().map(|s| s.inner().clone()) else {
            resolver.reject(AppError::new(
                ErrorCode::Internal,
                "Tapprove is still starting: try again",
            ));
            return true;
        };
        let args = arguments(invoke.message.payload());
        tauri::async_runtime::spawn(async move {
            match tapprove_desk::commands::dispatch(of(&app), state, &command, args).await {
                None => resolver.reject(format!("Command {command} not found")),
                Some(Ok(value)) => resolver.resolve(value),
                Some(Err(e)) => resolver.reject(e),
            }
        });
        true
    }
}
