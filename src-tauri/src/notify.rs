//! Native notifications for new requests (`notify-rust`): one per request,
//! with "Review" (also the default action: a click) and "Approve", which
//! leads to the request's approval, so the authenticator still asks. More
//! than a few at once become one grouped notification. A notification
//! opens no window itself: an action yields the route it leads to, and the
//! caller opens it.
//!
//! Request text is escaped (servers interpret a little HTML in bodies) and
//! hidden characters are shown, as everywhere outside the webview.

use tauri::{AppHandle, Runtime};

use crate::models::RequestSummary;
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

/// The notifications for requests that just arrived.
pub fn notes(new: &[RequestSummary], today: &str) -> Vec<Note> {
    if new.len() > GROUP_ABOVE {
        let mut body: Vec<String> = new
            .iter()
            .take(GROUP_ABOVE)
            .map(|r| format!("• {}", escape_markup(&one_line(&r.title, 80))))
            .collect();
        body.push(format!("and {} more", new.len() - GROUP_ABOVE));
        return vec![Note {
            summary: format!("{} approval requests wait for you", new.len()),
            body: body.join("\n"),
            review: "/inbox".into(),
            approve: None,
        }];
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
        })
        .collect()
}

/// Shows `note`; the route an action leads to goes to `on_action` (which
/// opens the window there).
pub fn show<R: Runtime>(app: &AppHandle<R>, note: Note, on_action: fn(&AppHandle<R>, &str)) {
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
                use tauri::Manager;
                let app = app.clone();
                let counted = app
                    .try_state::<std::sync::Arc<crate::state::Tapprove>>()
                    .map(|s| s.inner().clone());
                if let Some(state) = &counted {
                    state
                        .notifications_open
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                // The server tells which action was taken; the thread
                // sleeps on D-Bus until then.
                let _ = std::thread::Builder::new()
                    .name("notification".into())
                    .spawn(move || {
                        handle.wait_for_action(|action| {
                            if let Some(route) = note.route(action) {
                                on_action(&app, route);
                            }
                        });
                        if let Some(state) = counted {
                            state
                                .notifications_open
                                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    });
            }
            Err(e) => eprintln!("tapprove-app: cannot show a notification: {e}"),
        }
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        // macOS and Windows: no actions through notify-rust; the tray and
        // the window carry the request. (Unverified here.)
        let _ = (app, on_action);
        if let Err(e) = n.show() {
            eprintln!("tapprove-app: cannot show a notification: {e}");
        }
    }
}

/// Says that quitting left signed decisions unsent.
pub fn outbox_left(left: usize) {
    let _ = notify_rust::Notification::new()
        .appname("Tapprove")
        .summary(&format!("{left} signed decision(s) not delivered yet"))
        .body("They are saved and are sent when Tapprove (or any tapprove command) next runs.")
        .show();
}

/// A signed update was installed; it takes effect at the next start.
pub fn updated(version: &str) {
    let _ = notify_rust::Notification::new()
        .appname("Tapprove")
        .summary(&format!(
            "Tapprove {} is installed",
            crate::text::escape_markup(&crate::text::one_line(version, 40))
        ))
        .body("It takes effect when Tapprove next starts (Quit from the tray, then open it).")
        .show();
}

/// A link the app was asked to open and cannot (the window shows the inbox).
pub fn bad_link(message: &str) {
    let _ = notify_rust::Notification::new()
        .appname("Tapprove")
        .summary("This link cannot be opened")
        .body(&crate::text::escape_markup(&crate::text::one_line(message, 200)))
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
        }
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
