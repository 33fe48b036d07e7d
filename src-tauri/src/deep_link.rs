//! Links into the app: `tapprove://request/<id>` opens that request, so a
//! chat message or an email can point straight at it. `<id>` is the
//! inbox's short id (the start of the request hash) or the name of the
//! waiting execution (the last part of its ARN), which a pipeline knows.
//! `tapprove://inbox`, `tapprove://history`, `tapprove://settings` and
//! `tapprove://authenticators` open those screens.
//!
//! The installers register the scheme (the desktop entry's
//! `x-scheme-handler/tapprove` on Linux, the bundle's URL types on macOS,
//! the registry on Windows); the OS starts the app with the link as its
//! only argument, and a running app receives it from the second launch
//! (`tauri-plugin-single-instance` hands it to `tauri-plugin-deep-link`).

use tauri::{AppHandle, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

pub const SCHEME: &str = "tapprove";

/// Opens the link the app was started with, if any, and every link that
/// reaches it later. Returns whether the window was opened for a link.
pub fn watch<R: Runtime>(app: &AppHandle<R>) -> bool {
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            open(&handle, url.as_str());
        }
    });
    let launched = app.deep_link().get_current().ok().flatten().unwrap_or_default();
    for url in &launched {
        open(app, url.as_str());
    }
    !launched.is_empty()
}

fn open<R: Runtime>(app: &AppHandle<R>, link: &str) {
    match route_of(link) {
        Ok(route) => {
            eprintln!("tapprove-app: opening {route} (a link)");
            crate::window::open(app, &route);
        }
        Err(e) => {
            eprintln!("tapprove-app: {e}");
            crate::notify::bad_link(&e.to_string());
            crate::window::open(app, "/inbox");
        }
    }
}

/// A link that is not one of Tapprove's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadLink(String);

/// The window route a `tapprove:` link opens.
pub fn route_of(link: &str) -> Result<String, BadLink> {
    let rest = link
        .strip_prefix("tapprove://")
        .or_else(|| link.strip_prefix("tapprove:"))
        .ok_or_else(|| {
            BadLink(format!(
                "not a Tapprove link (tapprove://request/<id>): {}",
                shown(link)
            ))
        })?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        ["request", id] if valid_id(id) => Ok(format!("/request/{id}")),
        ["request", ..] => Err(BadLink(format!(
            "a request link is tapprove://request/<id>, where <id> is the request's id or its execution's name: {}",
            shown(link)
        ))),
        [screen @ ("inbox" | "history" | "settings" | "authenticators")] => Ok(format!("/{screen}")),
        [] => Ok("/inbox".to_owned()),
        _ => Err(BadLink(format!(
            "Tapprove does not know this link: {}",
            shown(link)
        ))),
    }
}

/// Whether a launch argument is a link for the app (rather than a flag).
pub fn is_link(arg: &str) -> bool {
    arg.starts_with("tapprove:")
}

/// An id the window's routes accept: an inbox id, or an execution name
/// (letters, digits, `-` and `_`, at most 80).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A link as quoted in an error: short, and nothing but printable ASCII.
fn shown(link: &str) -> String {
    let clean: String = link
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .take(120)
        .collect();
    format!("`{clean}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_link_opens_that_request() {
        assert_eq!(
            route_of("tapprove://request/3fa9c2d1e0").unwrap(),
            "/request/3fa9c2d1e0"
        );
        assert_eq!(
            route_of("tapprove://request/3fa9c2d1e0/").unwrap(),
            "/request/3fa9c2d1e0"
        );
        assert_eq!(
            route_of("tapprove://request/deploy-api-v2_3?from=slack#top").unwrap(),
            "/request/deploy-api-v2_3"
        );
        assert_eq!(route_of("tapprove:request/abc").unwrap(), "/request/abc");
        assert_eq!(route_of("tapprove://settings").unwrap(), "/settings");
        assert_eq!(route_of("tapprove://").unwrap(), "/inbox");
    }

    #[test]
    fn anything_else_is_refused_with_what_a_link_looks_like() {
        for bad in [
            "tapprove://request/",
            "tapprove://request/a/b",
            "tapprove://request/..%2Fsettings",
            "tapprove://request/<script>",
            "tapprove://request/id%00",
        ] {
            let e = route_of(bad).unwrap_err().to_string();
            assert!(e.contains("tapprove://request/<id>"), "{bad}: {e}");
        }
        let long = format!("tapprove://request/{}", "a".repeat(81));
        assert!(route_of(&long).is_err());
        let e = route_of("https://example.com/request/1").unwrap_err().to_string();
        assert!(e.contains("not a Tapprove link"), "{e}");
        let e = route_of("tapprove://admin/delete").unwrap_err().to_string();
        assert!(e.contains("does not know"), "{e}");
        let e = route_of("tapprove://x\u{1b}[31m").unwrap_err().to_string();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn every_route_a_link_opens_is_one_the_window_accepts() {
        for link in [
            "tapprove://request/3fa9c2d1e0",
            "tapprove://request/deploy-api_7",
            "tapprove://history",
        ] {
            let route = route_of(link).unwrap();
            assert_eq!(crate::window::checked_route(&route), route, "{link}");
        }
    }
}
