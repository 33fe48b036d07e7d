//! Native notifications for new requests (`notify-rust`): one per request,
//! with "Review" (also the default action: a click) and "Approve", which
//! leads to the request's approval, so the authenticator still asks. More
//! than a few at once become one grouped notification. A notification
//! opens no window itself: an action yields the route it leads to, and the
//! caller opens it.
//!
//! Request text is escaped (servers interpret a little HTML in bodies) and
//! hidden characters are shown, as everywhere outside the webview.

use std::sync::Arc;

use crate::models::RequestSummary;
use crate::shell::Shell;
use crate::state::{ShownNotes, Tapprove};
use crate::text::{escape_markup, one_line, short_time_on};

/// More new requests than this at once become one notification.
pub const GROUP_ABOVE: usize = 3;

/// How long a notification stays up (servers may cap it).
const SHOW_MS: u32 = 5 * 60 * 1000;

/// What a notification says and where its actions lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub summary: String,
    pub body: String,
    /// The route the default action and "Review" open.
    pub review: String,
    /// The route "Approve" opens (a single request only).
    pub approve: Option<String>,
    /// The requests it names: it closes when they have all left the inbox.
    pub requests: Vec<String>,
}

impl Note {
    /// The route an action leads to: a click and "Review" to `review`,
    /// "Approve" to `approve`; none when the notification was closed.
    pub fn route(&self, action: &str) -> Option<&str> {
        match action {
            "default" | "review" => Some(&self.review),
            "approve" => Some(self.approve.as_deref().unwrap_or(&self.review)),
            _ => None,
        }
    }
}

/// One notification for `requests`, counting them.
fn group(requests: &[&RequestSummary]) -> Note {
    let mut body: Vec<String> = requests
        .iter()
        .take(GROUP_ABOVE)
        .map(|r| format!("• {}", escape_markup(&one_line(&r.title, 80))))
        .collect();
    if requests.len() > GROUP_ABOVE {
        body.push(format!("and {} more", requests.len() - GROUP_ABOVE));
    }
    Note {
        summary: match requests.len() {
            1 => "1 approval request waits for you".into(),
            n => format!("{n} approval requests wait for you"),
        },
        body: body.join("\n"),
        review: "/inbox".into(),
        approve: None,
        requests: requests.iter().map(|r| r.id.clone()).collect(),
    }
}

/// The notifications for requests that just arrived.
pub fn notes(new: &[RequestSummary], today: &str) -> Vec<Note> {
    if new.len() > GROUP_ABOVE {
        return vec![group(&new.iter().collect::<Vec<_>>())];
    }
    new.iter()
        .map(|r| Note {
            summary: escape_markup(&one_line(&r.title, 120)),
            body: escape_markup(&format!(
                "Requested by {}{} · {} · closes {}",
                one_line(&r.requested_by, 60),
                if r.requester_verified {
                    String::new()
                } else {
                    format!(" ({})", tapprove_proto::REQUESTER_CLAIMED)
                },
                one_line(&r.approvers, 40),
                short_time_on(&r.deadline, today)
            )),
            review: format!("/request/{}", r.id),
            approve: Some(format!("/request/{}/approve", r.id)),
            requests: vec![r.id.clone()],
        })
        .collect()
}

/// What to do with the notifications showing now that the inbox is
/// `inbox`: close those whose requests all left it, and recount the
/// grouped one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Follow {
    pub close: Vec<u32>,
    /// Grouped notifications' ids and what each says now.
    pub recount: Vec<(u32, Note)>,
}

/// Decides [`Follow`] for `shown` and forgets what closes.
pub fn follow(shown: &mut ShownNotes, inbox: &[RequestSummary]) -> Follow {
    let left = |id: &String| !inbox.iter().any(|r| &r.id == id);
    let mut out = Follow::default();
    shown.single.retain(|request, note| {
        let gone = left(request);
        if gone {
            out.close.push(*note);
        }
        !gone
    });
    for (note, requests) in std::mem::take(&mut shown.groups) {
        let still: Vec<&RequestSummary> = inbox.iter().filter(|r| requests.contains(&r.id)).collect();
        if still.is_empty() {
            out.close.push(note);
        } else {
            if still.len() != requests.len() {
                out.recount.push((note, group(&still)));
            }
            shown
                .groups
                .push((note, still.iter().map(|r| r.id.clone()).collect()));
        }
    }
    out
}

