//! Touch ID: one P-256 key in the Mac's Secure Enclave per credential,
//! modelled on Teleport's `tsh` (`lib/auth/touchid`), with the
//! `security-framework` crate (no unsafe code, as everywhere in this crate).
//!
//! - Enrolment creates the key with `SecKeyCreateRandomKey` in the Secure
//!   Enclave, usable on this Mac only, while unlocked, and only after Touch
//!   ID matches a fingerprint of the *current* set (private-key usage +
//!   biometry-current-set): adding or removing a finger voids the key, so a
//!   new fingerprint never inherits approval power.
//! - The credential id is 24 random bytes then 8 bytes of SHA-256 over the
//!   relying party id; the key's keychain label is `tapprove/v1 <id>`.
//!   Lookups are exact label searches, which never prompt. (`tsh` keeps the
//!   id in the application tag and the RP and user in the label;
//!   `security-framework` 3 can neither set the tag nor search a label
//!   prefix, so the RP is bound through the id and the user is not stored:
//!   assertions carry no user handle, which WebAuthn allows when the
//!   relying party names the credentials.)
//! - The Secure Enclave gives no attestation certificate. As in `tsh`, the
//!   new credential signs a `packed` self attestation: that is the Touch ID
//!   check which makes the UV flag true at enrolment and proves the key
//!   works; a cancelled or failed check deletes the key again.
//! - Flags are UP and UV: the access control makes the Secure Enclave refuse
//!   to sign without a matching fingerprint. The signature counter is
//!   always 0: the Secure Enclave keeps none, and 0 tells the relying party
//!   not to expect one (WebAuthn section 6.1.1).
//!
//! Needs a signed app: Secure Enclave keys live in the data-protection
//! keychain, which only code signed with a `keychain-access-groups`
//! entitlement may use (`errSecMissingEntitlement`, -34018, otherwise), so
//! an unsigned `cargo run` binary gets [`AuthnError::Unavailable`].
//!
//! Unverified here: this project's own CI runs on Linux. It is written
//! against `security-framework` 3.7 and built, and tested on interactive
//! runners, by `.github/workflows/platforms.yml`.

use core_foundation::error::CFError;
use p256::ecdsa::VerifyingKey;
use rand_core::{OsRng, RngCore};
use security_framework::access_control::{ProtectionMode, SecAccessControl};
use security_framework::base::Error as OsStatusError;
use security_framework::item::{ItemSearchOptions, KeyClass, Limit, Location, Reference, SearchResult};
use security_framework::key::{Algorithm, GenerateKeyOptions, KeyType, SecKey, Token};
use security_framework::passwords::AccessControlOptions;
use sha2::{Digest, Sha256};
use tapprove_core::webauthn::{AttestationObject, CoseKey, Flags};
use tapprove_proto::Base64Url;
use tapprove_proto::registry::{AuthenticatorKind, TOUCH_ID_AAGUID};

use crate::authenticator::{
    AssertionRequest, Authenticator, AuthnError, CredentialRequest, NewCredential, RawAssertion,
};
use crate::prompt::{Prompt, UserPrompt};

const LABEL_PREFIX: &str = "tapprove/v1 ";
const ID_LEN: usize = 32;
const RP_TAG_LEN: usize = 8;
const ES256: i64 = -7;

// OSStatus codes (Security framework) and LAError codes (LocalAuthentication).
const ERR_USER_CANCELED: i64 = -128;
const ERR_UNIMPLEMENTED: i64 = -4;
const ERR_NOT_AVAILABLE: i64 = -25291;
const ERR_AUTH_FAILED: i64 = -25293;
const ERR_ITEM_NOT_FOUND: i64 = -25300;
const ERR_INTERACTION_NOT_ALLOWED: i64 = -25308;
const ERR_MISSING_ENTITLEMENT: i64 = -34018;
const LA_DOMAIN: &str = "com.apple.LocalAuthentication";
const LA_FAILED: i64 = -1;
const LA_CANCELLED: [i64; 3] = [-2, -4, -9]; // user, system, app
const LA_PASSCODE_NOT_SET: i64 = -5;
const LA_NOT_AVAILABLE: i64 = -6;
const LA_NOT_ENROLLED: i64 = -7;
const LA_LOCKOUT: i64 = -8;

/// Touch ID, through Secure Enclave keys.
#[derive(Debug, Default)]
pub struct TouchId;

impl TouchId {
    pub fn new() -> Self {
        Self
    }
}

