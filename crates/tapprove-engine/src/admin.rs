//! Admin operations on the registry: group membership, approver queues,
//! registering and revoking credentials. The registry is written only by
//! trusted code: these (run with admin credentials) and the verifier's
//! enrolment service.
//!
//! Every change an admin makes is recorded in the audit table under
//! `admin#<user>`, with the admin's AWS identity as STS names it, in the
//! same DynamoDB transaction as the change itself.

use serde_json::{Map, Value, json};
use tapprove_aws::dynamodb::{ChangedBy, CredentialListing, DynamoRegistry, RegistryEvent, TableNames};
use tapprove_aws::sns::Topics;
use tapprove_aws::sqs::{ApproverQueue, Queues, approver_queue_policy};
use tapprove_aws::sts::{CallerIdentity, Identity};
use tapprove_config::{Config, Source};
use tapprove_core::registry::CredentialRecord;
use tapprove_proto::gate_policy::GatePolicy;
use tapprove_proto::{Base64Url, UtcTime};

use crate::approver_queue_name;
use crate::error::{EngineError, Result, ServiceFailure};
use tapprove_core::enrolment::{Judged, check_new_credential, claimed_aaguid};
use tapprove_core::registry::Registry;
use tapprove_proto::enrolment::EnrolmentRequest;
use tapprove_proto::registry::CredentialStatus;

/// The registry the settings name.
pub fn registry(aws: &aws_config::SdkConfig, config: &Config) -> DynamoRegistry {
    DynamoRegistry::new(aws, TableNames::from(&config.tables))
}

/// What `import_metadata` stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedMetadata {
    pub file: tapprove_proto::metadata::MetadataFile,
    /// Past its `nextUpdate`: FIDO has published a newer BLOB.
    pub stale: bool,
}

/// What `grant` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// False if the user was in the group already (nothing recorded).
    pub added: bool,
    /// The user's queue, for a queue-source group.
    pub queue_url: Option<String>,
}

/// A state machine's name, as Step Functions allows it.
fn check_gate_name(gate: &str) -> Result<()> {
    let ok = (1..=80).contains(&gate.len())
        && gate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(EngineError::Invalid(format!(
            "`{gate}` is not a gate: give its state machine's name (tapprove-prod-approvers-gate), as in `tapprove gate status`"
        )))
    }
}

/// An admin at work: the registry, and who the admin is.
#[derive(Debug)]
pub struct Admin<'a> {
    aws: &'a aws_config::SdkConfig,
    config: &'a Config,
    registry: DynamoRegistry,
    caller: CallerIdentity,
    /// When changes happen, for the audit trail.
    clock: std::sync::Arc<dyn tapprove_proto::Clock>,
}

impl<'a> Admin<'a> {
    /// Asks STS who the admin is (every change records it); times come
    /// from the system clock.
    pub async fn new(aws: &'a aws_config::SdkConfig, config: &'a Config) -> Result<Self> {
        let caller = Identity::new(aws).caller().await?;
        Ok(Self {
            aws,
            config,
            registry: registry(aws, config),
            caller,
            clock: std::sync::Arc::new(tapprove_proto::SystemClock),
        })
    }

    /// The same admin reading time from `clock` (every change is stamped
    /// with it).
    #[must_use]
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn tapprove_proto::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Who the admin is, as STS said.
    pub fn caller(&self) -> &CallerIdentity {
        &self.caller
    }

    fn event(&self, user: &str, event: &'static str, detail: Value) -> RegistryEvent {
        RegistryEvent {
            by: ChangedBy::Admin,
            user: user.to_owned(),
            event,
            at: self.clock.utc(),
            caller_arn: self.caller.arn.clone(),
            account: self.caller.account.clone(),
            detail: match detail {
                Value::Object(fields) => fields,
                _ => Map::new(),
            },
        }
    }

