//! The moto AWS emulator as a test peer: started on a free loopback port
//! by `tests/peers/moto_server.py` (which adds `GetActivityTask` and fixes
//! what moto's Step Functions lacks), stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::repo_root;

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    endpoint: String,
}

/// Credentials of an IAM user created in moto, or of a role session
/// (with its session token).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct IamUser {
    pub user: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
}

fn python() -> PathBuf {
    let venv = repo_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/test, which creates the venv with tests/peers/requirements.txt",
        venv.display()
    );
    venv
}

impl Moto {
    /// Starts moto; empty activity long-polls return after `poll_seconds`.
    pub fn start(poll_seconds: u32) -> Self {
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/peers/moto_server.py"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--activity-poll-seconds",
                &poll_seconds.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the moto launcher");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("moto did not report READY within 60 s");
        let endpoint = line
            .strip_prefix("READY ")
            .map(|e| e.trim().to_owned())
            .unwrap_or_else(|| panic!("unexpected first line from moto: {line:?}"));
        Self { child, endpoint }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The process id (for SIGSTOP/SIGCONT fault tests).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Environment for a process talking to this emulator as `user`
    /// (`None`: moto's default account principal, which tests use as admin).
    pub fn env(&self, user: Option<&IamUser>) -> Vec<(String, String)> {
        let (id, secret) = user.map_or(("testing", "testing"), |u| {
            (&u.access_key_id, &u.secret_access_key)
        });
        let mut env = vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), id.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), secret.into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        if let Some(token) = user.and_then(|u| u.session_token.clone()) {
            env.push(("AWS_SESSION_TOKEN".into(), token));
        }
        env
    }

    /// An SDK configuration for this emulator (admin principal).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        self.sdk_config_as(None).await
    }

    /// An SDK configuration for this emulator as `user` (`None`: admin).
    pub async fn sdk_config_as(&self, user: Option<&IamUser>) -> aws_config::SdkConfig {
        let (id, secret) = user.map_or(("testing", "testing"), |u| {
            (u.access_key_id.as_str(), u.secret_access_key.as_str())
        });
        tapprove_aws::defaults()
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                id,
                secret,
                user.and_then(|u| u.session_token.clone()),
                None,
                "moto",
            ))
            .load()
            .await
    }

    /// A session of the role `role` (created in `account` if missing, moto's
    /// default account when `None`) named `session`: what IAM Identity
    /// Center hands a person (role `AWSReservedSSO_…`, session = user), or
    /// what anyone allowed to assume a role can make up.
    pub fn assume_role(&self, role: &str, session: &str, account: Option<&str>) -> IamUser {
        let mut command = Command::new(python());
        command
            .arg(repo_root().join("tests/peers/assume_role.py"))
            .args([role, session])
            .args(account)
            .envs(self.env(None));
        let out = command.output().expect("cannot run tests/peers/assume_role.py");
        assert!(
            out.status.success(),
            "assume_role.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("assume_role.py printed no JSON")
    }

    /// Creates an IAM user with an access key.
    pub fn create_user(&self, name: &str) -> IamUser {
        let out = Command::new(python())
            .arg(repo_root().join("tests/peers/iam_user.py"))
            .arg(name)
            .envs(self.env(None))
            .output()
            .expect("cannot run tests/peers/iam_user.py");
        assert!(
            out.status.success(),
            "iam_user.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("iam_user.py printed no JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // Resume first, in case a fault test stopped it.
            let _ = Command::new("kill")
                .args(["-CONT", &self.child.id().to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/peers/tls_front.py` in front of a moto server: HTTPS as AWS's
/// endpoints speak it, with a self-signed certificate a process trusts
/// through `SSL_CERT_FILE` ([`TlsFront::cert`]).
#[derive(Debug)]
pub struct TlsFront {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    handshakes: std::sync::mpsc::Receiver<String>,
}

impl TlsFront {
    pub fn start(moto: &Moto) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let upstream = moto.endpoint.trim_start_matches("http://").trim_end_matches('/');
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/peers/tls_front.py"))
            .args(["--upstream", upstream, "--cert-dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the TLS front");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the TLS front did not report READY within 30 s");
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the TLS front: {line:?}"));
        Self {
            child,
            port,
            dir,
            handshakes: rx,
        }
    }

    /// `https://localhost:<port>`.
    pub fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The front's certificate (PEM).
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The handshakes reported so far: `ok` or `failed: <why>`.
    pub fn handshakes(&self) -> Vec<String> {
        self.handshakes
            .try_iter()
            .filter_map(|l| l.strip_prefix("HANDSHAKE ").map(str::to_owned))
            .collect()
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
