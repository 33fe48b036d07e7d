//! The `tapprove` binary end to end: the offline walkthrough of the README
//! (create a key, sign, verify, and fail loudly on a tampered copy), its
//! exit codes, and its handling of bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const REQUEST: &str = r#"{"tapprove":"request/v1","execution":"arn:aws:states:eu-west-1:123456789012:execution:deploy:7f3c","nonce":"0b6f5f9e-4a8e-4c1e-9d59-2b1f1c0f7a11","created":"2026-11-21T10:00:00Z","timeout_seconds":3600,"title":"Deploy api v2.3 to prod","requested_by":"alice@example.com","approvers":"prod-approvers","quorum":1,"details":{"commit":"4f1c2e9","to":"prod"}}"#;
const SIGNED: &str = "2026-11-21T10:03:12Z";
const LATER: &str = "2026-11-21T10:04:00Z";

fn tapprove(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tapprove"))
        .current_dir(dir)
        .args(args)
        .env_remove("TAPPROVE_RP_ID")
        .output()
        .unwrap()
}

fn tapprove_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tapprove"))
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {:?} / stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("request.json"), REQUEST).unwrap();
    let out = tapprove(
        dir.path(),
        &[
            "--json",
            "key",
            "create",
            "--store",
            "keys",
            "--user",
            "bob@example.com",
            "--group",
            "prod-approvers",
            "--registry",
            "registry.json",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

fn sign(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sign",
        "--store",
        "keys",
        "--request",
        "request.json",
        "--approver",
        "bob@example.com",
        "--now",
        SIGNED,
        "--out",
        "decision.json",
    ];
    args.extend_from_slice(extra);
    tapprove(dir, &args)
}

fn verify(dir: &Path, request: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "--json",
        "verify",
        "--request",
        request,
        "--decision",
        "decision.json",
        "--registry",
        "registry.json",
    ];
    if !extra.contains(&"--now") {
        args.extend_from_slice(&["--now", LATER]);
    }
    args.extend_from_slice(extra);
    tapprove(dir, &args)
}

#[test]
fn walkthrough_signs_verifies_and_rejects_a_tampered_copy() {
    let dir = setup();
    let d = dir.path();
    let out = sign(d, &["--decision", "approve"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let ok = verify(d, "request.json", &[]);
    assert_eq!(ok.status.code(), Some(0));
    let v = json(&ok);
    assert_eq!(
        (v["ok"].as_bool(), v["verdict"].as_str()),
        (Some(true), Some("approve"))
    );
    assert_eq!(v["approver"], "bob@example.com");

    std::fs::write(d.join("tampered.json"), REQUEST.replace("4f1c2e9", "deadbee")).unwrap();
    let bad = verify(d, "tampered.json", &[]);
    assert_eq!(bad.status.code(), Some(1));
    let v = json(&bad);
    assert_eq!(
        (v["ok"].as_bool(), v["code"].as_str(), v["rule"].as_u64()),
        (Some(false), Some("request_mismatch"), Some(2))
    );

    // Human output says what failed, on stderr.
    let human = tapprove(
        d,
        &[
            "verify",
            "--request",
            "tampered.json",
            "--decision",
            "decision.json",
            "--registry",
            "registry.json",
            "--now",
            LATER,
        ],
    );
    assert_eq!(human.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&human.stderr).contains("request_mismatch"));
}

#[test]
fn a_denial_needs_a_reason_and_verifies_as_a_denial() {
    let dir = setup();
    let d = dir.path();
    let out = sign(d, &["--decision", "deny"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--reason"));
    assert!(!d.join("decision.json").exists());

    let out = sign(d, &["--decision", "deny", "--reason", "not during the freeze"]);
    assert!(out.status.success());
    let v = json(&verify(d, "request.json", &[]));
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("deny"), Some("not during the freeze"))
    );
}

#[test]
fn verify_policy_flags_change_the_outcome() {
    let dir = setup();
    let d = dir.path();
    assert!(sign(d, &["--decision", "approve"]).status.success());
    let v = json(&verify(d, "request.json", &["--require-uv"]));
    assert_eq!(v["code"], "user_not_verified");
    let v = json(&verify(d, "request.json", &["--forbid-software"]));
    assert_eq!(v["code"], "authenticator_not_allowed");
    // A software key's model is its own claim: under an AAGUID list it
    // counts only when claims are accepted.
    let software = "a6f20a98-9de8-463e-a342-08b7dbff9729";
    let v = json(&verify(d, "request.json", &["--allowed-aaguid", software]));
    assert_eq!(v["code"], "authenticator_not_allowed", "{v}");
    assert!(v["message"].as_str().unwrap().contains("only claims"), "{v}");
    let v = json(&verify(
        d,
        "request.json",
        &["--allowed-aaguid", software, "--accept-self-reported-models"],
    ));
    assert_eq!(v["ok"], true, "{v}");
    let v = json(&verify(d, "request.json", &["--rp-id", "other.example"]));
    assert_eq!(v["code"], "origin_not_allowed");
    let v = json(&verify(d, "request.json", &["--now", "2026-11-21T09:00:00Z"]));
    assert_eq!(v["code"], "signed_in_future");
}

#[test]
fn pin_protected_keys_give_user_verified_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("request.json"), REQUEST).unwrap();
    let env = [("MY_PIN", "4711"), ("WRONG_PIN", "0000")];
    let out = tapprove_env(
        d,
        &[
            "key",
            "create",
            "--store",
            "keys",
            "--user",
            "bob@example.com",
            "--group",
            "prod-approvers",
            "--registry",
            "registry.json",
            "--with-pin",
            "--pin-env",
            "MY_PIN",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sign_args = |pin_var: &'static str| {
        vec![
            "--json",
            "sign",
            "--store",
            "keys",
            "--request",
            "request.json",
            "--decision",
            "approve",
            "--approver",
            "bob@example.com",
            "--now",
            SIGNED,
            "--out",
            "decision.json",
            "--user-verification",
            "required",
            "--pin-env",
            pin_var,
        ]
    };
    let wrong = tapprove_env(d, &sign_args("WRONG_PIN"), &env);
    assert_eq!(wrong.status.code(), Some(3));
    assert_eq!(json(&wrong)["code"], "pin_invalid");
    let right = tapprove_env(d, &sign_args("MY_PIN"), &env);
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stdout)
    );
    let v = json(&verify(d, "request.json", &["--require-uv"]));
    assert_eq!(
        (v["ok"].as_bool(), v["user_verified"].as_bool()),
        (Some(true), Some(true))
    );
}

