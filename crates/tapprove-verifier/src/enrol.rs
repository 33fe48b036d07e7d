//! The enrolment service: a new credential enters the registry under the
//! AWS identity of the caller, never under a name the client claims.
//!
//! One submission ([`EnrolmentRequest`] with its presigned identity) goes
//! through: the wire checks, the relying-party id, the caller's identity
//! ([`CallerCheck`]: bound to this request and this deployment, then
//! claimed once in the ledger), whether that caller is a person of the
//! organisation ([`IdentityRules`]), the name the client believes it has
//! against that identity, the principal the name is bound to, the
//! attestation and the org's authenticator policy
//! ([`check_new_credential`]), and then one conditional write: the user's
//! first credential becomes active if an admin has granted them a group
//! (else it waits), a further one stays pending until an admin confirms it
//! (`tapprove admin credentials USER --activate ID`), and with
//! `require_admin` every one stays pending. Every enrolment is recorded in
//! the audit table under the user; every refusal of a caller STS vouched
//! for under `refused#enrolment` (the name in it is only claimed).

use serde::Serialize;
use serde_json::json;
use tapprove_aws::dynamodb::{ChangedBy, DynamoRegistry, EnrolConflict, RegistryEvent, TableNames};
use tapprove_core::VerifierPolicy;
use tapprove_core::enrolment::check_new_credential;
use tapprove_core::registry::Registry;
use tapprove_proto::UtcTime;
use tapprove_proto::enrolment::{
    CredentialAction, CredentialsAnswer, CredentialsRequest, EnrolmentReceipt, EnrolmentRequest,
    EnrolmentStatus,
};
use tapprove_proto::registry::CredentialStatus;

use crate::identity::{CallerCheck, IdentityRules, Person};
use crate::service_error::ServiceError;

impl EnrolService {
    /// The person behind a request, from its presigned identity: checked,
    /// replayed to STS, claimed once, and admitted by the identity rules.
    /// `claimed` is the name the client believes it has (for the record of
    /// a refusal).
    async fn person_of<T: Serialize>(
        &self,
        request: &T,
        identity: Option<&tapprove_proto::enrolment::PresignedCallerIdentity>,
        id_token: Option<&str>,
        claimed: &str,
        now: &UtcTime,
    ) -> Result<Person, ServiceError> {
        let caller = self.proven_caller(request, identity, claimed, now).await?;
        let person = match self.identity.admit(&caller, id_token, now).await {
            Ok(person) => person,
            Err(refusal) => return Err(self.refusal(&caller, claimed, refusal, now).await),
        };
        // An ID token names its person for one request.
        if let Some((key, expires)) = &person.token_once
            && !self
                .registry
                .claim_once(key, expires)
                .await
                .map_err(ServiceError::registry)?
        {
            let refusal = ServiceError::refused(
                "id_token_reused",
                "this ID token was used before: the client fetches a fresh one for each request (sign in again)",
            );
            return Err(self.refusal(&caller, claimed, refusal, now).await);
        }
        Ok(person)
    }

    /// The caller behind a request, from its presigned identity: checked
    /// against this request and deployment, replayed to STS, and claimed
    /// once. `claimed` is the name the client believes it has (for the
    /// record of a refusal).
    pub(crate) async fn proven_caller<T: Serialize>(
        &self,
        request: &T,
        identity: Option<&tapprove_proto::enrolment::PresignedCallerIdentity>,
        claimed: &str,
        now: &UtcTime,
    ) -> Result<tapprove_aws::sts::CallerIdentity, ServiceError> {
        let identity = identity.ok_or_else(|| {
            ServiceError::new(
                401,
                "identity_required",
                "the request carries no identity proof: use the `tapprove` client while signed in to AWS",
            )
        })?;
        let body = tapprove_core::canonical::proof_body_sha256(request)
            .map_err(|e| ServiceError::bad_request(e.to_string()))?;
        let proven = self.caller.caller(identity, &body, now).await?;
        if !self
            .registry
            .claim_once(&proven.once_key, &proven.expires)
            .await
            .map_err(ServiceError::registry)?
        {
            let refusal = ServiceError::refused(
                "proof_reused",
                "this identity proof was used before: each request needs a fresh one (run the command again)",
            );
            return Err(self.refusal(&proven.caller, claimed, refusal, now).await);
        }
        Ok(proven.caller)
    }