    /// Sets the policy of the gate `gate` (its state machine's name): who
    /// must approve what passes it, whatever the workflow's request asks.
    /// Audited under `admin#gate:<gate>`.
    pub async fn set_gate_policy(&self, gate: &str, policy: &GatePolicy) -> Result<()> {
        check_gate_name(gate)?;
        policy.check().map_err(|e| {
            EngineError::Invalid(format!(
                "{e}: a rule is GROUP:COUNT, e.g. --rule sre:1 --rule security:1"
            ))
        })?;
        let detail = json!({"gate": gate, "policy": policy});
        self.registry
            .put_gate_policy(
                gate,
                policy,
                &self.event(&format!("gate:{gate}"), "gate_policy_set", detail),
            )
            .await?;
        Ok(())
    }

    /// The policy of the gate `gate`, if one was set.
    pub async fn gate_policy(&self, gate: &str) -> Result<Option<GatePolicy>> {
        check_gate_name(gate)?;
        tapprove_core::registry::Registry::gate_policy(&self.registry, gate)
            .await
            .map_err(|e| EngineError::Store(e.0))
    }

    /// Binds `user`'s name to the AWS principal whose stable id
    /// (`GetCallerIdentity`'s `UserId`: `AROA…:<session>` for a role
    /// session, `AIDA…` for an IAM user) is `principal`: from then on only
    /// that principal enrols or manages credentials as `user`. Replaces any
    /// earlier binding (the first enrolment's, or an admin's).
    pub async fn bind(&self, user: &str, principal: &str) -> Result<()> {
        if user.trim().is_empty() {
            return Err(EngineError::Invalid("the user must not be empty".into()));
        }
        let valid = !principal.is_empty()
            && principal.len() <= 256
            && principal
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_:-".contains(c));
        if !valid {
            return Err(EngineError::Invalid(format!(
                "`{principal}` is not an AWS principal id: give GetCallerIdentity's UserId (`aws sts get-caller-identity --query UserId`, as the user), e.g. AROAEXAMPLE:bob@example.com"
            )));
        }
        self.registry
            .set_principal(
                user,
                principal,
                &self.event(user, "bound", json!({"principal": principal})),
            )
            .await?;
        Ok(())
    }

    /// Adds `user` to `group`; for a queue-source group, also creates the
    /// user's queue, gives it the approver queue policy (the group's topic
    /// sends, only `user`'s approver-role session receives), and subscribes
    /// it (again, if the user was in the group already: that repairs a
    /// queue, and brings its policy up to date).
    pub async fn grant(&self, user: &str, group: &str) -> Result<Granted> {
        if user.trim().is_empty() || group.trim().is_empty() {
            return Err(EngineError::Invalid("user and group must not be empty".into()));
        }
        let topic = self.config.sources.iter().find_map(|source| match source {
            Source::Queue { group: g, topic_arn } if g == group => Some(topic_arn),
            _ => None,
        });
        let identity = self.config.identity.clone().unwrap_or_default();
        if let Some(topic) = topic {
            tapprove_aws::sqs::check_queue_owner(user, &identity).map_err(EngineError::Invalid)?;
            self.check_queue_is_ours(user, group, topic).await?;
        }
        let added = self
            .registry
            .grant(user, group, &self.event(user, "granted", json!({"group": group})))
            .await?;
        let mut queue_url = None;
        if let Some(topic_arn) = topic {
            let queues = Queues::new(self.aws);
            let url = queues.create_queue(&approver_queue_name(group, user)).await?;
            let arn = queues.queue_arn(&url).await?;
            let policy = approver_queue_policy(&ApproverQueue {
                queue_arn: &arn,
                topic_arn,
                owner: user,
                identity: &identity,
            })
            .map_err(EngineError::Invalid)?;
            queues.set_policy(&url, &policy).await?;
            Topics::new(self.aws).subscribe_queue(topic_arn, &arn).await?;
            queue_url = Some(url);
        }
        Ok(Granted { added, queue_url })
    }

