//! `tapprove sign`: a decision signed with a software key, offline.

use std::io::IsTerminal;

use tapprove_authn::software::{KeyStore, SoftwareAuthenticator};
use tapprove_authn::{AuthnError, SignError, SigningRequest, UserVerification, sign_decision};
use tapprove_proto::{Base64Url, Request, Verdict};

use crate::cli::{SignArgs, UvArg, VerdictArg};
use crate::exit::{Failure, Result};
use crate::files::{is_stdin, now, read_input, write_atomically};
use crate::output::Output;
use crate::prompt::TerminalPrompt;

/// `tapprove sign`: prints (or writes) the approval/v1 decision.
pub fn run(out: &Output, args: SignArgs) -> Result {
    let prompt = TerminalPrompt::new(&args.pin);
    prompt.check_stdin_free(is_stdin(&args.request))?;
    let bytes = read_input(&args.request, "request")?;
    let request =
        Request::from_json(&bytes).map_err(|e| Failure::input(format!("the request is not valid: {e}")))?;
    let verdict = match args.decision {
        VerdictArg::Approve => Verdict::Approve,
        VerdictArg::Deny => Verdict::Deny,
    };
    let reason = args.reason.filter(|r| !r.trim().is_empty());
    if verdict == Verdict::Deny && reason.is_none() {
        return Err(Failure::input("a denial needs a reason: add --reason \"…\""));
    }
    let signed_at = now(args.now.as_deref())?;

    let store = crate::key::open_store(&args.store.spec)?;
    let allow_credentials: Vec<Base64Url> = match &args.credential {
        Some(id) => vec![Base64Url::decode(id).map_err(|e| Failure::input(format!("--credential: {e}")))?],
        None => store
            .list()?
            .into_iter()
            .filter(|k| k.user == args.approver && k.rp_id == args.rp_id)
            .map(|k| k.credential_id)
            .collect(),
    };
    if allow_credentials.is_empty() {
        return Err(Failure::input(format!(
            "no software key for `{}` and relying party `{}` in {}: create one with `tapprove key create`",
            args.approver, args.rp_id, args.store.spec
        )));
    }
    let authenticator = SoftwareAuthenticator::new(&store, signed_at.clone());
    let decision = sign_decision(
        &authenticator,
        &prompt,
        &SigningRequest {
            request: &request,
            verdict,
            reason,
            reason_code: None,
            approver: args.approver.clone(),
            rp_id: args.rp_id.clone(),
            signed_at,
            allow_credentials,
            user_verification: match args.user_verification {
                UvArg::Required => UserVerification::Required,
                UvArg::Preferred => UserVerification::Preferred,
                UvArg::Discouraged => UserVerification::Discouraged,
            },
        },
    )
    .map_err(|e| match e {
        SignError::Invalid(e) => Failure::input(format!("the decision would not be valid: {e}")),
        SignError::Authenticator(AuthnError::Cancelled) if !std::io::stdin().is_terminal() => Failure::failed(
            "pin_required",
            "this key has a PIN and none was given: pass --pin-env VAR or --pin-stdin, or run in a terminal",
        ),
        SignError::Authenticator(e) => e.into(),
        other => Failure::failed("signing_failed", other),
    })?;
    let text = decision.to_json();
    match &args.out {
        Some(path) => {
            write_atomically(path, format!("{text}\n").as_bytes()).map_err(|e| {
                Failure::failed("write_failed", format!("cannot write {}: {e}", path.display()))
            })?;
            out.note(&format!("Wrote the signed decision to {}.", path.display()));
        }
        None => out.document(&text),
    }
    Ok(())
}
