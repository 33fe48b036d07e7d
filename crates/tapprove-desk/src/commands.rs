//! The commands the window may call (and nothing else: see
//! `src-tauri/capabilities/main.json`). Each checks its arguments, then
//! delegates to the engine or the session; errors reach the UI as
//! `{code, message}`. [`dispatch`] is the one entry: the window process
//! relays each call to the agent, which runs it here; the one-process app
//! calls it directly.

use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use serde_json::Value;

use tapprove_config::{SignIn, Source};
use tapprove_engine::account::LoginRequest;
use tapprove_engine::{AuthenticatorChoice, DeliveryOutcome, NewKey, Reason, enrol};
use tapprove_proto::Verdict;
use tapprove_proto::enrolment::{CredentialAction, CredentialsAnswer, EnrolmentStatus};
use tapprove_proto::limits::{MAX_LABEL_CHARS, MAX_REASON_CHARS};
use zeroize::Zeroizing;

use crate::error::{AppError, ErrorCode, Result};
use crate::models::*;
use crate::prompt::{WindowLogin, WindowPrompt};
use crate::shell::{Shell, publish};
use crate::state::Tapprove;

/// The shell and the state a command runs against.
type Shl = Arc<dyn Shell>;
type St = Arc<Tapprove>;

/// The arguments of one command, as the window sends them (camelCase).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct Args {
    id: Option<String>,
    verdict: Option<VerdictArg>,
    reason: Option<String>,
    pin: Option<Zeroizing<String>>,
    enabled: Option<bool>,
    minutes: Option<u32>,
    device_code: Option<bool>,
    label: Option<String>,
    kind: Option<String>,
    credential_id: Option<String>,
    rename: Option<String>,
}

fn required<T>(value: Option<T>, name: &str) -> Result<T> {
    value.ok_or_else(|| AppError::invalid(format!("the window's call lacks `{name}`: reload the window")))
}

fn answer(value: impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(value)
        .map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot encode the answer: {e}")))
}

/// Runs `command` (one of [`crate::COMMANDS`]) with the window's `args`;
/// `None` for a command that does not exist.
pub async fn dispatch(shell: Shl, state: St, command: &str, args: Value) -> Option<Result<Value>> {
    if !crate::COMMANDS.contains(&command) {
        return None;
    }
    Some(run(shell, state, command, args).await)
}

async fn run(shell: Shl, state: St, command: &str, args: Value) -> Result<Value> {
    let args: Args = match args {
        Value::Null => Args::default(),
        args => serde_json::from_value(args).map_err(|e| {
            AppError::invalid(format!(
                "the window's call to `{command}` is malformed ({e}): reload the window"
            ))
        })?,
    };
    match command {
        "overview" => answer(overview(&state)),
        "request" => answer(request(&state, required(args.id, "id")?).await?),
        "request_end" => answer(request_end(&state, required(args.id, "id")?).await?),
        "seen" => answer(seen(&state).await?),
        "decide" => {
            let (id, verdict) = (required(args.id, "id")?, required(args.verdict, "verdict")?);
            answer(decide(shell, state, id, verdict, args.reason).await?)
        }
        "submit_pin" => answer(submit_pin(&state, args.pin)?),
        "cancel_signing" => {
            state.signing.cancel();
            answer(())
        }
        "history" => answer(history(&state).await?),
        "settings" => answer(settings(&*shell, &state)?),
        "set_autostart" => answer(shell.set_autostart(required(args.enabled, "enabled")?)?),
        "pause_notifications" => answer(pause_notifications(
            &*shell,
            &state,
            required(args.minutes, "minutes")?,
        )?),
        "sign_in" => answer(sign_in(shell.clone(), &state, required(args.device_code, "deviceCode")?).await?),
        "sign_out" => answer(sign_out(&*shell, &state).await?),
        "authenticators" => answer(authenticators(&state).await?),
        "enrol" => answer(enrol(shell, state, required(args.label, "label")?, args.kind).await?),
        "change_authenticator" => {
            let id = required(args.credential_id, "credentialId")?;
            answer(change_authenticator(&*shell, &state, id, args.rename).await?)
        }
        "ui_ready" => {
            ui_ready(&state);
            answer(())
        }
        // COMMANDS and this list agree (the test below calls each name).
        other => Err(AppError::new(
            ErrorCode::Internal,
            format!("`{other}` is listed but not handled"),
        )),
    }
}

/// A request id as the inbox gives them, or an execution's name (a link).
pub fn check_id(id: &str) -> Result<()> {
    if !crate::route::valid_id(id) {
        return Err(AppError::invalid(
            "a request id is 1 to 80 letters, digits, `-` or `_`: the inbox's id, or the execution's name",
        ));
    }
    Ok(())
}

