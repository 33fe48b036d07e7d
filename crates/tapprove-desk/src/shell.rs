//! What the face around the core can do: show the window and speak to it,
//! draw the tray, quit, start at login. The Linux agent implements it with
//! a D-Bus tray and a window process; the one-process Tauri app with
//! Tauri's tray and window.

use crate::error::Result;
use crate::models::Overview;
use crate::state::Tapprove;

pub trait Shell: Send + Sync + 'static {
    /// Sends `event` to the window, if one is open (nothing otherwise).
    fn emit(&self, event: &str, payload: serde_json::Value);
    /// Shows the window at `route` (a checked route: see `route`),
    /// navigating the open one or starting it.
    fn open(&self, route: &str);
    /// The window may be asked for soon (the tray menu is opening): a
    /// face whose window takes long to start may start it now, hidden.
    /// Nothing by default (where the window is part of the process).
    fn prepare(&self) {}
    /// Shows `overview` in the tray.
    fn tray(&self, overview: &Overview);
    /// Quits: the outbox is sent first (`poller::before_quit`), then the app ends.
    fn quit(&self);
    /// Whether Tapprove starts at login.
    fn autostart(&self) -> bool;
    fn set_autostart(&self, enabled: bool) -> Result<()>;
}

/// Sends the current overview to the window and the tray.
pub fn publish(shell: &dyn Shell, state: &Tapprove) {
    let overview = state.overview(state.clock.now());
    shell.emit(
        "overview",
        serde_json::to_value(&overview).unwrap_or(serde_json::Value::Null),
    );
    shell.tray(&overview);
}
