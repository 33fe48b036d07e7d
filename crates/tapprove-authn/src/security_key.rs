//! USB security keys over CTAP2 HID, with `ctap-hid-fido2` (macOS and
//! Linux; Windows reserves raw FIDO HID access to administrators, so there
//! the Windows backend speaks to keys instead).
//!
//! How a signing goes:
//! 1. Every plugged-in FIDO key is asked silently (`up = false`, no PIN)
//!    whether it holds one of the approver's credentials. A key that does
//!    not is never asked to blink; if none does, the answer is "no matching
//!    credential", before any prompt.
//! 2. User verification is planned from the key's `getInfo` options:
//!    built-in (fingerprint) when it has it, else the PIN, asked through the
//!    [`UserPrompt`] with the attempts left, never stored or logged.
//! 3. "Touch your security key", then the real assertion.
//!
//! `ctap-hid-fido2` hashes whatever it gets as the "challenge" into the
//! clientDataHash, so it is given the clientDataJSON bytes: the signature is
//! then a standard WebAuthn one. It returns parsed attestation fields, from
//! which the attestationObject is rebuilt for the registry. Its errors are
//! text carrying the CTAP status (`response_status err = 0x31 ...`); the
//! status is read back out and mapped by [`crate::ctap`].
//!
//! The device I/O here is unverified on real hardware from this project's
//! CI (no USB there); the request construction, the UV plan, the error
//! mapping and the attestation rebuild are tested.

use std::sync::mpsc;
use std::time::Duration;

use ctap_hid_fido2::fidokey::get_assertion::get_assertion_params::{Assertion, GetAssertionArgs};
use ctap_hid_fido2::fidokey::make_credential::make_credential_params::{
    Attestation, CredentialSupportedKeyType, MakeCredentialArgs,
};
use ctap_hid_fido2::public_key_credential_user_entity::PublicKeyCredentialUserEntity;
use ctap_hid_fido2::{FidoKeyHid, FidoKeyHidFactory, HidParam, LibCfg};
use tapprove_core::webauthn::AttestationObject;
use tapprove_proto::registry::AuthenticatorKind;
use tapprove_proto::{Aaguid, Base64Url};
use zeroize::Zeroizing;

use crate::authenticator::{
    AssertionRequest, Authenticator, AuthnError, CredentialRequest, NewCredential, RawAssertion,
    UserVerification,
};
use crate::prompt::{PinRequest, Prompt, UserPrompt};

/// How a key verifies the user for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UvPlan {
    /// Presence (a touch) only.
    PresenceOnly,
    /// The key's own biometrics (`uv` option).
    BuiltIn,
    /// The key's PIN (`clientPin` option set).
    Pin,
}

/// Chooses how to verify the user, from the key's `getInfo` options.
pub fn plan_user_verification(
    wanted: UserVerification,
    options: &[(String, bool)],
) -> Result<UvPlan, AuthnError> {
    let has = |name: &str| options.iter().any(|(k, v)| k == name && *v);
    match wanted {
        UserVerification::Discouraged => Ok(UvPlan::PresenceOnly),
        _ if has("uv") => Ok(UvPlan::BuiltIn),
        _ if has("clientPin") => Ok(UvPlan::Pin),
        UserVerification::Preferred => Ok(UvPlan::PresenceOnly),
        UserVerification::Required if options.iter().any(|(k, _)| k == "clientPin") => {
            Err(AuthnError::PinNotSet)
        }
        UserVerification::Required => Err(AuthnError::UserVerificationUnavailable(
            "this security key".into(),
        )),
    }
}

/// The silent probe: does this key hold one of the credentials? No touch,
/// no PIN, nothing shown on the key.
pub fn probe_args(request: &AssertionRequest) -> GetAssertionArgs<'static> {
    GetAssertionArgs {
        rpid: request.rp_id.clone(),
        challenge: request.client_data_json.clone(),
        pin: None,
        credential_ids: request
            .allow_credentials
            .iter()
            .map(|id| id.as_bytes().to_vec())
            .collect(),
        up: false,
        uv: None,
        extensions: None,
    }
}

/// The real assertion: presence always, and the planned verification.
pub fn assertion_args<'a>(
    request: &AssertionRequest,
    plan: UvPlan,
    pin: Option<&'a str>,
) -> GetAssertionArgs<'a> {
    GetAssertionArgs {
        up: true,
        uv: (plan == UvPlan::BuiltIn).then_some(true),
        pin: if plan == UvPlan::Pin { pin } else { None },
        ..probe_args(request)
    }
}

