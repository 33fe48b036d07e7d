//! `tapprove inbox` and `tapprove show`: the requests waiting for the
//! approver, as a table, one request in full, or events as they come
//! (`--watch`).

use std::time::Duration;

use serde_json::{Value, json};
use tapprove_engine::{Engine, Event};

use crate::cli::InboxArgs;
use crate::context::Invocation;
use crate::exit::Result;
use crate::outbox::flush_quietly;
use crate::output::truncate;

fn describe(event: &Event) -> String {
    match event {
        Event::NewRequest { id, title, source } => format!("new request {id}: {title} ({source})"),
        Event::RequestGone {
            id,
            outcome: Some(outcome),
            ..
        } => format!("request {id} is gone: {}", truncate(&outcome.describe(), 300)),
        Event::RequestGone { id, reason, .. } => format!("request {id} is gone: {}", reason.explain()),
        Event::DecisionDelivered { id, verdict } => format!("{verdict} on {id} delivered"),
        Event::DecisionClosed { id, verdict, reason } => {
            format!("{verdict} on {id} not taken: {}", reason.explain())
        }
        Event::DecisionPending { id, error } => format!("decision on {id} still pending: {error}"),
    }
}

fn inbox_json(engine: &Engine) -> Result<Value> {
    let now = engine.clock().utc();
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
                // Set when the approver asked for it and cannot decide it.
                "yours": engine.yours(&i.request),
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
        if let Some(why) = i["yours"].as_str() {
            lines.push(format!("{:<11} ↳ {}", "", truncate(why, 200)));
        }
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

pub async fn run(invocation: &Invocation, args: InboxArgs) -> Result {
    let engine = invocation.engine().await?;
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
    let engine = invocation.engine().await?;
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