/// The reason: bounded; blank means none. A denial needs one.
pub fn check_reason(verdict: VerdictArg, reason: Option<String>) -> Result<Option<String>> {
    let reason = reason.filter(|r| !r.trim().is_empty());
    if let Some(r) = &reason
        && r.chars().count() > MAX_REASON_CHARS
    {
        return Err(AppError::invalid(format!(
            "the reason is longer than {MAX_REASON_CHARS} characters: shorten it"
        )));
    }
    // "I did not expect this" needs no words: the code says it.
    if verdict == VerdictArg::Deny && reason.is_none() {
        return Err(AppError::invalid(
            "a denial needs a reason: say what the requester should change",
        ));
    }
    Ok(reason)
}

pub fn check_label(label: &str) -> Result<String> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(AppError::invalid(format!(
            "name the authenticator in 1 to {MAX_LABEL_CHARS} characters, on one line (for example `work laptop`)"
        )));
    }
    Ok(label.to_owned())
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::new(ErrorCode::Internal, format!("the signing thread failed: {e}")))?
}

pub fn overview(state: &Tapprove) -> Overview {
    state.overview(state.clock.now())
}

pub async fn request(state: &Tapprove, id: String) -> Result<RequestDetail> {
    check_id(&id)?;
    let engine = state.engine().await?;
    Ok(RequestDetail::of(&engine.find(&id)?, &engine))
}

/// A request the approver saw that is no longer in the inbox, and how it
/// ended (asking Step Functions once if that is not known yet); `null` if
/// it was never seen here.
pub async fn request_end(state: &Tapprove, id: String) -> Result<Option<SeenView>> {
    check_id(&id)?;
    let engine = state.engine().await?;
    // As the inbox finds a request: a unique id prefix, or the execution's
    // name; an ambiguous one finds nothing.
    let find = |engine: &tapprove_engine::Engine| -> Result<Option<tapprove_engine::Seen>> {
        let mut found: Vec<_> = engine
            .seen()?
            .into_iter()
            .filter(|s| s.id.starts_with(&id) || s.execution.rsplit(':').next() == Some(id.as_str()))
            .collect();
        Ok(if found.len() == 1 { found.pop() } else { None })
    };
    if find(&engine)?.is_some_and(|s| s.outcome.is_none()) {
        // Unreachable AWS only means the end is not known yet.
        let _ = engine.settle().await;
    }
    Ok(find(&engine)?.map(Into::into))
}

/// The requests the approver saw, newest first, and how each ended.
pub async fn seen(state: &Tapprove) -> Result<Vec<SeenView>> {
    let engine = state.engine().await?;
    Ok(engine.seen()?.into_iter().map(Into::into).collect())
}

pub async fn decide(
    shell: Shl,
    state: St,
    id: String,
    verdict: VerdictArg,
    reason: Option<String>,
) -> Result<DecisionResult> {
    check_id(&id)?;
    let reason = check_reason(verdict, reason)?;
    let engine = state.engine().await?;
    let _turn = state.signing.begin()?;
    let signer = engine.signer().await?;
    // The signing screen says which authenticator Tapprove waits for.
    let prompt = WindowPrompt::new(shell.clone(), state.clone(), signer.description());
    let deciding = engine.clone();
    let runtime = tokio::runtime::Handle::current();
    let (engine_verdict, reason) = match verdict {
        VerdictArg::Approve => (Verdict::Approve, Reason::text(reason)),
        VerdictArg::Deny => (Verdict::Deny, Reason::text(reason)),
        VerdictArg::Unexpected => (Verdict::Deny, Reason::unexpected(reason)),
    };
    let (item, outcome) = blocking(move || {
        runtime
            .block_on(deciding.decide(
                &id,
                engine_verdict,
                reason,
                &signer,
                &prompt,
                // What the settings in force require.
                None,
            ))
            .map_err(AppError::from)
    })
    .await?;
    let _ = state.refresh(&engine);
    publish(&*shell, &state);
    // Its notification closes now, not at the next poll.
    crate::notify::follow_inbox(&state, &state.overview(state.clock.now()).inbox);
    let done = match verdict {
        VerdictArg::Approve => "Approved",
        VerdictArg::Deny => "Denied",
        VerdictArg::Unexpected => "Denied as unexpected (the admins are alerted)",
    };
    let message = match &outcome {
        DeliveryOutcome::Delivered => format!("{done}: Step Functions has your signed decision."),
        DeliveryOutcome::Closed { reason } => format!("Not taken: the request is {}.", reason.explain()),
        DeliveryOutcome::Pending { error } => format!(
            "Signed and saved, but not delivered yet ({error}): Tapprove resends it until AWS takes it."
        ),
    };
    Ok(DecisionResult {
        id: item.id,
        verdict,
        delivery: (&outcome).into(),
        message,
    })
}

