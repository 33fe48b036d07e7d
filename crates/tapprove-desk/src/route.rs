//! What the window can show (its routes: the inbox, a request, a
//! request's approval, sign-in, history, settings, authenticators), and the
//! `tapprove:` links that name one. `tapprove://request/<id>` opens that
//! request, so a chat message or an email can point straight at it. `<id>` is the inbox's short id (the start of the request hash)
//! or the name of the waiting execution (the last part of its ARN), which
//! a pipeline knows. `tapprove://inbox`, `tapprove://history`,
//! `tapprove://settings` and `tapprove://authenticators` open those
//! screens.
//!
//! Routes are the front end's paths (`/request/<id>`); links come from
//! outside the app, so anything that is not one of these shapes is refused.

pub const SCHEME: &str = "tapprove";

/// A route the front end knows, from a fixed set of shapes; anything else
/// becomes the inbox. Request ids are the inbox's short ids, or execution
/// names (see [`valid_id`]).
pub fn checked(route: &str) -> String {
    let parts: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let valid = match parts.as_slice() {
        ["inbox" | "history" | "settings" | "authenticators" | "sign-in"] => true,
        ["request", id] => valid_id(id),
        ["request", id, "approve"] => valid_id(id),
        _ => false,
    };
    if valid {
        format!("/{}", parts.join("/"))
    } else {
        "/inbox".to_owned()
    }
}

/// A link that is not one of Tapprove's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadLink(String);

/// The window route a `tapprove:` link opens.
pub fn from_link(link: &str) -> Result<String, BadLink> {
    let rest = link
        .strip_prefix("tapprove://")
        .or_else(|| link.strip_prefix("tapprove:"))
        .ok_or_else(|| {
            BadLink(format!(
                "not a Tapprove link (tapprove://request/<id>): {}",
                quoted(link)
            ))
        })?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        ["request", id] if valid_id(id) => Ok(format!("/request/{id}")),
        ["request", ..] => Err(BadLink(format!(
            "a request link is tapprove://request/<id>, where <id> is the request's id or its execution's name: {}",
            quoted(link)
        ))),
        [screen @ ("inbox" | "history" | "settings" | "authenticators")] => Ok(format!("/{screen}")),
        [] => Ok("/inbox".to_owned()),
        _ => Err(BadLink(format!(
            "Tapprove does not know this link: {}",
            quoted(link)
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
fn quoted(link: &str) -> String {
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
            from_link("tapprove://request/3fa9c2d1e0").unwrap(),
            "/request/3fa9c2d1e0"
        );
        assert_eq!(
            from_link("tapprove://request/3fa9c2d1e0/").unwrap(),
            "/request/3fa9c2d1e0"
        );
        assert_eq!(
            from_link("tapprove://request/deploy-api-v2_3?from=slack#top").unwrap(),
            "/request/deploy-api-v2_3"
        );
        assert_eq!(from_link("tapprove:request/abc").unwrap(), "/request/abc");
        assert_eq!(from_link("tapprove://settings").unwrap(), "/settings");
        assert_eq!(from_link("tapprove://").unwrap(), "/inbox");
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
            let e = from_link(bad).unwrap_err().to_string();
            assert!(e.contains("tapprove://request/<id>"), "{bad}: {e}");
        }
        let long = format!("tapprove://request/{}", "a".repeat(81));
        assert!(from_link(&long).is_err());
        let e = from_link("https://example.com/request/1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a Tapprove link"), "{e}");
        let e = from_link("tapprove://admin/delete").unwrap_err().to_string();
        assert!(e.contains("does not know"), "{e}");
        let e = from_link("tapprove://x\u{1b}[31m").unwrap_err().to_string();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn every_route_a_link_opens_is_one_the_window_accepts() {
        for link in [
            "tapprove://request/3fa9c2d1e0",
            "tapprove://request/deploy-api_7",
            "tapprove://history",
        ] {
            let route = from_link(link).unwrap();
            assert_eq!(checked(&route), route, "{link}");
        }
    }
}
