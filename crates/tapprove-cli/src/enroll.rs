//! `tapprove enroll`: a new credential on an authenticator.

use serde_json::json;
use tapprove_engine::{AuthenticatorChoice, NewKey, enrol};
use tapprove_proto::enrolment::EnrolmentStatus;

use crate::cli::{AuthenticatorArg, EnrollArgs};
use crate::context::Invocation;
use crate::exit::Result;
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
    let engine = invocation.engine().await?;
    let service = match &args.out {
        Some(_) => None,
        None => enrol::Endpoint::from_settings(&invocation.settings()?, args.service.as_deref())?,
    };
    let choice = args.authenticator.map(|a| match a {
        AuthenticatorArg::Usb => AuthenticatorChoice::SecurityKey,
        AuthenticatorArg::Platform => AuthenticatorChoice::Platform,
        AuthenticatorArg::Software => AuthenticatorChoice::Software,
    });
    let enroller = engine.enroller(choice).await?;
    let label = args.label.clone().unwrap_or_else(|| {
        match enroller.choice() {
            AuthenticatorChoice::SecurityKey => "security key",
            AuthenticatorChoice::Platform => "platform authenticator",
            AuthenticatorChoice::Software => "software key",
        }
        .to_owned()
    });
    let key = NewKey {
        label: &label,
        with_pin: args.with_pin,
    };
    let prompt = TerminalPrompt::new(&args.pin);
    if let Some(service) = service {
        let receipt = engine.enrol(&service, &enroller, key, &prompt).await?;
        let id = receipt.credential_id.encode();
        invocation.out.result(json!({"ok": true, "receipt": receipt, "authenticator": enroller.choice()}), || match receipt.status {
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
    // No service: the enrolment request for an admin, to a file or stdout;
    // the engine takes the new credential back if it cannot be written.
    engine.enrolment_request(&enroller, key, &prompt, |text| match &args.out {
        Some(path) => write_atomically(path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            invocation.out.document(text);
            Ok(())
        }
    })?;
    if let Some(path) = &args.out {
        invocation.out.note(&format!(
            "Created a credential for {}. Ask an admin to run `tapprove admin register {}`.",
            enroller.user(),
            path.display()
        ));
    }
    Ok(())
}