fn rp_tag(rp_id: &str) -> [u8; RP_TAG_LEN] {
    let mut tag = [0u8; RP_TAG_LEN];
    tag.copy_from_slice(&Sha256::digest(rp_id.as_bytes())[..RP_TAG_LEN]);
    tag
}

fn label(credential_id: &[u8]) -> String {
    format!(
        "{LABEL_PREFIX}{}",
        Base64Url::new(credential_id.to_vec()).encode()
    )
}

/// The private key labelled `label`, without prompting.
fn find(label: &str) -> Result<Option<SecKey>, AuthnError> {
    let found = ItemSearchOptions::new()
        .key_class(KeyClass::private())
        .label(label)
        .load_refs(true)
        .limit(Limit::Max(1))
        .search();
    match found {
        Ok(items) => Ok(items.into_iter().find_map(|item| match item {
            SearchResult::Ref(Reference::Key(key)) => Some(key),
            _ => None,
        })),
        Err(e) if i64::from(e.code()) == ERR_ITEM_NOT_FOUND => Ok(None),
        Err(e) => Err(os_status(e)),
    }
}

/// The first of `ids` made here for `rp_id`, with its key.
fn find_any(rp_id: &str, ids: &[Base64Url]) -> Result<Option<(Base64Url, SecKey)>, AuthnError> {
    let tag = rp_tag(rp_id);
    for id in ids
        .iter()
        .filter(|id| id.len() == ID_LEN && id.as_bytes()[ID_LEN - RP_TAG_LEN..] == tag)
    {
        if let Some(key) = find(&label(id.as_bytes()))? {
            return Ok(Some((id.clone(), key)));
        }
    }
    Ok(None)
}

fn authenticator_data(rp_id: &str, flags: u8) -> Vec<u8> {
    let mut data = Vec::with_capacity(37);
    data.extend_from_slice(&Sha256::digest(rp_id.as_bytes()));
    data.push(flags);
    data.extend_from_slice(&0u32.to_be_bytes());
    data
}

/// Signs `auth_data || SHA-256(client_data_json)`: macOS shows the Touch ID
/// sheet. The Secure Enclave returns an X9.62 DER signature.
fn sign(
    key: &SecKey,
    auth_data: &[u8],
    client_data_json: &[u8],
    prompt: &dyn UserPrompt,
) -> Result<Vec<u8>, AuthnError> {
    prompt.show(Prompt::ConfirmPlatform);
    if prompt.cancelled() {
        return Err(AuthnError::Cancelled);
    }
    let mut message = auth_data.to_vec();
    message.extend_from_slice(&Sha256::digest(client_data_json));
    key.create_signature(Algorithm::ECDSASignatureMessageX962SHA256, &message)
        .map_err(cf_error)
}

/// The attestation object for a new key: attested credential data and a
/// `packed` self attestation (the enrolment's Touch ID check).
fn attest(
    key: &SecKey,
    id: &[u8; ID_LEN],
    request: &CredentialRequest,
    prompt: &dyn UserPrompt,
) -> Result<Vec<u8>, AuthnError> {
    let point = key
        .public_key()
        .and_then(|public| public.external_representation())
        .ok_or_else(|| AuthnError::Device("the Secure Enclave returned no public key".into()))?;
    let public = VerifyingKey::from_sec1_bytes(point.bytes())
        .map_err(|_| AuthnError::Device("the Secure Enclave returned a malformed P-256 public key".into()))?;
    let flags = Flags::USER_PRESENT | Flags::USER_VERIFIED | Flags::ATTESTED_CREDENTIAL;
    let mut auth_data = authenticator_data(&request.rp_id, flags);
    auth_data.extend_from_slice(&TOUCH_ID_AAGUID.0);
    auth_data.extend_from_slice(&(ID_LEN as u16).to_be_bytes());
    auth_data.extend_from_slice(id);
    auth_data.extend_from_slice(&CoseKey::encode_es256(&public));
    let signature = sign(key, &auth_data, &request.client_data_json, prompt)?;
    Ok(AttestationObject::encode_packed_self(
        &auth_data, ES256, &signature,
    ))
}

