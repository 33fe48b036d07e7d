//! IAM Identity Center settings from the AWS CLI's `~/.aws/config`
//! (`AWS_CONFIG_FILE` if set): a `[profile NAME]` with `sso_session`,
//! `sso_account_id` and `sso_role_name`, and the `[sso-session NAME]` it
//! names with `sso_start_url` and `sso_region`. The legacy form, with
//! `sso_start_url` and `sso_region` in the profile itself, works too.

use std::collections::HashMap;
use std::path::PathBuf;

use tapprove_config::SsoSettings;

use crate::error::{Result, SessionError};

/// Where the AWS CLI keeps its settings.
pub fn config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("AWS_CONFIG_FILE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .unwrap_or_default();
    PathBuf::from(home).join(".aws").join("config")
}

/// The IAM Identity Center settings of profile `name`.
pub fn sso_profile(name: &str) -> Result<SsoSettings> {
    let path = config_path();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        SessionError::Settings(format!(
            "cannot read the AWS config file {} ({e}): run `aws configure sso`, or sign in with --start-url and --region",
            path.display()
        ))
    })?;
    from_text(&text, name).map_err(|why| SessionError::Settings(format!("{}: {why}", path.display())))
}

type Sections = HashMap<(String, String), HashMap<String, String>>;

fn parse(text: &str) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            current = Some(match header.split_once(char::is_whitespace) {
                Some((kind, name)) => (kind.to_owned(), name.trim().to_owned()),
                None if header == "default" => ("profile".to_owned(), "default".to_owned()),
                None => (header.to_owned(), String::new()),
            });
            continue;
        }
        if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    sections
}

fn from_text(text: &str, name: &str) -> std::result::Result<SsoSettings, String> {
    let sections = parse(text);
    let profile = sections
        .get(&("profile".to_owned(), name.to_owned()))
        .ok_or_else(|| format!("there is no profile `{name}`"))?;
    let (start_url, region, session_name) = match profile.get("sso_session") {
        Some(session) => {
            let s = sections
                .get(&("sso-session".to_owned(), session.clone()))
                .ok_or_else(|| {
                    format!("profile `{name}` names sso-session `{session}`, which is not defined")
                })?;
            let get = |key: &str| {
                s.get(key)
                    .cloned()
                    .ok_or_else(|| format!("sso-session `{session}` has no `{key}`"))
            };
            (get("sso_start_url")?, get("sso_region")?, Some(session.clone()))
        }
        None => match (profile.get("sso_start_url"), profile.get("sso_region")) {
            (Some(url), Some(region)) => (url.clone(), region.clone(), None),
            _ => {
                return Err(format!(
                    "profile `{name}` has no IAM Identity Center settings (`sso_session`, or `sso_start_url` and `sso_region`)"
                ));
            }
        },
    };
    Ok(SsoSettings {
        start_url,
        region,
        account_id: profile.get("sso_account_id").cloned(),
        role_name: profile.get("sso_role_name").cloned(),
        session_name,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CONFIG: &str = "
[default]
region = eu-west-1

# An AWS CLI v2 `aws configure sso` result.
[profile approver]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Approver
region = eu-west-1

[sso-session corp]
sso_start_url = https://d-1234567890.awsapps.com/start
sso_region = eu-central-1
sso_registration_scopes = sso:account:access

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 444455556666
sso_role_name = ReadOnly

[profile broken]
sso_session = missing
";

    #[test]
    fn a_profile_with_an_sso_session() {
        let s = from_text(CONFIG, "approver").unwrap();
        assert_eq!(s.start_url, "https://d-1234567890.awsapps.com/start");
        assert_eq!(s.region, "eu-central-1");
        assert_eq!(s.account_id.as_deref(), Some("111122223333"));
        assert_eq!(s.role_name.as_deref(), Some("Approver"));
        assert_eq!(s.session_name.as_deref(), Some("corp"));
    }

    #[test]
    fn a_legacy_profile() {
        let s = from_text(CONFIG, "legacy").unwrap();
        assert_eq!(s.start_url, "https://legacy.awsapps.com/start");
        assert_eq!(s.role_name.as_deref(), Some("ReadOnly"));
        assert_eq!(s.session_name, None);
    }

    #[test]
    fn unusable_profiles_say_why() {
        assert!(
            from_text(CONFIG, "nope")
                .unwrap_err()
                .contains("no profile `nope`")
        );
        assert!(
            from_text(CONFIG, "default")
                .unwrap_err()
                .contains("no IAM Identity Center settings")
        );
        assert!(from_text(CONFIG, "broken").unwrap_err().contains("not defined"));
    }
}