/// Closes the notifications of requests that left the inbox (decided here
/// or by someone else, expired, withdrawn) and recounts the grouped one.
/// Linux only: elsewhere notify-rust cannot close by id, and the window and
/// tray say what is current.
pub fn follow_inbox(state: &Tapprove, inbox: &[RequestSummary]) {
    let todo = follow(
        &mut state
            .shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        inbox,
    );
    #[cfg(all(unix, not(target_os = "macos")))]
    if !todo.close.is_empty() || !todo.recount.is_empty() {
        // Blocking D-Bus calls, off the async runtime's few threads: a
        // notification server that hangs must not stall the commands.
        state.notifier.run(move || {
            for id in todo.close {
                close(id);
            }
            for (id, note) in todo.recount {
                // Replaces the notification in place: the thread awaiting
                // its action keeps awaiting it.
                let _ = notify_rust::Notification::new()
                    .id(id)
                    .appname("Tapprove")
                    .summary(&note.summary)
                    .body(&note.body)
                    .icon("dialog-password")
                    .timeout(notify_rust::Timeout::Milliseconds(SHOW_MS))
                    .show();
            }
        });
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let _ = todo;
}

/// Asks the notification server to close notification `id`
/// (`CloseNotification`; the server then emits `NotificationClosed`).
#[cfg(all(unix, not(target_os = "macos")))]
fn close(id: u32) {
    let closed = zbus::blocking::Connection::session().and_then(|bus| {
        bus.call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "CloseNotification",
            &(id,),
        )
        .map(|_| ())
    });
    if let Err(e) = closed {
        eprintln!("tapprove-app: cannot close notification {id}: {e}");
    }
}

/// Shows `note`; an action opens the window at the route it leads to.
pub fn show(shell: &Arc<dyn Shell>, state: &Arc<Tapprove>, note: Note) {
    let mut n = notify_rust::Notification::new();
    n.appname("Tapprove")
        .summary(&note.summary)
        .body(&note.body)
        .icon("dialog-password")
        .timeout(notify_rust::Timeout::Milliseconds(SHOW_MS));
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let actions = notify_rust::get_capabilities()
            .map(|caps| caps.iter().any(|c| c == "actions"))
            .unwrap_or(false);
        if actions {
            n.action("default", "Review").action("review", "Review");
            if note.approve.is_some() {
                n.action("approve", "Approve");
            }
        }
        n.hint(notify_rust::Hint::Category("x-tapprove.request".into()));
        match n.show() {
            Ok(handle) => {
                let shell = shell.clone();
                let state = state.clone();
                {
                    let mut shown = state
                        .shown
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match note.approve {
                        Some(_) => {
                            for request in &note.requests {
                                shown.single.insert(request.clone(), handle.id());
                            }
                        }
                        None => shown.groups.push((handle.id(), note.requests.clone())),
                    }
                }
                // A click on it opens the window: most come soon after it
                // is shown, so the window starts now, hidden (it ends
                // unused after `agent::window::PREPARED_FOR`). In a burst,
                // only with its last notification: the burst is drawn
                // for minutes, and the window would wait all along.
                if actions && state.notifier.waiting() <= 1 {
                    shell.prepare();
                }
                // The server tells which action was taken; the thread
                // sleeps on D-Bus until then.
                let _ = std::thread::Builder::new()
                    .name("notification".into())
                    .spawn(move || {
                        let id = handle.id();
                        handle.wait_for_action(|action| {
                            if let Some(route) = note.route(action) {
                                shell.open(route);
                            }
                        });
                        state
                            .shown
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .closed(id);
                    });
            }
            Err(e) => eprintln!("tapprove-app: cannot show a notification: {e}"),
        }
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        // macOS and Windows: no actions through notify-rust; the tray and
        // the window carry the request. (Unverified here.)
        let _ = (shell, state);
        if let Err(e) = n.show() {
            eprintln!("tapprove-app: cannot show a notification: {e}");
        }
    }
}

/// Says that quitting left signed decisions unsent.
pub fn outbox_left(left: usize) {
    tell(
        &format!("{left} signed decision(s) not delivered yet"),
        "They are saved and are sent when Tapprove (or any tapprove command) next runs.",
    );
}

/// A signed update was installed; it takes effect at the next start.
pub fn updated(version: &str) {
    tell(
        &format!(
            "Tapprove {} is installed",
            crate::text::escape_markup(&crate::text::one_line(version, 40))
        ),
        "It takes effect when Tapprove next starts (Quit from the tray, then open it).",
    );
}