/// The creation request: a non-discoverable P-256 (or Ed25519) credential
/// for the approver, the approver's existing credentials excluded.
pub fn credential_args<'a>(
    request: &CredentialRequest,
    plan: UvPlan,
    pin: Option<&'a str>,
) -> MakeCredentialArgs<'a> {
    MakeCredentialArgs {
        rpid: request.rp_id.clone(),
        challenge: request.client_data_json.clone(),
        pin: if plan == UvPlan::Pin { pin } else { None },
        key_types: vec![
            CredentialSupportedKeyType::Ecdsa256,
            CredentialSupportedKeyType::Ed25519,
        ],
        uv: (plan == UvPlan::BuiltIn).then_some(true),
        exclude_list: request
            .exclude_credentials
            .iter()
            .map(|id| id.as_bytes().to_vec())
            .collect(),
        user_entity: Some(PublicKeyCredentialUserEntity {
            id: request.user_handle.clone(),
            name: request.user_name.clone(),
            display_name: request.user_name.clone(),
        }),
        rk: Some(false),
        extensions: None,
    }
}

/// The attestationObject (WebAuthn 6.5) for what `ctap-hid-fido2` parsed.
pub fn attestation_object(attestation: &Attestation) -> Vec<u8> {
    let mut statement = Vec::new();
    match attestation.fmt.as_str() {
        "none" => {}
        "fido-u2f" => {
            statement.push(("sig", AttestationObject::bytes(&attestation.attstmt_sig)));
            statement.push(("x5c", AttestationObject::chain(&attestation.attstmt_x5c)));
        }
        _ => {
            statement.push(("alg", AttestationObject::integer(attestation.attstmt_alg.into())));
            statement.push(("sig", AttestationObject::bytes(&attestation.attstmt_sig)));
            if !attestation.attstmt_x5c.is_empty() {
                statement.push(("x5c", AttestationObject::chain(&attestation.attstmt_x5c)));
            }
        }
    }
    AttestationObject::encode(&attestation.fmt, statement, &attestation.auth_data)
}

/// The CTAP status inside one of `ctap-hid-fido2`'s error texts.
fn status_in(text: &str) -> Option<u8> {
    let at = text.find("err = 0x")? + "err = 0x".len();
    u8::from_str_radix(text.get(at..at + 2)?, 16).ok()
}

/// What `ctap-hid-fido2` reported, as a person understands it.
/// `pin_retries` asks the key how many PIN attempts are left (only called
/// after a wrong PIN).
pub fn map_error(error: &anyhow::Error, pin_retries: impl FnOnce() -> Option<u32>) -> AuthnError {
    let text = format!("{error:#}");
    if text.contains("FIDO device not found") {
        return AuthnError::NotFound;
    }
    if text.starts_with("read err") || text.contains("hidapi") || text.contains("Failed opening") {
        return AuthnError::Removed;
    }
    match status_in(&text) {
        // The read error ctap-hid-fido2 reports with its own 0xFE.
        Some(0xFE) => AuthnError::Removed,
        Some(code) if code == crate::ctap::status::PIN_INVALID => {
            crate::ctap::status_error(code, pin_retries())
        }
        Some(code) => crate::ctap::status_error(code, None),
        None => AuthnError::Device(format!("the security key failed: {text}")),
    }
}

/// The USB security key authenticator.
#[derive(Debug, Default)]
pub struct SecurityKey {}

impl SecurityKey {
    pub fn new() -> Self {
        Self {}
    }
}

fn config() -> LibCfg {
    let mut cfg = LibCfg::init();
    // The library prints "touch the sensor" on stdout by default; Tapprove
    // says it through the prompt instead.
    cfg.enable_keep_alive_msg = false;
    cfg.enable_log = false;
    cfg
}

fn devices() -> Result<Vec<HidParam>, AuthnError> {
    let found: Vec<HidParam> = ctap_hid_fido2::get_fidokey_devices()
        .into_iter()
        .map(|d| d.param)
        .collect();
    if found.is_empty() {
        return Err(AuthnError::NotFound);
    }
    Ok(found)
}

fn open(param: &HidParam) -> Result<FidoKeyHid, AuthnError> {
    FidoKeyHidFactory::create_by_params(std::slice::from_ref(param), &config())
        .map_err(|e| map_error(&e, || None))
}

fn retries(key: &FidoKeyHid) -> Option<u32> {
    key.get_pin_retries().ok().and_then(|n| u32::try_from(n).ok())
}

fn info_options(key: &FidoKeyHid) -> Result<Vec<(String, bool)>, AuthnError> {
    key.get_info()
        .map(|i| i.options)
        .map_err(|e| map_error(&e, || None))
}