pub fn submit_pin(state: &Tapprove, pin: Option<Zeroizing<String>>) -> Result<()> {
    if let Some(p) = &pin
        && !(4..=63).contains(&p.len())
    {
        return Err(AppError::invalid("a PIN has 4 to 63 characters"));
    }
    state.signing.answer_pin(pin)
}

pub async fn history(state: &Tapprove) -> Result<Vec<HistoryEntry>> {
    let engine = state.engine().await?;
    Ok(engine.history()?.into_iter().rev().map(Into::into).collect())
}

pub fn settings(shell: &dyn Shell, state: &Tapprove) -> Result<SettingsView> {
    let config = state.config()?;
    Ok(SettingsView {
        config_path: state.config_path.display().to_string(),
        rp_id: config.rp_id.clone(),
        sources: config
            .sources
            .iter()
            .map(|s| match s {
                Source::Activity { arn, .. } => SourceView {
                    name: s.name(),
                    kind: "activity",
                    target: arn.clone(),
                },
                Source::Queue { topic_arn, .. } => SourceView {
                    name: s.name(),
                    kind: "queue",
                    target: topic_arn.clone(),
                },
            })
            .collect(),
        sign_in: config.sign_in.as_ref().map(|s| match s {
            SignIn::Sso(s) => SignInView {
                kind: SignInKind::Sso,
                location: s.start_url.clone(),
            },
            SignIn::Oidc(o) => SignInView {
                kind: SignInKind::Oidc,
                location: o.issuer.clone(),
            },
        }),
        key_store: match config.key_store {
            tapprove_config::KeyStoreKind::Keychain => "keychain",
            tapprove_config::KeyStoreKind::Files => "files",
        },
        autostart: shell.autostart(),
        require_user_verification: config.require_user_verification,
        allow_software_authenticators: config.allow_software_authenticators,
        quiet_hours: config
            .notifications
            .as_ref()
            .and_then(|n| n.quiet_hours)
            .map(|q| QuietHoursView {
                start: q.start.to_string(),
                end: q.end.to_string(),
            }),
        updates: UpdatesView {
            channel: config
                .updates
                .as_ref()
                .map(|u| u.channel)
                .unwrap_or_default()
                .as_str(),
            pin: config.updates.as_ref().and_then(|u| u.pin.clone()),
        },
        decision_endpoint: config.delivery.as_ref().map(|d| d.endpoint.clone()),
        policy_path: state.policy_path.as_ref().map(|p| p.display().to_string()),
        fixed: state.fixed.iter().map(|k| (*k).to_owned()).collect(),
    })
}

pub fn pause_notifications(shell: &dyn Shell, state: &Tapprove, minutes: u32) -> Result<Overview> {
    if minutes > 24 * 60 {
        return Err(AppError::invalid("pause for at most 24 hours (1440 minutes)"));
    }
    state.pause(minutes, state.clock.now());
    publish(shell, state);
    Ok(state.overview(state.clock.now()))
}

pub async fn sign_in(shell: Shl, state: &Tapprove, device_code: bool) -> Result<SessionView> {
    let sign_in = state.config()?.sign_in.clone().ok_or_else(|| {
        AppError::new(
            ErrorCode::NotConfigured,
            format!(
                "your settings ({}) name no sign-in: ask your admin for the [sign_in] section, or use AWS credentials from your environment",
                state.config_path.display()
            ),
        )
    })?;
    state
        .account()?
        .sign_in(LoginRequest { sign_in, device_code }, &WindowLogin(shell.clone()))
        .await?;
    reconnect(&*shell, state).await
}

/// After signing in or out: a new engine with the new credentials, and the
/// session as it now is, shown everywhere.
async fn reconnect(shell: &dyn Shell, state: &Tapprove) -> Result<SessionView> {
    state.connect().await?;
    let session = state.check_session().await;
    state.set_session(session.clone());
    publish(shell, state);
    Ok(session)
}

pub async fn sign_out(shell: &dyn Shell, state: &Tapprove) -> Result<SessionView> {
    state.account()?.sign_out().await?;
    reconnect(shell, state).await
}

/// The enrolment service, as the settings name it.
fn enrolment_service(config: &tapprove_config::Config) -> Result<enrol::Endpoint> {
    enrol::Endpoint::from_config(config)?.ok_or_else(|| {
        AppError::new(
            ErrorCode::NotConfigured,
            "no enrolment service is configured ([enrolment] url): ask your admin, or enrol with `tapprove enroll --out FILE`",
        )
    })
}

