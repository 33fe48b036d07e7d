//! The registry, ledger and audit trail in DynamoDB.
//!
//! Three tables, named in configuration:
//!
//! - **registry** (`pk`, `sk`): approvers (`user#<name>` / `profile`, with
//!   their `groups`) and credentials (`cred#<id>` / `credential`, with
//!   `owner`, COSE `public_key`, `counter`, `aaguid`, `kind`, `status`,
//!   `label`, `created`, `last_used`, `model_proven`, `attestation`). A
//!   global secondary index `owner` lists a user's credentials. FIDO
//!   metadata: one item per model (`model#<aaguid>` / `fido`, the
//!   [`ModelRecord`] as JSON in `record`) and the import's summary
//!   (`fido#metadata` / `blob`).
//! - **ledger** (`pk`): single-use claims, `stmt#<challenge>` per verified
//!   statement and `vote#<request hash>#<approver>` per approver and
//!   request, each with an `expires` TTL (after the request's deadline no
//!   statement for it verifies anyway).
//! - **audit** (`pk`, `sk` = `<time>#<event or outcome>#<id>`, the record
//!   as JSON): `exec#<execution>` one item per verification, `user#<name>`
//!   one per self-service credential event, `admin#<name>` one per admin
//!   change to that user. Every registry change is written in one
//!   transaction with its record ([`RegistryEvent`]).
//!
//! [`DynamoRegistry::commit`] is one `TransactWriteItems`: both claims
//! (conditional on not existing), the counter update (conditional on the
//! counter rule and on the credential still being active) and the audit
//! item, so two racing verifications cannot both pass.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ScalarAttributeType, TransactWriteItem, Update,
};
use tapprove_core::StoreError;
use tapprove_core::registry::{
    ApproverRecord, AuditRecord, CredentialRecord, CredentialUse, Ledger, Registry, RequesterRecord,
    UseConflict,
};
use tapprove_proto::metadata::{MetadataFile, ModelRecord};
use tapprove_proto::registry::CredentialStatus;
use tapprove_proto::{Aaguid, Base64Url, UtcTime};

use crate::error::{AwsError, Result, from_sdk};

const SERVICE: &str = "DynamoDB";
const OWNER_INDEX: &str = "owner";

/// How a transaction ended.
enum Committed {
    Yes,
    /// Cancelled; `true` where an item's condition failed.
    No(Vec<bool>),
}

/// Why an enrolment write did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnrolConflict {
    #[error("this credential is already registered")]
    AlreadyRegistered,
    #[error("the user already has enrolled a credential")]
    NotFirst,
    /// The user's name is bound to another AWS principal.
    #[error("the user is bound to another AWS principal")]
    OtherPrincipal,
}

/// What the registry knows of one user's standing, for the enrolment
/// service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The stable id of the AWS principal the name is bound to
    /// (`GetCallerIdentity`'s `UserId`): the first that enrolled, or the one
    /// an admin named.
    pub principal: Option<String>,
    pub groups: BTreeSet<String>,
    /// A credential was enrolled or registered for them.
    pub enrolled: bool,
}

/// Who changed a user's registry entries: where the audit trail files it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    /// The user, through the enrolment service: `user#<name>`.
    User,
    /// An admin (`tapprove admin`): `admin#<name>`.
    Admin,
}

/// A change to one user's registry entries, as the audit trail keeps it:
/// written in the same transaction as the change, so neither happens
/// without the other.
#[derive(Debug, Clone)]
pub struct RegistryEvent {
    pub by: ChangedBy,
    /// The user the change is about.
    pub user: String,
    /// By the user: `enrolled`, `renamed`, `revoked`, `withdrawn`; by an
    /// admin: `granted`, `ungranted`, `registered`, `activated`, `revoked`,
    /// `bound`.
    pub event: &'static str,
    pub at: UtcTime,
    /// Who made it (from STS, never from what a client claims).
    pub caller_arn: String,
    pub account: String,
    /// What changed: `group`, or `credential_id`, `label` and more.
    pub detail: serde_json::Map<String, serde_json::Value>,
}

impl RegistryEvent {
    /// The record as stored and as `tapprove admin audit --user` prints it.
    pub fn record(&self) -> serde_json::Value {
        let mut record = serde_json::json!({
            "event": self.event,
            "at": self.at.as_str(),
            "user": self.user,
            "caller_arn": self.caller_arn,
            "account": self.account,
        });
        if let Some(fields) = record.as_object_mut() {
            fields.extend(self.detail.clone());
        }
        record
    }

    /// The event with one more detail.
    pub fn with_detail(&self, key: &str, value: serde_json::Value) -> Self {
        let mut event = self.clone();
        event.detail.insert(key.to_owned(), value);
        event
    }

    fn put(&self, table: &str) -> Result<TransactWriteItem> {
        let prefix = match self.by {
            ChangedBy::User => "user",
            ChangedBy::Admin => "admin",
        };
        let put = Put::builder()
            .table_name(table)
            .item("pk", s(format!("{prefix}#{}", self.user)))
            .item(
                "sk",
                s(format!(
                    "{}#{}#{}",
                    self.at.as_str(),
                    self.event,
                    Base64Url::new(random_bytes()).encode()
                )),
            )
            .item("record", s(self.record().to_string()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(built)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// Names of the three tables.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableNames {
    pub registry: String,
    pub ledger: String,
    pub audit: String,
}

impl TableNames {
    /// `<prefix>-registry`, `<prefix>-ledger`, `<prefix>-audit`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            registry: format!("{prefix}-registry"),
            ledger: format!("{prefix}-ledger"),
            audit: format!("{prefix}-audit"),
        }
    }
}

impl From<&tapprove_config::Tables> for TableNames {
    fn from(t: &tapprove_config::Tables) -> Self {
        Self {
            registry: t.registry.clone(),
            ledger: t.ledger.clone(),
            audit: t.audit.clone(),
        }
    }
}

/// How an enrolment writes the owner's `enrolled` marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// Only if absent and the owner has a group: an active first credential.
    FirstOfGranted,
    /// Set if absent, else kept.
    Keep,
}

