//! The commands the window may call (and nothing else: see
//! `capabilities/main.json`). Each checks its arguments, then delegates to
//! the engine or the session; errors reach the UI as `{code, message}`.

use std::sync::Arc;
use std::time::Instant;

use tapprove_config::{SignIn, Source};
use tapprove_engine::account::LoginRequest;
use tapprove_engine::{AuthenticatorChoice, DeliveryOutcome, NewKey, Reason, enrol};
use tapprove_proto::Verdict;
use tapprove_proto::enrolment::{CredentialAction, CredentialsAnswer, EnrolmentStatus};
use tapprove_proto::limits::{MAX_LABEL_CHARS, MAX_REASON_CHARS};
use tauri::{AppHandle, Manager, Runtime, State};
use tauri_plugin_autostart::ManagerExt;
use zeroize::Zeroizing;

use crate::error::{AppError, ErrorCode, Result};
use crate::models::*;
use crate::prompt::{WindowLogin, WindowPrompt};
use crate::state::Tapprove;

type AppState<'a> = State<'a, Arc<Tapprove>>;

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
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| AppError::new(ErrorCode::Internal, format!("the signing thread failed: {e}")))?
}

#[tauri::command]
pub fn overview(state: AppState<'_>) -> Overview {
    state.overview(state.clock.now())
}

#[tauri::command]
pub async fn request(state: AppState<'_>, id: String) -> Result<RequestDetail> {
    check_id(&id)?;
    let engine = state.engine().await?;
    Ok(RequestDetail::of(&engine.find(&id)?, &engine))
}

/// A request the approver saw that is no longer in the inbox, and how it
/// ended (asking Step Functions once if that is not known yet); `null` if
/// it was never seen here.
#[tauri::command]
pub async fn request_end(state: AppState<'_>, id: String) -> Result<Option<SeenView>> {
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
#[tauri::command]
pub async fn seen(state: AppState<'_>) -> Result<Vec<SeenView>> {
    let engine = state.engine().await?;
    Ok(engine.seen()?.into_iter().map(Into::into).collect())
}

#[tauri::command]
pub async fn decide<R: Runtime>(
    app: AppHandle<R>,
    state: AppState<'_>,
    id: String,
    verdict: VerdictArg,
    reason: Option<String>,
) -> Result<DecisionResult> {
    check_id(&id)?;
    let reason = check_reason(verdict, reason)?;
    let state: Arc<Tapprove> = state.inner().clone();
    let engine = state.engine().await?;
    let _turn = state.signing.begin()?;
    let signer = engine.signer().await?;
    // The signing screen says which authenticator Tapprove waits for.
    let prompt = WindowPrompt::new(app.clone(), state.clone(), signer.description());
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
    crate::overview::publish(&app);
    // Its notification closes now, not at the next poll.
    crate::notify::follow_inbox(&app, &state.overview(state.clock.now()).inbox);
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

#[tauri::command]
pub fn submit_pin(state: AppState<'_>, pin: Option<String>) -> Result<()> {
    let pin = pin.map(Zeroizing::new);
    if let Some(p) = &pin
        && !(4..=63).contains(&p.len())
    {
        return Err(AppError::invalid("a PIN has 4 to 63 characters"));
    }
    state.signing.answer_pin(pin)
}

#[tauri::command]
pub fn cancel_signing(state: AppState<'_>) {
    state.signing.cancel();
}

#[tauri::command]
pub async fn history(state: AppState<'_>) -> Result<Vec<HistoryEntry>> {
    let engine = state.engine().await?;
    Ok(engine.history()?.into_iter().rev().map(Into::into).collect())
}

#[tauri::command]
pub fn settings<R: Runtime>(app: AppHandle<R>, state: AppState<'_>) -> Result<SettingsView> {
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
        autostart: app
            .try_state::<tauri_plugin_autostart::AutoLaunchManager>()
            .is_some_and(|launcher| launcher.is_enabled().unwrap_or(false)),
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

#[tauri::command]
pub fn set_autostart<R: Runtime>(app: AppHandle<R>, enabled: bool) -> Result<()> {
    let launcher = app.autolaunch();
    let done = if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    };
    done.map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot change start at login: {e}")))
}

#[tauri::command]
pub fn pause_notifications<R: Runtime>(
    app: AppHandle<R>,
    state: AppState<'_>,
    minutes: u32,
) -> Result<Overview> {
    if minutes > 24 * 60 {
        return Err(AppError::invalid("pause for at most 24 hours (1440 minutes)"));
    }
    state.pause(minutes, state.clock.now());
    crate::overview::publish(&app);
    Ok(state.overview(state.clock.now()))
}

#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    state: AppState<'_>,
    device_code: bool,
) -> Result<SessionView> {
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
        .sign_in(LoginRequest { sign_in, device_code }, &WindowLogin(app.clone()))
        .await?;
    reconnect(&app, &state).await
}

/// After signing in or out: a new engine with the new credentials, and the
/// session as it now is, shown everywhere.
async fn reconnect<R: Runtime>(app: &AppHandle<R>, state: &Tapprove) -> Result<SessionView> {
    state.connect().await?;
    let session = state.check_session().await;
    state.set_session(session.clone());
    crate::overview::publish(app);
    Ok(session)
}

#[tauri::command]
pub async fn sign_out<R: Runtime>(app: AppHandle<R>, state: AppState<'_>) -> Result<SessionView> {
    state.account()?.sign_out().await?;
    reconnect(&app, &state).await
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
#[tauri::command]
pub async fn authenticators(state: AppState<'_>) -> Result<Vec<AuthenticatorView>> {
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
#[tauri::command]
pub async fn change_authenticator<R: Runtime>(
    app: AppHandle<R>,
    state: AppState<'_>,
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
    crate::overview::publish(&app);
    Ok(views(answer, &engine.config().rp_id))
}

/// Enrols an authenticator: `kind` is `security_key`, `platform` or
/// `software` (default: what this machine offers first).
#[tauri::command]
pub async fn enrol<R: Runtime>(
    app: AppHandle<R>,
    state: AppState<'_>,
    label: String,
    kind: Option<String>,
) -> Result<AuthenticatorView> {
    let label = check_label(&label)?;
    let state: Arc<Tapprove> = state.inner().clone();
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
    let prompt = WindowPrompt::new(app.clone(), state.clone(), enroller.description());
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
    crate::overview::publish(&app);
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
#[tauri::command]
pub fn ui_ready(state: AppState<'_>) {
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