/// The window binary on disk speaks another version than this agent (an
/// update was installed while Tapprove ran).
pub fn restart_needed() {
    tell(
        "Restart Tapprove to open its window",
        "Tapprove was updated while it ran: choose Quit Tapprove in the tray, then start it again.",
    );
}

/// A link the app was asked to open and cannot (the window shows the inbox).
pub fn bad_link(message: &str) {
    tell(
        "This link cannot be opened",
        &crate::text::escape_markup(&crate::text::one_line(message, 200)),
    );
}

/// A notification with no actions: Tapprove telling the person something.
fn tell(summary: &str, body: &str) {
    let _ = notify_rust::Notification::new()
        .appname("Tapprove")
        .summary(summary)
        .body(body)
        .show();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str, title: &str) -> RequestSummary {
        RequestSummary {
            id: id.into(),
            title: title.into(),
            requested_by: "alice".into(),
            requester_verified: false,
            approvers: "prod-approvers".into(),
            quorum: 1,
            deadline: "2026-11-21T14:05:00Z".into(),
            received_at: "2026-11-21T13:05:00Z".into(),
            source: "activity:prod-approvers".into(),
            yours: None,
        }
    }

    #[test]
    fn a_notification_closes_when_its_request_leaves_and_the_group_recounts() {
        let mut shown = ShownNotes::default();
        shown.single.insert("a".into(), 7);
        shown.single.insert("b".into(), 8);
        shown
            .groups
            .push((9, vec!["c".into(), "d".into(), "e".into(), "f".into()]));
        let inbox: Vec<_> = ["a", "b", "c", "d", "e", "f"].map(|i| request(i, i)).to_vec();
        // Nothing left the inbox: nothing to do.
        assert_eq!(follow(&mut shown, &inbox), Follow::default());
        assert_eq!(shown.single.len(), 2);
        // `a`, `b` and `c` leave (decided here or elsewhere, expired).
        let inbox: Vec<_> = ["d", "e", "f"].map(|i| request(i, i)).to_vec();
        let todo = follow(&mut shown, &inbox);
        assert_eq!(todo.close, vec![7, 8]);
        let [(id, note)] = todo.recount.as_slice() else {
            panic!("{:?}", todo.recount)
        };
        assert_eq!(*id, 9);
        assert_eq!(note.summary, "3 approval requests wait for you");
        assert_eq!(note.requests, ["d", "e", "f"]);
        // The last ones leave: the group closes.
        let todo = follow(&mut shown, &[]);
        assert_eq!(todo.close, vec![9]);
        assert!(shown.single.is_empty() && shown.groups.is_empty());
    }

    #[test]
    fn one_notification_per_request_with_review_and_approve() {
        let notes = notes(&[request("abc", "Deploy <b>api</b>")], "2026-11-21");
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].summary, "Deploy &lt;b&gt;api&lt;/b&gt;");
        assert!(
            notes[0].body.contains("Requested by alice (not verified)"),
            "the workflow only claims the requester, and the notification says so: {}",
            notes[0].body
        );
        assert_eq!(notes[0].review, "/request/abc");
        assert_eq!(notes[0].approve.as_deref(), Some("/request/abc/approve"));
    }

    #[test]
    fn a_click_opens_the_request_and_approve_its_approval() {
        let note = &notes(&[request("abc", "Deploy")], "2026-11-21")[0];
        assert_eq!(note.route("default"), Some("/request/abc"));
        assert_eq!(note.route("review"), Some("/request/abc"));
        assert_eq!(note.route("approve"), Some("/request/abc/approve"));
        assert_eq!(note.route("__closed"), None);
        let grouped = &notes(
            &[1, 2, 3, 4].map(|i| request(&format!("r{i}"), "t")),
            "2026-11-21",
        )[0];
        assert_eq!(grouped.route("default"), Some("/inbox"));
        assert_eq!(grouped.route("approve"), Some("/inbox"));
    }

    #[test]
    fn many_at_once_are_grouped() {
        let many: Vec<_> = (0..7)
            .map(|i| request(&format!("r{i}"), &format!("<i>t{i}</i>")))
            .collect();
        let notes = notes(&many, "2026-11-21");
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].summary, "7 approval requests wait for you");
        assert!(
            notes[0].body.contains("&lt;i&gt;t0&lt;/i&gt;"),
            "{}",
            notes[0].body
        );
        assert!(notes[0].body.ends_with("and 4 more"), "{}", notes[0].body);
        assert_eq!(notes[0].review, "/inbox");
        assert_eq!(notes[0].approve, None);
    }
}
