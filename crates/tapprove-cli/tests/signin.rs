//! Signing in, end to end: the real `tapprove` binary in a private desktop
//! session (D-Bus, gnome-keyring), against a fake IAM Identity Center that
//! checks the wire protocol (`tapprove_test_support::fake_sso`), a real
//! OpenID Connect provider (`oidc-provider`, `tests/peers/oidc`), and moto's
//! STS, which mints the role credentials and answers `GetCallerIdentity`.
//! The user's browser is `tests/peers/oidc/browser.mjs`, given as
//! `$BROWSER`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use tapprove_test_support::desktop::{Desktop, Keychain, stdout_json};
use tapprove_test_support::fake_sso::{ACCOUNT_ID, FakeSso, START_URL};
use tapprove_test_support::moto::Moto;
use tapprove_test_support::oidc::Provider;
use tapprove_test_support::{block_on, repo_root};

const BROWSER: &str = "tests/peers/oidc/browser.mjs";

/// moto, the fake IAM Identity Center, and a desktop pointed at both.
struct World {
    fake: FakeSso,
    desktop: Desktop,
    moto: Moto,
}

impl World {
    fn new() -> Self {
        let moto = Moto::start(2);
        let fake = FakeSso::start(&block_on(moto.sdk_config()));
        let mut desktop = Desktop::new(env!("CARGO_BIN_EXE_tapprove"));
        desktop.env("AWS_ENDPOINT_URL", moto.endpoint());
        desktop.env("AWS_ENDPOINT_URL_SSO_OIDC", fake.base());
        desktop.env("AWS_ENDPOINT_URL_SSO", fake.base());
        desktop.env("AWS_REGION", "us-east-1");
        desktop.env("AWS_EC2_METADATA_DISABLED", "true");
        desktop.env("BROWSER", &repo_root().join(BROWSER).to_string_lossy());
        Self { fake, desktop, moto }
    }

    fn run(&self, script: &str) -> Output {
        self.desktop.run(Keychain::Unlocked, script)
    }

    /// Writes the Tapprove settings (`sign_in`: a `[sign_in]` section or nothing).
    fn settings(&self, sign_in: &str) {
        let dir = self.desktop.path("config/tapprove");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.toml"),
            format!(
                "rp_id = \"approvals.example.com\"\n\n[tables]\nregistry = \"r\"\nledger = \"l\"\naudit = \"a\"\n\n{sign_in}"
            ),
        )
        .unwrap();
    }

    fn assert_clean(&self) {
        assert_eq!(self.fake.violations(), Vec::<String>::new(), "protocol mistakes");
    }
}

fn ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{} / {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(out)
}

