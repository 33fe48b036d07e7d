//! `tapprove-window`: Tapprove's window (see `tapprove_app`).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tapprove_app::run();
}
