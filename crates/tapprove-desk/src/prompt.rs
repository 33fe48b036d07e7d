//! The authenticator's and the identity provider's prompts, shown in the
//! window: each prompt is an event the front end renders, and a PIN comes
//! back through the `submit_pin` command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tapprove_engine::prompt::{LoginPrompt, PinRequest, Prompt, UserPrompt};
use zeroize::Zeroizing;

use crate::models::{SignInPrompt, SigningPrompt};
use crate::shell::Shell;
use crate::state::Tapprove;

/// How long a PIN prompt waits for the person.
const PIN_WAIT: Duration = Duration::from_secs(120);

/// Signing prompts for the window.
pub struct WindowPrompt {
    shell: Arc<dyn Shell>,
    state: Arc<Tapprove>,
    authenticator: String,
}

impl std::fmt::Debug for WindowPrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowPrompt")
            .field("authenticator", &self.authenticator)
            .finish_non_exhaustive()
    }
}

impl WindowPrompt {
    pub fn new(shell: Arc<dyn Shell>, state: Arc<Tapprove>, authenticator: impl Into<String>) -> Self {
        Self {
            shell,
            state,
            authenticator: authenticator.into(),
        }
    }

    fn emit(&self, prompt: &SigningPrompt) {
        emit(&*self.shell, "signing", prompt);
    }
}

fn emit(shell: &dyn Shell, event: &str, payload: &impl serde::Serialize) {
    shell.emit(
        event,
        serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
    );
}

impl UserPrompt for WindowPrompt {
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
pub struct WindowLogin(pub Arc<dyn Shell>);

impl std::fmt::Debug for WindowLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WindowLogin")
    }
}

impl LoginPrompt for WindowLogin {
    fn browser(&self, url: &str, opened: bool) {
        emit(
            &*self.0,
            "sign_in",
            &SignInPrompt::Browser {
                url: url.to_owned(),
                opened,
            },
        );
    }

    fn device_code(&self, uri: &str, uri_complete: Option<&str>, user_code: &str) {
        emit(
            &*self.0,
            "sign_in",
            &SignInPrompt::DeviceCode {
                uri: uri.to_owned(),
                complete_uri: uri_complete.map(str::to_owned),
                code: user_code.to_owned(),
            },
        );
    }

    fn waiting_for_other_process(&self) {
        emit(&*self.0, "sign_in", &SignInPrompt::WaitingForOtherProcess);
    }
}