/// Where the enrolment service's refusals are filed in the audit table.
const REFUSED_ENROLMENTS: &str = "refused#enrolment";
/// The sort key of an execution's requester record in the audit table,
/// under `exec#<execution>`: `!` sorts before the records' timestamps, so
/// the request comes first in the execution's trail, as it happened.
const REQUESTED_SK: &str = "!requested";

fn requested_key(execution: &str) -> Item {
    HashMap::from([
        ("pk".into(), s(format!("exec#{execution}"))),
        ("sk".into(), s(REQUESTED_SK)),
    ])
}

/// The registry, ledger and audit trail over DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoRegistry {
    client: Client,
    tables: TableNames,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn user_key(name: &str) -> Item {
    HashMap::from([
        ("pk".into(), s(format!("user#{name}"))),
        ("sk".into(), s("profile")),
    ])
}

fn gate_key(gate: &str) -> Item {
    HashMap::from([
        ("pk".into(), s(format!("gate#{gate}"))),
        ("sk".into(), s("policy")),
    ])
}

fn credential_key(id: &[u8]) -> Item {
    HashMap::from([
        (
            "pk".into(),
            s(format!("cred#{}", Base64Url::new(id.to_vec()).encode())),
        ),
        ("sk".into(), s("credential")),
    ])
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError(format!("registry item lacks string `{name}`")))
}

fn credential_from_item(item: &Item) -> Result<CredentialRecord, StoreError> {
    let bad = |what: &str| StoreError(format!("registry item has an invalid `{what}`"));
    let id = get_s(item, "pk")?
        .strip_prefix("cred#")
        .ok_or_else(|| bad("pk"))?;
    Ok(CredentialRecord {
        credential_id: Base64Url::decode(id).map_err(|_| bad("pk"))?,
        owner: get_s(item, "owner")?.to_owned(),
        public_key: Base64Url::new(
            item.get("public_key")
                .and_then(|v| v.as_b().ok())
                .ok_or_else(|| bad("public_key"))?
                .as_ref()
                .to_vec(),
        ),
        counter: item
            .get("counter")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("counter"))?,
        aaguid: Aaguid::parse(get_s(item, "aaguid")?).map_err(|_| bad("aaguid"))?,
        kind: serde_json::from_value(serde_json::Value::from(get_s(item, "kind")?))
            .map_err(|_| bad("kind"))?,
        status: serde_json::from_value(serde_json::Value::from(get_s(item, "status")?))
            .map_err(|_| bad("status"))?,
        label: get_s(item, "label")?.to_owned(),
        // Records from before it was kept: a claim.
        model_proven: item
            .get("model_proven")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        attestation: item
            .get("attestation")
            .and_then(|v| v.as_s().ok())
            .map(|text| serde_json::from_str(text).map_err(|_| bad("attestation")))
            .transpose()?,
    })
}

fn model_key(aaguid: &Aaguid) -> Item {
    HashMap::from([
        ("pk".into(), s(format!("model#{aaguid}"))),
        ("sk".into(), s("fido")),
    ])
}

fn metadata_key() -> Item {
    HashMap::from([("pk".into(), s("fido#metadata")), ("sk".into(), s("blob"))])
}

fn status_text(status: CredentialStatus) -> &'static str {
    match status {
        CredentialStatus::Active => "active",
        CredentialStatus::Pending => "pending",
        CredentialStatus::Revoked => "revoked",
    }
}

fn store_error(e: AwsError) -> StoreError {
    StoreError(e.to_string())
}

/// A credential as the registry lists it.
pub type CredentialListing = tapprove_proto::enrolment::CredentialSummary;

