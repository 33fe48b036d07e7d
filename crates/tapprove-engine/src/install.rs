//! Installing the approval gate and what it needs into an account (or an
//! emulator): the registry, ledger and audit tables, the verifier activity,
//! the group's decision activity (or SNS topic for the queue source), and
//! the gate state machine from `deploy/gate.asl.json`, the one definition
//! every deployment and test runs.

use tapprove_aws::dynamodb::{DynamoRegistry, TableNames};
use tapprove_aws::sfn::StepFunctions;
use tapprove_aws::sns::Topics;
use tapprove_config::{Config, GateSettings, Source, Tables, VerifierSettings};
use tapprove_proto::UtcTime;
use tapprove_proto::gate_policy::GatePolicy;

use crate::error::Result;

/// The gate's definition, with `${...}` placeholders.
pub const GATE_DEFINITION: &str = include_str!("../../../deploy/gate.asl.json");

/// Which source the gate waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Activity,
    Queue,
}

/// What to install.
#[derive(Debug, Clone)]
pub struct GatePlan {
    /// The state machine's name.
    pub name: String,
    pub group: String,
    pub source: SourceKind,
    /// Prefix of the three table names.
    pub table_prefix: String,
    /// The state machine's execution role.
    pub role_arn: String,
    pub rp_id: String,
    /// Who may enrol; empty `accounts` become the installer's own account.
    pub identity: tapprove_config::IdentitySettings,
    /// Create the announcements topic (`<prefix>_announcements`, which no group topic `<prefix>-<group>` can be), which
    /// the verifier publishes requests and their outcomes to.
    pub announce: bool,
}

/// Fills the gate definition's placeholders.
pub fn render_gate(
    group: &str,
    source: SourceKind,
    activity: &str,
    topic: &str,
    verifier_resource: &str,
) -> String {
    let kind = match source {
        SourceKind::Activity => "activity",
        SourceKind::Queue => "queue",
    };
    GATE_DEFINITION
        .replace("${DecisionActivityArn}", activity)
        .replace("${DecisionTopicArn}", topic)
        .replace("${VerifierResource}", verifier_resource)
        .replace("${Source}", kind)
        .replace("${Group}", group)
}

/// Installs (or updates) everything and returns the settings to write.
/// Idempotent: running it again updates the definition and keeps the rest.
pub async fn install(aws: &aws_config::SdkConfig, plan: &GatePlan, now: &UtcTime) -> Result<Config> {
    let tables = TableNames::with_prefix(&plan.table_prefix);
    DynamoRegistry::new(aws, tables.clone()).create_tables().await?;
    let sfn = StepFunctions::new(aws);
    let verifier = sfn
        .create_activity(&format!("{}-verify", plan.table_prefix))
        .await?;
    // Both the activity and the topic exist for every group, so both wait
    // states of the definition name real resources; the source decides
    // which one the gate waits on.
    let activity = sfn
        .create_activity(&format!("{}-{}", plan.table_prefix, plan.group))
        .await?;
    let topic = Topics::new(aws)
        .create_topic(&format!("{}-{}", plan.table_prefix, plan.group.replace('.', "-")))
        .await?;
    let source = match plan.source {
        SourceKind::Activity => Source::Activity {
            group: plan.group.clone(),
            arn: activity.clone(),
        },
        SourceKind::Queue => Source::Queue {
            group: plan.group.clone(),
            topic_arn: topic.clone(),
        },
    };
    let announcements = if plan.announce {
        Some(tapprove_config::AnnouncementSettings {
            topic_arn: Topics::new(aws)
                .create_topic(&format!("{}_announcements", plan.table_prefix))
                .await?,
        })
    } else {
        None
    };
    let definition = render_gate(&plan.group, plan.source, &activity, &topic, &verifier);
    // The policy first: a gate is never live without it.
    first_gate_policy(aws, &tables, plan, now).await?;
    let state_machine_arn = sfn
        .put_state_machine(&plan.name, &definition, &plan.role_arn)
        .await?;
    Ok(Config {
        rp_id: plan.rp_id.clone(),
        extra_origins: Vec::new(),
        require_user_verification: false,
        allow_self_approval: false,
        allow_software_authenticators: true,
        allowed_aaguids: Vec::new(),
        allowed_kinds: Vec::new(),
        attestation_roots: None,
        attestation_root_certificates: Vec::new(),
        accept_self_reported_models: false,
        min_certification_level: None,
        key_store: tapprove_config::KeyStoreKind::default(),
        tables: Tables {
            registry: tables.registry,
            ledger: tables.ledger,
            audit: tables.audit,
        },
        verifier: Some(VerifierSettings {
            activity_arn: verifier,
        }),
        sources: vec![source],
        gate: Some(GateSettings {
            name: plan.name.clone(),
            state_machine_arn,
        }),
        enrolment: None,
        identity: Some(identity_for(aws, &plan.identity).await?),
        sign_in: None,
        notifications: None,
        updates: None,
        delivery: None,
        decision_endpoint: None,
        announcements,
        history: None,
        fido_metadata: None,
    })
}

