//! The commands that talk to AWS: the approval loop (`inbox`, `show`,
//! `approve`, `deny`, `outbox`, `enroll`), the gate installer and the admin
//! commands. Each is a thin layer over `tapprove-engine`.

use std::time::Duration;

use serde_json::{Value, json};
use tapprove_authn::UserVerification;
use tapprove_config::Config;
use tapprove_core::enrolment::check_new_credential;
use tapprove_engine::admin::Admin;
use tapprove_engine::install::{GatePlan, SourceKind};
use tapprove_engine::keys::{AuthenticatorChoice, KeySpec, new_credential};
use tapprove_engine::{DeliveryOutcome, Engine, EngineError, Event, admin, enrol, now};
use tapprove_proto::enrolment::{CredentialAction, EnrolmentRequest, EnrolmentStatus};
use tapprove_proto::registry::CredentialStatus;
use tapprove_proto::{Base64Url, Verdict};

use crate::cli::{
    AdminCommand, AuthenticatorArg, AuthenticatorsCommand, DecideArgs, EnrollArgs, GateCommand, InboxArgs,
    InstallArgs, SourceArg, UvArg,
};
use crate::context::{Invocation, aws_config, key_store};
use crate::exit::{Failure, Kind, Result};
use crate::files::{read_input, write_atomically};
use crate::output::Output;
use crate::prompt::TerminalPrompt;

fn describe(event: &Event) -> String {
    match event {
        Event::NewRequest { id, title, source } => format!("new request {id}: {title} ({source})"),
        Event::RequestGone { id, reason } => format!("request {id} is gone: {}", reason.explain()),
        Event::DecisionDelivered { id, verdict } => format!("{verdict} on {id} delivered"),
        Event::DecisionClosed { id, verdict, reason } => {
            format!("{verdict} on {id} not taken: {}", reason.explain())
        }
        Event::DecisionPending { id, error } => format!("decision on {id} still pending: {error}"),
    }
}

/// Resends pending decisions first, so a decision journalled by an earlier
/// run (killed, or offline) is delivered by the next command.
async fn flush_quietly(engine: &Engine, out: &Output) -> Result {
    for (entry, outcome) in engine.flush().await? {
        out.note(&match outcome {
            DeliveryOutcome::Delivered => {
                format!("Delivered the earlier {} on {}.", entry.verdict, entry.request_id)
            }
            DeliveryOutcome::Closed { reason } => {
                format!(
                    "The earlier {} on {} was not taken: {}.",
                    entry.verdict,
                    entry.request_id,
                    reason.explain()
                )
            }
            DeliveryOutcome::Pending { error } => {
                format!(
                    "The earlier {} on {} is still waiting to be sent: {error}",
                    entry.verdict, entry.request_id
                )
            }
        });
    }
    Ok(())
}

fn inbox_json(engine: &Engine) -> Result<Value> {
    let now = now();
    let items: Vec<Value> = engine
        .inbox()?
        .into_iter()
        .map(|i| {
            let deadline = i.request.deadline();
            json!({
                "id": i.id,
                "title": i.request.title,
                "requested_by": i.request.requester_name(),
                "requester_verified": i.request.requester_verified(),
                "approvers": i.request.approvers,
                "quorum": i.request.quorum,
                "deadline": deadline,
                "seconds_left": deadline.unix_seconds() - now.unix_seconds(),
                "source": i.source,
                "execution": i.request.execution,
                "progress": i.status.as_ref().map(|s| s.describe()),
            })
        })
        .collect();
    Ok(Value::Array(items))
}

fn inbox_text(items: &Value) -> String {
    let Some(list) = items.as_array().filter(|l| !l.is_empty()) else {
        return "Nothing waits for you.".into();
    };
    let mut lines = vec![format!(
        "{:<11} {:<40} {:<22} {:>9}",
        "ID", "TITLE", "REQUESTED BY", "LEFT"
    )];
    for i in list {
        let left = i["seconds_left"].as_i64().unwrap_or(0);
        lines.push(format!(
            "{:<11} {:<40} {:<22} {:>6}m{:02}s",
            i["id"].as_str().unwrap_or(""),
            truncate(i["title"].as_str().unwrap_or(""), 40),
            // Cut the name, then mark it: a long name must not push the
            // mark out of the column.
            if i["requester_verified"] == true {
                truncate(i["requested_by"].as_str().unwrap_or(""), 22)
            } else {
                format!("{} (?)", truncate(i["requested_by"].as_str().unwrap_or(""), 18))
            },
            left / 60,
            left % 60
        ));
    }
    lines.join("\n")
}

