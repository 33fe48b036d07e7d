//! What the tray shows, whoever draws it (the agent's D-Bus tray, or
//! Tauri's): the count of waiting requests at a glance (a badge on the
//! icon, and the count as the label where the host shows one), the
//! session's health, and everything the window offers. Linux tray hosts
//! often ignore clicks on the icon itself, so every action is in the menu.
//! The menu lists at most [`LISTED`] requests, however many wait.

use std::sync::Arc;

use crate::models::{Health, Overview};
use crate::shell::{Shell, publish};
use crate::state::Tapprove;
use crate::text::{one_line, short_time_on};

/// At most this many requests are listed in the menu; "N more…" opens the
/// inbox for the rest.
pub const LISTED: usize = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    Idle,
    Waiting,
    Problem,
}

pub fn look(overview: &Overview) -> Look {
    if !overview.session.is_healthy() || overview.problem.is_some() {
        Look::Problem
    } else if overview.inbox.is_empty() {
        Look::Idle
    } else {
        Look::Waiting
    }
}

/// The icon for `look` (PNG).
pub fn icon_png(look: Look) -> &'static [u8] {
    match look {
        Look::Idle => include_bytes!("../../../icons/tray-idle.png").as_slice(),
        Look::Waiting => include_bytes!("../../../icons/tray-waiting.png").as_slice(),
        Look::Problem => include_bytes!("../../../icons/tray-problem.png").as_slice(),
    }
}

/// The tooltip: what waits and whether anything is wrong.
pub fn tooltip(overview: &Overview) -> String {
    let mut text = match overview.inbox.len() {
        0 => "Tapprove: nothing waits for you".to_owned(),
        1 => "Tapprove: 1 request waits for you".to_owned(),
        n => format!("Tapprove: {n} requests wait for you"),
    };
    if !overview.session.is_healthy() {
        text.push_str(" · ");
        text.push_str(match overview.session.health {
            Health::SignedOut => "signed out",
            Health::Offline => "offline",
            Health::NotConfigured => "not set up",
            _ => "sign-in problem",
        });
    } else if overview.problem.is_some() {
        text.push_str(" · cannot reach AWS");
    }
    if overview.paused_until.is_some() {
        text.push_str(" · notifications paused");
    }
    text
}

/// The menu entries, as (id, label, enabled); `None` is a separator.
pub fn entries(overview: &Overview) -> Vec<Option<(String, String, bool)>> {
    let mut items = Vec::new();
    if overview.inbox.is_empty() {
        items.push(Some(("none".into(), "No requests waiting".into(), false)));
    }
    for request in overview.inbox.iter().take(LISTED) {
        items.push(Some((
            format!("request:{}", request.id),
            format!(
                "{} · until {}",
                one_line(&request.title, 60),
                short_time_on(&request.deadline, &overview.today)
            ),
            true,
        )));
    }
    if overview.inbox.len() > LISTED {
        items.push(Some((
            "open".into(),
            format!("{} more…", overview.inbox.len() - LISTED),
            true,
        )));
    }
    items.push(None);
    items.push(Some(("open".into(), "Open Tapprove".into(), true)));
    let identity = match (&overview.session.approver, overview.session.is_healthy()) {
        (Some(who), true) => format!("Signed in as {}", one_line(who, 40)),
        _ => "Sign in…".to_owned(),
    };
    items.push(Some(("sign-in".into(), identity, true)));
    let pause = if overview.paused_until.is_some() {
        "Resume notifications"
    } else {
        "Pause notifications for 1 hour"
    };
    items.push(Some(("pause".into(), pause.into(), true)));
    items.push(None);
    items.push(Some(("quit".into(), "Quit Tapprove".into(), true)));
    items
}

/// What a menu entry (its id) does: open the window at a request or a
/// screen, pause or resume notifications, quit.
pub fn chosen(shell: &Arc<dyn Shell>, state: &Arc<Tapprove>, id: &str) {
    match id {
        "open" => shell.open("/inbox"),
        "sign-in" => shell.open("/sign-in"),
        "pause" => {
            let minutes = if state.paused(state.clock.now()) { 0 } else { 60 };
            state.pause(minutes, state.clock.now());
            publish(&**shell, state);
        }
        "quit" => shell.quit(),
        other => {
            if let Some(request) = other.strip_prefix("request:") {
                shell.open(&crate::route::checked(&format!("/request/{request}")));
            }
        }
    }
}