/// Asks for the PIN when the plan needs one.
fn pin_for(
    key: &FidoKeyHid,
    plan: UvPlan,
    prompt: &dyn UserPrompt,
) -> Result<Option<Zeroizing<String>>, AuthnError> {
    if plan != UvPlan::Pin {
        return Ok(None);
    }
    let attempts_left = retries(key);
    if attempts_left == Some(0) {
        return Err(AuthnError::PinBlocked);
    }
    prompt
        .pin(&PinRequest {
            authenticator: "your security key".into(),
            attempts_left,
        })
        .map(Some)
        .ok_or(AuthnError::Cancelled)
}

/// Plans user verification on `key`, asks the PIN if the plan needs one,
/// and, unless the person cancelled meanwhile, tells them to touch it.
fn ready_for_touch(
    key: &FidoKeyHid,
    wanted: UserVerification,
    prompt: &dyn UserPrompt,
) -> Result<(UvPlan, Option<Zeroizing<String>>), AuthnError> {
    let plan = plan_user_verification(wanted, &info_options(key)?)?;
    let pin = pin_for(key, plan, prompt)?;
    if prompt.cancelled() {
        return Err(AuthnError::Cancelled);
    }
    prompt.show(Prompt::TouchKey);
    Ok((plan, pin))
}