/// Who asked, as `show` prints it: the mark of a claimed requester comes
/// after the cut name, so no name can push it out of sight.
fn requester_line(request: &tapprove_proto::Request) -> String {
    if request.requester_verified() {
        truncate(&request.requester_name(), 300)
    } else {
        format!(
            "{} ({})",
            truncate(&request.requested_by, 200),
            tapprove_proto::REQUESTER_CLAIMED
        )
    }
}

/// Request content on one line of at most `n` characters, every hidden or
/// control character shown as a marker (`⟨U+202E⟩`), so it can neither move
/// the terminal's cursor nor hide or reorder what the approver reads.
fn truncate(text: &str, n: usize) -> String {
    tapprove_proto::text::one_line(text, n)
}

pub async fn inbox(invocation: &Invocation, args: InboxArgs) -> Result {
    let (engine, _) = invocation.engine().await?;
    flush_quietly(&engine, &invocation.out).await?;
    if !args.watch {
        invocation.out.note("Checking the sources…");
        engine.poll_all(1).await?;
        // Drop cached requests whose task is gone (decided elsewhere,
        // expired, withdrawn); if Step Functions cannot be asked, the
        // cache is still the best answer.
        if let Err(e) = engine.heartbeat().await {
            invocation
                .out
                .note(&format!("could not check claimed requests: {e}"));
        }
        let items = inbox_json(&engine)?;
        invocation
            .out
            .result(json!({"ok": true, "requests": items}), || inbox_text(&items));
        return Ok(());
    }
    invocation.out.note("Waiting for requests (Ctrl-C to stop)…");
    let heartbeat_every = Duration::from_secs(args.heartbeat_seconds);
    // The first round checks what the cache holds from before.
    let mut last_heartbeat: Option<std::time::Instant> = None;
    let mut backoff = Duration::from_secs(1);
    loop {
        let polled = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            polled = engine.poll_all(20) => polled,
        };
        let mut events = match polled {
            Ok(events) => {
                backoff = Duration::from_secs(1);
                events
            }
            Err(e) => {
                invocation.out.note(&format!(
                    "polling failed: {e}; retrying in {}s",
                    backoff.as_secs()
                ));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        if last_heartbeat.is_none_or(|t| t.elapsed() >= heartbeat_every) {
            match engine.heartbeat().await {
                Ok(gone) => events.extend(gone),
                Err(e) => invocation
                    .out
                    .note(&format!("could not check claimed requests: {e}")),
            }
            let _ = flush_quietly(&engine, &invocation.out).await;
            last_heartbeat = Some(std::time::Instant::now());
        }
        for event in events {
            invocation.out.event(
                &serde_json::to_value(&event).unwrap_or_default(),
                &describe(&event),
            );
        }
    }
}

pub async fn show(invocation: &Invocation, id: &str) -> Result {
    let (engine, _) = invocation.engine().await?;
    let item = engine.find(id)?;
    let deadline = item.request.deadline();
    let value = json!({
        "ok": true,
        "id": item.id,
        "request_sha256": item.request_sha256,
        "deadline": deadline,
        "source": item.source,
        "requester_verified": item.request.requester_verified(),
        "request": item.request,
        "status": item.status,
    });
    invocation.out.result(value.clone(), || {
        format!(
            "{}\n\nrequested by  {}\napprovers     {} (quorum {}){}\ndeadline      {}\nexecution     {}\nrequest hash  {}\n\ndetails (verbatim):\n{}",
            truncate(&item.request.title, 200),
            requester_line(&item.request),
            truncate(&item.request.approvers, 80),
            item.request.quorum,
            item.status
                .as_ref()
                .map(|s| format!("\nprogress      {}", truncate(&s.describe(), 300)))
                .unwrap_or_default(),
            deadline,
            truncate(&item.request.execution, 300),
            item.request_sha256,
            // JSON escapes control characters but not U+202E and the like:
            // those are shown as markers too.
            tapprove_proto::text::reveal(&serde_json::to_string_pretty(&item.request.details).unwrap_or_default())
        )
    });
    Ok(())
}

pub async fn decide(invocation: &Invocation, verdict: Verdict, args: DecideArgs) -> Result {
    let (engine, _) = invocation.engine().await?;
    flush_quietly(&engine, &invocation.out).await?;
    let store = key_store(engine.config())?;
    let approver = engine.approver().await?;
    let signer = tapprove_engine::keys::signer(
        engine.config(),
        &tapprove_config::state_dir(),
        store,
        &approver,
        now(),
    )?;
    let prompt = TerminalPrompt::new(&args.pin);
    // The engine asks for what the settings in force require (as the
    // app does); the flag may only ask for more.
    let uv = args.user_verification.map(|asked| match asked {
        UvArg::Required => UserVerification::Required,
        UvArg::Preferred => UserVerification::Preferred,
        UvArg::Discouraged => UserVerification::Discouraged,
    });
    let (item, outcome) = engine
        .decide(
            &args.id,
            verdict,
            args.reason,
            &*signer.authenticator,
            &prompt,
            signer.credentials,
            uv,
        )
        .await?;
    let verb = verdict.as_str();
    let value = json!({"ok": matches!(outcome, DeliveryOutcome::Delivered), "id": item.id, "verdict": verb, "delivery": outcome});
    match outcome {
        DeliveryOutcome::Delivered => {
            let done = if verdict == Verdict::Approve {
                "Approved"
            } else {
                "Denied"
            };
            invocation.out.result(value, || {
                format!(
                    "{done} {}: {} (delivered)",
                    item.id,
                    truncate(&item.request.title, 200)
                )
            });
            Ok(())
        }
        DeliveryOutcome::Closed { reason } => Err(Failure {
            kind: Kind::Rejected,
            code: "task_gone".into(),
            message: format!(
                "your {verb} on {} was not taken: the request is {}",
                item.id,
                reason.explain()
            ),
            rule: None,
        }),
        DeliveryOutcome::Pending { error } => Err(Failure::failed(
            "delivery_pending",
            format!(
                "your signed {verb} on {} is saved but could not be sent yet ({error}); it is resent by the next tapprove command, or `tapprove outbox --flush`",
                item.id
            ),
        )),
    }
}

pub async fn outbox(invocation: &Invocation, flush: bool) -> Result {
    let (engine, _) = invocation.engine().await?;
    if flush {
        let left = engine.flush_until(Duration::from_secs(10)).await?;
        if left > 0 {
            invocation.out.note(&format!("{left} decision(s) still pending."));
        }
    }
    let history = engine.history()?;
    invocation
        .out
        .result(json!({"ok": true, "decisions": history}), || {
            if history.is_empty() {
                return "No decisions sent from this machine.".into();
            }
            history
                .iter()
                .map(|e| {
                    let state = match (e.state, e.reason) {
                        (tapprove_engine::OutboxState::Closed, Some(r)) => format!("closed: {}", r.explain()),
                        (s, _) => format!("{s:?}").to_lowercase(),
                    };
                    format!(
                        "{}  {:<8} {:<11} {:<40} {}",
                        e.updated,
                        e.verdict,
                        e.request_id,
                        truncate(&e.title, 40),
                        state
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        });
    Ok(())
}

/// `tapprove enroll`: creates a credential with the chosen authenticator
/// and submits it to the enrolment service, which registers it under the
/// caller's AWS identity; then a first test signature confirms it. Without
/// a service (or with `--out`), writes the enrolment request for an admin
/// to register. If any step fails, what was done is undone: the new key is
/// deleted from the authenticator where it can be, and a registry entry
/// whose test failed is withdrawn.
pub async fn enroll(invocation: &Invocation, args: EnrollArgs) -> Result {
    let (engine, aws) = invocation.engine().await?;
    let config = engine.config().clone();
    let user = engine.approver().await?;
    let rp_id = config.rp_id.clone();
    let service = match &args.out {
        Some(_) => None,
        None => enrol::Endpoint::from_settings(&invocation.settings()?, args.service.as_deref())?,
    };
    let choice = match args.authenticator {
        Some(AuthenticatorArg::Usb) => AuthenticatorChoice::SecurityKey,
        Some(AuthenticatorArg::Platform) => AuthenticatorChoice::Platform,
        Some(AuthenticatorArg::Software) => AuthenticatorChoice::Software,
        None => AuthenticatorChoice::default_for(&config),
    };
    if args.with_pin && choice != AuthenticatorChoice::Software {
        return Err(Failure::input(
            "--with-pin is for the software authenticator; security keys and platform authenticators use their own PIN or biometrics",
        ));
    }
    let label = args.label.clone().unwrap_or_else(|| {
        match choice {
            AuthenticatorChoice::SecurityKey => "security key",
            AuthenticatorChoice::Platform => "platform authenticator",
            AuthenticatorChoice::Software => "software key",
        }
        .to_owned()
    });
    let store = key_store(&config)?;
    let exclude = tapprove_engine::keys::exclusions(&*store, &tapprove_config::state_dir(), &user, &rp_id)?;
    let spec = KeySpec {
        user: &user,
        rp_id: &rp_id,
        label: &label,
        user_verification: choice.user_verification(&config, args.with_pin),
        exclude,
    };
    let authenticator = tapprove_engine::keys::authenticator_for(choice, &config, store, now())?;
    let prompt = TerminalPrompt::new(&args.pin);
    if let Some(service) = service {
        let state_dir = tapprove_config::state_dir();
        let receipt = enrol::enrol(
            enrol::Service {
                aws: &aws,
                endpoint: &service,
                state_dir: &state_dir,
            },
            &*authenticator,
            spec,
            &prompt,
        )
        .await?;
        let id = receipt.credential_id.encode();
        invocation.out.result(json!({"ok": true, "receipt": receipt, "authenticator": choice}), || match receipt.status {
            EnrolmentStatus::Active => format!(
                "Enrolled `{}` for {}: it signs from now on.",
                receipt.label, receipt.user
            ),
            EnrolmentStatus::Pending => format!(
                "Enrolled `{}` for {}; it is pending until an admin confirms it (`tapprove admin credentials {} --activate {id}`).",
                receipt.label, receipt.user, receipt.user
            ),
        });
        return Ok(());
    }
    let new = new_credential(&*authenticator, spec, &prompt)
        .map_err(|e| Failure::from(EngineError::Sign(e.into())))?;
    let request = enrol::enrolment_request(&user, &label, &rp_id, &new);
    let rollback = |failure: Failure| -> Failure {
        match authenticator.forget(&new.created.credential_id) {
            Ok(_) => failure,
            Err(e) => Failure {
                message: format!(
                    "{}; the new credential {} could not be removed either ({e}): delete it with care",
                    failure.message, new.created.credential_id
                ),
                ..failure
            },
        }
    };
    let text = serde_json::to_string_pretty(&request).map_err(|e| rollback(Failure::failed("output", e)))?;
    match &args.out {
        Some(path) => {
            write_atomically(path, text.as_bytes()).map_err(|e| {
                rollback(Failure::failed(
                    "write_failed",
                    format!("cannot write {}: {e}", path.display()),
                ))
            })?;
            invocation.out.note(&format!(
                "Created a credential for {user}. Ask an admin to run `tapprove admin register {}`.",
                path.display()
            ));
        }
        None => invocation.out.document(&text),
    }
    Ok(())
}

/// `tapprove authenticators`: the caller's registered credentials, through
/// the enrolment service (which knows the caller by their AWS identity).
pub async fn authenticators(invocation: &Invocation, command: Option<AuthenticatorsCommand>) -> Result {
    let (engine, aws) = invocation.engine().await?;
    let config = engine.config();
    let service = enrol::Endpoint::from_settings(&invocation.settings()?, None)?.ok_or_else(|| {
        Failure::input(
            "no enrolment service is configured ([enrolment] url): ask your admin to list or revoke your credentials (`tapprove admin credentials USER`)",
        )
    })?;
    let parse_id = |id: &str| {
        Base64Url::decode(id).map_err(|e| {
            Failure::input(format!(
                "`{id}` is not a credential id ({e}): copy it from `tapprove authenticators`"
            ))
        })
    };
    let (action, done) = match command.unwrap_or(AuthenticatorsCommand::List) {
        AuthenticatorsCommand::Confirm { id, pin } => {
            let pending = parse_id(&id)?;
            let user = engine.approver().await?;
            let signer = tapprove_engine::keys::signer(
                config,
                &tapprove_config::state_dir(),
                key_store(config)?,
                &user,
                now(),
            )?;
            let answer = enrol::confirm(
                &aws,
                &service,
                &*signer.authenticator,
                enrol::ConfirmSpec {
                    user: &user,
                    rp_id: &config.rp_id,
                    pending: &pending,
                    signers: signer.credentials,
                    user_verification: if config.require_user_verification {
                        UserVerification::Required
                    } else {
                        UserVerification::Preferred
                    },
                },
                &TerminalPrompt::new(&pin),
                &now(),
            )
            .await?;
            return show_credentials(
                invocation,
                config,
                answer,
                Some(format!("Confirmed {id}: it signs from now on.")),
            );
        }
        AuthenticatorsCommand::List => (CredentialAction::List, None),
        AuthenticatorsCommand::Rename { id, label } => (
            CredentialAction::Rename {
                credential_id: parse_id(&id)?,
                label: label.clone(),
            },
            Some(format!("Renamed {id} to `{label}`.")),
        ),
        AuthenticatorsCommand::Revoke { id } => (
            CredentialAction::Revoke {
                credential_id: parse_id(&id)?,
            },
            Some(format!("Revoked {id}: it never verifies again.")),
        ),
    };
    let answer = enrol::own_credentials(&aws, &service, &config.rp_id, action).await?;
    show_credentials(invocation, config, answer, done)
}

/// Remembers and prints the caller's credentials after an action.
fn show_credentials(
    invocation: &Invocation,
    config: &Config,
    answer: tapprove_proto::enrolment::CredentialsAnswer,
    done: Option<String>,
) -> Result {
    tapprove_engine::keys::remember(
        &tapprove_config::state_dir(),
        &answer.user,
        &config.rp_id,
        &answer.credentials,
    )?;
    invocation.out.result(
        json!({"ok": true, "user": answer.user, "credentials": answer.credentials}),
        || {
            let mut text = done.map(|d| format!("{d}\n")).unwrap_or_default();
            if answer.credentials.is_empty() {
                text.push_str(&format!(
                    "{} has no registered authenticator: run `tapprove enroll`.",
                    answer.user
                ));
            }
            for c in &answer.credentials {
                text.push_str(&format!(
                    "{}  {:<12}  {:<8}  {}  key {}  created {}{}\n",
                    c.credential_id,
                    c.kind.as_str(),
                    match c.status {
                        CredentialStatus::Active => "active",
                        CredentialStatus::Pending => "pending",
                        CredentialStatus::Revoked => "revoked",
                    },
                    truncate(&c.label, 60),
                    c.key_sha256.get(..16).unwrap_or(&c.key_sha256),
                    c.created,
                    c.last_used
                        .as_deref()
                        .map(|u| format!(", last used {u}"))
                        .unwrap_or_default(),
                ));
            }
            text.trim_end().to_owned()
        },
    );
    Ok(())
}

pub async fn gate(invocation: &Invocation, command: GateCommand) -> Result {
    let aws = aws_config().await?;
    match command {
        GateCommand::Install(args) => install_gate(invocation, &aws, args).await,
        GateCommand::Request {
            title,
            requested_by,
            approvers,
            quorum,
            timeout,
            details,
        } => {
            request_execution(
                invocation,
                &aws,
                title,
                requested_by,
                approvers,
                quorum,
                timeout,
                &details,
            )
            .await
        }
        GateCommand::Status { execution, wait } => execution_status(invocation, &aws, &execution, wait).await,
    }
}

/// `tapprove gate install`.
async fn install_gate(invocation: &Invocation, aws: &aws_config::SdkConfig, args: InstallArgs) -> Result {
    let InstallArgs {
        name,
        group,
        source,
        prefix,
        role_arn,
        rp_id,
        accounts,
        approver_roles,
        allow_iam_users,
        requesters,
        oidc_issuer,
        oidc_client_id,
        oidc_roles,
        oidc_claim,
    } = args;
    let identity = tapprove_config::IdentitySettings {
        accounts,
        roles: if approver_roles.is_empty() {
            tapprove_config::default_approver_roles()
        } else {
            approver_roles
        },
        iam_users: allow_iam_users,
        requesters,
        oidc: oidc_issuer.map(|issuer| tapprove_config::OidcIdentity {
            issuer,
            audience: oidc_client_id.unwrap_or_default(),
            roles: oidc_roles,
            claim: oidc_claim,
        }),
    };
    let role_arn = match role_arn {
        Some(r) => r,
        None => {
            let caller = tapprove_aws::sts::Identity::new(aws)
                .caller()
                .await
                .map_err(|e| Failure::failed("aws_error", e))?;
            format!("arn:aws:iam::{}:role/tapprove-gate", caller.account)
        }
    };
    let plan = GatePlan {
        name,
        group,
        source: match source {
            SourceArg::Activity => SourceKind::Activity,
            SourceArg::Queue => SourceKind::Queue,
        },
        table_prefix: prefix,
        role_arn,
        rp_id,
        identity,
    };
    let config = tapprove_engine::install::install(aws, &plan).await?;
    let path = Config::locate(Some(&invocation.config_path));
    config
        .save(&path)
        .map_err(|e| Failure::failed("write_failed", e))?;
    let arn = config
        .gate
        .as_ref()
        .map(|g| g.state_machine_arn.clone())
        .unwrap_or_default();
    invocation.out.result(
        json!({"ok": true, "state_machine_arn": arn, "config": path}),
        || {
            format!(
                "Installed gate {} ({arn}); settings written to {}.",
                plan.name,
                path.display()
            )
        },
    );
    Ok(())
}

pub async fn admin_command(invocation: &Invocation, command: AdminCommand) -> Result {
    // The policy is written before any settings exist.
    let command = match command {
        AdminCommand::Policy { command } => return crate::policy::run(invocation, command).await,
        other => other,
    };
    let config = invocation.config()?;
    let aws = aws_config().await?;
    match command {
        AdminCommand::Grant { user, group } => {
            let admin = Admin::new(&aws, &config).await?;
            let granted = admin.grant(&user, &group).await?;
            invocation.out.result(
                json!({
                    "ok": true,
                    "user": user,
                    "group": group,
                    "added": granted.added,
                    "queue_url": granted.queue_url,
                }),
                || match (granted.added, &granted.queue_url) {
                    (true, _) => format!("{user} is now in {group}."),
                    (false, Some(_)) => {
                        format!("{user} was in {group} already; their queue is set up again.")
                    }
                    (false, None) => format!("{user} was in {group} already."),
                },
            );
        }
        AdminCommand::GatePolicy {
            gate,
            rules,
            min_quorum,
            max_timeout,
            require_verified_requester,
        } => {
            let admin = Admin::new(&aws, &config).await?;
            if !rules.is_empty() {
                let mut rule = Vec::new();
                for text in &rules {
                    let (group, count) = text
                        .rsplit_once(':')
                        .and_then(|(g, n)| n.parse::<u32>().ok().map(|n| (g, n)))
                        .ok_or_else(|| {
                            Failure::input(format!("`{text}` is not GROUP:COUNT (for example sre:1)"))
                        })?;
                    rule.push(tapprove_proto::gate_policy::Clause {
                        group: group.to_owned(),
                        count,
                    });
                }
                let total = rule.iter().map(|c| c.count).fold(0u32, u32::saturating_add);
                let policy = tapprove_proto::gate_policy::GatePolicy {
                    tapprove: tapprove_proto::gate_policy::GatePolicyVersion,
                    rule,
                    min_quorum: min_quorum.unwrap_or(total),
                    max_timeout_seconds: max_timeout.unwrap_or(tapprove_proto::limits::MAX_TIMEOUT_SECONDS),
                    require_verified_requester,
                };
                admin.set_gate_policy(&gate, &policy).await?;
            }
            match admin.gate_policy(&gate).await? {
                Some(policy) => invocation.out.result(json!({"ok": true, "gate": gate, "policy": policy}), || {
                    format!(
                        "{gate}: {}, at least {} in all; requests wait at most {} s{}.",
                        policy.describe(),
                        policy.min_quorum,
                        policy.max_timeout_seconds,
                        if policy.require_verified_requester {
                            "; only requesters AWS proved"
                        } else {
                            ""
                        }
                    )
                }),
                None => invocation.out.result(json!({"ok": true, "gate": gate, "policy": null}), || {
                    format!(
                        "{gate} has no policy: its requests' own group and quorum decide. Set one: tapprove admin gate-policy {gate} --rule GROUP:1"
                    )
                }),
            }
        }
        AdminCommand::Bind { user, principal } => {
            Admin::new(&aws, &config).await?.bind(&user, &principal).await?;
            invocation
                .out
                .result(json!({"ok": true, "user": user, "principal": principal}), || {
                    format!("{user} now belongs to the AWS principal {principal}.")
                });
        }
        AdminCommand::Revoke { user, group } => {
            Admin::new(&aws, &config).await?.revoke(&user, &group).await?;
            invocation
                .out
                .result(json!({"ok": true}), || format!("{user} is no longer in {group}."));
        }
        AdminCommand::Register { file } => {
            let bytes = read_input(&file, "enrolment request")?;
            let request = EnrolmentRequest::from_json(&bytes)
                .map_err(|e| Failure::input(format!("not an enrolment request: {e}")))?;
            if request.rp_id != config.rp_id {
                return Err(Failure::input(format!(
                    "the enrolment request is for `{}`, this registry is for `{}`",
                    request.rp_id, config.rp_id
                )));
            }
            let policy = config.enrolment_policy().map_err(Failure::input)?;
            let checked = check_new_credential(
                &policy,
                request.challenge.as_bytes(),
                request.client_data_json.as_bytes(),
                request.attestation_object.as_bytes(),
                request.credential_id.as_bytes(),
            )
            .map_err(|e| Failure::failed("enrolment_refused", e))?;
            let record = checked.into_record(&request.user, &request.label, CredentialStatus::Active);
            Admin::new(&aws, &config).await?.register(&record, &now()).await?;
            invocation.out.result(
                json!({"ok": true, "user": request.user, "credential_id": record.credential_id}),
                || format!("Registered `{}` for {}.", request.label, request.user),
            );
        }
        AdminCommand::Credentials {
            user,
            revoke,
            activate,
        } => {
            let admin = Admin::new(&aws, &config).await?;
            if let Some(id) = revoke {
                let id = Base64Url::decode(&id).map_err(|e| Failure::input(format!("--revoke: {e}")))?;
                admin.revoke_credential(&user, &id).await?;
            }
            if let Some(id) = activate {
                let id = Base64Url::decode(&id).map_err(|e| Failure::input(format!("--activate: {e}")))?;
                admin.activate_credential(&user, &id).await?;
            }
            let list = admin.credentials(&user).await?;
            invocation
                .out
                .result(json!({"ok": true, "user": user, "credentials": list}), || {
                    if list.is_empty() {
                        return format!("{user} has no registered credentials.");
                    }
                    list.iter()
                        .map(|c| {
                            format!(
                                "{}  {:<20} {:<12} {:?}  counter {}",
                                c.credential_id,
                                c.label,
                                c.kind.as_str(),
                                c.status,
                                c.counter
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
        }
        AdminCommand::Audit { execution, user } => {
            let records = match (execution, user) {
                (Some(execution), None) => admin::registry(&aws, &config)
                    .audit_of(&execution)
                    .await
                    .map_err(|e| Failure::failed("aws_error", e))?,
                (None, Some(user)) => Admin::new(&aws, &config).await?.audit_of_user(&user).await?,
                _ => unreachable!("clap requires exactly one of EXECUTION and --user"),
            };
            invocation
                .out
                .result(json!({"ok": true, "records": records}), || {
                    records
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                });
        }
        AdminCommand::Policy { .. } => unreachable!("answered before the settings are read"),
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn request_execution(
    invocation: &Invocation,
    aws: &aws_config::SdkConfig,
    title: String,
    requested_by: Option<String>,
    approvers: Option<String>,
    quorum: u32,
    timeout: u64,
    details: &str,
) -> Result {
    // `@FILE`: details too large for a command line (Linux caps one
    // argument at 128 KiB).
    let details = match details.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("cannot read the details file {path}: {e}")))?,
        None => details.to_owned(),
    };
    let spec = tapprove_engine::gate::RequestSpec {
        title,
        approvers,
        quorum,
        timeout_seconds: timeout,
        details,
        requested_by,
    };
    let opened = tapprove_engine::gate::request(aws, &invocation.config()?, spec).await?;
    // Scripts read the ARN from stdout; the note goes to stderr.
    let value = match &opened {
        tapprove_engine::gate::Opened::Claimed {
            execution,
            requested_by,
        } => {
            invocation.out.note(&format!(
                "requested by {requested_by} ({}): the gate was started directly",
                tapprove_proto::REQUESTER_CLAIMED
            ));
            json!({"ok": true, "execution": execution, "requester_verified": false})
        }
        tapprove_engine::gate::Opened::Proven(receipt) => {
            invocation.out.note(&format!(
                "requested by {}, as AWS proved it",
                receipt.requester.name()
            ));
            json!({"ok": true, "execution": receipt.execution, "requester": receipt.requester, "requester_verified": true})
        }
    };
    invocation.out.result(value, || opened.execution().to_owned());
    Ok(())
}

async fn execution_status(
    invocation: &Invocation,
    aws: &aws_config::SdkConfig,
    execution: &str,
    wait: Option<u64>,
) -> Result {
    let state = tapprove_engine::gate::status(aws, execution, Duration::from_secs(wait.unwrap_or(0))).await?;
    let output: Option<Value> = state.output.as_deref().and_then(|o| serde_json::from_str(o).ok());
    let value = json!({"ok": true, "status": state.status, "output": output, "error": state.error, "cause": state.cause});
    invocation.out.result(value, || {
        let mut text = state.status.clone();
        if let Some(error) = &state.error {
            text.push_str(&format!(": {error}"));
        }
        if let Some(cause) = &state.cause {
            text.push('\n');
            text.push_str(&truncate(cause, 2000));
        }
        if let Some(output) = &output {
            text.push('\n');
            text.push_str(&serde_json::to_string_pretty(output).unwrap_or_default());
        }
        text
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_long_or_padded_claimed_requester_keeps_its_mark() {
        let item = json!([{
            "id": "AbC123xyz0", "title": "Deploy", "seconds_left": 60,
            "requested_by": "alice.smith.from.accounting@example.com", "requester_verified": false,
        }]);
        assert!(
            inbox_text(&item).contains("alice.smith.from.a… (?)"),
            "{}",
            inbox_text(&item)
        );
        let mut request: tapprove_proto::Request = serde_json::from_value(json!({
            "tapprove": "request/v1",
            "execution": "arn:aws:states:eu-west-1:123456789012:execution:g:e",
            "nonce": "n", "created": "2026-11-21T10:00:00Z", "timeout_seconds": 60,
            "title": "t", "requested_by": "x", "approvers": "g", "quorum": 1, "details": {}
        }))
        .unwrap();
        request.requested_by = format!("ci-bot{}", "\u{200B}".repeat(80));
        assert!(
            requester_line(&request).ends_with("(not verified)"),
            "{}",
            requester_line(&request)
        );
    }
}
