//! Signed updates, end to end short of replacing the installed app: keys
//! made by `tauri signer generate`, an artifact signed by `tauri signer
//! sign`, a manifest served from a local HTTP server, and the app's
//! updater (`tapprove_window::updates::fetch`, the real `tauri-plugin-updater`
//! in the app's real context) asked for it.
//!
//! Needs the repository's `node_modules` (`npm ci`; `scripts/test` runs it).

#![allow(clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tapprove_window::updates::{Plan, UpdateError, fetch};

const ARTIFACT: &[u8] = b"!<arch>\ndebian-binary   Tapprove 0.2.0 stand-in package bytes\n";

/// A key pair from `tauri signer generate`: (private key file, public key).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let out = tauri_cli()
        .args(["signer", "generate", "--ci", "-w"])
        .arg(&key)
        .output()
        .expect("run tauri signer generate");
    assert!(
        out.status.success(),
        "tauri signer generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut public = key.as_os_str().to_owned();
    public.push(".pub");
    let public = std::fs::read_to_string(public).expect("the public key is written");
    (key, public.trim().to_owned())
}

/// The `.sig` content `tauri signer sign` writes for `file`, bound to
/// version 0.2.0 (what `tauri build` does for a 0.2.0 build).
fn sign(key: &Path, file: &Path) -> String {
    sign_as(key, file, Some("0.2.0"))
}

