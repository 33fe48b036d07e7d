//! Software keys in the OS keychain, against a real Secret Service:
//! gnome-keyring in a private D-Bus session (`dbus-run-session`), with its
//! keyrings in a temporary home. The `tapprove` binary runs inside that
//! session, as it would on a desktop.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::process::Command;

use serde_json::Value;
use tapprove_test_support::desktop::{Desktop, Keychain, files, stdout_json};

const SERVICE: &str = "tapprove-test";

fn desktop() -> Desktop {
    Desktop::new(env!("CARGO_BIN_EXE_tapprove"))
}

#[test]
fn keys_live_in_the_keychain_sign_and_verify_and_never_touch_a_file() {
    let s = desktop();
    let request = r#"{"tapprove":"request/v1","execution":"arn:aws:states:eu-west-1:123456789012:execution:deploy:kc","nonce":"5b0d6a2e-7c1f-4f7e-9a55-0c2d7f1e9b31","created":"2026-11-21T10:00:00Z","timeout_seconds":31536000,"title":"Deploy api","requested_by":"alice","approvers":"prod-approvers","quorum":1,"details":{"service":"api"}}"#;
    std::fs::write(s.path("request.json"), request).unwrap();
    let out = s.run(
        Keychain::Unlocked,
        &format!(
            r#"
# Another program's item under the same service name is left alone.
printf x | secret-tool store --label=foreign service {SERVICE} username someone-else
"$TAPPROVE" key create --store keychain:{SERVICE} --user bob --group prod-approvers --registry registry.json --label laptop
"$TAPPROVE" sign --store keychain:{SERVICE} --request request.json --decision approve --approver bob --now 2026-11-21T10:05:00Z --out decision.json
"$TAPPROVE" verify --request request.json --decision decision.json --registry registry.json --now 2026-11-21T10:06:00Z
secret-tool search --all service {SERVICE} 2>/dev/null | grep '^label = ' | sort
"$TAPPROVE" --json key list --store keychain:{SERVICE}
"#
        ),
    );
    assert!(
        out.status.success(),
        "{} / {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let list = stdout_json(&out);
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "only Tapprove's item is listed: {list}");
    assert_eq!(
        (keys[0]["user"].as_str(), keys[0]["label"].as_str()),
        (Some("bob"), Some("laptop"))
    );
    // The counter the signature used was written back to the keychain.
    assert_eq!(keys[0]["counter"], 1);
    let id = keys[0]["credential_id"].as_str().unwrap();
    assert!(
        text.contains(&format!("label = Tapprove software key key:{id}")),
        "the keychain holds the key as its own item: {text}"
    );
    assert!(text.contains("label = foreign"));

    // Nothing secret on disk: the registry has the public key only, and no
    // key file exists anywhere in the home (the keyring's own encrypted
    // file aside).
    let registry: Value = serde_json::from_slice(&std::fs::read(s.path("registry.json")).unwrap()).unwrap();
    let credential = &registry["users"]["bob"]["credentials"][0];
    assert_eq!(credential["credential_id"], id);
    assert!(!registry.to_string().contains("private"));
    let written: Vec<_> = s
        .written_files()
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut written = written;
    written.sort();
    assert_eq!(written, ["decision.json", "registry.json", "request.json"]);
}

#[test]
fn a_locked_or_missing_keychain_is_a_clear_error_and_nothing_falls_back_to_a_file() {
    let s = desktop();
    let create = format!(
        r#""$TAPPROVE" --json key create --store keychain:{SERVICE} --user bob --group prod-approvers --registry registry.json"#
    );
    // Locked: the daemon runs, nothing is unlocked, and there is no one to
    // ask for a password.
    let out = s.run(Keychain::Locked, &create);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let failure = stdout_json(&out);
    assert_eq!(failure["code"], "key_store_error");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("locked") && message.contains("unlock"),
        "{message}"
    );

    // Missing: no session bus to find a keychain on.
    let out = Command::new(env!("CARGO_BIN_EXE_tapprove"))
        .args([
            "--json",
            "key",
            "create",
            "--store",
            &format!("keychain:{SERVICE}"),
        ])
        .args([
            "--user",
            "bob",
            "--group",
            "prod-approvers",
            "--registry",
            "registry.json",
        ])
        .current_dir(s.home())
        .env("HOME", s.home())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", s.path("no-bus").display()),
        )
        .env_remove("TAPPROVE_RP_ID")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let message = stdout_json(&out)["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("keychain is not available") && message.contains("Secret Service"),
        "{message}"
    );

    // Neither attempt left a registry entry or any key material behind.
    assert!(!s.path("registry.json").exists());
    let stray: Vec<_> = files(s.home())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}
