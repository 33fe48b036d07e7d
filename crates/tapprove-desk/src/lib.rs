//! Tapprove's desktop core: everything the tray app does that needs no
//! webview. The state, the commands the window calls, the notifications,
//! the background loop and the tray menu are here, behind one [`Shell`]
//! (what the face around them can show); `agent` is the process that runs
//! all day on Linux: the tray over D-Bus, the notifications, the engine's
//! polls, and the window started on demand as a separate process
//! (`tapprove-window`, the Tauri shell in `src-tauri`) that relays the
//! window's commands here over its standard input and output.
//!
//! Elsewhere (macOS, Windows) the Tauri process runs all of it in one
//! process through the same [`Shell`] (`tapprove-window --standalone`).

#![forbid(unsafe_code)]

#[cfg(all(unix, not(target_os = "macos")))]
pub mod agent;
pub mod command_names;
pub mod commands;
pub mod error;
pub mod models;
pub mod notifier;
pub mod notify;
pub mod poller;
pub mod prompt;
pub mod route;
pub mod shell;
pub mod state;
pub mod text;
pub mod tray;
pub mod wire;

pub use crate::command_names::COMMANDS;
pub use crate::shell::{Shell, publish};
pub use crate::state::Tapprove;

/// The argument autostart passes: start in the tray, no window.
pub const BACKGROUND: &str = "--background";

/// `tapprove-window --check-updates` exits with this when update checks
/// are off (no key, or the settings say so): the agent stops asking.
pub const UPDATES_OFF: i32 = 3;
