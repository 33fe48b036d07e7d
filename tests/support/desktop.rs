//! A private desktop session for tests of the keychain and sign-in: a
//! temporary home, a fresh D-Bus session (`dbus-run-session`) with
//! gnome-keyring as the Secret Service, and the `tapprove` binary run
//! inside it as it would be on a desktop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The keychain's state when a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keychain {
    /// gnome-keyring started and its login keyring unlocked.
    Unlocked,
    /// gnome-keyring started, nothing unlocked (no login keyring yet).
    Locked,
}

/// A private home for gnome-keyring and the files the CLI writes.
#[derive(Debug)]
pub struct Desktop {
    home: tempfile::TempDir,
    binary: PathBuf,
    env: Vec<(String, String)>,
}

impl Desktop {
    /// `binary` is the `tapprove` under test (`env!("CARGO_BIN_EXE_tapprove")`).
    pub fn new(binary: &str) -> Self {
        for tool in ["dbus-run-session", "gnome-keyring-daemon", "secret-tool"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            assert!(
                found,
                "{tool} is missing: run scripts/test, which installs dbus, gnome-keyring and libsecret-tools"
            );
        }
        let home = tempfile::tempdir().expect("temporary home");
        let run = home.path().join("run");
        std::fs::create_dir(&run).expect("runtime dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).expect("runtime dir mode");
        }
        Self {
            home,
            binary: PathBuf::from(binary),
            env: Vec::new(),
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// Adds environment for every script (endpoints, `BROWSER`).
    pub fn env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Runs `script` (bash; `$TAPPROVE` is the binary) in a fresh D-Bus
    /// session with the keychain in the given state. Each call is a new
    /// session: the keyring files in the home persist, the unlock does not.
    pub fn run(&self, keychain: Keychain, script: &str) -> Output {
        let prelude = match keychain {
            Keychain::Unlocked => {
                "eval \"$(printf %s test-password | gnome-keyring-daemon --unlock --components=secrets)\" >/dev/null"
            }
            Keychain::Locked => "gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1",
        };
        Command::new("dbus-run-session")
            .args(["--", "bash", "-c", &format!("{prelude}\nset -e\n{script}")])
            .current_dir(self.home.path())
            .env("HOME", self.home.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("TAPPROVE", &self.binary)
            .env_remove("TAPPROVE_RP_ID")
            .env_remove("TAPPROVE_STATE_DIR")
            .env_remove("TAPPROVE_CONFIG")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("cannot run dbus-run-session")
    }

    /// Every file under the home, except the keyring's own (encrypted)
    /// files and the runtime directory.
    pub fn written_files(&self) -> Vec<PathBuf> {
        files(self.home.path())
            .into_iter()
            .filter(|p| !p.starts_with(self.path("data/keyrings")) && !p.starts_with(self.path("run")))
            .collect()
    }

    /// Panics if any of `secrets` appears in a file under the home (the
    /// keyring's encrypted files aside) or in `outputs`.
    pub fn assert_no_secret_leaked(&self, secrets: &[String], outputs: &[&Output]) {
        assert!(!secrets.is_empty(), "nothing to search for");
        for path in self.written_files() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            for secret in secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret is in {}",
                    path.display()
                );
            }
        }
        for out in outputs {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            for secret in secrets {
                assert!(!text.contains(secret.as_str()), "a secret was printed: {text}");
            }
        }
    }
}

/// The last stdout line of a `--json` command, parsed.
pub fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text} / {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Every file under `dir`, recursively.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}
