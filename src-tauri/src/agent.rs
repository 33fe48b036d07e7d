//! `tapprove-app`: what the desktop entry, autostart and links start.
//! On Linux, the tray agent (`tapprove_desk::agent`): no GTK, no WebKit;
//! it starts `tapprove-window` when the window is asked for. Elsewhere the
//! window binary runs the whole app in one process (`--standalone`):
//! macOS and Windows end the webview's processes with the window, and
//! their trays are Tauri's (unverified on this project's CI, which has
//! neither).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
#![forbid(unsafe_code)]

#[cfg(all(unix, not(target_os = "macos")))]
fn run() -> i32 {
    tapprove_desk::agent::run()
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn run() -> i32 {
    let name = if cfg!(windows) {
        "tapprove-window.exe"
    } else {
        "tapprove-window"
    };
    let program = std::env::current_exe()
        .map(|exe| exe.with_file_name(name))
        .unwrap_or_else(|_| name.into());
    match std::process::Command::new(&program)
        .arg("--standalone")
        .args(std::env::args().skip(1))
        .status()
    {
        Ok(status) => status.code().unwrap_or(1),
        Err(e) => {
            eprintln!(
                "tapprove-app: cannot start {} ({e}): reinstall Tapprove",
                program.display()
            );
            1
        }
    }
}

fn main() {
    std::process::exit(run());
}