impl DynamoRegistry {
    pub fn new(config: &aws_config::SdkConfig, tables: TableNames) -> Self {
        Self {
            client: Client::new(config),
            tables,
        }
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Creates the three tables (on-demand billing), if they do not exist.
    pub async fn create_tables(&self) -> Result<()> {
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| AwsError::unexpected(SERVICE, e.to_string()))
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| AwsError::unexpected(SERVICE, e.to_string()))
        };
        let owner_index = GlobalSecondaryIndex::builder()
            .index_name(OWNER_INDEX)
            .key_schema(key("owner", KeyType::Hash)?)
            .key_schema(key("pk", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(built)?;
        let tables = [
            (&self.tables.registry, true, true),
            (&self.tables.ledger, false, false),
            (&self.tables.audit, true, false),
        ];
        for (name, with_sort_key, with_owner_index) in tables {
            let mut create = self
                .client
                .create_table()
                .table_name(name)
                .billing_mode(BillingMode::PayPerRequest)
                .key_schema(key("pk", KeyType::Hash)?)
                .attribute_definitions(attr("pk")?);
            if with_sort_key {
                create = create
                    .key_schema(key("sk", KeyType::Range)?)
                    .attribute_definitions(attr("sk")?);
            }
            if with_owner_index {
                create = create
                    .attribute_definitions(attr("owner")?)
                    .global_secondary_indexes(owner_index.clone());
            }
            match create.send().await {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceInUseException") => {}
                Err(e) => return Err(from_sdk(SERVICE, e)),
            }
        }
        Ok(())
    }

    /// Adds `user` to `group` (creating the user), with the admin's record.
    /// Returns false (and records nothing) if they already were in it.
    pub async fn grant(&self, user: &str, group: &str, audit: &RegistryEvent) -> Result<bool> {
        self.change_groups(
            user,
            group,
            "ADD",
            "attribute_not_exists(#groups) OR NOT contains(#groups, :member)",
            audit,
        )
        .await
    }

    /// Removes `user` from `group`, with the admin's record. Returns false
    /// (and records nothing) if they were not in it.
    pub async fn revoke_group(&self, user: &str, group: &str, audit: &RegistryEvent) -> Result<bool> {
        self.change_groups(user, group, "DELETE", "contains(#groups, :member)", audit)
            .await
    }

    async fn change_groups(
        &self,
        user: &str,
        group: &str,
        action: &str,
        condition: &str,
        audit: &RegistryEvent,
    ) -> Result<bool> {
        let update = Update::builder()
            .table_name(&self.tables.registry)
            .set_key(Some(user_key(user)))
            .update_expression(format!("{action} #groups :g"))
            .condition_expression(condition)
            .expression_attribute_names("#groups", "groups")
            .expression_attribute_values(":g", AttributeValue::Ss(vec![group.to_owned()]))
            .expression_attribute_values(":member", s(group))
            .build()
            .map_err(built)?;
        self.changed(TransactWriteItem::builder().update(update).build(), audit)
            .await
    }

    /// Writes a change and its audit record in one transaction: true if
    /// both were written, false if the change's condition did not hold.
    async fn changed(&self, change: TransactWriteItem, audit: &RegistryEvent) -> Result<bool> {
        match self
            .transact(vec![change, audit.put(&self.tables.audit)?])
            .await?
        {
            Committed::Yes => Ok(true),
            Committed::No(failed) if failed.first() == Some(&true) => Ok(false),
            Committed::No(_) => Err(AwsError::unexpected(
                SERVICE,
                "the change and its audit record were cancelled together; try again",
            )),
        }
    }

    /// Stores a credential that passed the enrolment checks, as an admin
    /// registers it (status as given). Fails if the credential id is
    /// already registered (to anyone). Marks the owner as enrolled, so a
    /// later self-service enrolment is not taken for their first.
    pub async fn put_credential(
        &self,
        record: &CredentialRecord,
        created: &UtcTime,
        audit: &RegistryEvent,
    ) -> Result<()> {
        match self
            .put_with_marker(record, created, Marker::Keep, None, Some(audit))
            .await?
        {
            Ok(()) => Ok(()),
            Err(e) => Err(AwsError::unexpected(SERVICE, e.to_string())),
        }
    }

    /// Self-service enrolment by the AWS principal `principal` (its stable
    /// id). The user's first credential becomes active when an admin has
    /// already granted them a group (trust on first use, but only for a
    /// person the organisation named); any other waits as pending. Decided
    /// atomically by a conditional write of the user's `enrolled` marker, so
    /// two racing first enrolments cannot both become active. The user's
    /// name is bound to `principal` by the first enrolment; another
    /// principal claiming it gets [`EnrolConflict::OtherPrincipal`] and
    /// nothing is written. With `first_may_activate` false (the org
    /// requires an admin for every enrolment) it is always pending.
    /// `audit` (the `enrolled` event) is written with it, its `status` the
    /// one the credential got.
    pub async fn enrol(
        &self,
        record: &CredentialRecord,
        created: &UtcTime,
        first_may_activate: bool,
        principal: &str,
        audit: &RegistryEvent,
    ) -> Result<std::result::Result<CredentialStatus, EnrolConflict>> {
        let audit_as = |status| audit.with_detail("status", status_text(status).into());
        if first_may_activate {
            let active = CredentialRecord {
                status: CredentialStatus::Active,
                ..record.clone()
            };
            let audit = audit_as(CredentialStatus::Active);
            match self
                .put_with_marker(
                    &active,
                    created,
                    Marker::FirstOfGranted,
                    Some(principal),
                    Some(&audit),
                )
                .await?
            {
                Ok(()) => return Ok(Ok(CredentialStatus::Active)),
                Err(EnrolConflict::AlreadyRegistered) => {
                    return Ok(Err(EnrolConflict::AlreadyRegistered));
                }
                // Not first, not granted, or another principal's name: the
                // pending write below tells the last apart.
                Err(EnrolConflict::NotFirst | EnrolConflict::OtherPrincipal) => {}
            }
        }
        let pending = CredentialRecord {
            status: CredentialStatus::Pending,
            ..record.clone()
        };
        let written = self
            .put_with_marker(
                &pending,
                created,
                Marker::Keep,
                Some(principal),
                Some(&audit_as(CredentialStatus::Pending)),
            )
            .await?;
        Ok(match written {
            Ok(()) => Ok(CredentialStatus::Pending),
            Err(EnrolConflict::NotFirst) => Err(EnrolConflict::OtherPrincipal),
            Err(e) => Err(e),
        })
    }

    /// What the registry knows of `user`'s standing (`None`: nothing).
    pub async fn profile(&self, user: &str) -> Result<Option<Profile>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.registry)
            .set_key(Some(user_key(user)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(out.item().map(|item| Profile {
            principal: get_s(item, "principal").ok().map(str::to_owned),
            groups: item
                .get("groups")
                .and_then(|g| g.as_ss().ok())
                .map(|g| g.iter().cloned().collect())
                .unwrap_or_default(),
            enrolled: item.contains_key("enrolled"),
        }))
    }

    /// Sets the policy of the gate `gate` (an admin's decision), with the
    /// admin's record.
    pub async fn put_gate_policy(
        &self,
        gate: &str,
        policy: &tapprove_proto::gate_policy::GatePolicy,
        audit: &RegistryEvent,
    ) -> Result<()> {
        let text = serde_json::to_string(policy).map_err(|e| AwsError::unexpected(SERVICE, e.to_string()))?;
        let mut item = gate_key(gate);
        item.insert("policy".into(), s(text));
        let put = Put::builder()
            .table_name(&self.tables.registry)
            .set_item(Some(item))
            .build()
            .map_err(built)?;
        self.changed(TransactWriteItem::builder().put(put).build(), audit)
            .await
            .map(|_| ())
    }

    /// Binds `user`'s name to the AWS principal `principal`, whatever it
    /// was bound to (an admin's decision: a person who moved to another
    /// permission set), with the admin's record.
    pub async fn set_principal(&self, user: &str, principal: &str, audit: &RegistryEvent) -> Result<()> {
        let update = Update::builder()
            .table_name(&self.tables.registry)
            .set_key(Some(user_key(user)))
            .update_expression("SET principal = :p")
            .expression_attribute_values(":p", s(principal))
            .build()
            .map_err(built)?;
        self.changed(TransactWriteItem::builder().update(update).build(), audit)
            .await
            .map(|_| ())
    }

    /// Binds `user`'s name to the AWS principal `principal` if it is bound
    /// to none yet. Returns false, changing nothing, if it is bound to
    /// another.
    pub async fn bind_principal(&self, user: &str, principal: &str) -> Result<bool> {
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.registry)
            .set_key(Some(user_key(user)))
            .update_expression("SET principal = :p")
            .condition_expression("attribute_not_exists(principal) OR principal = :p")
            .expression_attribute_values(":p", s(principal))
            .send()
            .await;
        match update {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(from_sdk(SERVICE, e)),
        }
    }

    /// Claims a single-use key (an identity proof's signature) until
    /// `expires` (the ledger's TTL then removes it). Returns false if it
    /// was claimed before.
    pub async fn claim_once(&self, key: &str, expires: &UtcTime) -> Result<bool> {
        let item = HashMap::from([
            ("pk".to_owned(), s(key)),
            ("expires".to_owned(), n(expires.unix_seconds())),
        ]);
        self.put_new(&self.tables.ledger, item).await
    }

    /// Writes `item` unless an item with its key exists; false if one did.
    async fn put_new(&self, table: &str, item: Item) -> Result<bool> {
        let put = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(from_sdk(SERVICE, e)),
        }
    }

    /// Records a request the enrolment service refused after STS had told
    /// who sent it, under `refused#enrolment`: the caller's ARN is proven,
    /// the name they claimed is not (the record says `claimed_user`).
    pub async fn record_refusal(&self, at: &UtcTime, record: &serde_json::Value) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.tables.audit)
            .item("pk", s(REFUSED_ENROLMENTS))
            .item(
                "sk",
                s(format!(
                    "{}#refused#{}",
                    at.as_str(),
                    Base64Url::new(random_bytes()).encode()
                )),
            )
            .item("record", s(record.to_string()))
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(())
    }

    /// Records who asked for `execution` before the request endpoint starts
    /// it: the execution's first audit record, and what the gate's first
    /// step vouches from. Written once: false if the execution already has
    /// a requester.
    pub async fn record_requester(
        &self,
        execution: &str,
        record: &RequesterRecord,
        at: &UtcTime,
    ) -> Result<bool> {
        let mut item = requested_key(execution);
        let text = serde_json::json!({
            "outcome": "requested",
            "at": at.as_str(),
            "execution": execution,
            "requester": record.requester,
            "input_sha256": record.input_sha256,
        });
        item.insert("record".into(), s(text.to_string()));
        self.put_new(&self.tables.audit, item).await
    }

    /// The enrolment service's refusals, oldest first.
    pub async fn enrolment_refusals(&self) -> Result<Vec<serde_json::Value>> {
        self.audit_under(REFUSED_ENROLMENTS).await
    }

    /// One transaction: the credential (if its id is new), the owner's
    /// `enrolled` marker as `marker` says, the owner's binding to
    /// `principal` (set if unbound, refused if bound to another), and the
    /// audit record of whoever registers it.
    async fn put_with_marker(
        &self,
        record: &CredentialRecord,
        created: &UtcTime,
        marker: Marker,
        principal: Option<&str>,
        audit: Option<&RegistryEvent>,
    ) -> Result<std::result::Result<(), EnrolConflict>> {
        let mut item = credential_key(record.credential_id.as_bytes());
        item.insert("owner".into(), s(&record.owner));
        item.insert(
            "public_key".into(),
            AttributeValue::B(record.public_key.as_bytes().to_vec().into()),
        );
        item.insert("counter".into(), n(record.counter));
        item.insert("aaguid".into(), s(record.aaguid.to_string()));
        item.insert("kind".into(), s(record.kind.as_str()));
        item.insert("model_proven".into(), AttributeValue::Bool(record.model_proven));
        if let Some(attestation) = &record.attestation {
            let text = serde_json::to_string(attestation)
                .map_err(|e| AwsError::unexpected(SERVICE, e.to_string()))?;
            item.insert("attestation".into(), s(text));
        }
        item.insert("status".into(), s(status_text(record.status)));
        item.insert("label".into(), s(&record.label));
        item.insert("created".into(), s(created.as_str()));
        let put = Put::builder()
            .table_name(&self.tables.registry)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(built)?;
        let mut set = vec![match marker {
            Marker::FirstOfGranted => "enrolled = :t",
            Marker::Keep => "enrolled = if_not_exists(enrolled, :t)",
        }];
        let mut conditions = Vec::new();
        if marker == Marker::FirstOfGranted {
            conditions.push("attribute_not_exists(enrolled) AND attribute_exists(#groups)");
        }
        let mut update = Update::builder()
            .table_name(&self.tables.registry)
            .set_key(Some(user_key(&record.owner)))
            .expression_attribute_values(":t", s(created.as_str()));
        if marker == Marker::FirstOfGranted {
            update = update.expression_attribute_names("#groups", "groups");
        }
        if let Some(principal) = principal {
            set.push("principal = :p");
            conditions.push("(attribute_not_exists(principal) OR principal = :p)");
            update = update.expression_attribute_values(":p", s(principal));
        }
        let update = update.update_expression(format!("SET {}", set.join(", ")));
        let marker = if conditions.is_empty() {
            update
        } else {
            update.condition_expression(conditions.join(" AND "))
        }
        .build()
        .map_err(built)?;
        let mut items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(marker).build(),
        ];
        if let Some(audit) = audit {
            items.push(audit.put(&self.tables.audit)?);
        }
        // Items: 0 credential, 1 marker, 2 the audit record.
        match self.transact(items).await? {
            Committed::Yes => Ok(Ok(())),
            Committed::No(failed) if failed.first() == Some(&true) => {
                Ok(Err(EnrolConflict::AlreadyRegistered))
            }
            Committed::No(failed) if failed.get(1) == Some(&true) => Ok(Err(EnrolConflict::NotFirst)),
            Committed::No(_) => Err(AwsError::unexpected(
                SERVICE,
                "the enrolment transaction was cancelled; try again",
            )),
        }
    }

    /// Runs one `TransactWriteItems`: committed, or cancelled with which
    /// items failed their condition (by position).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Committed> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Committed::Yes),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) = err.as_service_error() {
            return Ok(Committed::No(
                cancel
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code() == Some("ConditionalCheckFailed"))
                    .collect(),
            ));
        }
        Err(from_sdk(SERVICE, err))
    }

    /// Activates a pending credential (an admin's confirmation). Returns
    /// false if there is no pending credential with this id: an active one
    /// needs nothing, a revoked one never comes back.
    /// The admin's record is written with it.
    pub async fn activate_pending(&self, id: &[u8], audit: &RegistryEvent) -> Result<bool> {
        self.change_status(
            id,
            CredentialStatus::Active,
            Some(CredentialStatus::Pending),
            audit,
        )
        .await
    }

    /// Revokes a credential (its owner's or an admin's decision), with the
    /// record of who did. Returns false if there is no such credential or
    /// it is revoked already.
    pub async fn revoke_credential(&self, id: &[u8], audit: &RegistryEvent) -> Result<bool> {
        self.change_status(id, CredentialStatus::Revoked, None, audit)
            .await
    }

    /// Sets a credential's status, only from `from` (or from any other
    /// status), in one transaction with the record of who did.
    async fn change_status(
        &self,
        id: &[u8],
        to: CredentialStatus,
        from: Option<CredentialStatus>,
        audit: &RegistryEvent,
    ) -> Result<bool> {
        let update = Update::builder()
            .table_name(&self.tables.registry)
            .set_key(Some(credential_key(id)))
            .update_expression("SET #status = :to")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(status_text(to)));
        let update = match from {
            Some(from) => update
                .condition_expression("#status = :from")
                .expression_attribute_values(":from", s(status_text(from))),
            None => update.condition_expression("attribute_exists(pk) AND #status <> :to"),
        }
        .build()
        .map_err(built)?;
        self.changed(TransactWriteItem::builder().update(update).build(), audit)
            .await
    }

    /// Deletes a credential that never signed (the user withdrawing a
    /// failed enrolment), with the user's record. Returns false if there is
    /// no such credential, or if it signed or was revoked meanwhile: the
    /// condition is checked by DynamoDB in the same write, so a
    /// verification racing the withdrawal cannot lose the public key that
    /// signed (auditors need it for ever).
    pub async fn delete_credential(&self, id: &[u8], audit: &RegistryEvent) -> Result<bool> {
        let delete = Delete::builder()
            .table_name(&self.tables.registry)
            .set_key(Some(credential_key(id)))
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(last_used) AND #counter = :zero AND #status <> :revoked",
            )
            .expression_attribute_names("#counter", "counter")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":revoked", s("revoked"))
            .build()
            .map_err(built)?;
        self.changed(TransactWriteItem::builder().delete(delete).build(), audit)
            .await
    }

    /// Gives a credential a new label, with the record of who did. Returns
    /// false if there is no such credential.
    pub async fn set_label(&self, id: &[u8], label: &str, audit: &RegistryEvent) -> Result<bool> {
        let update = Update::builder()
            .table_name(&self.tables.registry)
            .set_key(Some(credential_key(id)))
            .update_expression("SET #label = :label")
            .expression_attribute_names("#label", "label")
            .expression_attribute_values(":label", s(label))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(built)?;
        self.changed(TransactWriteItem::builder().update(update).build(), audit)
            .await
    }

    /// A user's credentials.
    pub async fn credentials_of(&self, user: &str) -> Result<Vec<CredentialListing>> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.tables.registry)
                .index_name(OWNER_INDEX)
                .key_condition_expression("#owner = :o")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":o", s(user)),
        )
        .await?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            let record = credential_from_item(item).map_err(|e| AwsError::unexpected(SERVICE, e.0))?;
            out.push(CredentialListing {
                credential_id: record.credential_id,
                label: record.label,
                kind: record.kind,
                status: record.status,
                aaguid: record.aaguid,
                counter: record.counter,
                created: get_s(item, "created").unwrap_or_default().to_owned(),
                last_used: get_s(item, "last_used").ok().map(str::to_owned),
                key_sha256: tapprove_core::canonical::key_sha256(record.public_key.as_bytes()),
                model_proven: record.model_proven,
            });
        }
        out.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(out)
    }

    /// Audit records of one execution, oldest first.
    pub async fn audit_of(&self, execution: &str) -> Result<Vec<serde_json::Value>> {
        self.audit_under(&format!("exec#{execution}")).await
    }

    /// Enrolment records of one user, oldest first.
    pub async fn enrolments_of(&self, user: &str) -> Result<Vec<serde_json::Value>> {
        self.audit_under(&format!("user#{user}")).await
    }

    /// Admins' changes to one user (`admin#<user>`), oldest first.
    pub async fn admin_events_of(&self, user: &str) -> Result<Vec<serde_json::Value>> {
        self.audit_under(&format!("admin#{user}")).await
    }

    /// Every record under `pk`.
    async fn audit_under(&self, pk: &str) -> Result<Vec<serde_json::Value>> {
        query_all(
            self.client
                .query()
                .table_name(&self.tables.audit)
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", s(pk)),
        )
        .await?
        .iter()
        .map(|item| {
            let text = get_s(item, "record").map_err(|e| AwsError::unexpected(SERVICE, e.0))?;
            serde_json::from_str(text).map_err(|e| AwsError::unexpected(SERVICE, e.to_string()))
        })
        .collect()
    }

    fn audit_put(&self, audit: &AuditRecord) -> Result<Put, StoreError> {
        let record = serde_json::to_string(audit).map_err(|e| StoreError(e.to_string()))?;
        let suffix = audit
            .statement_challenge
            .map(|c| c.encode())
            .unwrap_or_else(|| Base64Url::new(random_bytes()).encode());
        let mut item: Item = HashMap::from([
            (
                "pk".into(),
                s(format!(
                    "exec#{}",
                    audit.execution.as_deref().unwrap_or("unknown")
                )),
            ),
            ("sk".into(), s(format!("{}#{}#{suffix}", audit.at, audit.outcome))),
            ("outcome".into(), s(&audit.outcome)),
            ("record".into(), s(record)),
        ]);
        if let Some(approver) = &audit.approver {
            item.insert("approver".into(), s(approver));
        }
        Put::builder()
            .table_name(&self.tables.audit)
            .set_item(Some(item))
            .build()
            .map_err(|e| StoreError(e.to_string()))
    }
}

