//! The commands through Tauri's IPC layer, with `tauri::test`'s mock
//! runtime (no display): arguments are checked in Rust before anything
//! else happens, errors arrive as `{code, message}`, and the capability
//! grants exactly Tapprove's own commands.

// Helpers outside #[test] functions may expect too: a panic is the report.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use serde_json::{Value, json};
use tapprove_window::state::Tapprove;
use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

const CONFIG: &str = r#"
rp_id = "tapprove.local"
key_store = "files"
[tables]
registry = "tapprove-registry"
ledger = "tapprove-ledger"
audit = "tapprove-audit"
"#;

fn app_with(
    state: Tapprove,
) -> (
    tauri::App<tauri::test::MockRuntime>,
    WebviewWindow<tauri::test::MockRuntime>,
) {
    let app = mock_builder()
        .manage(Arc::new(state))
        .invoke_handler(tapprove_window::commands())
        // The real context: tauri.conf.json, the CSP and the capabilities,
        // so the commands pass through the same access control as in the app.
        .build(tauri::generate_context!())
        .expect("the mock app builds");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("the mock window builds");
    (app, window)
}

fn configured(dir: &std::path::Path) -> Tapprove {
    Tapprove::with_config(
        dir.join("config.toml"),
        dir.to_path_buf(),
        Ok(tapprove_config::Config::parse(CONFIG).expect("test config parses")),
    )
}

fn invoke(window: &WebviewWindow<tauri::test::MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    invoke_from(window, "tauri://localhost", cmd, args)
}

fn invoke_from(
    window: &WebviewWindow<tauri::test::MockRuntime>,
    origin: &str,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: origin.parse().expect("url"),
            body: tauri::ipc::InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().expect("a JSON answer"))
}

fn code(answer: Result<Value, Value>) -> String {
    let error = answer.expect_err("the command must refuse");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "an error says what to do: {error}"
    );
    error["code"].as_str().expect("an error has a code").to_owned()
}

#[test]
fn a_denial_without_a_reason_is_refused_before_anything_is_signed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, window) = app_with(configured(dir.path()));
    for reason in [Value::Null, json!("   ")] {
        let answer = invoke(
            &window,
            "decide",
            json!({"id": "AbC123", "verdict": "deny", "reason": reason}),
        );
        assert_eq!(code(answer), "invalid_input");
    }
    // Nothing was journalled: no database was even opened.
    assert!(!dir.path().join("tapprove.sqlite3").exists());
}

#[test]
fn request_ids_and_verdicts_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, window) = app_with(configured(dir.path()));
    for id in ["", "../../etc/passwd", "a b", &"x".repeat(81), "semi;colon"] {
        assert_eq!(
            code(invoke(&window, "request", json!({ "id": id }))),
            "invalid_input",
            "{id}"
        );
    }
    // An unknown verdict never reaches the command.
    let answer = invoke(
        &window,
        "decide",
        json!({"id": "AbC", "verdict": "maybe", "reason": "x"}),
    );
    assert!(answer.is_err(), "{answer:?}");
    let answer = invoke(
        &window,
        "decide",
        json!({"id": "AbC", "verdict": "approve", "reason": "r".repeat(1025)}),
    );
    assert_eq!(code(answer), "invalid_input");
}

#[test]
fn pausing_notifications_is_bounded_and_shows_in_the_overview() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, window) = app_with(configured(dir.path()));
    assert_eq!(
        code(invoke(&window, "pause_notifications", json!({"minutes": 1441}))),
        "invalid_input"
    );
    let paused = invoke(&window, "pause_notifications", json!({"minutes": 60})).expect("pauses");
    assert!(paused["pausedUntil"].is_string(), "{paused}");
    let overview = invoke(&window, "overview", json!({})).expect("overview");
    assert_eq!(overview["pausedUntil"], paused["pausedUntil"]);
    let resumed = invoke(&window, "pause_notifications", json!({"minutes": 0})).expect("resumes");
    assert!(resumed["pausedUntil"].is_null(), "{resumed}");
}

#[test]
fn pins_and_labels_are_checked_and_a_pin_nobody_asked_for_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, window) = app_with(configured(dir.path()));
    assert_eq!(
        code(invoke(&window, "submit_pin", json!({"pin": "12"}))),
        "invalid_input"
    );
    assert_eq!(
        code(invoke(&window, "submit_pin", json!({"pin": "123456"}))),
        "invalid_input"
    );
    for label in ["", "two\nlines", &"l".repeat(129)] {
        assert_eq!(
            code(invoke(&window, "enrol", json!({ "label": label }))),
            "invalid_input"
        );
    }
    assert_eq!(
        code(invoke(
            &window,
            "enrol",
            json!({ "label": "key", "kind": "fingerprint-reader" })
        )),
        "invalid_input"
    );
    assert_eq!(
        code(invoke(
            &window,
            "change_authenticator",
            json!({ "credentialId": "not base64url!", "rename": null })
        )),
        "invalid_input"
    );
    assert_eq!(
        code(invoke(
            &window,
            "change_authenticator",
            json!({ "credentialId": "AAAA", "rename": "two\nlines" })
        )),
        "invalid_input"
    );
}

#[test]
fn without_settings_the_overview_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nowhere.toml");
    let config = tapprove_config::Config::load(&missing).map_err(|e| {
        tapprove_window::error::AppError::new(tapprove_window::error::ErrorCode::NotConfigured, e.to_string())
    });
    let (_app, window) = app_with(Tapprove::with_config(missing, dir.path().to_path_buf(), config));
    let overview = invoke(&window, "overview", json!({})).expect("overview");
    assert_eq!(overview["session"]["health"], "not_configured", "{overview}");
    assert!(
        overview["session"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nowhere.toml")),
        "{overview}"
    );
    assert_eq!(code(invoke(&window, "history", json!({}))), "not_configured");
    assert_eq!(code(invoke(&window, "settings", json!({}))), "not_configured");
}

#[test]
fn the_capability_grants_exactly_tapprove_commands() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/capabilities/main.json"))
        .expect("capabilities/main.json");
    let capability: Value = serde_json::from_str(&text).expect("capability JSON");
    assert_eq!(capability["windows"], json!(["main"]));
    let mut granted: Vec<String> = capability["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| p.as_str().expect("plain permission names").to_owned())
        .collect();
    granted.sort();
    let mut expected: Vec<String> = tapprove_window::COMMANDS
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .chain([
            "core:event:allow-listen".into(),
            "core:event:allow-unlisten".into(),
        ])
        .collect();
    expected.sort();
    assert_eq!(granted, expected);
    // And every listed command is registered: an unregistered one
    // answers differently from a registered one missing its arguments.
    // (Commands that would reach AWS, the keychain or the OS launcher
    // with empty arguments are left out.)
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, window) = app_with(configured(dir.path()));
    let unknown = invoke(&window, "no_such_command", json!({})).expect_err("unknown command");
    // A page from anywhere else (a link that escaped, an injected frame)
    // may call nothing.
    let remote = invoke_from(&window, "https://attacker.example", "overview", json!({}));
    assert!(
        remote
            .as_ref()
            .is_err_and(|e| e.to_string().contains("not allowed")),
        "{remote:?}"
    );
    for command in tapprove_window::COMMANDS {
        if ["authenticators", "sign_out", "settings"].contains(command) {
            continue;
        }
        if let Err(e) = invoke(&window, command, json!({})) {
            assert_ne!(e, unknown, "{command} is not registered");
        }
    }
}
