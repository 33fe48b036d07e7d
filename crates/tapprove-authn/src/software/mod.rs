//! Tapprove's software authenticator: P-256 keys held by a [`KeyStore`],
//! for Linux desktops without a platform authenticator, for demos and for
//! tests.
//!
//! It reports itself honestly: its own AAGUID ([`SOFTWARE_AAGUID`]), the
//! registry kind `software`, and `packed` self attestation, so an org can
//! refuse it by policy. It sets the user-verified flag only after it checked
//! the credential's PIN against an Argon2id hash, and the user-present flag
//! because every signature follows an explicit request from the person (a
//! CLI command or a click); it cannot prove a touch the way hardware can.
//!
//! Where it is dangerous: the private key is only as safe as its store.
//! [`FileKeyStore`] writes it to a file readable by the owner only: fine for
//! tests and demos, not for protecting production approvals. The OS keychain
//! store is the default for the app and CLI.

mod keychain;
mod store;

pub use keychain::{DEFAULT_SERVICE as KEYCHAIN_SERVICE, KeychainKeyStore};
pub use store::{FileKeyStore, KeyStore, MemoryKeyStore, SoftwareKey, SoftwareKeyInfo};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use tapprove_core::webauthn::{AttestationObject, CoseKey, Flags};
use tapprove_proto::registry::AuthenticatorKind;
use tapprove_proto::{Base64Url, UtcTime};
use zeroize::Zeroizing;

use crate::authenticator::{
    AssertionRequest, Authenticator, AuthnError, CredentialRequest, NewCredential, RawAssertion,
    UserVerification,
};
use crate::prompt::{PinRequest, Prompt, UserPrompt};

pub use tapprove_proto::registry::SOFTWARE_AAGUID;

/// Wrong PIN entries before a software credential locks, as on CTAP2 keys.
pub const PIN_RETRIES: u32 = 8;
/// PIN length bounds, in characters (CTAP2 allows 4 to 63 bytes).
pub const PIN_MIN_CHARS: usize = 4;
pub const PIN_MAX_CHARS: usize = 63;

/// The software authenticator over a key store.
#[derive(Debug)]
pub struct SoftwareAuthenticator<S> {
    store: S,
    /// When the key was created; enrolment passes the clock in.
    now: UtcTime,
}