/// Every item a query finds, all pages (one page answers at most 1 MB).
async fn query_all(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<Item>> {
    query
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| from_sdk(SERVICE, e))
}

/// A request the SDK's builder refused (a missing required field: a bug here).
fn built(e: aws_sdk_dynamodb::error::BuildError) -> AwsError {
    AwsError::unexpected(SERVICE, e.to_string())
}

/// Unique enough for an audit sort key suffix or a proof's nonce; not a
/// secret.
pub(crate) fn random_bytes() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish().to_be_bytes().to_vec()
}

impl DynamoRegistry {
    /// One item, read consistently (what the verifier judges by must not
    /// be a stale copy).
    async fn read(&self, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(from_sdk(SERVICE, e)))?;
        Ok(out.item)
    }
}

impl Registry for DynamoRegistry {
    async fn approver(&self, name: &str) -> Result<Option<ApproverRecord>, StoreError> {
        let item = self.read(&self.tables.registry, user_key(name)).await?;
        Ok(item.map(|item| ApproverRecord {
            name: name.to_owned(),
            groups: item
                .get("groups")
                .and_then(|g| g.as_ss().ok())
                .map(|g| g.iter().cloned().collect())
                .unwrap_or_else(BTreeSet::new),
        }))
    }

    async fn gate_policy(
        &self,
        gate: &str,
    ) -> Result<Option<tapprove_proto::gate_policy::GatePolicy>, StoreError> {
        let item = self.read(&self.tables.registry, gate_key(gate)).await?;
        // A stored policy that does not parse stops verification (fail
        // closed) rather than falling back to the request's own group.
        item.as_ref()
            .map(|item| {
                tapprove_proto::gate_policy::GatePolicy::from_json(get_s(item, "policy")?.as_bytes()).map_err(
                    |e| {
                        StoreError(format!(
                            "the policy of gate `{gate}` in the registry is invalid: {e}"
                        ))
                    },
                )
            })
            .transpose()
    }