    /// Queue names (`tapprove-<group>_<user>-<hash>`) are per account and
    /// region, not per core stack: refuses a queue that another topic
    /// (another core stack's group of the same name) already sends to,
    /// before anything is changed, rather than taking it over.
    async fn check_queue_is_ours(&self, user: &str, group: &str, topic: &str) -> Result<()> {
        let queues = Queues::new(self.aws);
        let name = approver_queue_name(group, user);
        let Some(url) = queues.url_of(&name).await? else {
            return Ok(());
        };
        match queues
            .allowed_topics(&url)
            .await?
            .into_iter()
            .find(|t| t != topic)
        {
            None => Ok(()),
            Some(other) => Err(EngineError::Invalid(format!(
                "{user}'s queue `{name}` already receives from `{other}`, not from this group's topic `{topic}`: \
                 another core stack in this account and region has a group named `{group}`. \
                 Group names must be unique per account and region; deploy this group under another name"
            ))),
        }
    }

    /// Removes `user` from `group`.
    pub async fn revoke(&self, user: &str, group: &str) -> Result<()> {
        let event = self.event(user, "ungranted", json!({"group": group}));
        if self.registry.revoke_group(user, group, &event).await? {
            Ok(())
        } else {
            Err(EngineError::Invalid(format!(
                "{user} is not in {group}: nothing to remove (check the user and group names)"
            )))
        }
    }

    /// Registers the credential of an enrolment request (made with
    /// `tapprove enroll --out`) as active, after the same checks the
    /// enrolment service makes (this registry's relying party, the
    /// attestation under the organisation's enrolment policy).
    pub async fn register_request(&self, request: &EnrolmentRequest) -> Result<CredentialRecord> {
        if request.rp_id != self.config.rp_id {
            return Err(EngineError::Invalid(format!(
                "the enrolment request is for `{}`, this registry is for `{}`",
                request.rp_id, self.config.rp_id
            )));
        }
        let policy = self.config.enrolment_policy().map_err(EngineError::Invalid)?;
        let model = match claimed_aaguid(request.attestation_object.as_bytes()) {
            Some(aaguid) => Registry::model(&self.registry, &aaguid)
                .await
                .map_err(|e| EngineError::Store(e.0))?,
            None => None,
        };
        let now = self.clock.utc();
        let checked = check_new_credential(
            &policy,
            request.challenge.as_bytes(),
            request.client_data_json.as_bytes(),
            request.attestation_object.as_bytes(),
            request.credential_id.as_bytes(),
            Judged {
                now: &now,
                model: model.as_ref(),
            },
        )
        .map_err(|e| EngineError::service(ServiceFailure::Refused, e.code(), e.to_string()))?;
        let record = checked.into_record(&request.user, &request.label, CredentialStatus::Active);
        let registration = json!({
            "attestation_object": request.attestation_object,
            "client_data_json": request.client_data_json,
        });
        self.register_with(&record, Some(registration)).await?;
        Ok(record)
    }

    /// Registers a credential that passed the enrolment checks.
    pub async fn register(&self, record: &CredentialRecord) -> Result<()> {
        self.register_with(record, None).await
    }

    /// The same, recording the registration it came from (its
    /// attestationObject and clientDataJSON) for auditors.
    async fn register_with(&self, record: &CredentialRecord, registration: Option<Value>) -> Result<()> {
        let mut detail = json!({
            "credential_id": record.credential_id,
            "label": record.label,
            "kind": record.kind.as_str(),
            "aaguid": record.aaguid.to_string(),
            "status": record.status,
            "model_proven": record.model_proven,
            "attestation": record.attestation,
        });
        if let Some(registration) = registration {
            detail["registration"] = registration;
        }
        let event = self.event(&record.owner, "registered", detail);
        self.registry.put_credential(record, &event.at, &event).await?;
        Ok(())
    }