/// Waits for the person to touch one of several keys (CTAP 2.1
/// `authenticatorSelection`), and returns that key.
fn select(params: Vec<HidParam>, prompt: &dyn UserPrompt) -> Result<HidParam, AuthnError> {
    if params.len() == 1 {
        return params.into_iter().next().ok_or(AuthnError::NotFound);
    }
    prompt.show(Prompt::SelectKey);
    let (sender, chosen) = mpsc::channel();
    for param in params {
        let sender = sender.clone();
        std::thread::spawn(move || {
            if let Ok(key) = open(&param)
                && key.selection().is_ok()
            {
                let _ = sender.send(param);
            }
        });
    }
    drop(sender);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if prompt.cancelled() {
            return Err(AuthnError::Cancelled);
        }
        match chosen.recv_timeout(Duration::from_millis(200)) {
            Ok(param) => return Ok(param),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(AuthnError::NotFound),
            Err(mpsc::RecvTimeoutError::Timeout) if std::time::Instant::now() > deadline => {
                return Err(AuthnError::Timeout);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

fn raw_assertion(assertion: Assertion) -> RawAssertion {
    RawAssertion {
        credential_id: Base64Url::new(assertion.credential_id),
        authenticator_data: assertion.auth_data,
        signature: assertion.signature,
        user_handle: (!assertion.user.id.is_empty()).then_some(assertion.user.id),
        client_data_json: None,
    }
}

impl Authenticator for SecurityKey {
    fn kind(&self) -> AuthenticatorKind {
        AuthenticatorKind::SecurityKey
    }

    fn description(&self) -> String {
        "your security key".into()
    }

    fn holds_any(&self, _rp_id: &str, _credential_ids: &[Base64Url]) -> Result<Option<bool>, AuthnError> {
        // With no key plugged in, none can hold it (so the next
        // authenticator is tried); otherwise only the key knows, and
        // get_assertion asks it silently first.
        Ok(ctap_hid_fido2::get_fidokey_devices().is_empty().then_some(false))
    }

    fn make_credential(
        &self,
        request: &CredentialRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<NewCredential, AuthnError> {
        let param = select(devices()?, prompt)?;
        let key = open(&param)?;
        let (plan, pin) = ready_for_touch(&key, request.user_verification, prompt)?;
        let args = credential_args(request, plan, pin.as_ref().map(|p| p.as_str()));
        let attestation = key
            .make_credential_with_args(&args)
            .map_err(|e| map_error(&e, || retries(&key)))?;
        let kind = AuthenticatorKind::of_aaguid(Aaguid(
            attestation.aaguid.as_slice().try_into().unwrap_or([0; 16]),
        ));
        Ok(NewCredential {
            credential_id: Base64Url::new(attestation.credential_descriptor.id.clone()),
            attestation_object: attestation_object(&attestation),
            kind,
            client_data_json: None,
        })
    }

    fn get_assertion(
        &self,
        request: &AssertionRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<RawAssertion, AuthnError> {
        let probe = probe_args(request);
        let mut holder = None;
        for param in devices()? {
            let key = open(&param)?;
            match key.get_assertion_with_args(&probe) {
                Ok(_) => {
                    holder = Some(key);
                    break;
                }
                Err(e) => match map_error(&e, || None) {
                    AuthnError::NoMatchingCredential => {}
                    other => return Err(other),
                },
            }
        }
        let key = holder.ok_or(AuthnError::NoMatchingCredential)?;
        let (plan, pin) = ready_for_touch(&key, request.user_verification, prompt)?;
        let mut assertions = key
            .get_assertion_with_args(&assertion_args(request, plan, pin.as_ref().map(|p| p.as_str())))
            .map_err(|e| map_error(&e, || retries(&key)))?;
        if assertions.is_empty() {
            return Err(AuthnError::NoMatchingCredential);
        }
        Ok(raw_assertion(assertions.swap_remove(0)))
    }
}

#[cfg(test)]
mod tests {
    use ctap_hid_fido2::auth_data::Flags;
    use ctap_hid_fido2::public_key_credential_descriptor::PublicKeyCredentialDescriptor;

    use super::*;

    fn assertion_request(uv: UserVerification) -> AssertionRequest {
        AssertionRequest {
            rp_id: "approvals.example.com".into(),
            client_data_json:
                br#"{"type":"webauthn.get","challenge":"AAAA","origin":"https://approvals.example.com"}"#
                    .to_vec(),
            allow_credentials: vec![Base64Url::new(vec![1, 2, 3]), Base64Url::new(vec![4, 5])],
            user_verification: uv,
        }
    }

    fn opts(pairs: &[(&str, bool)]) -> Vec<(String, bool)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn the_probe_asks_for_no_touch_and_no_pin() {
        let args = probe_args(&assertion_request(UserVerification::Required));
        assert!(!args.up);
        assert_eq!(args.uv, None);
        assert!(args.pin.is_none());
        assert_eq!(args.credential_ids, vec![vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(args.rpid, "approvals.example.com");
    }

    #[test]
    fn the_challenge_is_the_client_data_json_so_the_key_signs_its_hash() {
        let request = assertion_request(UserVerification::Preferred);
        let args = assertion_args(&request, UvPlan::PresenceOnly, None);
        assert_eq!(args.challenge, request.client_data_json);
        assert!(args.up);
    }

    #[test]
    fn pin_and_built_in_verification_are_asked_as_planned() {
        let request = assertion_request(UserVerification::Required);
        let with_pin = assertion_args(&request, UvPlan::Pin, Some("1234"));
        assert_eq!((with_pin.pin, with_pin.uv), (Some("1234"), None));
        let built_in = assertion_args(&request, UvPlan::BuiltIn, Some("1234"));
        assert_eq!((built_in.pin, built_in.uv), (None, Some(true)));
        let presence = assertion_args(&request, UvPlan::PresenceOnly, Some("1234"));
        assert_eq!((presence.pin, presence.uv), (None, None));
    }

    #[test]
    fn the_plan_follows_the_keys_options() {
        let bio = opts(&[("uv", true), ("clientPin", true)]);
        let pin = opts(&[("clientPin", true)]);
        let unset = opts(&[("clientPin", false)]);
        let bare = opts(&[("up", true)]);
        assert_eq!(
            plan_user_verification(UserVerification::Required, &bio),
            Ok(UvPlan::BuiltIn)
        );
        assert_eq!(
            plan_user_verification(UserVerification::Required, &pin),
            Ok(UvPlan::Pin)
        );
        assert_eq!(
            plan_user_verification(UserVerification::Preferred, &pin),
            Ok(UvPlan::Pin)
        );
        assert_eq!(
            plan_user_verification(UserVerification::Preferred, &bare),
            Ok(UvPlan::PresenceOnly)
        );
        assert_eq!(
            plan_user_verification(UserVerification::Discouraged, &bio),
            Ok(UvPlan::PresenceOnly)
        );
        assert_eq!(
            plan_user_verification(UserVerification::Required, &unset),
            Err(AuthnError::PinNotSet)
        );
        assert!(matches!(
            plan_user_verification(UserVerification::Required, &bare),
            Err(AuthnError::UserVerificationUnavailable(_))
        ));
    }

    #[test]
    fn enrolment_excludes_existing_credentials_and_makes_no_resident_key() {
        let request = CredentialRequest {
            rp_id: "approvals.example.com".into(),
            user_name: "bob".into(),
            user_handle: vec![9; 16],
            client_data_json: b"{}".to_vec(),
            exclude_credentials: vec![Base64Url::new(vec![7, 7])],
            user_verification: UserVerification::Required,
            label: "yubikey".into(),
        };
        let args = credential_args(&request, UvPlan::Pin, Some("4321"));
        assert_eq!(args.exclude_list, vec![vec![7, 7]]);
        assert_eq!(args.rk, Some(false));
        assert_eq!(args.pin, Some("4321"));
        assert_eq!(args.challenge, b"{}".to_vec());
        let user = args.user_entity.as_ref().map(|u| (u.id.clone(), u.name.clone()));
        assert_eq!(user, Some((vec![9; 16], "bob".to_owned())));
        assert!(matches!(args.key_types[0], CredentialSupportedKeyType::Ecdsa256));
    }

    #[test]
    fn errors_from_the_library_text_become_errors_a_person_understands() {
        let e = |s: &str| anyhow::anyhow!(s.to_owned());
        assert_eq!(
            map_error(&e("FIDO device not found."), || None),
            AuthnError::NotFound
        );
        assert_eq!(
            map_error(
                &e("response_status err = 0x31 CTAP2_ERR_PIN_INVALID   PIN Invalid."),
                || Some(3)
            ),
            AuthnError::PinInvalid { attempts_left: 3 }
        );
        assert_eq!(
            map_error(
                &e("response_status err = 0x32 CTAP2_ERR_PIN_BLOCKED PIN Blocked."),
                || None
            ),
            AuthnError::PinBlocked
        );
        assert_eq!(
            map_error(
                &e("response_status err = 0x3C CTAP2_ERR_UV_BLOCKED built-in user verification is disabled."),
                || None
            ),
            AuthnError::UvBlocked
        );
        assert_eq!(
            map_error(
                &e("response_status err = 0x2E CTAP2_ERR_NO_CREDENTIALS    No valid credentials provided."),
                || None
            ),
            AuthnError::NoMatchingCredential
        );
        assert_eq!(
            map_error(
                &e(
                    "response_status err = 0x2F CTAP2_ERR_USER_ACTION_TIMEOUT   Timeout waiting for user interaction."
                ),
                || None
            ),
            AuthnError::Timeout
        );
        assert_eq!(
            map_error(&e("read err = 0xFE Unknown"), || None),
            AuthnError::Removed
        );
        assert!(
            matches!(map_error(&e("something else"), || None), AuthnError::Device(m) if m.contains("something else"))
        );
    }

    #[test]
    fn the_attestation_object_is_rebuilt_so_the_enrolment_checks_accept_it() {
        // A real packed self attestation, made by the software authenticator
        // and split into the fields ctap-hid-fido2 reports.
        let store = crate::software::MemoryKeyStore::default();
        let software = crate::software::SoftwareAuthenticator::new(
            &store,
            tapprove_proto::UtcTime::parse("2026-01-01T00:00:00Z").unwrap_or_else(|_| unreachable!()),
        );
        let client_data =
            tapprove_core::canonical::creation_client_data_json(&[5; 32], "https://approvals.example.com");
        let made = software
            .make_credential(
                &CredentialRequest {
                    rp_id: "approvals.example.com".into(),
                    user_name: "bob".into(),
                    user_handle: vec![1; 16],
                    client_data_json: client_data.clone(),
                    exclude_credentials: vec![],
                    user_verification: UserVerification::Discouraged,
                    label: "l".into(),
                },
                &crate::prompt::tests::Silent,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let parsed = AttestationObject::parse(&made.attestation_object).unwrap_or_else(|e| panic!("{e}"));
        let (alg, sig) = parsed.packed_signature().unwrap_or_else(|| panic!("packed"));
        let split = Attestation {
            fmt: "packed".into(),
            rpid_hash: vec![],
            flags: Flags::default(),
            sign_count: 0,
            aaguid: vec![],
            credential_descriptor: PublicKeyCredentialDescriptor {
                id: made.credential_id.as_bytes().to_vec(),
                ctype: String::new(),
            },
            credential_publickey: Default::default(),
            extensions: vec![],
            auth_data: parsed.auth_data_bytes.clone(),
            attstmt_alg: i32::try_from(alg).unwrap_or_else(|_| unreachable!()),
            attstmt_sig: sig,
            attstmt_x5c: vec![],
        };
        let rebuilt = attestation_object(&split);
        let again = AttestationObject::parse(&rebuilt).unwrap_or_else(|e| panic!("{e}"));
        let hash = tapprove_core::canonical::sha256(&client_data);
        assert_eq!(
            again.verify(&hash),
            Ok(tapprove_core::webauthn::AttestationFormat::PackedSelf)
        );
        let mut tampered = split.clone();
        tampered.attstmt_sig[10] ^= 1;
        let bad = AttestationObject::parse(&attestation_object(&tampered)).unwrap_or_else(|e| panic!("{e}"));
        assert!(bad.verify(&hash).is_err());
    }
}
