//! `tapprove-verifier`: the approval gate's verifier and the enrolment
//! service.
//!
//! - `tapprove-verifier worker [--config FILE]` long-polls the verifier
//!   activity named in the configuration and answers the gate.
//! - `tapprove-verifier serve [--listen ADDR]` serves enrolments, the
//!   request endpoint and the decision endpoint over HTTP.
//! - `tapprove-verifier lambda` (or the binary deployed as a Lambda
//!   `bootstrap`, where `AWS_LAMBDA_RUNTIME_API` is set) runs both as a
//!   Lambda function.
//!
//! AWS settings come from the standard environment (`AWS_REGION`,
//! credentials, `AWS_ENDPOINT_URL`). The settings are the TOML in
//! `TAPPROVE_CONFIG_TOML` when set (the CloudFormation template puts them
//! there for the Lambda function), else the file `--config`,
//! `TAPPROVE_CONFIG` or the OS config directory names.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tapprove_aws::dynamodb::{DynamoRegistry, TableNames};
use tapprove_aws::sfn::StepFunctions;
use tapprove_config::Config;
use tapprove_verifier::announce::Announcer;
use tapprove_verifier::decisions::DecisionService;
use tapprove_verifier::enrol::EnrolService;
use tapprove_verifier::requests::RequestService;

#[derive(Debug, Parser)]
#[command(
    name = "tapprove-verifier",
    version,
    about = "Verifies Tapprove decisions for the approval gate and enrols authenticators"
)]
struct Cli {
    /// Tapprove settings file (default: TAPPROVE_CONFIG or the OS config directory).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Poll the verifier activity and answer the gate (runs until Ctrl-C or SIGTERM).
    Worker {
        /// Poll this activity instead of the one in the settings.
        #[arg(long, value_name = "ARN")]
        activity: Option<String>,
    },
    /// Serve the enrolment service and the decision endpoint over HTTP (runs until Ctrl-C or SIGTERM).
    Serve {
        /// Address to listen on; port 0 picks a free one (printed on start).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
    },
    /// Run as an AWS Lambda function (the default when AWS_LAMBDA_RUNTIME_API is set).
    Lambda,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Some(c) => c,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => Command::Lambda,
        None => {
            eprintln!("error: name a command: worker, serve or lambda (see --help)");
            return ExitCode::from(2);
        }
    };
    let path = Config::locate(cli.config.as_deref());
    // In a Lambda function the settings come inline (CloudFormation writes
    // them into the environment); elsewhere from the file.
    let inline = std::env::var("TAPPROVE_CONFIG_TOML")
        .ok()
        .filter(|t| !t.trim().is_empty() && cli.config.is_none());
    let (loaded, path) = match inline {
        Some(text) => (
            Config::parse(&text).map_err(|message| {
                format!("TAPPROVE_CONFIG_TOML is not a valid Tapprove configuration: {message}")
            }),
            PathBuf::from("$TAPPROVE_CONFIG_TOML"),
        ),
        None => (Config::load(&path).map_err(|e| e.to_string()), path),
    };
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let aws = tapprove_aws::load_config().await;
    let registry = DynamoRegistry::new(&aws, TableNames::from(&config.tables));
    match command {
        Command::Worker { activity } => {
            let Some(activity) =
                activity.or_else(|| config.verifier.as_ref().map(|v| v.activity_arn.clone()))
            else {
                eprintln!(
                    "error: no verifier activity: pass --activity ARN or set [verifier] activity_arn in {}",
                    path.display()
                );
                return ExitCode::from(2);
            };
            let sfn = StepFunctions::new(&aws);
            let worker = format!("tapprove-verifier-{}", std::process::id());
            eprintln!("tapprove-verifier: polling {activity}");
            let announcer = Announcer::from_config(&aws, &config);
            tapprove_verifier::worker::run(
                &sfn,
                &activity,
                &worker,
                &config.policy(),
                &registry,
                announcer.as_ref(),
                shutdown(),
            )
            .await;
            ExitCode::SUCCESS
        }
        Command::Serve { listen } => {
            let service = match enrol_service(&aws, &config, &path) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let listener = match tokio::net::TcpListener::bind(listen).await {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: cannot listen on {listen}: {e}");
                    return ExitCode::from(2);
                }
            };
            match listener.local_addr() {
                Ok(addr) => eprintln!(
                    "tapprove-verifier: enrolment service and decision endpoint listening on http://{addr}"
                ),
                Err(e) => eprintln!("tapprove-verifier: listening (address unknown: {e})"),
            }
            let enrolment = Arc::new(service);
            let services = tapprove_verifier::http::Services {
                requests: Arc::new(request_service(&aws, &config, &enrolment)),
                enrolment,
                decisions: Arc::new(decision_service(&aws, &config, registry)),
            };
            match tapprove_verifier::http::serve(listener, services, shutdown()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: the enrolment service stopped: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Lambda => {
            let service = match enrol_service(&aws, &config, &path) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let enrolment = Arc::new(service);
            let handler = tapprove_verifier::lambda::Handler {
                announcer: Announcer::from_config(&aws, &config),
                sfn: StepFunctions::new(&aws),
                policy: config.policy(),
                registry: registry.clone(),
                requests: Arc::new(request_service(&aws, &config, &enrolment)),
                enrolment,
                decisions: Arc::new(decision_service(&aws, &config, registry)),
                fido_metadata: config.fido_metadata.clone().map(|mut settings| {
                    // Relative to the settings file, as every path there.
                    if let Some(roots) = &settings.roots
                        && roots.is_relative()
                        && let Some(dir) = path.parent()
                    {
                        settings.roots = Some(dir.join(roots));
                    }
                    (aws.clone(), settings)
                }),
            };
            match tapprove_verifier::lambda::run(handler).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: the Lambda runtime stopped: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn decision_service(
    aws: &aws_config::SdkConfig,
    config: &Config,
    registry: DynamoRegistry,
) -> DecisionService {
    DecisionService::new(
        config.policy(),
        registry,
        StepFunctions::new(aws),
        config.endpoint_gates(),
    )
}

fn request_service(
    aws: &aws_config::SdkConfig,
    config: &Config,
    enrolment: &Arc<EnrolService>,
) -> RequestService {
    RequestService::new(
        Arc::clone(enrolment),
        StepFunctions::new(aws),
        config.endpoint_gates(),
    )
}

fn enrol_service(
    aws: &aws_config::SdkConfig,
    config: &Config,
    path: &Path,
) -> Result<EnrolService, ExitCode> {
    match EnrolService::from_config(aws, config) {
        Ok(service) => {
            eprintln!(
                "tapprove-verifier: enrolling for `{}` (identities checked with {}; settings {})",
                config.rp_id,
                service.caller.endpoint(),
                path.display()
            );
            Ok(service)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Err(ExitCode::from(2))
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
