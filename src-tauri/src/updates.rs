//! Signed updates (`tauri-plugin-updater`): the app asks the update
//! manifest an admin hosts (S3 is the expected place; the release workflow
//! writes it) on start and then daily, and installs a release only when its
//! minisign signature verifies against the update key built into the app
//! (`plugins.updater.pubkey`, set by `scripts/build-installer`). The
//! organisation's policy can move the manifest, pin a version, or turn
//! updates off (`[updates]`, see `tapprove_config::UpdateSettings`).
//!
//! The signature also binds the version (`requireSignedVersion`; `tauri
//! build` writes the version into the signature's trusted comment), so a
//! manifest host cannot relabel an older, validly signed build as newer;
//! a version not newer than the running one is taken only when the
//! organisation's policy pins it.
//!
//! A release that is downloaded and verified is installed in place (the
//! `.deb`/`.rpm` through the system's package tool, the `.msi`/NSIS
//! installer, the macOS bundle) and takes effect when Tapprove next starts:
//! the app never restarts under someone who is reading or signing.

use std::time::Duration;

use tapprove_config::{Config, UpdateChannel};
use tauri::{AppHandle, Runtime, Url};
use tauri_plugin_updater::UpdaterExt;

/// The first check waits this long after start (sign-in and the first poll
/// come first).
pub const FIRST_CHECK: Duration = Duration::from_secs(60);
/// Then one check a day.
pub const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// What the settings ask of the updater.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No checks, and why (for the log).
    Off(String),
    Check {
        /// Empty: the endpoints built into the app.
        endpoints: Vec<Url>,
        /// Only this version is installed.
        pin: Option<String>,
    },
}

/// The plan for these settings.
pub fn plan(config: Option<&Config>) -> Result<Plan, UpdateError> {
    let Some(updates) = config.and_then(|c| c.updates.as_ref()) else {
        return Ok(Plan::Check {
            endpoints: Vec::new(),
            pin: None,
        });
    };
    if updates.channel == UpdateChannel::Off {
        return Ok(Plan::Off(
            "updates are turned off (`[updates] channel = \"off\"`)".into(),
        ));
    }
    let endpoints = match &updates.endpoint {
        None => Vec::new(),
        Some(url) => {
            let filled = url.replace("{{channel}}", updates.channel.as_str());
            let parsed = Url::parse(&filled).map_err(|e| {
                UpdateError::Settings(format!(
                    "[updates] endpoint `{url}` is not a URL ({e}): write https://…/latest.json"
                ))
            })?;
            if parsed.scheme() != "https" && !cfg!(debug_assertions) {
                return Err(UpdateError::Settings(format!(
                    "[updates] endpoint `{url}` must use https"
                )));
            }
            vec![parsed]
        }
    };
    Ok(Plan::Check {
        endpoints,
        pin: updates.pin.clone(),
    })
}

/// Why an update was not installed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{0}")]
    Settings(String),
    /// This build has no update key: it cannot verify anything, so it takes
    /// nothing.
    #[error(
        "this build of Tapprove has no update key: updates come with the organisation's installer (see docs/admin.md)"
    )]
    NoKey,
    #[error(
        "refused the update {version} from {url}: its signature does not verify with this organisation's update key ({detail}); nothing was installed. Tell your admin: the artifact was altered or signed with another key"
    )]
    BadSignature {
        version: String,
        url: String,
        detail: String,
    },
    /// The manifest announces another version than the one the
    /// organisation signed the artifact as (or the signature names none):
    /// an older build relabelled as newer.
    #[error(
        "refused the update {announced} from {url}: the organisation signed that artifact as {signed}, not {announced}; nothing was installed. Tell your admin: the update manifest was altered"
    )]
    Relabelled {
        announced: String,
        signed: String,
        url: String,
    },
    #[error("cannot check for updates at {endpoints}: {detail}")]
    Check { endpoints: String, detail: String },
    #[error("cannot download the update {version} from {url}: {detail}")]
    Download {
        version: String,
        url: String,
        detail: String,
    },
    #[error("cannot install the update {version}: {detail}")]
    Install { version: String, detail: String },
}

