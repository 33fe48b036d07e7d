//! `TAPPROVE_TRACE_OPEN=1`: the window process says when each step of an
//! open was reached, counted from the start of its `relay::run` (to find
//! what an open spends; see docs/app.md).

use std::sync::OnceLock;
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the time the steps count from.
pub fn start() {
    STARTED.get_or_init(Instant::now);
}

/// Says how long after `start` `step` was reached, when tracing is on.
pub fn trace(step: &str) {
    if std::env::var_os("TAPPROVE_TRACE_OPEN").is_some()
        && let Some(started) = STARTED.get()
    {
        eprintln!("tapprove-window: {step} at {} ms", started.elapsed().as_millis());
    }
}