/// The approver's authenticators: what the registry holds for them (through
/// the enrolment service, which knows them by their AWS identity), or,
/// without a service, the software keys on this machine.
pub async fn authenticators(state: &Tapprove) -> Result<Vec<AuthenticatorView>> {
    let engine = state.engine().await?;
    if let Ok(service) = enrolment_service(engine.config()) {
        let answer = engine.own_credentials(&service, CredentialAction::List).await?;
        return Ok(views(answer, &engine.config().rp_id));
    }
    Ok(engine
        .software_keys()
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

fn views(answer: CredentialsAnswer, rp_id: &str) -> Vec<AuthenticatorView> {
    answer
        .credentials
        .into_iter()
        .map(|c| AuthenticatorView::registered(c, &answer.user, rp_id))
        .collect()
}

/// Renames or revokes one of the approver's own authenticators.
pub async fn change_authenticator(
    shell: &dyn Shell,
    state: &Tapprove,
    credential_id: String,
    rename: Option<String>,
) -> Result<Vec<AuthenticatorView>> {
    let id = tapprove_proto::Base64Url::decode(&credential_id)
        .map_err(|_| AppError::invalid("not a credential id: pick one from the list"))?;
    let action = match rename {
        Some(label) => CredentialAction::Rename {
            credential_id: id,
            label: check_label(&label)?,
        },
        None => CredentialAction::Revoke { credential_id: id },
    };
    let engine = state.engine().await?;
    let service = enrolment_service(engine.config())?;
    let answer = engine.own_credentials(&service, action).await?;
    publish(shell, state);
    Ok(views(answer, &engine.config().rp_id))
}

/// Enrols an authenticator: `kind` is `security_key`, `platform` or
/// `software` (default: what this machine offers first).
pub async fn enrol(shell: Shl, state: St, label: String, kind: Option<String>) -> Result<AuthenticatorView> {
    let label = check_label(&label)?;
    let engine = state.engine().await?;
    let choice = match kind.as_deref() {
        None => None,
        Some("security_key") => Some(AuthenticatorChoice::SecurityKey),
        Some("platform") => Some(AuthenticatorChoice::Platform),
        Some("software") => Some(AuthenticatorChoice::Software),
        Some(_) => {
            return Err(AppError::invalid(
                "the authenticator is `security_key`, `platform` or `software`",
            ));
        }
    };
    let service = enrolment_service(engine.config())?;
    let _turn = state.signing.begin()?;
    let enroller = engine.enroller(choice).await?;
    let choice = enroller.choice();
    let prompt = WindowPrompt::new(shell.clone(), state.clone(), enroller.description());
    let runtime = tokio::runtime::Handle::current();
    let enrolling = engine.clone();
    let receipt = blocking(move || {
        let key = NewKey {
            label: &label,
            with_pin: false,
        };
        runtime
            .block_on(enrolling.enrol(&service, &enroller, key, &prompt))
            .map_err(AppError::from)
    })
    .await?;
    publish(&*shell, &state);
    Ok(AuthenticatorView {
        credential_id: receipt.credential_id.encode(),
        label: receipt.label,
        kind: choice.kind().as_str(),
        user: receipt.user,
        rp_id: engine.config().rp_id.clone(),
        status: match receipt.status {
            EnrolmentStatus::Active => "active",
            EnrolmentStatus::Pending => "pending",
        },
    })
}

/// The window's first screen shows its data: logs how long it took from
/// the request to open it (read by the footprint benchmark).
pub fn ui_ready(state: &Tapprove) {
    let opened = state
        .opened_at
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(opened) = opened {
        eprintln!(
            "tapprove-app: window interactive {} ms after it was asked for",
            Instant::now().duration_since(opened).as_millis()
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Nothing;

    impl Shell for Nothing {
        fn emit(&self, _event: &str, _payload: Value) {}
        fn open(&self, _route: &str) {}
        fn tray(&self, _overview: &Overview) {}
        fn quit(&self) {}
        fn autostart(&self) -> bool {
            false
        }
        fn set_autostart(&self, _enabled: bool) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_listed_command_is_handled_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let state = Arc::new(Tapprove::with_config(
            dir.path().join("config.toml"),
            dir.path().to_path_buf(),
            Err(AppError::new(ErrorCode::NotConfigured, "no settings")),
        ));
        let shell: Shl = Arc::new(Nothing);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for command in crate::COMMANDS {
            let answer = runtime
                .block_on(dispatch(shell.clone(), state.clone(), command, Value::Null))
                .unwrap_or_else(|| panic!("{command} is listed but dispatch does not know it"));
            if let Err(e) = answer {
                assert!(!e.message.contains("not handled"), "{command}: {}", e.message);
            }
        }
        assert!(
            runtime
                .block_on(dispatch(shell, state, "no_such_command", Value::Null))
                .is_none()
        );
    }
}