/// Pins the new gate to its group (one approver of it, requests of at
/// most a year), so the workflow cannot name another; kept if an admin set
/// a policy already (`tapprove admin gate-policy`). Recorded under
/// `admin#gate:<name>` with the installer's identity.
async fn first_gate_policy(
    aws: &aws_config::SdkConfig,
    tables: &TableNames,
    plan: &GatePlan,
    now: &UtcTime,
) -> Result<()> {
    let registry = DynamoRegistry::new(aws, tables.clone());
    if tapprove_core::registry::Registry::gate_policy(&registry, &plan.name)
        .await
        .map_err(|e| crate::EngineError::Store(e.0))?
        .is_some()
    {
        return Ok(());
    }
    let policy = GatePolicy::single(&plan.group, 1, tapprove_proto::limits::MAX_TIMEOUT_SECONDS);
    let caller = tapprove_aws::sts::Identity::new(aws).caller().await?;
    let audit = tapprove_aws::dynamodb::RegistryEvent {
        by: tapprove_aws::dynamodb::ChangedBy::Admin,
        user: format!("gate:{}", plan.name),
        event: "gate_policy_set",
        at: now.clone(),
        caller_arn: caller.arn,
        account: caller.account,
        detail: [
            ("gate".to_owned(), serde_json::json!(plan.name)),
            ("policy".to_owned(), serde_json::json!(policy)),
        ]
        .into_iter()
        .collect(),
    };
    registry.put_gate_policy(&plan.name, &policy, &audit).await?;
    Ok(())
}

/// `identity` with its accounts named: the installer's own account where
/// it names none, so the settings file says which account enrols.
async fn identity_for(
    aws: &aws_config::SdkConfig,
    identity: &tapprove_config::IdentitySettings,
) -> Result<tapprove_config::IdentitySettings> {
    let mut identity = identity.clone();
    if identity.accounts.is_empty() {
        identity.accounts = vec![tapprove_aws::sts::Identity::new(aws).caller().await?.account];
    }
    Ok(identity)
}

/// The organisation's policy for a deployment of `deploy/tapprove.yaml`
/// (the core stack `stack`) and its group stacks (`deploy/group.yaml`,
/// found by their `<stack>:group:<group>` exports): the relying party, the
/// attestation rules, the tables, the enrolment endpoint, the decision
/// endpoint when the stack has one, and one source per group. Sign-in,
/// quiet hours and updates are the admin's to add.
pub async fn policy_from_stack(aws: &aws_config::SdkConfig, stack: &str) -> Result<toml::Table> {
    let stacks = tapprove_aws::cloudformation::Stacks::new(aws);
    let core = stacks.outputs(stack).await?;
    let output = |outputs: &std::collections::BTreeMap<String, String>, from: &str, key: &str| {
        outputs.get(key).filter(|v| !v.is_empty()).cloned().ok_or_else(|| {
            crate::EngineError::Invalid(format!(
                "stack {from} has no output {key}: is it a Tapprove stack (deploy/tapprove.yaml or deploy/group.yaml), fully deployed?"
            ))
        })
    };
    let flag = |key: &str| -> Result<bool> {
        match output(&core, stack, key)?.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(crate::EngineError::Invalid(format!(
                "stack {stack}'s output {key} is `{other}`, not true or false"
            ))),
        }
    };
    let endpoint = core.get("DecisionEndpointUrl").filter(|v| !v.is_empty()).cloned();
    let mut sources = Vec::new();
    for group_stack in stacks.exports(&format!("{stack}:group:")).await?.into_values() {
        let outputs = stacks.outputs(&group_stack).await?;
        let group = output(&outputs, &group_stack, "Group")?;
        if outputs.get("Delivery").map(String::as_str) == Some("endpoint") && endpoint.is_none() {
            return Err(crate::EngineError::Invalid(format!(
                "group stack {group_stack} answers through the decision endpoint (Delivery=endpoint), but stack {stack} has none: update it with DecisionEndpoint=true"
            )));
        }
        sources.push(match output(&outputs, &group_stack, "Source")?.as_str() {
            "activity" => Source::Activity {
                group,
                arn: output(&outputs, &group_stack, "ActivityArn")?,
            },
            "queue" => Source::Queue {
                group,
                topic_arn: output(&outputs, &group_stack, "TopicArn")?,
            },
            other => {
                return Err(crate::EngineError::Invalid(format!(
                    "stack {group_stack}'s output Source is `{other}`, not activity or queue"
                )));
            }
        });
    }
    if sources.is_empty() {
        return Err(crate::EngineError::Invalid(format!(
            "stack {stack} has no approver group yet: deploy deploy/group.yaml with CoreStack={stack} for each group first"
        )));
    }
    let policy = PolicyFromStack {
        rp_id: output(&core, stack, "RpId")?,
        require_user_verification: flag("RequireUserVerification")?,
        allow_software_authenticators: flag("AllowSoftwareAuthenticators")?,
        // Stacks from before these outputs: no roots, not accepted.
        accept_self_reported_models: core.get("AcceptSelfReportedModels").is_some_and(|v| v == "true"),
        attestation_root_certificates: core
            .get("AttestationRoots")
            .map(|v| {
                v.split(',')
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        tables: Tables {
            registry: output(&core, stack, "RegistryTable")?,
            ledger: output(&core, stack, "LedgerTable")?,
            audit: output(&core, stack, "AuditTable")?,
        },
        sources,
        enrolment: tapprove_config::EnrolmentSettings {
            url: Some(output(&core, stack, "EnrolmentUrl")?),
            require_admin: false,
            server_id: core.get("EnrolmentServerId").filter(|v| !v.is_empty()).cloned(),
        },
        delivery: endpoint.map(|endpoint| tapprove_config::DeliverySettings { endpoint }),
    };
    toml::Table::try_from(&policy)
        .map_err(|e| crate::EngineError::Invalid(format!("cannot write the policy: {e}")))
}

/// The keys of the policy a stack describes.
#[derive(serde::Serialize)]
struct PolicyFromStack {
    rp_id: String,
    require_user_verification: bool,
    allow_software_authenticators: bool,
    accept_self_reported_models: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attestation_root_certificates: Vec<String>,
    tables: Tables,
    sources: Vec<Source>,
    enrolment: tapprove_config::EnrolmentSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery: Option<tapprove_config::DeliverySettings>,
}
