// The commands the window may call: build.rs makes an `allow-*` permission
// for each, capabilities/main.json grants exactly these, and a test checks
// the two agree with `tapprove_desk::commands::dispatch`.
pub const COMMANDS: &[&str] = &[
    "overview",
    "request",
    "request_end",
    "decide",
    "submit_pin",
    "cancel_signing",
    "history",
    "seen",
    "settings",
    "set_autostart",
    "pause_notifications",
    "sign_in",
    "sign_out",
    "authenticators",
    "enrol",
    "change_authenticator",
    "ui_ready",
];