impl<S: KeyStore> SoftwareAuthenticator<S> {
    pub fn new(store: S, now: UtcTime) -> Self {
        Self { store, now }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    fn find(&self, rp_id: &str, allowed: &[Base64Url]) -> Result<Option<SoftwareKey>, AuthnError> {
        for id in allowed {
            if let Some(key) = self.store.load(id.as_bytes())?
                && key.rp_id == rp_id
            {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// Checks the PIN, counting wrong attempts in the store.
    fn verify_pin(&self, key: &mut SoftwareKey, prompt: &dyn UserPrompt) -> Result<(), AuthnError> {
        let Some(hash) = key.pin_hash.clone() else {
            return Err(AuthnError::UserVerificationUnavailable(format!(
                "software key `{}`",
                key.label
            )));
        };
        if key.pin_retries == 0 {
            return Err(AuthnError::PinBlocked);
        }
        let pin = prompt
            .pin(&PinRequest {
                authenticator: format!("Tapprove software key `{}`", key.label),
                attempts_left: Some(key.pin_retries),
            })
            .ok_or(AuthnError::Cancelled)?;
        let parsed =
            PasswordHash::new(&hash).map_err(|e| AuthnError::Store(format!("stored PIN hash: {e}")))?;
        if Argon2::default().verify_password(pin.as_bytes(), &parsed).is_ok() {
            if key.pin_retries != PIN_RETRIES {
                key.pin_retries = PIN_RETRIES;
                self.store.save(key)?;
            }
            Ok(())
        } else {
            key.pin_retries -= 1;
            self.store.save(key)?;
            if key.pin_retries == 0 {
                Err(AuthnError::PinBlocked)
            } else {
                Err(AuthnError::PinInvalid {
                    attempts_left: key.pin_retries,
                })
            }
        }
    }
}

/// Hashes a new PIN with Argon2id, after checking its length.
fn hash_new_pin(pin: &str) -> Result<String, AuthnError> {
    let chars = pin.chars().count();
    if !(PIN_MIN_CHARS..=PIN_MAX_CHARS).contains(&chars) {
        return Err(AuthnError::Device(format!(
            "a PIN has {PIN_MIN_CHARS} to {PIN_MAX_CHARS} characters"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthnError::Store(format!("hashing the PIN: {e}")))
}

fn authenticator_data(rp_id: &str, flags: u8, counter: u32) -> Vec<u8> {
    let mut data = Vec::with_capacity(37);
    data.extend_from_slice(&Sha256::digest(rp_id.as_bytes()));
    data.push(flags);
    data.extend_from_slice(&counter.to_be_bytes());
    data
}

fn sign(secret: &SigningKey, auth_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
    let mut message = auth_data.to_vec();
    message.extend_from_slice(&Sha256::digest(client_data_json));
    let signature: Signature = secret.sign(&message);
    signature.to_der().as_bytes().to_vec()
}

impl<S: KeyStore> Authenticator for SoftwareAuthenticator<S> {
    fn kind(&self) -> AuthenticatorKind {
        AuthenticatorKind::Software
    }

    fn description(&self) -> String {
        "Tapprove software key".to_owned()
    }

    fn holds_any(&self, rp_id: &str, credential_ids: &[Base64Url]) -> Result<Option<bool>, AuthnError> {
        Ok(Some(self.find(rp_id, credential_ids)?.is_some()))
    }

    fn make_credential(
        &self,
        request: &CredentialRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<NewCredential, AuthnError> {
        if self.find(&request.rp_id, &request.exclude_credentials)?.is_some() {
            return Err(AuthnError::AlreadyEnrolled);
        }
        // A new software credential gets its PIN now, as a platform
        // authenticator verifies its user at creation.
        let pin_hash = match request.user_verification {
            UserVerification::Discouraged => None,
            UserVerification::Required | UserVerification::Preferred => {
                let pin = prompt
                    .pin(&PinRequest {
                        authenticator: format!(
                            "new Tapprove software key `{}` (choose a PIN)",
                            request.label
                        ),
                        attempts_left: None,
                    })
                    .ok_or(AuthnError::Cancelled)?;
                Some(hash_new_pin(&pin)?)
            }
        };
        prompt.show(Prompt::SoftwareSigning {
            label: request.label.clone(),
        });
        if prompt.cancelled() {
            return Err(AuthnError::Cancelled);
        }
        let secret = SigningKey::random(&mut OsRng);
        let mut id = [0u8; 32];
        OsRng.fill_bytes(&mut id);
        let credential_id = Base64Url::new(id.to_vec());

        let mut flags = Flags::USER_PRESENT | Flags::ATTESTED_CREDENTIAL;
        if pin_hash.is_some() {
            flags |= Flags::USER_VERIFIED;
        }
        let mut auth_data = authenticator_data(&request.rp_id, flags, 0);
        auth_data.extend_from_slice(&SOFTWARE_AAGUID.0);
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&CoseKey::encode_es256(secret.verifying_key()));
        let signature = sign(&secret, &auth_data, &request.client_data_json);
        let attestation_object = AttestationObject::encode_packed_self(&auth_data, -7, &signature);

        let key = SoftwareKey {
            credential_id: credential_id.clone(),
            rp_id: request.rp_id.clone(),
            user: request.user_name.clone(),
            user_handle: Base64Url::new(request.user_handle.clone()),
            label: request.label.clone(),
            created: self.now.clone(),
            counter: 0,
            pin_hash,
            pin_retries: PIN_RETRIES,
            secret: Zeroizing::new(secret.to_bytes().into()),
        };
        self.store.save(&key)?;
        Ok(NewCredential {
            credential_id,
            attestation_object,
            kind: AuthenticatorKind::Software,
            client_data_json: None,
        })
    }

    fn get_assertion(
        &self,
        request: &AssertionRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<RawAssertion, AuthnError> {
        // Find the credential before asking anything of the person.
        let Some(mut key) = self.find(&request.rp_id, &request.allow_credentials)? else {
            return Err(AuthnError::NoMatchingCredential);
        };
        let verified = match (request.user_verification, key.pin_hash.is_some()) {
            (UserVerification::Discouraged, _) | (UserVerification::Preferred, false) => false,
            (UserVerification::Required, false) => {
                return Err(AuthnError::UserVerificationUnavailable(format!(
                    "software key `{}`",
                    key.label
                )));
            }
            (UserVerification::Required | UserVerification::Preferred, true) => {
                self.verify_pin(&mut key, prompt)?;
                true
            }
        };
        prompt.show(Prompt::SoftwareSigning {
            label: key.label.clone(),
        });
        if prompt.cancelled() {
            return Err(AuthnError::Cancelled);
        }
        // The counter is stored before the signature exists, so a crash can
        // skip a value but never reuse one.
        key.counter = key
            .counter
            .checked_add(1)
            .ok_or_else(|| AuthnError::Device("signature counter exhausted: enrol a new key".into()))?;
        self.store.save(&key)?;
        let secret = key.signing_key()?;
        let mut flags = Flags::USER_PRESENT;
        if verified {
            flags |= Flags::USER_VERIFIED;
        }
        let auth_data = authenticator_data(&request.rp_id, flags, key.counter);
        let signature = sign(&secret, &auth_data, &request.client_data_json);
        Ok(RawAssertion {
            credential_id: key.credential_id.clone(),
            authenticator_data: auth_data,
            signature,
            user_handle: Some(key.user_handle.as_bytes().to_vec()),
            client_data_json: None,
        })
    }

    fn forget(&self, credential_id: &Base64Url) -> Result<bool, AuthnError> {
        self.store.delete(credential_id.as_bytes())
    }
}
