//! `tapprove approve` and `tapprove deny`: sign a decision with the
//! approver's authenticator and deliver it.

use serde_json::json;
use tapprove_engine::prompt::UserVerification;
use tapprove_engine::{DeliveryOutcome, Reason};
use tapprove_proto::Verdict;

use crate::cli::{DecideArgs, UvArg};
use crate::context::Invocation;
use crate::exit::{Failure, Kind, Result};
use crate::outbox::flush_quietly;
use crate::output::truncate;
use crate::prompt::TerminalPrompt;

pub async fn run(invocation: &Invocation, verdict: Verdict, args: DecideArgs, reason: Reason) -> Result {
    let engine = invocation.engine().await?;
    flush_quietly(&engine, &invocation.out).await?;
    let signer = engine.signer().await?;
    let prompt = TerminalPrompt::new(&args.pin);
    // The engine asks for what the settings in force require (as the
    // app does); the flag may only ask for more.
    let uv = args.user_verification.map(|asked| match asked {
        UvArg::Required => UserVerification::Required,
        UvArg::Preferred => UserVerification::Preferred,
        UvArg::Discouraged => UserVerification::Discouraged,
    });
    let (item, outcome) = engine
        .decide(&args.id, verdict, reason.clone(), &signer, &prompt, uv)
        .await?;
    let verb = verdict.as_str();
    let value = json!({"ok": matches!(outcome, DeliveryOutcome::Delivered), "id": item.id, "verdict": verb, "delivery": outcome});
    match outcome {
        DeliveryOutcome::Delivered => {
            let done = match (verdict, reason.code) {
                (Verdict::Approve, _) => "Approved",
                (Verdict::Deny, Some(_)) => "Denied as unexpected (the admins are alerted)",
                (Verdict::Deny, None) => "Denied",
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