    /// Records a refusal of a caller STS vouched for, and answers it.
    pub(crate) async fn refusal(
        &self,
        caller: &tapprove_aws::sts::CallerIdentity,
        claimed: &str,
        refusal: ServiceError,
        now: &UtcTime,
    ) -> ServiceError {
        let record = json!({
            "event": "refused",
            "at": now.as_str(),
            "code": refusal.code,
            "message": refusal.message,
            "caller_arn": caller.arn,
            "account": caller.account,
            "principal": caller.user_id,
            "claimed_user": claimed,
        });
        eprintln!(
            "tapprove-verifier: refused {} ({}): {}",
            caller.arn, refusal.code, refusal.message
        );
        if let Err(e) = self.registry.record_refusal(now, &record).await {
            eprintln!("tapprove-verifier: could not record that refusal: {e}");
        }
        refusal
    }

    /// Refuses `person` if their name is bound to another AWS principal;
    /// with `bind`, binds it to them if it is bound to none.
    async fn own_name(&self, person: &Person, bind: bool, now: &UtcTime) -> Result<(), ServiceError> {
        let theirs = if bind {
            self.registry
                .bind_principal(&person.name, &person.principal)
                .await
                .map_err(ServiceError::registry)?
        } else {
            let profile = self
                .registry
                .profile(&person.name)
                .await
                .map_err(ServiceError::registry)?;
            profile
                .and_then(|p| p.principal)
                .is_none_or(|bound| bound == person.principal)
        };
        if theirs {
            return Ok(());
        }
        Err(self
            .refusal(
                &caller_of(person),
                &person.name,
                other_principal(&person.name),
                now,
            )
            .await)
    }

