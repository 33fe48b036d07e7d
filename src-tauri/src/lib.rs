//! Tapprove's window: the Tauri shell around the web front end. What the
//! app does is in `tapprove-desk`; this crate shows it.
//!
//! `tapprove-window` runs in one of three ways:
//! - `--window ROUTE` (Linux): started by the tray agent (`tapprove-app`)
//!   when the window is asked for; it relays the page's commands to the
//!   agent (`relay`) and ends when its window closes;
//! - `--check-updates`: started by the agent now and then; checks, verifies
//!   and installs a signed update (`updates`), then exits;
//! - `--standalone` (the default on macOS and Windows): the whole app in
//!   one process, with Tauri's tray (`standalone`).

#![forbid(unsafe_code)]

mod lifecycle;
mod links;
pub mod relay;
pub mod shell;
mod standalone;
mod tray;
pub mod updates;
pub mod window;

pub use tapprove_desk::{COMMANDS, error, models, route, state, text};

pub use crate::shell::commands;

/// Runs the mode the arguments name.
pub fn run() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--window") => relay::run(args.get(2).map_or("/inbox", String::as_str)),
        Some("--check-updates") => std::process::exit(updates::check_once()),
        Some("--standalone") => standalone::run(&args),
        _ if cfg!(all(unix, not(target_os = "macos"))) => {
            eprintln!(
                "tapprove-window is Tapprove's window, which the tray app opens: start `tapprove-app` instead"
            );
            std::process::exit(2);
        }
        _ => standalone::run(&args),
    }
}
