//! The background loop: long-polls the sources, notifies about new
//! requests, resends the outbox and drops requests that left, and keeps the
//! session's health current. It never cancels a poll in flight (a task
//! Step Functions handed to a cancelled `GetActivityTask` would be lost
//! until it times out), and it sleeps on the network, so an idle app does
//! not wake the CPU.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tapprove_engine::Event;

use crate::error::{AppError, ErrorCode};
use crate::shell::{Shell, publish};
use crate::state::Tapprove;

/// Seconds a queue receive waits for a message.
const QUEUE_WAIT: i32 = 20;
/// How often pending decisions are resent and how requests that left
/// ended is looked up.
const MAINTENANCE: Duration = Duration::from_secs(60);
/// At most how often the inbox's requests are checked (heartbeats for
/// claimed tasks, `DescribeExecution` for queued ones), so a request
/// decided elsewhere leaves within one poll.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How often the session's health is checked.
const SESSION_CHECK: Duration = Duration::from_secs(300);

pub async fn run(shell: Arc<dyn Shell>, state: Arc<Tapprove>) {
    let mut backoff = Duration::from_secs(2);
    let mut maintained: Option<Instant> = None;
    let mut heartbeat: Option<Instant> = None;
    let mut session_checked: Option<Instant> = None;
    while !state.quitting.load(Ordering::SeqCst) {
        let engine = match state.engine().await {
            Ok(engine) => engine,
            Err(e) => {
                state.set_problem(Some(e));
                state.set_session(state.check_session().await);
                publish(&*shell, &state);
                let _ = tokio::time::timeout(Duration::from_secs(300), state.wake.notified()).await;
                continue;
            }
        };
        let mut changed = false;
        if !state.session_known() || session_checked.is_none_or(|t| t.elapsed() > SESSION_CHECK) {
            changed |= state.set_session(state.check_session().await);
            session_checked = Some(Instant::now());
        }
        if maintained.is_none_or(|t| t.elapsed() > MAINTENANCE) {
            maintained = Some(Instant::now());
            let _ = engine.flush().await;
            let _ = engine.settle().await;
            changed = true;
        }
        if heartbeat.is_none_or(|t| t.elapsed() > HEARTBEAT) {
            heartbeat = Some(Instant::now());
            if let Ok(events) = engine.heartbeat().await {
                changed |= !events.is_empty();
            }
        }
        if engine.config().sources.is_empty() {
            changed |= state.set_problem(Some(AppError::new(
                ErrorCode::NotConfigured,
                "no request sources are configured: ask your admin to add your group's activity or queue to the Tapprove settings",
            )));
            if changed {
                publish(&*shell, &state);
            }
            let _ = tokio::time::timeout(Duration::from_secs(300), state.wake.notified()).await;
            continue;
        }
        let polled = engine.poll_all(QUEUE_WAIT).await;
        let mut arrived = Vec::new();
        let failed = polled.is_err();
        match polled {
            Ok(events) => {
                backoff = Duration::from_secs(2);
                changed |= state.set_problem(None);
                for event in events {
                    if let Event::NewRequest { id, .. } = event {
                        arrived.push(id);
                    }
                }
            }
            Err(e) => {
                let e = AppError::from(e);
                eprintln!("tapprove-app: polling failed: {}", e.message);
                changed |= state.set_problem(Some(e));
            }
        }
        match state.refresh(&engine) {
            Ok(c) => changed |= c,
            Err(e) => changed |= state.set_problem(Some(e)),
        }
        if changed {
            publish(&*shell, &state);
        }
        crate::notify::follow_inbox(&state, &state.overview(state.clock.now()).inbox);
        if !arrived.is_empty() && !state.notifications_held(state.clock.now()) {
            let overview = state.overview(state.clock.now());
            let today = overview.today;
            let new: Vec<_> = overview
                .inbox
                .into_iter()
                .filter(|r| arrived.contains(&r.id))
                .collect();
            // Shown on the notifier's thread: the next poll does not wait
            // for the notification server.
            for note in crate::notify::notes(&new, &today) {
                let (job_shell, job_state) = (shell.clone(), state.clone());
                state
                    .notifier
                    .run(move || crate::notify::show(&job_shell, &job_state, note));
            }
        }
        if failed {
            let _ = tokio::time::timeout(backoff, state.wake.notified()).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
}

/// Before quitting: cancels a signing that waits for the person, sends
/// what the outbox holds (at most 10 s) and says what is left.
pub async fn before_quit(state: &Tapprove) {
    state.quitting.store(true, Ordering::SeqCst);
    // A signing waiting for a PIN or a touch ends now: nobody will see it.
    state.signing.cancel();
    if let Ok(engine) = state.engine().await {
        match engine.flush_until(Duration::from_secs(10)).await {
            Ok(0) => {}
            Ok(left) => crate::notify::outbox_left(left),
            Err(e) => eprintln!("tapprove-app: cannot resend the outbox before quitting: {e}"),
        }
    }
}