    /// Verifies a FIDO Metadata Service BLOB against FIDO's root (or
    /// `roots`, for a test BLOB) and stores its models in the registry,
    /// where the verifier reads them at every enrolment and verification.
    /// A BLOB older than the stored one is refused; nothing of a refused
    /// BLOB is stored. Audited under `admin#metadata:fido`.
    pub async fn import_metadata(
        &self,
        blob: &[u8],
        roots: Option<Vec<Vec<u8>>>,
    ) -> Result<ImportedMetadata> {
        let now = self.clock.utc();
        let file = crate::metadata::verify(blob, roots, &now)?;
        let event = self.event(
            "metadata:fido",
            "fido_metadata_imported",
            Value::Object(file.summary()),
        );
        match self.registry.import_metadata(&file, &event).await? {
            Ok(()) => Ok(ImportedMetadata {
                stale: crate::metadata::is_stale(&file, &now),
                file,
            }),
            Err(conflict) => Err(EngineError::service(
                ServiceFailure::Refused,
                "blob_older",
                conflict.to_string(),
            )),
        }
    }

    /// What the registry holds of the last FIDO metadata import.
    pub async fn stored_metadata(&self) -> Result<Option<tapprove_aws::dynamodb::StoredMetadata>> {
        Ok(self.registry.stored_metadata().await?)
    }

    pub async fn credentials(&self, user: &str) -> Result<Vec<CredentialListing>> {
        Ok(self.registry.credentials_of(user).await?)
    }

    /// Confirms `user`'s pending credential (an admin's word that it is theirs).
    pub async fn activate_credential(&self, user: &str, credential_id: &Base64Url) -> Result<()> {
        let event = self.credential_event(user, credential_id, "activated").await?;
        if self
            .registry
            .activate_pending(credential_id.as_bytes(), &event)
            .await?
        {
            Ok(())
        } else {
            Err(EngineError::Invalid(
                "no pending credential with that id: list the user's credentials; a revoked one cannot come back, enrol again"
                    .into(),
            ))
        }
    }

    /// Revokes `user`'s credential: it never verifies again.
    pub async fn revoke_credential(&self, user: &str, credential_id: &Base64Url) -> Result<()> {
        let event = self.credential_event(user, credential_id, "revoked").await?;
        if self
            .registry
            .revoke_credential(credential_id.as_bytes(), &event)
            .await?
        {
            Ok(())
        } else {
            Err(EngineError::Invalid(format!(
                "{user}'s credential {credential_id} is revoked already"
            )))
        }
    }

