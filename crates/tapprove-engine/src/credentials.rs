//! The signed-in approver's own credentials: enrolling a new one (through
//! the enrolment service, or as a request file an admin registers),
//! listing, renaming and revoking them, and confirming a new machine's
//! pending key with one that already signs. Both faces call these; the
//! ceremonies and their rollbacks live in `enrol.rs` and `keys.rs`.
//!
//! Where the danger is: the service takes the approver's name from AWS
//! (and an ID token), never from what these send; and a credential that
//! failed any step is taken back from the authenticator and the registry.

use tapprove_authn::software::SoftwareKeyInfo;
use tapprove_authn::{Authenticator, UserPrompt};
use tapprove_proto::Base64Url;
use tapprove_proto::enrolment::{CredentialAction, CredentialsAnswer, EnrolmentReceipt, EnrolmentRequest};

use crate::Engine;
use crate::enrol::{self, Endpoint};
use crate::error::{EngineError, Result};
use crate::keys::{self, AuthenticatorChoice, KeySpec, Signer};

/// The authenticator a new credential will be made on, for the signed-in
/// approver, with the credentials it must not make twice. Made by
/// [`Engine::enroller`]; a face reads its description for the prompt.
pub struct Enroller {
    choice: AuthenticatorChoice,
    authenticator: Box<dyn Authenticator>,
    /// The approver's credentials already registered or on this machine.
    exclude: Vec<Base64Url>,
    /// The approver, as STS named them.
    user: String,
}

impl Enroller {
    pub fn choice(&self) -> AuthenticatorChoice {
        self.choice
    }

    /// The approver the credential is for, as STS named them.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// What the person should look for: "security key", "Touch ID", ...
    pub fn description(&self) -> String {
        self.authenticator.description()
    }

    /// An enroller over any authenticator, for tests that need one that
    /// fails (`test-seam`): a face gets its enroller from
    /// [`Engine::enroller`], which applies the organisation's rules and
    /// asks STS who enrols.
    #[cfg(any(test, feature = "test-seam"))]
    pub fn for_test(choice: AuthenticatorChoice, authenticator: Box<dyn Authenticator>, user: &str) -> Self {
        Self {
            choice,
            authenticator,
            exclude: Vec::new(),
            user: user.to_owned(),
        }
    }
}

impl std::fmt::Debug for Enroller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enroller")
            .field("choice", &self.choice)
            .field("authenticator", &self.authenticator.description())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// What a new credential is called and whether a software key gets a PIN.
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    pub label: &'a str,
    /// A PIN on a software key (`tapprove enroll --with-pin`).
    pub with_pin: bool,
}

impl Engine {
    /// The authenticator `choice` names (the settings' default when
    /// `None`; software keys in the settings' key store), for the signed-in
    /// approver.
    pub async fn enroller(&self, choice: Option<AuthenticatorChoice>) -> Result<Enroller> {
        let choice = choice.unwrap_or_else(|| AuthenticatorChoice::default_for(self.config()));
        let user = self.approver().await?;
        let store = self.key_store()?;
        let exclude = keys::exclusions(&*store, self.state_dir(), &user, &self.config().rp_id)?;
        let authenticator = keys::authenticator_for(choice, self.config(), store, self.clock().utc())?;
        Ok(Enroller {
            choice,
            authenticator,
            exclude,
            user,
        })
    }

