//! Tapprove's window: the Tauri shell around the web front end. What the
//! app does is in `tapprove-desk`; this crate shows it.
//!
//! `tapprove-window` runs in one of four ways:
//! - `--window ROUTE --wire N [--hidden]` (Linux): started by the tray agent
//!   (`tapprove-app`) when the window is asked for, or hidden when it may
//!   be asked for soon (the tray menu is opening); it relays the page's
//!   commands to the agent (`relay`) and ends when its window closes or
//!   the agent closes its input;
//! - `--check-updates`: started by the agent now and then; checks, verifies
//!   and installs a signed update (`updates`), then exits;
//! - anything else on Linux: becomes the agent (`tapprove-app`, which
//!   opens the window as its own process);
//! - `--standalone` (macOS and Windows, where it is the default): the whole
//!   app in one process, with Tauri's tray (`standalone`). Linux builds
//!   compile it (so it is checked) but never run it: the window binary
//!   then reaches no engine, and the linker leaves it out.

#![forbid(unsafe_code)]

mod lifecycle;
mod links;
pub mod relay;
pub mod shell;
pub mod standalone;
mod trace;
mod tray;
pub mod updates;
pub mod window;

pub use tapprove_desk::{COMMANDS, error, models, route, state, text};

pub use crate::shell::commands;

/// Runs the mode the arguments name.
pub fn run() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--window") => relay::run(
            args.get(2).map_or("/inbox", String::as_str),
            args.iter()
                .position(|a| a == "--wire")
                .and_then(|at| args.get(at + 1))
                .map(String::as_str),
            args.iter().any(|a| a == "--hidden"),
        ),
        Some("--check-updates") => std::process::exit(updates::check_once()),
        #[cfg(all(unix, not(target_os = "macos")))]
        _ => agent(&args),
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        _ => standalone::run(&args),
    }
}

/// Linux: run as anything but the window (`tauri dev`, or by hand), this
/// binary becomes the agent, which opens the window as its own process.
#[cfg(all(unix, not(target_os = "macos")))]
fn agent(args: &[String]) -> ! {
    use std::os::unix::process::CommandExt;
    let program = std::env::current_exe()
        .map(|exe| exe.with_file_name("tapprove-app"))
        .unwrap_or_else(|_| "tapprove-app".into());
    let error = std::process::Command::new(&program)
        .args(args.iter().skip(1))
        .exec();
    eprintln!(
        "tapprove-window is Tapprove's window, which the tray app opens, and {} could not be started ({error}): reinstall Tapprove",
        program.display()
    );
    std::process::exit(2);
}
