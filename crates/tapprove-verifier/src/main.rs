//! `tapprove-verifier`: the approval gate's verifier.
//!
//! `tapprove-verifier worker [--config FILE]` long-polls the verifier
//! activity named in the configuration and answers the gate. AWS settings
//! come from the standard environment (`AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tapprove_aws::dynamodb::{DynamoRegistry, TableNames};
use tapprove_aws::sfn::StepFunctions;
use tapprove_config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "tapprove-verifier",
    version,
    about = "Verifies Tapprove decisions for the approval gate"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Poll the verifier activity and answer the gate (runs until Ctrl-C or SIGTERM).
    Worker {
        /// Tapprove settings file (default: TAPPROVE_CONFIG or the OS config directory).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Poll this activity instead of the one in the settings.
        #[arg(long, value_name = "ARN")]
        activity: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Worker { config, activity } => {
            let path = Config::locate(config.as_deref());
            let config = match Config::load(&path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let Some(activity) =
                activity.or_else(|| config.verifier.as_ref().map(|v| v.activity_arn.clone()))
            else {
                eprintln!(
                    "error: no verifier activity: pass --activity ARN or set [verifier] activity_arn in {}",
                    path.display()
                );
                return ExitCode::from(2);
            };
            let aws = tapprove_aws::load_config().await;
            let sfn = StepFunctions::new(&aws);
            let registry = DynamoRegistry::new(&aws, TableNames::from(&config.tables));
            let worker = format!("tapprove-verifier-{}", std::process::id());
            eprintln!("tapprove-verifier: polling {activity}");
            tapprove_verifier::worker::run(&sfn, &activity, &worker, &config.policy(), &registry, shutdown())
                .await;
            ExitCode::SUCCESS
        }
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