    async fn requester(&self, execution: &str) -> Result<Option<RequesterRecord>, StoreError> {
        let Some(item) = self.read(&self.tables.audit, requested_key(execution)).await? else {
            return Ok(None);
        };
        let bad = |e: String| StoreError(format!("the requester record of {execution} is invalid: {e}"));
        let record: serde_json::Value =
            serde_json::from_str(get_s(&item, "record")?).map_err(|e| bad(e.to_string()))?;
        Ok(Some(RequesterRecord {
            requested_at: record["at"]
                .as_str()
                .and_then(|at| UtcTime::parse(at).ok())
                .ok_or_else(|| bad("no valid `at`".into()))?,
            requester: serde_json::from_value(record["requester"].clone()).map_err(|e| bad(e.to_string()))?,
            input_sha256: record["input_sha256"]
                .as_str()
                .ok_or_else(|| bad("no input_sha256".into()))?
                .to_owned(),
        }))
    }

    async fn credential(&self, id: &[u8]) -> Result<Option<CredentialRecord>, StoreError> {
        let item = self.read(&self.tables.registry, credential_key(id)).await?;
        item.as_ref().map(credential_from_item).transpose()
    }

    async fn model(&self, aaguid: &Aaguid) -> Result<Option<ModelRecord>, StoreError> {
        let Some(item) = self.read(&self.tables.registry, model_key(aaguid)).await? else {
            return Ok(None);
        };
        // A stored record that does not parse stops verification (fail
        // closed): it may be the one that says the model is revoked.
        serde_json::from_str(get_s(&item, "record")?)
            .map(Some)
            .map_err(|e| {
                StoreError(format!(
                    "the FIDO metadata of model {aaguid} in the registry is invalid: {e}"
                ))
            })
    }
}

