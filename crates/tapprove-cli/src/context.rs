//! The invocation context every command that reads the settings or talks
//! to AWS starts from, and how it opens the engine, the AWS settings and
//! the approver's key store.

use std::path::PathBuf;

use tapprove_config::Config;
use tapprove_engine::Engine;

use crate::exit::{Failure, Kind, Result};
use crate::output::Output;

/// One run of `tapprove`: the settings file it reads, where its results
/// go and where this machine's state lives (sign-in session, outbox,
/// known credentials); from these the settings, the engine and the AWS
/// settings.
pub struct Invocation {
    pub config_path: PathBuf,
    pub out: Output,
    pub state_dir: PathBuf,
}

impl Invocation {
    pub fn config(&self) -> Result<Config> {
        Ok(self.settings()?.config)
    }

    /// The settings in force: the user's file under the organisation's policy.
    pub fn settings(&self) -> Result<tapprove_config::Settings> {
        tapprove_config::Settings::load(&self.config_path, &tapprove_config::policy_path()).map_err(|e| {
            Failure {
                kind: Kind::Input,
                code: "config_error".into(),
                message: e.to_string(),
                rule: None,
            }
        })
    }

    /// The time now (the system clock).
    pub fn now(&self) -> tapprove_proto::UtcTime {
        crate::files::system_now()
    }

    /// The engine over the settings in force, and the AWS settings it talks with.
    pub async fn engine(&self) -> Result<Engine> {
        let config = self.config()?;
        let aws = self.aws_config().await?;
        Ok(Engine::open(config, &aws, &self.state_dir)?)
    }

    /// The AWS settings for the commands that talk to AWS: the signed-in
    /// session's role credentials when there is a session, else the
    /// standard AWS chain.
    pub async fn aws_config(&self) -> Result<aws_config::SdkConfig> {
        Ok(tapprove_engine::account::aws_config(&self.state_dir).await?)
    }
}