/// A release that was downloaded and whose signature verified.
pub struct Verified {
    pub update: tauri_plugin_updater::Update,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("version", &self.update.version)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Asks the manifest for a release newer than this one (or the pinned one),
/// downloads it and verifies its signature. `Ok(None)`: nothing to take.
pub async fn fetch<R: Runtime>(app: &AppHandle<R>, plan: &Plan) -> Result<Option<Verified>, UpdateError> {
    let Plan::Check { endpoints, pin } = plan else {
        return Ok(None);
    };
    let mut builder = app.updater_builder();
    if !endpoints.is_empty() {
        builder = builder
            .endpoints(endpoints.clone())
            .map_err(|e| UpdateError::Settings(e.to_string()))?;
    }
    if let Some(pin) = pin.clone() {
        builder = builder.version_comparator(move |current, release| {
            release.version.to_string() == pin && release.version != current
        });
    }
    let described = if endpoints.is_empty() {
        "the built-in update endpoint".to_owned()
    } else {
        endpoints.iter().map(Url::as_str).collect::<Vec<_>>().join(", ")
    };
    let updater = builder.build().map_err(|e| match e {
        tauri_plugin_updater::Error::EmptyEndpoints => UpdateError::Settings(
            "no update endpoint: this build has none, and the settings name none (`[updates] endpoint`)"
                .into(),
        ),
        other => UpdateError::Settings(other.to_string()),
    })?;
    let Some(update) = updater.check().await.map_err(|e| UpdateError::Check {
        endpoints: described,
        detail: e.to_string(),
    })?
    else {
        return Ok(None);
    };
    let version = update.version.clone();
    let url = update.download_url.to_string();
    let bytes = update.download(|_, _| {}, || {}).await.map_err(|e| match e {
        tauri_plugin_updater::Error::Minisign(_)
        | tauri_plugin_updater::Error::Base64(_)
        | tauri_plugin_updater::Error::SignatureUtf8(_) => {
            if app_pubkey_missing(app) {
                UpdateError::NoKey
            } else {
                UpdateError::BadSignature {
                    version: version.clone(),
                    url: url.clone(),
                    detail: e.to_string(),
                }
            }
        }
        // The version is bound to the signature (`requireSignedVersion` in
        // tauri.conf.json; `tauri build` signs it in): a manifest that
        // relabels an older build as newer is refused here.
        tauri_plugin_updater::Error::SignedVersionMismatch { signed, .. } => UpdateError::Relabelled {
            announced: version.clone(),
            signed,
            url: url.clone(),
        },
        tauri_plugin_updater::Error::MissingSignedVersion => UpdateError::Relabelled {
            announced: version.clone(),
            signed: "no version at all".into(),
            url: url.clone(),
        },
        other => UpdateError::Download {
            version: version.clone(),
            url: url.clone(),
            detail: other.to_string(),
        },
    })?;
    Ok(Some(Verified { update, bytes }))
}

fn app_pubkey_missing<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.config()
        .plugins
        .0
        .get("updater")
        .and_then(|u| u.get("pubkey"))
        .and_then(|k| k.as_str())
        .is_none_or(|k| k.trim().is_empty())
}

/// Checks now and then daily, for as long as the app runs.
pub fn spawn_checks<R: Runtime>(app: AppHandle<R>, config: Option<Config>) {
    tauri::async_runtime::spawn(async move {
        let plan = match plan(config.as_ref()) {
            Ok(Plan::Off(why)) => {
                eprintln!("tapprove-app: no update checks: {why}");
                return;
            }
            Ok(plan) => plan,
            Err(e) => {
                eprintln!("tapprove-app: no update checks: {e}");
                return;
            }
        };
        if app_pubkey_missing(&app) {
            eprintln!("tapprove-app: no update checks: {}", UpdateError::NoKey);
            return;
        }
        tokio::time::sleep(FIRST_CHECK).await;
        loop {
            check(&app, &plan).await;
            tokio::time::sleep(EVERY).await;
        }
    });
}

/// `tapprove-window --check-updates`: one check (the agent runs it now and
/// then), without a window. Exits [`tapprove_desk::UPDATES_OFF`] when checks are off, so
/// the agent stops asking; 0 otherwise (a failed check is logged and tried
/// again next time).
pub fn check_once() -> i32 {
    use tapprove_desk::UPDATES_OFF as OFF;
    // The settings alone (the policy over the user's file), as the app reads them.
    let config = tapprove_config::Settings::load(&Config::locate(None), &tapprove_config::policy_path())
        .ok()
        .map(|settings| settings.config);
    let plan = match plan(config.as_ref()) {
        Ok(Plan::Off(why)) => {
            eprintln!("tapprove-app: no update checks: {why}");
            return OFF;
        }
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("tapprove-app: no update checks: {e}");
            return OFF;
        }
    };
    let app = match tauri::Builder::default()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(tauri::generate_context!())
    {
        Ok(app) => app,
        Err(e) => {
            eprintln!("tapprove-app: cannot check for updates: {e}");
            return 0;
        }
    };
    let handle = app.handle().clone();
    if app_pubkey_missing(&handle) {
        eprintln!("tapprove-app: no update checks: {}", UpdateError::NoKey);
        return OFF;
    }
    tauri::async_runtime::block_on(check(&handle, &plan));
    0
}

/// One check: fetches, verifies and installs an update, if there is one;
/// logs what went wrong.
async fn check<R: Runtime>(app: &AppHandle<R>, plan: &Plan) {
    match fetch(app, plan).await {
        Ok(None) => {}
        Ok(Some(verified)) => {
            let version = verified.update.version.clone();
            match verified.update.install(&verified.bytes) {
                Ok(()) => tapprove_desk::notify::updated(&version),
                Err(e) => eprintln!(
                    "tapprove-app: {}",
                    UpdateError::Install {
                        version,
                        detail: e.to_string()
                    }
                ),
            }
        }
        Err(e) => eprintln!("tapprove-app: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(updates: &str) -> Config {
        Config::parse(&format!(
            "rp_id = \"x.example\"\n[tables]\nregistry = \"r\"\nledger = \"l\"\naudit = \"a\"\n{updates}"
        ))
        .unwrap()
    }

    #[test]
    fn the_settings_turn_updates_off_move_the_manifest_or_pin_a_version() {
        assert_eq!(
            plan(None).unwrap(),
            Plan::Check {
                endpoints: vec![],
                pin: None
            }
        );
        assert!(matches!(
            plan(Some(&config("[updates]\nchannel = \"off\"\n"))).unwrap(),
            Plan::Off(_)
        ));
        let moved = config(
            "[updates]\nchannel = \"beta\"\nendpoint = \"https://updates.example.com/{{channel}}/latest.json\"\npin = \"0.3.1\"\n",
        );
        assert_eq!(
            plan(Some(&moved)).unwrap(),
            Plan::Check {
                endpoints: vec![Url::parse("https://updates.example.com/beta/latest.json").unwrap()],
                pin: Some("0.3.1".into())
            }
        );
        let e = plan(Some(&config("[updates]\nendpoint = \"not a url\"\n")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a URL") && e.contains("https://"), "{e}");
    }
}