#[test]
fn bad_input_exits_2_and_loses_nothing() {
    let dir = setup();
    let d = dir.path();
    let registry_before = std::fs::read(d.join("registry.json")).unwrap();

    // Unknown flag, missing file, bad time.
    assert_eq!(tapprove(d, &["verify", "--bogus"]).status.code(), Some(2));
    let out = tapprove(
        d,
        &[
            "--json",
            "verify",
            "--request",
            "nope.json",
            "--decision",
            "x",
            "--registry",
            "registry.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["code"], "input_error");
    let out = sign(d, &["--decision", "approve", "--now", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));

    // A broken registry file is reported and left as it was.
    std::fs::write(d.join("broken.json"), b"{\"tapprove\":\"registry/v1\",\"users\":").unwrap();
    let out = tapprove(
        d,
        &[
            "key",
            "create",
            "--store",
            "keys",
            "--user",
            "carol@example.com",
            "--registry",
            "broken.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("left untouched"));
    assert_eq!(
        std::fs::read(d.join("broken.json")).unwrap(),
        b"{\"tapprove\":\"registry/v1\",\"users\":"
    );

    // An invalid group name is refused before a key is made.
    let keys_before = std::fs::read_dir(d.join("keys")).unwrap().count();
    let out = tapprove(
        d,
        &[
            "key",
            "create",
            "--store",
            "keys",
            "--user",
            "carol@example.com",
            "--group",
            "prod approvers",
            "--registry",
            "registry.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_dir(d.join("keys")).unwrap().count(), keys_before);
    assert_eq!(std::fs::read(d.join("registry.json")).unwrap(), registry_before);

    // A malformed decision is the verifier's verdict (exit 1), with its code.
    std::fs::write(d.join("decision.json"), b"{\"tapprove\":\"approval/v1\"}").unwrap();
    let v = json(&verify(d, "request.json", &[]));
    assert_eq!(v["code"], "malformed_decision");
}

#[test]
fn a_second_key_for_a_user_merges_into_the_registry() {
    let dir = setup();
    let d = dir.path();
    // The same store is the same authenticator: it already holds bob's key.
    let again = tapprove(
        d,
        &[
            "--json",
            "key",
            "create",
            "--store",
            "keys",
            "--user",
            "bob@example.com",
            "--registry",
            "registry.json",
        ],
    );
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(json(&again)["code"], "already_enrolled");
    let out = tapprove(
        d,
        &[
            "key",
            "create",
            "--store",
            "desktop-keys",
            "--user",
            "bob@example.com",
            "--group",
            "staging-approvers",
            "--registry",
            "registry.json",
            "--label",
            "desktop",
        ],
    );
    assert!(out.status.success());
    let registry: Value = serde_json::from_slice(&std::fs::read(d.join("registry.json")).unwrap()).unwrap();
    let bob = &registry["users"]["bob@example.com"];
    assert_eq!(
        bob["groups"],
        serde_json::json!(["prod-approvers", "staging-approvers"])
    );
    assert_eq!(bob["credentials"].as_array().unwrap().len(), 2);
    let listed = json(&tapprove(
        d,
        &["--json", "key", "list", "--store", "desktop-keys"],
    ));
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
    assert_eq!(listed["keys"][0]["label"], "desktop");
    assert!(!listed.to_string().contains("secret"));
}

#[test]
fn codes_match_the_documented_table_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let v = json(&tapprove(dir.path(), &["--json", "codes"]));
    let from_binary: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "| `{}` | {} | {} |",
                c["code"].as_str().unwrap(),
                c["rule"],
                c["description"].as_str().unwrap()
            )
        })
        .collect();
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/verification-codes.md");
    let doc = std::fs::read_to_string(doc_path).unwrap();
    let from_doc: Vec<String> = doc
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(str::to_owned)
        .collect();
    assert!(from_binary.iter().any(|r| r.contains("`statement_replayed`")));
    assert_eq!(
        from_doc, from_binary,
        "docs/verification-codes.md is out of date: regenerate it from `tapprove codes --json`"
    );
}

/// `admin attestation` vets one registration offline: a software key
/// claiming a YubiKey is refused wherever the model matters (exit 1, the
/// rule's code), passes as a mere claim where it does not (exit 0, model
/// not proven), and garbage is bad input (exit 2).
#[test]
fn admin_attestation_refuses_a_claimed_model_where_the_model_matters() {
    use base64::Engine as _;
    use tapprove_test_support::forged::{forge, yubikey_5};
    let dir = tempfile::tempdir().unwrap();
    let forged = forge("example.com", yubikey_5(), "packed");
    std::fs::write(dir.path().join("ao.cbor"), &forged.attestation_object).unwrap();
    // The clientDataJSON as base64url text, as browsers' dev tools show it.
    std::fs::write(
        dir.path().join("cd.txt"),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&forged.client_data),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("settings.toml"),
        "rp_id = \"example.com\"\nallow_software_authenticators = false\n[tables]\nregistry = \"r\"\nledger = \"l\"\naudit = \"a\"\n",
    )
    .unwrap();
    let attest = |config: &str, object: &str, extra: &[&str]| {
        let mut args = vec![
            "--config",
            config,
            "--json",
            "admin",
            "attestation",
            object,
            "cd.txt",
        ];
        args.extend_from_slice(extra);
        tapprove(dir.path(), &args)
    };
    let refused = attest("settings.toml", "ao.cbor", &[]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let answer = json(&refused);
    assert_eq!(answer["code"], "model_not_proven", "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("claim"), "{answer}");

    // No rule on the model (no settings, only the relying party): it
    // passes, and says the model is only claimed.
    let claimed = attest("none.toml", "ao.cbor", &["--rp-id", "example.com"]);
    assert_eq!(claimed.status.code(), Some(0), "{claimed:?}");
    let answer = json(&claimed);
    assert_eq!(answer["model_proven"], false, "{answer}");
    assert_eq!(
        answer["aaguid"], "cb69481e-8ff7-4039-93ec-0a2729a154a8",
        "{answer}"
    );
    assert_eq!(answer["kind"], "security_key", "{answer}");

    // For another relying party: refused (the authenticator data names
    // example.com).
    let other = attest("none.toml", "ao.cbor", &["--rp-id", "other.example"]);
    assert_eq!(other.status.code(), Some(1), "{other:?}");

    std::fs::write(dir.path().join("garbage"), "not an attestation").unwrap();
    let bad = attest("none.toml", "garbage", &["--rp-id", "example.com"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
}

/// `admin attestation --mds BLOB [--now T]`: a real YubiKey 5 NFC's
/// registration (java-webauthn-server's published one) is proven by FIDO's
/// real BLOB as of the day it was downloaded; as of today that BLOB's
/// signing certificate has expired and it is refused, judging nothing; and
/// a BLOB reporting the model revoked refuses the registration.
#[test]
fn admin_attestation_judges_a_real_yubikey_by_fidos_metadata_as_of_a_time() {
    use tapprove_test_support::mds::{blob, entry};
    let root = tapprove_test_support::repo_root();
    let real = |name: &str| root.join("tests/vectors/real").join(name);
    let vector: serde_json::Value =
        serde_json::from_slice(&std::fs::read(real("packed-yubikey-5-nfc.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (file, key) in [
        ("ao.txt", "attestation_object_b64url"),
        ("cd.txt", "client_data_json_b64url"),
    ] {
        std::fs::write(dir.path().join(file), vector[key].as_str().unwrap()).unwrap();
    }
    std::fs::write(
        dir.path().join("settings.toml"),
        "rp_id = \"demo.yubico.com\"\nallow_software_authenticators = false\n[tables]\nregistry = \"r\"\nledger = \"l\"\naudit = \"a\"\n",
    )
    .unwrap();
    let blob_path = real("mds3-blob.jwt");
    let blob_path = blob_path.to_str().unwrap();
    let attest = |extra: &[&str]| {
        let mut args = vec![
            "--config",
            "settings.toml",
            "--json",
            "admin",
            "attestation",
            "ao.txt",
            "cd.txt",
        ];
        args.extend_from_slice(extra);
        tapprove(dir.path(), &args)
    };
    // Without FIDO's metadata or org roots, the model is a claim.
    let claim = attest(&[]);
    assert_eq!(claim.status.code(), Some(1), "{claim:?}");
    assert_eq!(json(&claim)["code"], "model_not_proven");

    let proven = attest(&["--mds", blob_path, "--now", "2024-12-02T00:00:00Z"]);
    assert_eq!(proven.status.code(), Some(0), "{proven:?}");
    let answer = json(&proven);
    assert_eq!(answer["model_proven"], true, "{answer}");
    assert_eq!(answer["trust_path"], "fido_metadata", "{answer}");
    assert_eq!(answer["model"]["blob_no"], 121, "{answer}");
    assert!(
        answer["model"]["description"]
            .as_str()
            .unwrap()
            .contains("YubiKey 5"),
        "{answer}"
    );
    assert_eq!(answer["aaguid"], vector["aaguid"], "{answer}");

    let expired = attest(&["--mds", blob_path]);
    assert_eq!(expired.status.code(), Some(1), "{expired:?}");
    let answer = json(&expired);
    assert_eq!(answer["code"], "blob_untrusted", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("expired"),
        "{answer}"
    );

    // FIDO revokes the model (a BLOB signed under a test root).
    let yubico = tapprove_core::webauthn::read_certificates(
        &std::fs::read(real("yubico-u2f-root-ca-serial-457200631.pem")).unwrap(),
    )
    .unwrap();
    let aaguid = tapprove_proto::Aaguid::parse(vector["aaguid"].as_str().unwrap()).unwrap();
    let revoked = blob(
        200,
        "2099-01-01",
        vec![entry(
            aaguid,
            "YubiKey 5 Series with NFC",
            &yubico,
            &[("FIDO_CERTIFIED_L1", "2020-01-01"), ("REVOKED", "2026-11-01")],
        )],
        "signer",
    );
    std::fs::write(dir.path().join("revoked.jwt"), revoked).unwrap();
    std::fs::write(
        dir.path().join("test-root.der"),
        tapprove_test_support::mds::fixture("fido-root.der"),
    )
    .unwrap();
    let refused = attest(&["--mds", "revoked.jwt", "--fido-root", "test-root.der"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let answer = json(&refused);
    assert_eq!(answer["code"], "model_distrusted", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("REVOKED"),
        "{answer}"
    );
    // The same BLOB without naming its root is nobody's.
    let untrusted = attest(&["--mds", "revoked.jwt"]);
    assert_eq!(json(&untrusted)["code"], "blob_untrusted", "{untrusted:?}");
}
