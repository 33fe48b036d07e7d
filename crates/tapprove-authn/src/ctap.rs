//! CTAP status codes as a person understands them.
//!
//! Every path to a security key ends in a one-byte CTAP status (CTAP 2.1,
//! section 8.2): `ctap-hid-fido2` puts it in its error text, the
//! `webauthn-authenticator-rs` stack returns it as `CtapError`, Windows
//! maps it to an HRESULT first. This is the one table that turns it into
//! an [`AuthnError`] that says what to do.

use crate::authenticator::AuthnError;

/// CTAP status codes Tapprove distinguishes.
pub mod status {
    pub const INVALID_PARAMETER: u8 = 0x02;
    pub const CHANNEL_BUSY: u8 = 0x06;
    pub const TIMEOUT: u8 = 0x05;
    pub const CREDENTIAL_EXCLUDED: u8 = 0x19;
    pub const UNSUPPORTED_ALGORITHM: u8 = 0x26;
    pub const OPERATION_DENIED: u8 = 0x27;
    pub const KEY_STORE_FULL: u8 = 0x28;
    pub const UNSUPPORTED_OPTION: u8 = 0x2B;
    pub const KEEPALIVE_CANCEL: u8 = 0x2D;
    pub const NO_CREDENTIALS: u8 = 0x2E;
    pub const USER_ACTION_TIMEOUT: u8 = 0x2F;
    pub const NOT_ALLOWED: u8 = 0x30;
    pub const PIN_INVALID: u8 = 0x31;
    pub const PIN_BLOCKED: u8 = 0x32;
    pub const PIN_AUTH_INVALID: u8 = 0x33;
    pub const PIN_AUTH_BLOCKED: u8 = 0x34;
    pub const PIN_NOT_SET: u8 = 0x35;
    pub const PUAT_REQUIRED: u8 = 0x36;
    pub const PIN_POLICY_VIOLATION: u8 = 0x37;
    pub const ACTION_TIMEOUT: u8 = 0x3A;
    pub const UP_REQUIRED: u8 = 0x3B;
    pub const UV_BLOCKED: u8 = 0x3C;
    pub const UV_INVALID: u8 = 0x3F;
}

/// The error for CTAP status `code`. `pin_retries` is what the key said
/// is left after a wrong PIN (ask it with `getPINRetries`), when known.
pub fn status_error(code: u8, pin_retries: Option<u32>) -> AuthnError {
    use status::*;
    match code {
        CREDENTIAL_EXCLUDED => AuthnError::AlreadyEnrolled,
        NO_CREDENTIALS | NOT_ALLOWED => AuthnError::NoMatchingCredential,
        USER_ACTION_TIMEOUT | ACTION_TIMEOUT | TIMEOUT => AuthnError::Timeout,
        KEEPALIVE_CANCEL => AuthnError::Cancelled,
        PIN_INVALID => match pin_retries {
            Some(0) => AuthnError::PinBlocked,
            Some(attempts_left) => AuthnError::PinInvalid { attempts_left },
            None => AuthnError::Refused("wrong PIN: check it and try again".into()),
        },
        PIN_BLOCKED => AuthnError::PinBlocked,
        PIN_AUTH_BLOCKED => AuthnError::PinAuthBlocked,
        PIN_AUTH_INVALID => AuthnError::Refused("the key did not accept the PIN session: try again".into()),
        PIN_NOT_SET => AuthnError::PinNotSet,
        PUAT_REQUIRED => AuthnError::PinRequired,
        PIN_POLICY_VIOLATION => {
            AuthnError::Refused("the PIN does not meet the key's PIN policy (too short or too simple)".into())
        }
        UV_BLOCKED => AuthnError::UvBlocked,
        UV_INVALID => AuthnError::Refused("your fingerprint was not recognised: try again".into()),
        OPERATION_DENIED => AuthnError::Refused(
            "the key reported the operation as declined: confirm on the key when asked".into(),
        ),
        UP_REQUIRED => AuthnError::Refused("the key needs a touch: touch it when it blinks".into()),
        UNSUPPORTED_OPTION => AuthnError::UserVerificationUnavailable("this security key".into()),
        UNSUPPORTED_ALGORITHM => {
            AuthnError::Refused("the key cannot make a P-256 or Ed25519 credential: use another key".into())
        }
        KEY_STORE_FULL => AuthnError::Refused(
            "the key has no room for another credential: delete one with its manager tool".into(),
        ),
        CHANNEL_BUSY => AuthnError::Device(
            "the key is busy with another application: finish or cancel there, then retry".into(),
        ),
        INVALID_PARAMETER => AuthnError::Device("the key refused the request (CTAP 0x02)".into()),
        other => AuthnError::Device(format!("the key answered CTAP error 0x{other:02X}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_a_person_can_act_on_gets_its_own_error() {
        assert_eq!(status_error(0x19, None), AuthnError::AlreadyEnrolled);
        assert_eq!(status_error(0x2E, None), AuthnError::NoMatchingCredential);
        assert_eq!(status_error(0x2F, None), AuthnError::Timeout);
        assert_eq!(status_error(0x3A, None), AuthnError::Timeout);
        assert_eq!(
            status_error(0x31, Some(5)),
            AuthnError::PinInvalid { attempts_left: 5 }
        );
        assert_eq!(status_error(0x31, Some(0)), AuthnError::PinBlocked);
        assert_eq!(status_error(0x32, None), AuthnError::PinBlocked);
        assert_eq!(status_error(0x34, None), AuthnError::PinAuthBlocked);
        assert_eq!(status_error(0x35, None), AuthnError::PinNotSet);
        assert_eq!(status_error(0x36, None), AuthnError::PinRequired);
        assert_eq!(status_error(0x3C, None), AuthnError::UvBlocked);
        assert_eq!(status_error(0x2D, None), AuthnError::Cancelled);
    }

    #[test]
    fn messages_say_what_to_do() {
        assert!(
            status_error(0x31, Some(2))
                .to_string()
                .contains("2 attempts left")
        );
        assert!(status_error(0x34, None).to_string().contains("unplug"));
        assert!(status_error(0x2F, None).to_string().contains("touch it"));
        assert!(status_error(0x28, None).to_string().contains("no room"));
        assert!(status_error(0x99, None).to_string().contains("0x99"));
    }
}
