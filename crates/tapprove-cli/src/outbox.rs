//! `tapprove outbox`: the decisions sent from this machine, and resending
//! the ones still pending (which every command that decides or lists does
//! first); `tapprove history`: the requests the approver saw and how each
//! ended.

use std::time::Duration;

use serde_json::json;
use tapprove_engine::{DeliveryOutcome, Engine};

use crate::context::Invocation;
use crate::exit::Result;
use crate::output::{Output, truncate};

/// Resends pending decisions first, so a decision journalled by an earlier
/// run (killed, or offline) is delivered by the next command.
pub async fn flush_quietly(engine: &Engine, out: &Output) -> Result {
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

pub async fn run(invocation: &Invocation, flush: bool) -> Result {
    let engine = invocation.engine().await?;
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

/// `tapprove history`.
pub async fn history(invocation: &Invocation) -> Result {
    let engine = invocation.engine().await?;
    flush_quietly(&engine, &invocation.out).await?;
    // What left the inbox since, and how each request ended, as Step
    // Functions tells it; without AWS, what is known already.
    if let Err(e) = engine.heartbeat().await {
        invocation
            .out
            .note(&format!("could not check pending requests: {e}"));
    }
    if let Err(e) = engine.settle().await {
        invocation
            .out
            .note(&format!("could not look up how requests ended: {e}"));
    }
    let seen = engine.seen()?;
    invocation.out.result(json!({"ok": true, "requests": seen}), || {
        if seen.is_empty() {
            return "You have seen no requests yet.".into();
        }
        seen.iter()
            .map(|r| {
                let mine = match &r.mine {
                    Some(m) => format!("you: {} ({})", m.verdict, m.state),
                    None if r.own => "you asked for it".into(),
                    None => "you: no decision".into(),
                };
                let end = r.outcome.as_ref().map_or_else(
                    || "open, or not known yet".to_owned(),
                    tapprove_engine::Outcome::describe,
                );
                format!(
                    "{}  {:<11} {:<40} {}; {}",
                    r.first_seen,
                    r.id,
                    truncate(&r.title, 40),
                    mine,
                    truncate(&end, 200)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
