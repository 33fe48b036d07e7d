//! The terminal prompt: the PIN from a flag's source or typed without
//! echo, and the touch requests, on stderr.

use std::io::{BufRead, IsTerminal};
use std::sync::Mutex;

use tapprove_authn::{PinRequest, Prompt, UserPrompt};
use zeroize::Zeroizing;

use crate::cli::PinArgs;
use crate::exit::{Failure, Result};

/// Talks to the person on the terminal (stderr), with the PIN from a flag's
/// source or typed without echo.
#[derive(Debug)]
pub struct TerminalPrompt {
    source: PinSource,
    /// A PIN from stdin or the environment is given once; a second request
    /// (after a wrong PIN) must not reuse it.
    used: Mutex<bool>,
}

#[derive(Debug)]
enum PinSource {
    Terminal,
    Stdin,
    Env(String),
}

impl TerminalPrompt {
    pub fn new(args: &PinArgs) -> Self {
        let source = match (&args.pin_env, args.pin_stdin) {
            (Some(var), _) => PinSource::Env(var.clone()),
            (None, true) => PinSource::Stdin,
            (None, false) => PinSource::Terminal,
        };
        Self {
            source,
            used: Mutex::new(false),
        }
    }

    /// Fails early when the PIN and a document would both come from stdin.
    pub fn check_stdin_free(&self, reading_stdin: bool) -> Result {
        if reading_stdin && matches!(self.source, PinSource::Stdin) {
            return Err(Failure::input(
                "--pin-stdin cannot be used while a document is read from standard input; use --pin-env",
            ));
        }
        Ok(())
    }
}

impl UserPrompt for TerminalPrompt {
    fn show(&self, prompt: Prompt) {
        let text = match prompt {
            Prompt::TouchKey => "Touch your security key…".to_owned(),
            Prompt::SelectKey => "Several security keys found: touch the one to use…".to_owned(),
            Prompt::ConfirmPlatform => "Confirm with your platform authenticator…".to_owned(),
            Prompt::SoftwareSigning { label } => format!("Signing with software key `{label}`."),
            Prompt::Processing => return,
            _ => return,
        };
        if std::io::stderr().is_terminal() {
            eprintln!("{text}");
        }
    }

    fn pin(&self, request: &PinRequest) -> Option<Zeroizing<String>> {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = !*used;
        *used = true;
        match &self.source {
            PinSource::Env(var) if first => std::env::var(var).ok().map(Zeroizing::new),
            PinSource::Stdin if first => {
                let mut line = Zeroizing::new(String::new());
                std::io::stdin().lock().read_line(&mut line).ok()?;
                let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
                Some(trimmed)
            }
            PinSource::Terminal if std::io::stdin().is_terminal() => {
                let attempts = request
                    .attempts_left
                    .map(|n| format!(" ({n} attempts left)"))
                    .unwrap_or_default();
                rpassword::prompt_password(format!("PIN for {}{attempts}: ", request.authenticator))
                    .ok()
                    .map(Zeroizing::new)
            }
            _ => None,
        }
    }
}
