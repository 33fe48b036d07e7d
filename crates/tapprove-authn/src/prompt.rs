use zeroize::Zeroizing;

/// What the person should do now. The tray app shows it in the signing
/// screen, the CLI prints it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Touch the security key (it blinks).
    TouchKey,
    /// Several keys are plugged in: touch the one to use.
    SelectKey,
    /// Confirm with the platform authenticator (Touch ID, Windows Hello).
    ConfirmPlatform,
    /// The software authenticator is about to sign.
    SoftwareSigning { label: String },
    /// Working; nothing to do.
    Processing,
}

/// A PIN is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRequest {
    /// The authenticator asking ("Tapprove software key `laptop`").
    pub authenticator: String,
    /// Attempts left before it locks, when known.
    pub attempts_left: Option<u32>,
}

/// How an authenticator talks to the person (modelled on
/// webauthn-authenticator-rs `ui::UiCallback`). Called from the thread the
/// authenticator blocks on.
pub trait UserPrompt: Send + Sync {
    /// Shows what to do now.
    fn show(&self, prompt: Prompt);

    /// Asks for a PIN. `None` means the person cancelled. The returned
    /// buffer is wiped when dropped; implementations must not keep a copy.
    fn pin(&self, request: &PinRequest) -> Option<Zeroizing<String>>;

    /// Whether the person has cancelled; long waits poll it.
    fn cancelled(&self) -> bool {
        false
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A prompt that shows nothing and has no PIN.
    #[derive(Debug)]
    pub(crate) struct Silent;

    impl UserPrompt for Silent {
        fn show(&self, _prompt: Prompt) {}

        fn pin(&self, _request: &PinRequest) -> Option<Zeroizing<String>> {
            None
        }
    }
}