fn login_sso(extra: &str) -> String {
    format!(r#""$TAPPROVE" --json login --start-url {START_URL} --region eu-west-1 {extra}"#)
}

/// Starts `login` in the background, waits for it to print the
/// verification URL, and lets the test browser complete it there.
fn device_login(command: &str) -> String {
    format!(
        r#"
{command} > login.json 2> login.err &
pid=$!
url=
for _ in $(seq 150); do
  url=$(grep -oE 'or open [^ )]+' login.err | head -1 | cut -d' ' -f3)
  [ -n "$url" ] && break
  sleep 0.2
done
[ -n "$url" ] || {{ cat login.err login.json >&2; kill $pid || true; exit 9; }}
"$BROWSER" "$url" >/dev/null
wait $pid || {{ rc=$?; cat login.err >&2; cat login.json; exit $rc; }}
cat login.json
"#
    )
}

#[test]
fn browser_sign_in_from_an_aws_cli_profile_whoami_and_logout() {
    let w = World::new();
    std::fs::create_dir_all(w.desktop.path(".aws")).unwrap();
    std::fs::write(
        w.desktop.path(".aws/config"),
        format!(
            "[profile approver]\nsso_session = corp\nsso_account_id = {ACCOUNT_ID}\nsso_role_name = Approver\n\n[sso-session corp]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n"
        ),
    )
    .unwrap();

    let login = w.run(r#""$TAPPROVE" --json login --profile approver"#);
    let who = ok(&login);
    assert_eq!(who["approver"], "alice", "{who}");
    assert!(
        who["arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/AWSReservedSSO_Approver_"),
        "{who}"
    );
    assert_eq!(who["account"], ACCOUNT_ID);
    assert_eq!(who["sign_in"]["session_name"], "corp");
    assert_eq!(who["refreshable"], true);
    let seen = w.fake.seen();
    assert_eq!(seen.authorizations, 1);
    assert_eq!(seen.grants, ["authorization_code"]);
    assert_eq!(seen.registrations.len(), 1);
    assert!(seen.role_credentials >= 1);

    // Another command reuses the session: no new sign-in, tokens from the keychain.
    let again = w.run(
        r#""$TAPPROVE" --json whoami
secret-tool search --all service tapprove 2>/dev/null | grep '^label = ' | sort >&2"#,
    );
    let who = ok(&again);
    assert_eq!(who["approver"], "alice");
    assert_eq!(w.fake.seen().authorizations, 1);
    let labels = String::from_utf8_lossy(&again.stderr);
    assert!(
        labels.contains(&format!("label = Tapprove sign-in to {START_URL}")),
        "{labels}"
    );
    assert!(
        labels.contains("label = Tapprove IAM Identity Center client"),
        "{labels}"
    );
    // The approver's software key goes to the keychain too (the default
    // store), under the session's identity.
    w.settings("");
    let enrol = w.run(
        r#""$TAPPROVE" enroll --label laptop --out enrol.json
secret-tool search --all service tapprove 2>/dev/null | grep '^label = Tapprove software key' >&2"#,
    );
    assert!(
        enrol.status.success(),
        "{}",
        String::from_utf8_lossy(&enrol.stderr)
    );
    assert!(
        String::from_utf8_lossy(&enrol.stderr).contains("label = Tapprove software key key:"),
        "{}",
        String::from_utf8_lossy(&enrol.stderr)
    );
    let request: Value =
        serde_json::from_slice(&std::fs::read(w.desktop.path("enrol.json")).unwrap()).unwrap();
    assert_eq!(request["user"], "alice");
    assert!(!w.desktop.path("state/tapprove/keys").exists());
    // The record on disk says where, not what.
    let record = std::fs::read_to_string(w.desktop.path("state/tapprove/session.json")).unwrap();
    assert!(
        record.contains(START_URL) && record.contains("Approver"),
        "{record}"
    );

    let logout = w.run(
        r#""$TAPPROVE" --json logout
n=$(secret-tool search --all service tapprove 2>/dev/null | grep -c '^label = ' || true)
echo "items left: $n" >&2"#,
    );
    let report = ok(&logout);
    assert_eq!(report["logout"]["revoked"], true, "{report}");
    assert_eq!(report["logout"]["keychain_items_removed"], 2, "{report}");
    // Only the software key is left: it is not part of the session.
    assert!(String::from_utf8_lossy(&logout.stderr).contains("items left: 1"));
    assert_eq!(w.fake.seen().logouts, 1);
    assert!(!w.desktop.path("state/tapprove/session.json").exists());

    let after = w.run(r#""$TAPPROVE" --json whoami || echo "exit $?" >&2"#);
    let failure = stdout_json(&after);
    assert_eq!(failure["code"], "not_signed_in", "{failure}");
    assert!(failure["message"].as_str().unwrap().contains("tapprove login"));

    w.assert_clean();
    w.desktop
        .assert_no_secret_leaked(&w.fake.secrets(), &[&login, &again, &enrol, &logout, &after]);
}

#[test]
fn device_code_sign_in_honours_slow_down_and_asks_which_account() {
    let w = World::new();
    w.fake.tune(|b| {
        b.slow_down_first_poll = true;
        b.accounts.push((
            "210987654321".into(),
            "sandbox".into(),
            vec!["Admin".into(), "ReadOnly".into()],
        ));
    });
    // Two accounts (served one per page): the user must choose.
    let choose = w.run(&device_login(&login_sso("--device-code")));
    assert_eq!(
        choose.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&choose.stderr)
    );
    let failure = stdout_json(&choose);
    assert_eq!(failure["code"], "choose_role", "{failure}");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("123456789012 (approvals)")
            && message.contains("210987654321 (sandbox)")
            && message.contains("--account-id"),
        "{message}"
    );
    // RFC 8628: after slow_down, poll five seconds more slowly.
    let polls = w.fake.seen().device_polls;
    assert!(polls.len() >= 2, "{polls:?}");
    assert!(
        polls[1] - polls[0] >= Duration::from_millis(5900),
        "{:?}",
        polls[1] - polls[0]
    );

    w.fake.tune(|b| b.slow_down_first_poll = false);
    let login = w.run(&device_login(&login_sso(&format!(
        "--device-code --account-id {ACCOUNT_ID}"
    ))));
    let who = ok(&login);
    assert_eq!(who["approver"], "alice");
    assert_eq!(
        who["sign_in"]["role_name"], "Approver",
        "the only role in the account"
    );
    let seen = w.fake.seen();
    assert_eq!(seen.device_authorizations, 2);
    assert_eq!(seen.authorizations, 0, "no browser flow");
    // One registration for the device flow, reused from the keychain.
    assert_eq!(seen.registrations.len(), 1);
    w.assert_clean();
    w.desktop
        .assert_no_secret_leaked(&w.fake.secrets(), &[&choose, &login]);
}

#[test]
fn ten_processes_find_the_token_expired_and_exactly_one_refresh_reaches_the_server() {
    let w = World::new();
    // Three logins at once: one opens the browser, the others wait for it
    // and use its session.
    let logins = w.run(&format!(
        r#"
for i in 1 2 3; do {} > login.$i.json 2> login.$i.err & done
for job in $(jobs -p); do wait $job || {{ cat login.*.err login.*.json >&2; exit 1; }}; done
cat login.*.json"#,
        login_sso("")
    ));
    assert!(
        logins.status.success(),
        "{}",
        String::from_utf8_lossy(&logins.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&logins.stdout)
            .matches(r#""approver":"alice""#)
            .count(),
        3
    );
    assert_eq!(
        w.fake.seen().authorizations,
        1,
        "one browser tab for three logins"
    );

    w.fake.tune(|b| b.expires_in = 3);
    let login = w.run(&login_sso(""));
    ok(&login);
    w.fake.tune(|b| b.expires_in = 3600);
    std::thread::sleep(Duration::from_secs(4));

    let storm = w.run(
        r#"
for i in $(seq 10); do "$TAPPROVE" --json whoami > who.$i.json 2> who.$i.err & done
fails=0
for job in $(jobs -p); do wait $job || fails=$((fails+1)); done
echo "failures: $fails" >&2
cat who.*.json"#,
    );
    assert!(
        storm.status.success(),
        "{}",
        String::from_utf8_lossy(&storm.stderr)
    );
    assert!(
        String::from_utf8_lossy(&storm.stderr).contains("failures: 0"),
        "{}",
        String::from_utf8_lossy(&storm.stderr)
    );
    let answers: Vec<Value> = String::from_utf8_lossy(&storm.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 10);
    assert!(answers.iter().all(|a| a["approver"] == "alice"), "{answers:?}");
    let seen = w.fake.seen();
    assert_eq!(seen.refreshes, 1, "exactly one process refreshed");
    assert_eq!(seen.authorizations, 2, "nobody started another sign-in");

    // When the provider refuses the refresh, the session has ended: say so.
    w.fake.tune(|b| {
        b.expires_in = 3;
        b.refuse_refresh = true;
    });
    ok(&w.run(&login_sso("")));
    std::thread::sleep(Duration::from_secs(4));
    let ended = w.run(r#""$TAPPROVE" --json whoami || echo "exit $?" >&2"#);
    assert!(String::from_utf8_lossy(&ended.stderr).contains("exit 3"));
    let failure = stdout_json(&ended);
    assert_eq!(failure["code"], "session_ended", "{failure}");
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("run `tapprove login`"),
        "{failure}"
    );

    w.assert_clean();
    w.desktop
        .assert_no_secret_leaked(&w.fake.secrets(), &[&logins, &login, &storm, &ended]);
}

#[test]
fn a_locked_keychain_stops_sign_in_before_anything_is_asked_or_written() {
    let w = World::new();
    let out = w.desktop.run(
        Keychain::Locked,
        &format!(r#"{} || echo "exit $?" >&2"#, login_sso("")),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("exit 3"));
    let failure = stdout_json(&out);
    assert_eq!(failure["code"], "keychain_error", "{failure}");
    assert!(
        failure["message"].as_str().unwrap().contains("unlock"),
        "{failure}"
    );
    let seen = w.fake.seen();
    assert_eq!((seen.registrations.len(), seen.authorizations), (0, 0));
    assert!(!w.desktop.path("state/tapprove/session.json").exists());

    // No keychain at all (no session bus): the same, with what to start.
    let out = Command::new(env!("CARGO_BIN_EXE_tapprove"))
        .args([
            "--json",
            "login",
            "--start-url",
            START_URL,
            "--region",
            "eu-west-1",
        ])
        .env("HOME", w.desktop.home())
        .env("XDG_STATE_HOME", w.desktop.path("state"))
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", w.desktop.path("no-bus").display()),
        )
        .env("AWS_ENDPOINT_URL_SSO_OIDC", w.fake.base())
        .env("BROWSER", "false")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let failure = stdout_json(&out);
    assert_eq!(failure["code"], "keychain_error", "{failure}");
    assert!(
        failure["message"].as_str().unwrap().contains("Secret Service"),
        "{failure}"
    );
    assert_eq!(w.fake.seen().registrations.len(), 0);
    assert!(!w.desktop.path("state/tapprove/session.json").exists());
}

/// The token values in the keychain's Tapprove session items.
fn keychain_tokens(w: &World) -> Vec<String> {
    let out = w.run("secret-tool search --all service tapprove > items.txt 2>/dev/null\ngrep '^secret = ' items.txt | cut -c10- || true");
    assert!(
        out.status.success(),
        "secret-tool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .flat_map(|v| {
            ["access_token", "refresh_token", "id_token"]
                .iter()
                .filter_map(|k| v[*k].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn openid_connect_sign_in_in_the_browser_and_with_a_device_code() {
    let w = World::new();
    let idp = Provider::start();
    w.settings(&format!(
        r#"[sign_in]
kind = "oidc"
issuer = "{}"
client_id = "tapprove-test"
role_arn = "arn:aws:iam::{ACCOUNT_ID}:role/approver"
approver_claim = "email"
"#,
        idp.issuer
    ));

    // Browser (PKCE, loopback redirect, nonce) as bob.
    let login = w.run(r#"OIDC_TEST_ACCOUNT=bob "$TAPPROVE" --json login"#);
    let who = ok(&login);
    assert_eq!(who["approver"], "bob@example.com", "{who}");
    assert_eq!(
        who["arn"],
        format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/approver/bob@example.com")
    );
    let mut secrets = keychain_tokens(&w);
    assert_eq!(
        secrets.len(),
        3,
        "access, refresh and ID token are in the keychain"
    );

    // Device code as alice, on "another device".
    let device = w.run(&device_login(r#""$TAPPROVE" --json login --device-code"#));
    let who = ok(&device);
    assert_eq!(who["approver"], "alice@example.com", "{who}");
    assert_eq!(who["refreshable"], true);
    secrets.extend(keychain_tokens(&w));

    let logout = w.run(r#""$TAPPROVE" --json logout"#);
    let report = ok(&logout);
    assert_eq!(report["logout"]["revoked"], true, "{report}");
    assert!(keychain_tokens(&w).is_empty());

    w.desktop
        .assert_no_secret_leaked(&secrets, &[&login, &device, &logout]);
}

#[test]
fn an_openid_connect_approver_enrols_with_a_fresh_id_token_each_time() {
    let w = World::new();
    let idp = Provider::start();
    let role_arn = format!("arn:aws:iam::{ACCOUNT_ID}:role/approver");
    // The organisation: tables, bob granted a group, and the enrolment
    // service taking the approver's name from the provider's tokens, for
    // sessions of the web-identity role `approver` only.
    let org = tapprove_config::Config::parse(&format!(
        r#"rp_id = "approvals.example.com"
[tables]
registry = "oidc-registry"
ledger = "oidc-ledger"
audit = "oidc-audit"
[identity]
roles = []
[identity.oidc]
issuer = "{}"
audience = "{}"
roles = ["approver"]
"#,
        idp.issuer,
        tapprove_test_support::oidc::CLIENT_ID
    ))
    .unwrap();
    // The role exists, so its sessions' UserId (AROA…:session) is stable,
    // as in AWS.
    w.moto.assume_role("approver", "setup", None);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = runtime.block_on(async {
        let aws = w.moto.sdk_config().await;
        tapprove_engine::admin::registry(&aws, &org)
            .create_tables()
            .await
            .unwrap();
        tapprove_engine::admin::Admin::new(&aws, &org)
            .await
            .unwrap()
            .grant("bob@example.com", "prod-approvers")
            .await
            .unwrap();
        let service = tapprove_verifier::enrol::EnrolService::from_config(&aws, &org).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let enrolment = std::sync::Arc::new(service);
        let services = tapprove_verifier::http::Services {
            requests: std::sync::Arc::new(tapprove_verifier::requests::RequestService::new(
                std::sync::Arc::clone(&enrolment),
                tapprove_aws::sfn::StepFunctions::new(&aws),
                Vec::new(),
            )),
            decisions: std::sync::Arc::new(tapprove_verifier::decisions::DecisionService::new(
                org.policy(),
                tapprove_engine::admin::registry(&aws, &org),
                tapprove_aws::sfn::StepFunctions::new(&aws),
                Vec::new(),
            )),
            enrolment,
        };
        tokio::spawn(tapprove_verifier::http::serve(
            listener,
            services,
            std::future::pending(),
        ));
        url
    });
    let dir = w.desktop.path("config/tapprove");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            r#"rp_id = "approvals.example.com"
key_store = "files"
[tables]
registry = "oidc-registry"
ledger = "oidc-ledger"
audit = "oidc-audit"
[enrolment]
url = "{url}"
[sign_in]
kind = "oidc"
issuer = "{}"
client_id = "{}"
role_arn = "{role_arn}"
approver_claim = "email"
"#,
            idp.issuer,
            tapprove_test_support::oidc::CLIENT_ID
        ),
    )
    .unwrap();

    // Bob signs in through the provider and enrols: the client sends a
    // fresh ID token with each request, and the service names him by it.
    let out = w.run(
        r#"OIDC_TEST_ACCOUNT=bob "$TAPPROVE" --json login >/dev/null && "$TAPPROVE" --json enroll --label laptop"#,
    );
    let receipt = ok(&out)["receipt"].clone();
    assert_eq!(receipt["user"], "bob@example.com", "{receipt}");
    assert_eq!(receipt["status"], "active", "{receipt}");
    // Every call carries a new token (each is good once): the listing
    // right after works too.
    let out = w.run(r#""$TAPPROVE" --json authenticators"#);
    let listed = ok(&out);
    assert_eq!(listed["credentials"].as_array().unwrap().len(), 1, "{listed}");
    drop(runtime);
}