    fn key_spec<'a>(&'a self, enroller: &'a Enroller, key: &NewKey<'a>) -> Result<KeySpec<'a>> {
        if key.with_pin && enroller.choice != AuthenticatorChoice::Software {
            return Err(EngineError::Invalid(
                "a PIN of Tapprove's own is for the software authenticator; security keys and platform authenticators use their own PIN or biometrics".into(),
            ));
        }
        Ok(KeySpec {
            user: &enroller.user,
            rp_id: &self.config().rp_id,
            label: key.label,
            user_verification: enroller.choice.user_verification(self.config(), key.with_pin),
            exclude: enroller.exclude.clone(),
        })
    }

    /// Makes a credential and registers it with `service`, which binds it
    /// to the caller's AWS identity; a first test signature confirms it.
    /// Whatever step fails, what was done is undone. Blocks while the
    /// authenticator asks for a touch or a PIN.
    pub async fn enrol(
        &self,
        service: &Endpoint,
        enroller: &Enroller,
        key: NewKey<'_>,
        prompt: &dyn UserPrompt,
    ) -> Result<EnrolmentReceipt> {
        let spec = self.key_spec(enroller, &key)?;
        enrol::enrol(
            enrol::Service {
                aws: self.aws(),
                endpoint: service,
                state_dir: self.state_dir(),
            },
            &*enroller.authenticator,
            spec,
            prompt,
        )
        .await
    }

    /// Makes a credential and hands its enrolment request (JSON) to
    /// `write`, for an admin to register (`tapprove admin register`). If
    /// `write` fails (its error says what could not be written), the
    /// credential is taken back from the authenticator.
    pub fn enrolment_request(
        &self,
        enroller: &Enroller,
        key: NewKey<'_>,
        prompt: &dyn UserPrompt,
        write: impl FnOnce(&str) -> std::result::Result<(), String>,
    ) -> Result<EnrolmentRequest> {
        let spec = self.key_spec(enroller, &key)?;
        let new = keys::new_credential(&*enroller.authenticator, spec, prompt)?;
        let request = enrol::enrolment_request(&enroller.user, key.label, &self.config().rp_id, &new);
        let written = serde_json::to_string_pretty(&request)
            .map_err(|e| e.to_string())
            .and_then(|text| write(&text));
        match written {
            Ok(()) => Ok(request),
            Err(e) => Err(enrol::forget(
                &*enroller.authenticator,
                &new.created.credential_id,
                EngineError::Io(e),
            )),
        }
    }

    /// Lists, renames, revokes or withdraws one of the approver's own
    /// credentials through `service`; answers their credentials after the
    /// action, and remembers them on this machine (which authenticator to
    /// ask when signing).
    pub async fn own_credentials(
        &self,
        service: &Endpoint,
        action: CredentialAction,
    ) -> Result<CredentialsAnswer> {
        let rp_id = &self.config().rp_id;
        let answer = enrol::own_credentials(self.aws(), service, rp_id, action).await?;
        keys::remember(self.state_dir(), &answer.user, rp_id, &answer.credentials)?;
        Ok(answer)
    }

    /// Confirms the approver's pending credential `pending` (a new
    /// machine's) with `signer`, one of their active credentials on this
    /// machine, at the user verification the settings require.
    pub async fn confirm(
        &self,
        service: &Endpoint,
        pending: &Base64Url,
        signer: &Signer,
        prompt: &dyn UserPrompt,
    ) -> Result<CredentialsAnswer> {
        let user = self.approver().await?;
        let rp_id = &self.config().rp_id;
        let answer = enrol::confirm(
            self.aws(),
            service,
            &*signer.authenticator,
            enrol::ConfirmSpec {
                user: &user,
                rp_id,
                pending,
                signers: signer.credentials.clone(),
                user_verification: self.user_verification(None)?,
            },
            prompt,
            &self.clock().utc(),
        )
        .await?;
        keys::remember(self.state_dir(), &answer.user, rp_id, &answer.credentials)?;
        Ok(answer)
    }

    /// The software keys on this machine for this deployment, of the
    /// signed-in approver when STS can say who that is (offline: all of
    /// them); for when no enrolment service can list the registry's.
    pub async fn software_keys(&self) -> Result<Vec<SoftwareKeyInfo>> {
        let approver = self.approver().await.ok();
        let rp_id = &self.config().rp_id;
        Ok(self
            .key_store()?
            .list()?
            .into_iter()
            .filter(|k| &k.rp_id == rp_id && approver.as_ref().is_none_or(|a| *a == k.user))
            .collect())
    }
}