/// The `.sig` content for `file` signed as `version` (`None`: no version,
/// as the Tauri CLI signed before `--app-version`).
fn sign_as(key: &Path, file: &Path, version: Option<&str>) -> String {
    let mut command = tauri_cli();
    command.args(["signer", "sign", "-f"]).arg(key);
    if let Some(version) = version {
        command.args(["--app-version", version]);
    }
    let out = command
        .arg(file)
        .env("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", "")
        .output()
        .expect("run tauri signer sign");
    assert!(
        out.status.success(),
        "tauri signer sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sig = file.as_os_str().to_owned();
    sig.push(".sig");
    std::fs::read_to_string(sig).expect("the signature is written")
}

fn tauri_cli() -> Command {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("../node_modules/.bin/tauri");
    assert!(
        cli.exists(),
        "{} is missing: run `npm ci` at the repository root",
        cli.display()
    );
    Command::new(cli)
}

/// A tiny HTTP server: GET path → body; it records what was asked.
struct Server {
    base: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let (served, log) = (files.clone(), asked.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
                        break;
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
                log.lock().expect("log").push(path.clone());
                let body = served.lock().expect("files").get(&path).cloned();
                let mut stream = reader.into_inner();
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        Self { base, files, asked }
    }

    fn put(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.files.lock().expect("files").insert(path.into(), body.into());
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().expect("log").clone()
    }

    /// Publishes release `version` whose artifact is `artifact`, with `signature`.
    fn publish(&self, version: &str, artifact: &[u8], signature: &str) {
        self.put("/tapprove.deb", artifact.to_vec());
        let platform = json!({"signature": signature, "url": format!("{}/tapprove.deb", self.base)});
        let manifest = json!({
            "version": version,
            "notes": "Signed by the release workflow",
            "pub_date": "2026-11-20T12:00:00Z",
            "platforms": {
                "linux-x86_64": platform,
                "linux-aarch64": platform,
                "darwin-aarch64": platform,
                "darwin-x86_64": platform,
                "windows-x86_64": platform,
            }
        });
        self.put("/stable/latest.json", manifest.to_string());
    }

    fn plan(&self, pin: Option<&str>) -> Plan {
        Plan::Check {
            endpoints: vec![format!("{}/stable/latest.json", self.base).parse().expect("url")],
            pin: pin.map(str::to_owned),
        }
    }
}

/// The app (its real context: version 0.1.0, its updater settings from
/// tauri.conf.json) with `pubkey` as its update key, as
/// `scripts/build-installer` sets it.
fn app(pubkey: &str) -> tauri::App<tauri::test::MockRuntime> {
    let mut context: tauri::Context<tauri::test::MockRuntime> = tauri::generate_context!();
    let plugins = &mut context.config_mut().plugins.0;
    let mut updater = plugins.get("updater").cloned().unwrap_or_else(|| json!({}));
    updater["pubkey"] = json!(pubkey);
    updater["endpoints"] = json!([]);
    plugins.insert("updater".into(), updater);
    tauri::test::mock_builder()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(context)
        .expect("the mock app builds")
}

fn fetch_with(
    app: &tauri::App<tauri::test::MockRuntime>,
    plan: &Plan,
) -> Result<Option<tapprove_window::updates::Verified>, UpdateError> {
    tauri::async_runtime::block_on(fetch(app.handle(), plan))
}

#[test]
fn a_signed_release_is_taken_and_an_altered_or_foreign_one_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (org_key, org_public) = key_pair(dir.path(), "org.key");
    let (other_key, _) = key_pair(dir.path(), "other.key");
    let artifact = dir.path().join("tapprove_0.2.0_amd64.deb");
    std::fs::write(&artifact, ARTIFACT).expect("write artifact");
    let good = sign(&org_key, &artifact);
    let foreign = sign(&other_key, &artifact);
    let server = Server::start();
    let app = app(&org_public);

    // Signed with the organisation's key: downloaded and verified.
    server.publish("0.2.0", ARTIFACT, &good);
    let taken = fetch_with(&app, &server.plan(None))
        .expect("a signed release is taken")
        .expect("0.2.0 is newer");
    assert_eq!(taken.update.version, "0.2.0");
    assert_eq!(taken.bytes, ARTIFACT);

    // The artifact changed after signing: refused, after downloading it.
    let mut altered = ARTIFACT.to_vec();
    altered[20] ^= 1;
    server.publish("0.2.0", &altered, &good);
    let before = server.asked().iter().filter(|p| *p == "/tapprove.deb").count();
    let e = fetch_with(&app, &server.plan(None)).expect_err("an altered artifact is refused");
    assert!(matches!(e, UpdateError::BadSignature { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message.contains("does not verify")
            && message.contains("nothing was installed")
            && message.contains("0.2.0"),
        "{message}"
    );
    assert_eq!(
        server.asked().iter().filter(|p| *p == "/tapprove.deb").count(),
        before + 1
    );

    // The manifest carries a signature by another key: refused.
    server.publish("0.2.0", ARTIFACT, &foreign);
    let e = fetch_with(&app, &server.plan(None)).expect_err("a foreign signature is refused");
    assert!(matches!(e, UpdateError::BadSignature { .. }), "{e:?}");

    // A pinned version: only that one is taken.
    server.publish("0.2.0", ARTIFACT, &good);
    assert!(
        fetch_with(&app, &server.plan(Some("0.3.0")))
            .expect("checked")
            .is_none()
    );
    let pinned = fetch_with(&app, &server.plan(Some("0.2.0")))
        .expect("checked")
        .expect("the pinned version");
    assert_eq!(pinned.update.version, "0.2.0");

    // Not newer than the running 0.1.0: nothing to take.
    server.publish("0.1.0", ARTIFACT, &good);
    assert!(fetch_with(&app, &server.plan(None)).expect("checked").is_none());

    // Turned off: the manifest is not even asked for.
    let asked = server.asked().len();
    assert!(fetch_with(&app, &Plan::Off("off".into())).expect("off").is_none());
    assert_eq!(server.asked().len(), asked);
}

#[test]
fn a_build_without_an_update_key_takes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (org_key, _) = key_pair(dir.path(), "org.key");
    let artifact = dir.path().join("tapprove.deb");
    std::fs::write(&artifact, ARTIFACT).expect("write artifact");
    let good = sign(&org_key, &artifact);
    let server = Server::start();
    server.publish("0.2.0", ARTIFACT, &good);
    let e = fetch_with(&app(""), &server.plan(None)).expect_err("no key, no update");
    assert!(matches!(e, UpdateError::NoKey), "{e:?}");
    assert!(e.to_string().contains("no update key"), "{e}");
}

/// A manifest host relabels an older, validly signed build as newer: the
/// organisation signed the artifact as 0.1.5, the manifest announces
/// 0.3.0. Refused, as is an artifact signed without a version (which a
/// relabeller would otherwise pick); the same build announced as the
/// version it was signed for is taken, and a pinned version still is.
#[test]
fn a_relabelled_older_build_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (org_key, org_public) = key_pair(dir.path(), "org.key");
    let artifact = dir.path().join("tapprove_0.1.5_amd64.deb");
    std::fs::write(&artifact, ARTIFACT).expect("write artifact");
    let old = sign_as(&org_key, &artifact, Some("0.1.5"));
    let unversioned = sign_as(&org_key, &artifact, None);
    let server = Server::start();
    let app = app(&org_public);

    server.publish("0.3.0", ARTIFACT, &old);
    let e = fetch_with(&app, &server.plan(None)).expect_err("a relabelled build is refused");
    assert!(matches!(e, UpdateError::Relabelled { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message.contains("0.3.0") && message.contains("0.1.5") && message.contains("nothing was installed"),
        "{message}"
    );

    server.publish("0.3.0", ARTIFACT, &unversioned);
    let e = fetch_with(&app, &server.plan(None)).expect_err("an unversioned signature is refused");
    assert!(matches!(e, UpdateError::Relabelled { .. }), "{e:?}");

    // Announced as what it was signed for: taken.
    server.publish("0.1.5", ARTIFACT, &old);
    let taken = fetch_with(&app, &server.plan(None))
        .expect("checked")
        .expect("0.1.5 is newer than 0.1.0");
    assert_eq!(taken.update.version, "0.1.5");
    // And as a pinned version.
    let pinned = fetch_with(&app, &server.plan(Some("0.1.5")))
        .expect("checked")
        .expect("the pinned version");
    assert_eq!(pinned.update.version, "0.1.5");
}
