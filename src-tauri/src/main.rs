//! `tapprove-window`: Tapprove's window (see the `tapprove_window` library).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tapprove_window::run();
}
