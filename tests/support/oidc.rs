//! The OpenID Connect test peer: `oidc-provider` on loopback
//! (`tests/peers/oidc/provider.mjs`), and real ID tokens of its accounts
//! (`tests/peers/oidc/id-tokens.mjs`) for tests that present a person's
//! token without signing in through a face.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::repo_root;

/// `oidc-provider` on a free loopback port, stopped when dropped. Account
/// X signs in as `X@example.com` (verified), client `tapprove-test`.
#[derive(Debug)]
pub struct Provider {
    child: Child,
    pub issuer: String,
}

/// The provider's one client id.
pub const CLIENT_ID: &str = "tapprove-test";

impl Provider {
    pub fn start() -> Self {
        let mut child = Command::new("node")
            .arg(repo_root().join("tests/peers/oidc/provider.mjs"))
            .current_dir(repo_root())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node is missing: run scripts/test");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let issuer = serde_json::from_str::<Value>(&line).unwrap()["issuer"]
            .as_str()
            .unwrap_or_else(|| panic!("provider.mjs printed {line:?}"))
            .to_owned();
        Self { child, issuer }
    }

    /// `count` distinct, fresh ID tokens of `account` (one sign-in, then
    /// refreshes), signed by the provider.
    #[track_caller]
    pub fn id_tokens(&self, account: &str, count: usize) -> Vec<String> {
        let out = Command::new("node")
            .arg(repo_root().join("tests/peers/oidc/id-tokens.mjs"))
            .args([self.issuer.as_str(), account, &count.to_string()])
            .current_dir(repo_root())
            .output()
            .expect("node is missing: run scripts/test");
        assert!(
            out.status.success(),
            "id-tokens.mjs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        answer["id_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