    /// Handles one request about the caller's own credentials: list,
    /// rename, revoke, or withdraw one that never signed. Each change is in
    /// the audit trail under the user.
    pub async fn credentials(&self, body: &[u8], now: &UtcTime) -> Result<CredentialsAnswer, ServiceError> {
        let request =
            CredentialsRequest::from_json(body).map_err(|e| ServiceError::bad_request(e.to_string()))?;
        if request.rp_id != self.rp_id {
            return Err(ServiceError::bad_request(format!(
                "this service manages credentials for `{}`, not `{}`: check the relying-party id in your settings",
                self.rp_id, request.rp_id
            )));
        }
        let person = self
            .person_of(
                &request,
                request.identity.as_ref(),
                request.id_token.as_deref(),
                "",
                now,
            )
            .await?;
        let changes = !matches!(request.action, CredentialAction::List);
        self.own_name(&person, changes, now).await?;
        let user = person.name.as_str();
        let unavailable = ServiceError::registry;
        let owned = self.registry.credentials_of(user).await.map_err(unavailable)?;
        let find = |id: &tapprove_proto::Base64Url| {
            owned.iter().find(|c| &c.credential_id == id).ok_or_else(|| {
                ServiceError::new(
                    404,
                    "no_such_credential",
                    format!(
                        "you ({user}) have no credential {id}: list yours with `tapprove authenticators`"
                    ),
                )
            })
        };
        let event = |event, id: &tapprove_proto::Base64Url, label: &str| RegistryEvent {
            by: ChangedBy::User,
            user: user.to_owned(),
            event,
            at: now.clone(),
            caller_arn: person.arn.clone(),
            account: person.account.clone(),
            detail: [
                ("credential_id".to_owned(), json!(id)),
                ("label".to_owned(), json!(label)),
                ("principal".to_owned(), json!(person.principal)),
            ]
            .into_iter()
            .collect(),
        };
        let (event, label) = match &request.action {
            CredentialAction::List => {
                return Ok(CredentialsAnswer {
                    user: user.to_owned(),
                    credentials: owned,
                });
            }
            CredentialAction::Rename { credential_id, label } => {
                find(credential_id)?;
                self.registry
                    .set_label(
                        credential_id.as_bytes(),
                        label,
                        &event("renamed", credential_id, label),
                    )
                    .await
                    .map_err(unavailable)?;
                ("renamed", label.clone())
            }
            CredentialAction::Revoke { credential_id } => {
                let credential = find(credential_id)?;
                if credential.status != CredentialStatus::Revoked {
                    self.registry
                        .revoke_credential(
                            credential_id.as_bytes(),
                            &event("revoked", credential_id, &credential.label),
                        )
                        .await
                        .map_err(unavailable)?;
                }
                ("revoked", credential.label.clone())
            }
            CredentialAction::Withdraw { credential_id } => {
                let credential = find(credential_id)?;
                if credential.last_used.is_some()
                    || credential.counter > 0
                    || credential.status == CredentialStatus::Revoked
                {
                    return Err(ServiceError::new(
                        409,
                        "credential_in_use",
                        "this credential has signed before (or is revoked): revoke it instead of withdrawing it",
                    ));
                }
                // DynamoDB checks "never signed" again in the same write:
                // a verification between the read above and this delete
                // keeps the key.
                let deleted = self
                    .registry
                    .delete_credential(
                        credential_id.as_bytes(),
                        &event("withdrawn", credential_id, &credential.label),
                    )
                    .await
                    .map_err(unavailable)?;
                if !deleted {
                    return Err(ServiceError::new(
                        409,
                        "credential_in_use",
                        "this credential signed (or was revoked) just now: revoke it instead of withdrawing it",
                    ));
                }
                ("withdrawn", credential.label.clone())
            }
            CredentialAction::Confirm { credential_id, by } => {
                if self.require_admin {
                    return Err(ServiceError::refused(
                        "admin_required",
                        "your organisation has every credential confirmed by an admin: ask one to run `tapprove admin credentials USER --activate ID`",
                    ));
                }
                let pending = find(credential_id)?;
                if pending.status != CredentialStatus::Pending {
                    return Err(ServiceError::new(
                        409,
                        "not_pending",
                        format!(
                            "credential `{}` is {:?}, not pending: nothing to confirm",
                            pending.label, pending.status
                        ),
                    ));
                }
                self.check_confirmation(user, pending, by, now).await?;
                let activated = self
                    .registry
                    .activate_pending(
                        credential_id.as_bytes(),
                        &event("confirmed", credential_id, &pending.label)
                            .with_detail("confirmed_by", json!(by.credential_id))
                            .with_detail("key_sha256", json!(pending.key_sha256))
                            .with_detail("signed_at", json!(by.signed_at)),
                    )
                    .await
                    .map_err(unavailable)?;
                if !activated {
                    return Err(ServiceError::new(
                        409,
                        "not_pending",
                        "the credential stopped being pending meanwhile: list yours with `tapprove authenticators`",
                    ));
                }
                ("confirmed", pending.label.clone())
            }
        };
        eprintln!("tapprove-verifier: {event} credential `{label}` of {user}");
        Ok(CredentialsAnswer {
            user: user.to_owned(),
            credentials: self.registry.credentials_of(user).await.map_err(unavailable)?,
        })
    }
}