    /// The record of a change to `user`'s credential; an error if the
    /// credential is not theirs, so a change is never filed under the
    /// wrong user.
    async fn credential_event(
        &self,
        user: &str,
        credential_id: &Base64Url,
        event: &'static str,
    ) -> Result<RegistryEvent> {
        let credential = self
            .registry
            .credentials_of(user)
            .await?
            .into_iter()
            .find(|c| &c.credential_id == credential_id)
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "{user} has no credential {credential_id}: list theirs with `tapprove admin credentials {user}`"
                ))
            })?;
        Ok(self.event(
            user,
            event,
            json!({"credential_id": credential_id, "label": credential.label}),
        ))
    }

    /// Everything `execution`'s outcome rests on, for an auditor to verify
    /// offline (`tapprove verify --evidence`): the request as the gate
    /// held it, every verification the verifier recorded, and for each
    /// person a decision names their groups, the admin changes that gave
    /// them, and their credentials with their enrolment records and
    /// registrations. Task tokens are never included.
    pub async fn evidence(&self, execution: &str) -> Result<tapprove_proto::evidence::Evidence> {
        use tapprove_proto::evidence::{
            Evidence, EvidenceApprover, EvidenceCredential, EvidencePolicy, Registration,
        };
        let sfn = tapprove_aws::sfn::StepFunctions::new(self.aws);
        let state = sfn.describe_execution(execution).await?;
        let request = sfn.latest_wait(execution).await?.map(|w| w.request).ok_or_else(|| {
            EngineError::Invalid(format!(
                "{execution} asked no one yet (no request in its history): there is nothing to give evidence of"
            ))
        })?;
        let audit = self.registry.audit_of(execution).await?;
        let gate = tapprove_proto::Request::from_json(&serde_json::to_vec(&request).unwrap_or_default())
            .map(|r| r.gate())
            .map_err(|e| EngineError::Invalid(format!("the gate's request does not parse: {e}")))?;
        let gate_policy = Registry::gate_policy(&self.registry, &gate)
            .await
            .map_err(|e| EngineError::Store(e.0))?;
        let gate_policy_events = self.registry.admin_events_of(&format!("gate:{gate}")).await?;
        // Each person a decision names, and the credentials they signed with.
        let mut signers: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            std::collections::BTreeMap::new();
        for record in audit.iter().filter(|r| r.get("decision").is_some()) {
            let decision = record["decision"]
                .as_str()
                .and_then(|d| tapprove_proto::Decision::from_json(d.as_bytes()).ok());
            let Some(decision) = decision else { continue };
            signers
                .entry(decision.statement.approver.clone())
                .or_default()
                .insert(decision.assertion.credential_id.encode());
        }
        let mut approvers = std::collections::BTreeMap::new();
        for (name, ids) in signers {
            let groups = self
                .registry
                .profile(&name)
                .await?
                .map(|p| p.groups)
                .unwrap_or_default();
            let admin_events = self.registry.admin_events_of(&name).await?;
            let credential_events = self.registry.enrolments_of(&name).await?;
            let mut credentials = Vec::new();
            for id in ids {
                let Ok(bytes) = Base64Url::decode(&id) else {
                    continue;
                };
                let Some(c) = Registry::credential(&self.registry, bytes.as_bytes())
                    .await
                    .map_err(|e| EngineError::Store(e.0))?
                else {
                    continue;
                };
                // A credential of someone else is not theirs to show.
                if c.owner != name {
                    continue;
                }
                let registration = admin_events
                    .iter()
                    .chain(&credential_events)
                    .filter(|e| e["credential_id"].as_str() == Some(id.as_str()))
                    .find_map(|e| {
                        let r = &e["registration"];
                        Some(Registration {
                            attestation_object: Base64Url::decode(r["attestation_object"].as_str()?).ok()?,
                            client_data_json: Base64Url::decode(r["client_data_json"].as_str()?).ok()?,
                            at: UtcTime::parse(e["at"].as_str()?).ok()?,
                        })
                    });
                credentials.push(EvidenceCredential {
                    credential_id: c.credential_id,
                    public_key: c.public_key,
                    aaguid: c.aaguid,
                    kind: c.kind,
                    label: c.label,
                    status: c.status,
                    model_proven: c.model_proven,
                    attestation: c.attestation,
                    registration,
                });
            }
            approvers.insert(
                name,
                EvidenceApprover {
                    groups,
                    admin_events,
                    credential_events,
                    credentials,
                },
            );
        }
        let policy = self.config.policy();
        Ok(Evidence {
            tapprove: Default::default(),
            exported_at: self.clock.utc(),
            exported_by: self.caller.arn.clone(),
            execution: execution.to_owned(),
            execution_status: state.status,
            request,
            policy: EvidencePolicy {
                rp_id: policy.rp_id,
                extra_origins: policy.extra_origins,
                require_user_verification: policy.require_user_verification,
                allow_self_approval: policy.allow_self_approval,
                allow_software_authenticators: policy.allow_software_authenticators,
                allowed_aaguids: policy.allowed_aaguids,
                accept_self_reported_models: policy.accept_self_reported_models,
                min_certification_level: policy.min_certification_level,
                allowed_kinds: policy.allowed_kinds,
                max_clock_skew_seconds: policy.max_clock_skew_seconds,
            },
            gate_policy,
            gate_policy_events,
            audit,
            approvers,
        })
    }

    /// Everything recorded about `user`: their own credential events
    /// (`user#`, the enrolment service) and admins' changes (`admin#`),
    /// oldest first.
    pub async fn audit_of_user(&self, user: &str) -> Result<Vec<Value>> {
        let mut records = self.registry.enrolments_of(user).await?;
        records.extend(self.registry.admin_events_of(user).await?);
        // By time, not text: `…:00Z` and `…:00.250Z` are both RFC 3339.
        records.sort_by_key(|r| r["at"].as_str().and_then(|t| UtcTime::parse(t).ok()));
        Ok(records)
    }
}