fn map_code(code: i64, local_auth: bool, detail: String) -> AuthnError {
    match (local_auth, code) {
        (false, ERR_USER_CANCELED) => AuthnError::Cancelled,
        (true, c) if LA_CANCELLED.contains(&c) => AuthnError::Cancelled,
        (false, ERR_AUTH_FAILED) | (true, LA_FAILED) => {
            AuthnError::Refused("Touch ID did not recognise the fingerprint".into())
        }
        (true, LA_LOCKOUT) => AuthnError::UvBlocked,
        (true, LA_NOT_ENROLLED | LA_PASSCODE_NOT_SET) => AuthnError::UserVerificationUnavailable("Touch ID".into()),
        (true, LA_NOT_AVAILABLE) | (false, ERR_INTERACTION_NOT_ALLOWED) => AuthnError::Unavailable(
            "Touch ID cannot be used right now (Mac locked, or its lid closed): unlock it or open the lid and try again".into(),
        ),
        (false, ERR_MISSING_ENTITLEMENT) => AuthnError::Unavailable(
            "Touch ID keys need a signed Tapprove app: the app must be signed with the keychain-access-groups entitlement; see docs/admin (macOS signing), or use a security key".into(),
        ),
        (false, ERR_UNIMPLEMENTED | ERR_NOT_AVAILABLE) => AuthnError::Unavailable(
            "this Mac has no Secure Enclave for Touch ID keys: enrol a security key instead".into(),
        ),
        (false, ERR_ITEM_NOT_FOUND) => AuthnError::Refused(
            "the Touch ID key is no longer usable (were fingerprints added or removed?): enrol Touch ID again".into(),
        ),
        _ => AuthnError::Device(detail),
    }
}

fn cf_error(e: CFError) -> AuthnError {
    map_code(e.code() as i64, e.domain() == LA_DOMAIN, e.to_string())
}

fn os_status(e: OsStatusError) -> AuthnError {
    map_code(i64::from(e.code()), false, e.to_string())
}

impl Authenticator for TouchId {
    fn kind(&self) -> AuthenticatorKind {
        AuthenticatorKind::Platform
    }

    fn description(&self) -> String {
        "Touch ID".to_owned()
    }

    fn holds_any(&self, rp_id: &str, credential_ids: &[Base64Url]) -> Result<Option<bool>, AuthnError> {
        Ok(Some(find_any(rp_id, credential_ids)?.is_some()))
    }

    fn make_credential(
        &self,
        request: &CredentialRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<NewCredential, AuthnError> {
        if find_any(&request.rp_id, &request.exclude_credentials)?.is_some() {
            return Err(AuthnError::AlreadyEnrolled);
        }
        let mut id = [0u8; ID_LEN];
        OsRng.fill_bytes(&mut id[..ID_LEN - RP_TAG_LEN]);
        id[ID_LEN - RP_TAG_LEN..].copy_from_slice(&rp_tag(&request.rp_id));
        let access = SecAccessControl::create_with_protection(
            Some(ProtectionMode::AccessibleWhenUnlockedThisDeviceOnly),
            (AccessControlOptions::PRIVATE_KEY_USAGE | AccessControlOptions::BIOMETRY_CURRENT_SET).bits(),
        )
        .map_err(os_status)?;
        let mut options = GenerateKeyOptions::default();
        options
            .set_token(Token::SecureEnclave)
            .set_key_type(KeyType::ec_sec_prime_random())
            .set_size_in_bits(256)
            .set_label(label(&id))
            // Makes the key permanent (kSecAttrIsPermanent); a Secure Enclave
            // key is kept in the data-protection keychain whatever this says.
            .set_location(Location::DefaultFileKeychain)
            .set_access_control(access);
        let key = SecKey::new(&options).map_err(cf_error)?;
        match attest(&key, &id, request, prompt) {
            Ok(attestation_object) => Ok(NewCredential {
                credential_id: Base64Url::new(id.to_vec()),
                attestation_object,
                kind: AuthenticatorKind::Platform,
                client_data_json: None,
            }),
            Err(e) => {
                // No credential without the enrolment's Touch ID check.
                let _ = key.delete();
                Err(e)
            }
        }
    }

    fn get_assertion(
        &self,
        request: &AssertionRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<RawAssertion, AuthnError> {
        // Find the key before asking anything of the person.
        let Some((credential_id, key)) = find_any(&request.rp_id, &request.allow_credentials)? else {
            return Err(AuthnError::NoMatchingCredential);
        };
        let auth_data = authenticator_data(&request.rp_id, Flags::USER_PRESENT | Flags::USER_VERIFIED);
        let signature = sign(&key, &auth_data, &request.client_data_json, prompt)?;
        Ok(RawAssertion {
            credential_id,
            authenticator_data: auth_data,
            signature,
            user_handle: None,
            client_data_json: None,
        })
    }

    fn forget(&self, credential_id: &Base64Url) -> Result<bool, AuthnError> {
        let Some(key) = find(&label(credential_id.as_bytes()))? else {
            return Ok(false);
        };
        key.delete().map_err(os_status)?;
        Ok(true)
    }
}