impl EnrolService {
    /// A confirmation of `user`'s pending credential `pending` by `by`: an
    /// assertion of one of `user`'s active credentials over this
    /// deployment's confirmation challenge, signed within five minutes of
    /// now, passing rule 7 as a decision's assertion would.
    async fn check_confirmation(
        &self,
        user: &str,
        pending: &tapprove_proto::enrolment::CredentialSummary,
        by: &tapprove_proto::enrolment::Confirmation,
        now: &UtcTime,
    ) -> Result<(), ServiceError> {
        let refuse = |message: String| ServiceError::refused("confirmation_refused", message);
        let skew = (now.unix_seconds() - by.signed_at.unix_seconds()).unsigned_abs();
        if skew > 5 * 60 {
            return Err(refuse(format!(
                "the confirmation was signed at {}, more than 5 minutes from now: sign it again",
                by.signed_at
            )));
        }
        // The key the person confirmed is the key that becomes active: the
        // challenge carries the registry's fingerprint of the pending key.
        if by.key_sha256 != pending.key_sha256 {
            return Err(refuse(format!(
                "you confirmed the key {}, but `{}` now has the key {}: compare the fingerprints on both machines, then confirm again",
                by.key_sha256, pending.label, pending.key_sha256
            )));
        }
        let unavailable = |e: tapprove_core::StoreError| ServiceError::new(503, "registry_unavailable", e.0);
        let signer = Registry::credential(&self.registry, by.credential_id.as_bytes())
            .await
            .map_err(unavailable)?;
        let model = match &signer {
            Some(c) => Registry::model(&self.registry, &c.aaguid)
                .await
                .map_err(unavailable)?,
            None => None,
        };
        let signer = tapprove_core::verify::check_credential(&self.policy, user, signer, model.as_ref()).map_err(|r| {
            refuse(format!(
                "{} cannot confirm: {} ({}); confirm with a key that already signs for you, or ask an admin",
                by.credential_id, r.message, r.code
            ))
        })?;
        let challenge = tapprove_core::canonical::confirmation_challenge(
            self.caller.server_id(),
            user,
            &pending.credential_id,
            &pending.key_sha256,
            &by.signed_at,
        )
        .map_err(|e| ServiceError::bad_request(e.to_string()))?;
        let auth_data = tapprove_core::verify::check_assertion_parts(
            &self.policy,
            &tapprove_core::verify::AssertionParts {
                challenge: &challenge,
                authenticator_data: by.authenticator_data.as_bytes(),
                client_data_json: by.client_data_json.as_bytes(),
                signature: by.signature.as_bytes(),
            },
            &signer,
        )
        .map_err(|r| refuse(format!("{} ({})", r.message, r.code)))?;
        // A cloned key betrays itself by its counter here as in a decision.
        if !tapprove_core::registry::counter_advances(signer.counter, auth_data.sign_count) {
            return Err(refuse(format!(
                "the signing key's counter {} is not above the stored {}: the authenticator may be cloned",
                auth_data.sign_count, signer.counter
            )));
        }
        Ok(())
    }
}

/// The enrolment service over one registry.
#[derive(Debug, Clone)]
pub struct EnrolService {
    pub rp_id: String,
    pub policy: VerifierPolicy,
    /// Every enrolment waits for an admin, even the first.
    pub require_admin: bool,
    pub registry: DynamoRegistry,
    pub caller: CallerCheck,
    /// Who counts as a person of the organisation.
    pub identity: IdentityRules,
}

/// The principal `person` as STS told it.
fn caller_of(person: &Person) -> tapprove_aws::sts::CallerIdentity {
    tapprove_aws::sts::CallerIdentity {
        arn: person.arn.clone(),
        account: person.account.clone(),
        user_id: person.principal.clone(),
    }
}

fn other_principal(user: &str) -> ServiceError {
    ServiceError::refused(
        "principal_mismatch",
        format!(
            "the name `{user}` belongs to another AWS principal (the one that enrolled first, or the one an admin named): sign in as yourself, or ask an admin"
        ),
    )
}

impl EnrolService {
    /// The service the settings describe, checking identities against the
    /// STS endpoint of `aws` (the standard chain: `AWS_ENDPOINT_URL_STS`,
    /// `AWS_ENDPOINT_URL`, or the region's endpoint).
    pub fn from_config(
        aws: &aws_config::SdkConfig,
        config: &tapprove_config::Config,
    ) -> Result<Self, String> {
        let endpoint = tapprove_aws::sts::endpoint(aws).map_err(|e| e.to_string())?;
        Ok(Self {
            rp_id: config.rp_id.clone(),
            policy: config.enrolment_policy()?,
            require_admin: config.enrolment.as_ref().is_some_and(|e| e.require_admin),
            registry: DynamoRegistry::new(aws, TableNames::from(&config.tables)),
            caller: CallerCheck::new(&endpoint, &config.enrolment_server_id())?,
            identity: IdentityRules::new(&config.identity.clone().unwrap_or_default(), Some(aws)),
        })
    }