/// What the registry holds of the last FIDO metadata import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMetadata {
    pub blob_no: u64,
    /// Whom it was verified against (`fido`, or the admin's own roots).
    pub anchor: String,
    pub next_update: String,
    pub blob_sha256: String,
    pub imported_at: String,
    /// The models on record: this BLOB's, and distrusted ones a BLOB
    /// stopped listing (kept: a revocation does not lapse).
    pub models: BTreeSet<String>,
}

/// Why an import was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportConflict {
    #[error(
        "the registry holds FIDO metadata BLOB #{stored}, newer than #{offered}: an older BLOB may trust models FIDO has revoked since. Import the current BLOB"
    )]
    Older { stored: u64, offered: u64 },
}

impl DynamoRegistry {
    /// The last import's summary, if any.
    pub async fn stored_metadata(&self) -> Result<Option<StoredMetadata>> {
        let item = self
            .read(&self.tables.registry, metadata_key())
            .await
            .map_err(|e| AwsError::unexpected(SERVICE, e.0))?;
        let Some(item) = item else { return Ok(None) };
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        // An unreadable number would switch the older-BLOB check off. None
        // at all: the first import has not finished (its list of models is
        // there, so a later import still finds them).
        let blob_no = match item.get("blob_no") {
            None => Some(0),
            Some(v) => v.as_n().ok().and_then(|n| n.parse().ok()),
        }
        .ok_or_else(|| {
                AwsError::unexpected(
                    SERVICE,
                    "the registry's FIDO metadata summary has no valid blob_no: import the current BLOB again after checking the table",
                )
            })?;
        Ok(Some(StoredMetadata {
            blob_no,
            anchor: text("anchor"),
            next_update: text("next_update"),
            blob_sha256: text("blob_sha256"),
            imported_at: text("imported_at"),
            models: item
                .get("models")
                .and_then(|v| v.as_ss().ok())
                .map(|m| m.iter().cloned().collect())
                .unwrap_or_default(),
        }))
    }

