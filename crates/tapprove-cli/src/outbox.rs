//! `tapprove outbox`: the decisions sent from this machine, and resending
//! the ones still pending (which every command that decides or lists does
//! first).

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