#[cfg(test)]
mod queue_policy_tests {
    use tapprove_aws::sqs::{ApproverQueue, approver_queue_policy, check_queue_owner, policy_topics};
    use tapprove_config::IdentitySettings;

    fn identity(roles: &[&str], iam_users: bool) -> IdentitySettings {
        IdentitySettings {
            accounts: Vec::new(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            iam_users,
            ..IdentitySettings::default()
        }
    }

    const QUEUE: &str = "arn:aws:sqs:eu-west-1:111122223333:tapprove-prod_alice-872213e7";
    const TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:tapprove-prod";

    /// The policy `grant` gives a queue (tapprove_aws fills
    /// deploy/approver-queue-policy.json). The IAM suite (tests/iam/) fills
    /// the template itself and checks it gets this same fixture, so the
    /// policy it evaluates is the one `grant` writes.
    #[test]
    fn the_policy_is_the_fixture_the_iam_suite_evaluates() {
        let identity = identity(&["AWSReservedSSO_*"], false);
        let queue = ApproverQueue {
            queue_arn: QUEUE,
            topic_arn: TOPIC,
            owner: "alice",
            identity: &identity,
        };
        let policy: serde_json::Value =
            serde_json::from_str(&approver_queue_policy(&queue).unwrap()).unwrap();
        let fixture: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/iam/fixtures/alice-queue-policy.json"
        ))
        .unwrap();
        assert_eq!(policy, fixture);
    }

    #[test]
    fn iam_users_add_only_the_owner() {
        let identity = identity(&["Approver"], true);
        let queue = ApproverQueue {
            queue_arn: "arn:aws-us-gov:sqs:us-gov-west-1:444455556666:tapprove-prod_bob-1",
            topic_arn: TOPIC,
            owner: "bob",
            identity: &identity,
        };
        let policy: serde_json::Value =
            serde_json::from_str(&approver_queue_policy(&queue).unwrap()).unwrap();
        let principals = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "OnlyApproverPrincipals")
            .unwrap();
        assert_eq!(
            principals["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
            serde_json::json!([
                "arn:aws-us-gov:iam::444455556666:role/Approver",
                "arn:aws-us-gov:iam::444455556666:role/*/Approver",
                "arn:aws-us-gov:iam::444455556666:user/bob",
            ])
        );
    }

    #[test]
    fn the_topic_is_read_back_from_the_policy() {
        let identity = identity(&["AWSReservedSSO_*"], false);
        let queue = ApproverQueue {
            queue_arn: QUEUE,
            topic_arn: TOPIC,
            owner: "alice",
            identity: &identity,
        };
        let policy = approver_queue_policy(&queue).unwrap();
        assert_eq!(policy_topics(&policy).unwrap(), vec![TOPIC.to_owned()]);
    }

    #[test]
    fn names_that_would_be_wildcards_or_variables_are_refused() {
        let identity = identity(&["AWSReservedSSO_*"], false);
        for owner in ["", "a*", "a?", "${aws:username}", "a b", "a:b", &"x".repeat(65)] {
            let queue = ApproverQueue {
                queue_arn: QUEUE,
                topic_arn: TOPIC,
                owner,
                identity: &identity,
            };
            let err = approver_queue_policy(&queue).unwrap_err();
            assert!(err.contains("cannot own an approver queue"), "{owner}: {err}");
        }
        assert!(check_queue_owner("bob@example.com", &identity).is_ok());
        let err = check_queue_owner("bob", &self::identity(&["Role/x"], false)).unwrap_err();
        assert!(err.contains("`Role/x`"), "{err}");
        let err = check_queue_owner("bob", &self::identity(&[], false)).unwrap_err();
        assert!(err.contains("nobody could read"), "{err}");
    }
}