    /// Stores a verified BLOB's models (`file`, from
    /// `tapprove_core::metadata::verify_blob`) with the admin's record.
    ///
    /// Every write is conditional in DynamoDB itself, so imports that race
    /// or crash cannot let an older BLOB's records replace a newer one's:
    /// 1. the new models are added to the summary's list first (a crash
    ///    leaves none untracked);
    /// 2. each model's record is written unless a newer BLOB's (under the
    ///    same anchor) is there;
    /// 3. models the previous BLOB listed and this one does not are
    ///    deleted, except distrusted ones (a revocation does not lapse when
    ///    FIDO stops listing a model);
    /// 4. the summary is written unless a newer BLOB's is there.
    ///
    /// A BLOB older than the stored one under the same anchor is refused
    /// before anything is written. Another anchor (an admin switching from
    /// a test BLOB to FIDO's, or back) replaces whatever is stored; the
    /// record names the anchor.
    pub async fn import_metadata(
        &self,
        file: &MetadataFile,
        audit: &RegistryEvent,
    ) -> Result<std::result::Result<(), ImportConflict>> {
        let previous = self.stored_metadata().await?;
        let older = |stored: u64| {
            Ok(Err(ImportConflict::Older {
                stored,
                offered: file.blob_no,
            }))
        };
        if let Some(stored) = &previous
            && stored.anchor == file.anchor
            && stored.blob_no > file.blob_no
        {
            return older(stored.blob_no);
        }
        let fresh: BTreeSet<String> = file.models.iter().map(|m| m.aaguid.to_string()).collect();
        if !fresh.is_empty() {
            self.client
                .update_item()
                .table_name(&self.tables.registry)
                .set_key(Some(metadata_key()))
                .update_expression("ADD models :m")
                .expression_attribute_values(":m", AttributeValue::Ss(fresh.iter().cloned().collect()))
                .send()
                .await
                .map_err(|e| from_sdk(SERVICE, e))?;
        }
        // Written unless a newer BLOB's record (same anchor) is there.
        let newer_guard = "attribute_not_exists(pk) OR attribute_not_exists(blob_no) OR blob_no <= :no OR anchor <> :anchor";
        for model in &file.models {
            let text =
                serde_json::to_string(model).map_err(|e| AwsError::unexpected(SERVICE, e.to_string()))?;
            let mut item = model_key(&model.aaguid);
            item.insert("record".into(), s(text));
            item.insert("blob_no".into(), n(file.blob_no));
            item.insert("anchor".into(), s(&file.anchor));
            if model.distrust.is_some() {
                item.insert("distrusted".into(), AttributeValue::Bool(true));
            }
            let put = self
                .client
                .put_item()
                .table_name(&self.tables.registry)
                .set_item(Some(item))
                .condition_expression(newer_guard)
                .expression_attribute_values(":no", n(file.blob_no))
                .expression_attribute_values(":anchor", s(&file.anchor))
                .send()
                .await;
            match put {
                Ok(_) => {}
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                    let stored = self.stored_metadata().await?.map_or(file.blob_no, |m| m.blob_no);
                    return older(stored);
                }
                Err(e) => return Err(from_sdk(SERVICE, e)),
            }
        }
        let mut kept = fresh.clone();
        for gone in previous.iter().flat_map(|p| p.models.difference(&fresh)) {
            let Ok(aaguid) = Aaguid::parse(gone) else { continue };
            let delete = self
                .client
                .delete_item()
                .table_name(&self.tables.registry)
                .set_key(Some(model_key(&aaguid)))
                .condition_expression(
                    "(blob_no < :no OR anchor <> :anchor) AND attribute_not_exists(distrusted)",
                )
                .expression_attribute_values(":no", n(file.blob_no))
                .expression_attribute_values(":anchor", s(&file.anchor))
                .send()
                .await;
            match delete {
                Ok(_) => {}
                // Distrusted (kept), gone already, or a newer BLOB's.
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                    kept.insert(gone.clone());
                }
                Err(e) => return Err(from_sdk(SERVICE, e)),
            }
        }
        let mut item = metadata_key();
        item.insert("blob_no".into(), n(file.blob_no));
        item.insert("anchor".into(), s(&file.anchor));
        item.insert("next_update".into(), s(&file.next_update));
        item.insert("blob_sha256".into(), s(file.blob_sha256.to_string()));
        item.insert("imported_at".into(), s(file.imported_at.as_str()));
        if !kept.is_empty() {
            item.insert("models".into(), AttributeValue::Ss(kept.into_iter().collect()));
        }
        let put = Put::builder()
            .table_name(&self.tables.registry)
            .set_item(Some(item))
            .condition_expression(newer_guard)
            .expression_attribute_values(":no", n(file.blob_no))
            .expression_attribute_values(":anchor", s(&file.anchor))
            .build()
            .map_err(built)?;
        if self
            .changed(TransactWriteItem::builder().put(put).build(), audit)
            .await?
        {
            Ok(Ok(()))
        } else {
            let stored = self.stored_metadata().await?.map_or(0, |m| m.blob_no);
            older(stored)
        }
    }
}

