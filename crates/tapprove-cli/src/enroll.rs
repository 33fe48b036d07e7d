//! `tapprove enroll`: a new credential on an authenticator.

use serde_json::json;
use tapprove_engine::keys::{AuthenticatorChoice, KeySpec, new_credential};
use tapprove_engine::{EngineError, enrol, now};
use tapprove_proto::enrolment::EnrolmentStatus;

use crate::cli::{AuthenticatorArg, EnrollArgs};
use crate::context::Invocation;
use crate::exit::{Failure, Result};
use crate::files::write_atomically;
use crate::prompt::TerminalPrompt;

/// `tapprove enroll`: creates a credential with the chosen authenticator
/// and submits it to the enrolment service, which registers it under the
/// caller's AWS identity; then a first test signature confirms it. Without
/// a service (or with `--out`), writes the enrolment request for an admin
/// to register. If any step fails, what was done is undone: the new key is
/// deleted from the authenticator where it can be, and a registry entry
/// whose test failed is withdrawn.
pub async fn run(invocation: &Invocation, args: EnrollArgs) -> Result {
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
    let store = invocation.key_store(&config)?;
    let exclude = tapprove_engine::keys::exclusions(&*store, &invocation.state_dir, &user, &rp_id)?;
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
        let receipt = enrol::enrol(
            enrol::Service {
                aws: &aws,
                endpoint: &service,
                state_dir: &invocation.state_dir,
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