    /// Handles one submission (the request body) at `now`.
    pub async fn enrol(&self, body: &[u8], now: &UtcTime) -> Result<EnrolmentReceipt, ServiceError> {
        let request =
            EnrolmentRequest::from_json(body).map_err(|e| ServiceError::bad_request(e.to_string()))?;
        if request.rp_id != self.rp_id {
            return Err(ServiceError::bad_request(format!(
                "the credential is for `{}`, this service enrols for `{}`: check the relying-party id in your settings",
                request.rp_id, self.rp_id
            )));
        }
        let person = self
            .person_of(
                &request,
                request.identity.as_ref(),
                request.id_token.as_deref(),
                &request.user,
                now,
            )
            .await?;
        let user = person.name.as_str();
        if request.user != user {
            let refusal = ServiceError::identity(format!(
                "the credential was made for `{}`, but you are signed in as `{user}`: create it again while signed in as yourself",
                request.user
            ));
            return Err(self
                .refusal(&caller_of(&person), &request.user, refusal, now)
                .await);
        }
        self.own_name(&person, false, now).await?;
        // What FIDO's metadata says of the model the authenticator claims
        // (the check below decides whether the claim is proven).
        let model = match tapprove_core::enrolment::claimed_aaguid(request.attestation_object.as_bytes()) {
            Some(aaguid) => Registry::model(&self.registry, &aaguid)
                .await
                .map_err(|e| ServiceError::new(503, "registry_unavailable", e.0))?,
            None => None,
        };
        let checked = match check_new_credential(
            &self.policy,
            request.challenge.as_bytes(),
            request.client_data_json.as_bytes(),
            request.attestation_object.as_bytes(),
            request.credential_id.as_bytes(),
            tapprove_core::enrolment::Judged {
                now,
                model: model.as_ref(),
            },
        ) {
            Ok(checked) => checked,
            Err(e) => {
                // A refusal on the model (not proven, distrusted by FIDO,
                // certified too low) is a refusal of its own (the admin's
                // remedy differs); either way it is audited.
                use tapprove_core::enrolment::EnrolmentError as E;
                let code = match e {
                    E::ModelNotProven { .. } | E::ModelDistrusted { .. } | E::CertificationTooLow { .. } => {
                        e.code()
                    }
                    _ => "attestation_refused",
                };
                let refusal = ServiceError::new(422, code, e.to_string());
                return Err(self.refusal(&caller_of(&person), user, refusal, now).await);
            }
        };
        let attestation = checked.attestation.name();
        let model_proven = checked.model_proven;
        let checked_record = checked.record.clone();
        let record = checked.into_record(user, &request.label, CredentialStatus::Pending);
        // The status the credential gets is added by `enrol`, which writes
        // this record in the same transaction as the credential.
        let audit = RegistryEvent {
            by: ChangedBy::User,
            user: user.to_owned(),
            event: "enrolled",
            at: now.clone(),
            caller_arn: person.arn.clone(),
            account: person.account.clone(),
            detail: [
                ("principal", json!(person.principal)),
                ("credential_id", json!(record.credential_id)),
                ("label", json!(record.label)),
                ("kind", json!(record.kind)),
                ("aaguid", json!(record.aaguid.to_string())),
                ("attestation", json!(attestation)),
                ("model_proven", json!(model_proven)),
                ("trust_path", json!(checked_record.trust_path)),
                ("fido_status", json!(checked_record.fido_status)),
                // The registration itself, so an auditor can check its
                // attestation again (`tapprove verify --evidence`).
                (
                    "registration",
                    json!({
                        "attestation_object": request.attestation_object,
                        "client_data_json": request.client_data_json,
                    }),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        };
        let status = match self
            .registry
            .enrol(&record, now, !self.require_admin, &person.principal, &audit)
            .await
            .map_err(ServiceError::registry)?
        {
            Ok(CredentialStatus::Active) => EnrolmentStatus::Active,
            Ok(_) => EnrolmentStatus::Pending,
            Err(EnrolConflict::OtherPrincipal) => {
                return Err(self
                    .refusal(&caller_of(&person), user, other_principal(user), now)
                    .await);
            }
            Err(EnrolConflict::AlreadyRegistered | EnrolConflict::NotFirst) => {
                return Err(ServiceError::new(
                    409,
                    "already_registered",
                    "this credential is already registered: nothing to do",
                ));
            }
        };
        eprintln!(
            "tapprove-verifier: enrolled `{}` for {user} ({})",
            record.label,
            match status {
                EnrolmentStatus::Active => "active",
                EnrolmentStatus::Pending => "pending an admin",
            }
        );
        Ok(EnrolmentReceipt {
            user: user.to_owned(),
            credential_id: record.credential_id,
            label: record.label,
            status,
        })
    }
}