impl Ledger for DynamoRegistry {
    async fn commit(&self, use_: &CredentialUse) -> Result<Result<(), UseConflict>, StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError(e.to_string());
        let expires = n(use_.claims_expire.unix_seconds().saturating_add(86_400));
        let claim = |pk: String| -> Result<TransactWriteItem, StoreError> {
            let item: Item = HashMap::from([
                ("pk".into(), s(pk)),
                ("request_sha256".into(), s(use_.request_sha256.encode())),
                ("approver".into(), s(&use_.approver)),
                ("credential_id".into(), s(use_.credential_id.encode())),
                ("used_at".into(), s(use_.used_at.as_str())),
                ("expires".into(), expires.clone()),
            ]);
            Ok(TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.tables.ledger)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(build)?,
                )
                .build())
        };
        // Rule 7's counter condition, written so DynamoDB evaluates it
        // against the stored value.
        let counter_condition = if use_.new_counter == 0 {
            "#counter = :zero AND #status = :active"
        } else {
            "#counter < :new AND #status = :active"
        };
        let mut update = Update::builder()
            .table_name(&self.tables.registry)
            .set_key(Some(credential_key(use_.credential_id.as_bytes())))
            .update_expression("SET #counter = :new, last_used = :now")
            .condition_expression(counter_condition)
            .expression_attribute_names("#counter", "counter")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":new", n(use_.new_counter))
            .expression_attribute_values(":now", s(use_.used_at.as_str()))
            .expression_attribute_values(":active", s("active"));
        if use_.new_counter == 0 {
            update = update.expression_attribute_values(":zero", n(0));
        }
        let items = vec![
            claim(format!("stmt#{}", use_.statement.encode()))?,
            claim(format!("vote#{}#{}", use_.request_sha256.encode(), use_.approver))?,
            TransactWriteItem::builder()
                .update(update.build().map_err(build)?)
                .build(),
            TransactWriteItem::builder()
                .put(self.audit_put(&use_.audit)?)
                .build(),
        ];
        // Items: 0 statement claim, 1 vote claim, 2 counter, 3 audit.
        let failed = match self.transact(items).await.map_err(store_error)? {
            Committed::Yes => return Ok(Ok(())),
            Committed::No(failed) => failed,
        };
        if failed.first() == Some(&true) {
            return Ok(Err(UseConflict::StatementUsed));
        }
        if failed.get(1) == Some(&true) {
            return Ok(Err(UseConflict::ApproverAlreadyDecided));
        }
        if failed.get(2) == Some(&true) {
            // Either the counter did not advance or the credential was
            // revoked meanwhile; read it to say which.
            let current = Registry::credential(self, use_.credential_id.as_bytes()).await?;
            return match current {
                Some(c) if c.status != CredentialStatus::Active => Err(StoreError(format!(
                    "credential `{}` was {} during verification; verify again",
                    c.label,
                    status_text(c.status)
                ))),
                Some(c) => Ok(Err(UseConflict::CounterNotIncreased { stored: c.counter })),
                None => Err(StoreError(
                    "the credential was deleted during verification".into(),
                )),
            };
        }
        Err(StoreError(
            "the verification transaction was cancelled; verify again".into(),
        ))
    }

    async fn record_rejection(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        let put = self.audit_put(audit)?;
        self.client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .send()
            .await
            .map_err(|e| store_error(from_sdk(SERVICE, e)))?;
        Ok(())
    }

    async fn used(
        &self,
        statement: &tapprove_proto::Sha256Digest,
        request_sha256: &tapprove_proto::Sha256Digest,
        approver: &str,
    ) -> Result<Option<UseConflict>, StoreError> {
        for (pk, conflict) in [
            (format!("stmt#{}", statement.encode()), UseConflict::StatementUsed),
            (
                format!("vote#{}#{approver}", request_sha256.encode()),
                UseConflict::ApproverAlreadyDecided,
            ),
        ] {
            let out = self
                .client
                .get_item()
                .table_name(&self.tables.ledger)
                .key("pk", s(pk))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| store_error(from_sdk(SERVICE, e)))?;
            if out.item().is_some() {
                return Ok(Some(conflict));
            }
        }
        Ok(None)
    }
}
