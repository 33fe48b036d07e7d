//! The authenticator's and the identity provider's prompts, shown in the
//! window: each prompt is an event the front end renders, and a PIN comes
//! back through the `submit_pin` command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tapprove_engine::prompt::{LoginPrompt, PinRequest, Prompt, UserPrompt};
use tauri::{AppHandle, Emitter, Runtime};
use zeroize::Zeroizing;

use crate::models::{SignInPrompt, SigningPrompt};
use crate::state::Tapprove;

/// How long a PIN prompt waits for the person.
const PIN_WAIT: Duration = Duration::from_secs(120);

/// Signing prompts for the window.
#[derive(Debug)]
pub struct WindowPrompt<R: Runtime> {
    app: AppHandle<R>,
    state: Arc<Tapprove>,
    authenticator: String,
}

impl<R: Runtime> WindowPrompt<R> {
    pub fn new(app: AppHandle<R>, state: Arc<Tapprove>, authenticator: impl Into<String>) -> Self {
        Self {
            app,
            state,
            authenticator: authenticator.into(),
        }
    }

    fn emit(&self, prompt: &SigningPrompt) {
        let _ = self.app.emit("signing", prompt);
    }
}

impl<R: Runtime> UserPrompt for WindowPrompt<R> {
    fn show(&self, prompt: Prompt) {
        self.emit(&SigningPrompt::from_prompt(prompt, self.authenticator.clone()));
    }

    fn pin(&self, request: &PinRequest) -> Option<Zeroizing<String>> {
        let answer = self.state.signing.expect_pin();
        self.emit(&SigningPrompt::Pin {
            authenticator: request.authenticator.clone(),
            attempts_left: request.attempts_left,
        });
        let started = Instant::now();
        while started.elapsed() < PIN_WAIT && !self.state.signing.cancelled() {
            match answer.recv_timeout(Duration::from_millis(250)) {
                Ok(pin) => return pin,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
            }
        }
        None
    }

    fn cancelled(&self) -> bool {
        self.state.signing.cancelled()
    }
}

/// Sign-in prompts for the window (the URL opened, or the device code).
#[derive(Debug)]
pub struct WindowLogin<R: Runtime>(pub AppHandle<R>);

impl<R: Runtime> LoginPrompt for WindowLogin<R> {
    fn browser(&self, url: &str, opened: bool) {
        let _ = self.0.emit(
            "sign_in",
            SignInPrompt::Browser {
                url: url.to_owned(),
                opened,
            },
        );
    }

    fn device_code(&self, uri: &str, uri_complete: Option<&str>, user_code: &str) {
        let _ = self.0.emit(
            "sign_in",
            SignInPrompt::DeviceCode {
                uri: uri.to_owned(),
                complete_uri: uri_complete.map(str::to_owned),
                code: user_code.to_owned(),
            },
        );
    }

    fn waiting_for_other_process(&self) {
        let _ = self.0.emit("sign_in", SignInPrompt::WaitingForOtherProcess);
    }
}
