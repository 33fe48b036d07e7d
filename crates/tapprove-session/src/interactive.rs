//! The user's side of a sign-in: the browser (PKCE with a loopback
//! redirect, as RFC 8252 describes for native apps) or a device code typed
//! on another machine.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zeroize::Zeroizing;

use crate::error::{Result, SessionError};

/// How a face (CLI, tray app) shows the user what to do.
pub trait LoginPrompt: Send + Sync {
    /// The browser was asked to open `url`; also show it, in case it did not.
    fn browser(&self, url: &str, opened: bool);
    /// Device flow: the user visits `uri` elsewhere and enters `user_code`.
    fn device_code(&self, uri: &str, uri_complete: Option<&str>, user_code: &str);
    /// Another Tapprove process is signing in or refreshing; this one waits.
    fn waiting_for_other_process(&self);
}

/// How long the user has to finish in the browser.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(600);

/// A random URL-safe string of `bytes` random bytes (state, nonce, verifier).
pub(crate) fn random_string(bytes: usize) -> Zeroizing<String> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    OsRng.fill_bytes(&mut buf);
    Zeroizing::new(URL_SAFE_NO_PAD.encode(&*buf))
}

/// A PKCE verifier and its S256 challenge (RFC 7636).
pub(crate) struct Pkce {
    pub verifier: Zeroizing<String>,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = random_string(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self { verifier, challenge }
    }
}

/// Asks the user's browser to open `url`: `$BROWSER` if set (the first of
/// its `:`-separated commands, `%s` replaced by the URL or the URL
/// appended), else the desktop's opener. Does not wait for the browser.
pub(crate) fn open_browser(url: &str) -> bool {
    let mut command = match std::env::var("BROWSER").ok().filter(|b| !b.trim().is_empty()) {
        Some(browser) => {
            let first = browser.split(':').next().unwrap_or_default().trim().to_owned();
            let mut words = first.split_whitespace().map(str::to_owned);
            let Some(program) = words.next() else {
                return false;
            };
            let mut args: Vec<String> = words.collect();
            if args.iter().any(|a| a.contains("%s")) {
                args = args.iter().map(|a| a.replace("%s", url)).collect();
            } else {
                args.push(url.to_owned());
            }
            let mut c = std::process::Command::new(program);
            c.args(args);
            c
        }
        None => desktop_opener(url),
    };
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match command.spawn() {
        Ok(mut child) => {
            // Reap it whenever it exits; the sign-in does not wait for it.
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}

#[cfg(target_os = "macos")]
fn desktop_opener(url: &str) -> std::process::Command {
    let mut c = std::process::Command::new("open");
    c.arg(url);
    c
}

#[cfg(windows)]
fn desktop_opener(url: &str) -> std::process::Command {
    let mut c = std::process::Command::new("rundll32");
    c.args(["url.dll,FileProtocolHandler", url]);
    c
}

#[cfg(not(any(target_os = "macos", windows)))]
fn desktop_opener(url: &str) -> std::process::Command {
    let mut c = std::process::Command::new("xdg-open");
    c.arg(url);
    c
}

/// A one-shot HTTP listener on `127.0.0.1` that receives the
/// authorization response (`?code=...&state=...`).
pub(crate) struct Loopback {
    listener: TcpListener,
    path: &'static str,
    port: u16,
}

impl Loopback {
    pub async fn bind(path: &'static str) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            SessionError::Settings(format!(
                "cannot listen on 127.0.0.1 for the browser's answer ({e}); use --device-code"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| SessionError::Settings(format!("loopback listener: {e}")))?
            .port();
        Ok(Self { listener, path, port })
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.path)
    }

    /// Waits for the browser to come back with `state`; answers anything
    /// else (other paths, a stale state) with an error page and goes on
    /// waiting.
    pub async fn code(self, state: &str, timeout: Duration) -> Result<Zeroizing<String>> {
        let wait = async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else {
                    // Out of file descriptors, say: do not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                if let Some(outcome) = self.answer(stream, state).await {
                    return outcome;
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| SessionError::TimedOut("no answer from the browser".into()))?
    }

    async fn answer(&self, mut stream: TcpStream, state: &str) -> Option<Result<Zeroizing<String>>> {
        let mut head = Zeroizing::new(Vec::with_capacity(1024));
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                _ => return None,
            }
        }
        let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
        let target = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path != self.path {
            reply(&mut stream, "404 Not Found", "Not a Tapprove sign-in address.").await;
            return None;
        }
        let mut code = None;
        let mut got_state = None;
        let mut error = None;
        let mut description = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "code" => code = Some(Zeroizing::new(v.into_owned())),
                "state" => got_state = Some(v.into_owned()),
                "error" => error = Some(v.into_owned()),
                "error_description" => description = Some(v.into_owned()),
                _ => {}
            }
        }
        if got_state.as_deref() != Some(state) {
            reply(
                &mut stream,
                "400 Bad Request",
                "This answer belongs to another sign-in attempt. Return to Tapprove and try again.",
            )
            .await;
            return None;
        }
        if let Some(error) = error {
            reply(
                &mut stream,
                "200 OK",
                "Sign-in was refused. You can close this tab.",
            )
            .await;
            let detail = description.map(|d| format!("{error}: {d}")).unwrap_or(error);
            return Some(Err(SessionError::Denied(detail)));
        }
        let Some(code) = code else {
            reply(
                &mut stream,
                "400 Bad Request",
                "The answer has no authorization code.",
            )
            .await;
            return None;
        };
        reply(
            &mut stream,
            "200 OK",
            "Signed in to Tapprove. You can close this tab.",
        )
        .await;
        Some(Ok(code))
    }
}

async fn reply(stream: &mut TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Tapprove</title><p style=\"font:16px system-ui;margin:3em\">{text}</p>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let pkce = Pkce::new();
        assert_eq!(pkce.verifier.len(), 43);
        assert_eq!(
            pkce.challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(pkce.verifier.as_bytes()))
        );
    }

    async fn get(uri: &str) -> String {
        let rest = uri.strip_prefix("http://").unwrap();
        let (host, target) = rest.split_once('/').unwrap();
        let mut s = TcpStream::connect(host).await.unwrap();
        s.write_all(format!("GET /{target} HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn loopback_takes_the_code_with_the_right_state_only() {
        let lb = Loopback::bind("/oauth/callback").await.unwrap();
        let base = lb.redirect_uri();
        assert!(base.starts_with("http://127.0.0.1:"));
        let waiter = tokio::spawn(lb.code("good", Duration::from_secs(10)));
        let stale = get(&format!("{base}?code=c0&state=bad")).await;
        assert!(stale.starts_with("HTTP/1.1 400"), "{stale}");
        let other = get(&base.replace("/oauth/callback", "/favicon.ico")).await;
        assert!(other.starts_with("HTTP/1.1 404"), "{other}");
        let ok = get(&format!("{base}?code=c%2B1&state=good")).await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert_eq!(waiter.await.unwrap().unwrap().as_str(), "c+1");
    }

    #[tokio::test]
    async fn loopback_reports_a_refusal() {
        let lb = Loopback::bind("/cb").await.unwrap();
        let base = lb.redirect_uri();
        let waiter = tokio::spawn(lb.code("s", Duration::from_secs(10)));
        get(&format!(
            "{base}?error=access_denied&error_description=no&state=s"
        ))
        .await;
        let err = waiter.await.unwrap().unwrap_err();
        assert!(
            matches!(err, SessionError::Denied(ref d) if d == "access_denied: no"),
            "{err}"
        );
    }
}
