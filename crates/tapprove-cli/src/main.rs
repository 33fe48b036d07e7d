//! `tapprove`: the approval protocol from a terminal.
//!
//! One module per command family, each a thin layer over `tapprove-engine`
//! (or, offline, `tapprove-core` and `tapprove-authn`): it calls, then
//! renders the answer.
//! - `inbox` (`inbox`, `show`), `decide` (`approve`, `deny`), `outbox`,
//!   `enroll`, `authenticators`: the approver's loop
//! - `gate` (`install`, `request`, `status`), `admin`, `policy`
//!   (`admin policy`), `signin` (`login`, `logout`, `whoami`)
//! - `key`, `sign`, `verify`, `attestation` (`admin attestation`): offline
//!   tools over files and key stores
//!
//! Below them, importing no command: `cli` (the arguments), `context` (the
//! invocation: settings file, output, state directory, and opening the
//! engine, the AWS settings and the key store from them), `output` (text
//! or JSON, and request text made safe for a terminal), `exit` (failures
//! and their exit codes), `files`, `prompt` (PIN and touch prompts).
//!
//! Exit codes (also in `tapprove --help` and the README):
//! - 0: done; for `verify`, the decision was accepted
//! - 1: `verify` rejected the decision (the JSON says which rule), or a
//!   rule of the organisation refused (the enrolment service, `admin
//!   attestation`)
//! - 2: usage or input error: bad arguments, unreadable or invalid files
//! - 3: could not complete: the authenticator failed or was cancelled, or a
//!   key store or registry could not be written

mod admin;
mod attestation;
mod authenticators;
mod cli;
mod context;
mod decide;
mod enroll;
mod exit;
mod files;
mod gate;
mod inbox;
mod key;
mod mds;
mod outbox;
mod output;
mod policy;
mod prompt;
mod sign;
mod signin;
mod verify;

use clap::Parser;
use tapprove_engine::Reason;

use crate::cli::{Cli, Command, KeyCommand};
use crate::context::Invocation;
use crate::output::Output;

/// Runs a command that talks to AWS on a single-threaded runtime.
fn run_async(invocation: &Invocation, command: Command) -> exit::Result {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| exit::Failure::failed("runtime", e))?;
    runtime.block_on(async {
        match command {
            Command::Inbox(args) => inbox::run(invocation, args).await,
            Command::Show { id } => inbox::show(invocation, &id).await,
            Command::Approve(args) => {
                let reason = Reason::text(args.reason.clone());
                decide::run(invocation, tapprove_proto::Verdict::Approve, args, reason).await
            }
            Command::Deny(args) => {
                let text = args.decide.reason.clone();
                let reason = if args.unexpected {
                    Reason::unexpected(text)
                } else {
                    Reason::text(text)
                };
                decide::run(invocation, tapprove_proto::Verdict::Deny, args.decide, reason).await
            }
            Command::Outbox { flush } => outbox::run(invocation, flush).await,
            Command::History => outbox::history(invocation).await,
            Command::Enroll(args) => enroll::run(invocation, args).await,
            Command::Authenticators { command } => authenticators::run(invocation, command).await,
            Command::Gate { command } => gate::run(invocation, command).await,
            Command::Admin { command } => admin::run(invocation, command).await,
            Command::Login(args) => signin::login(invocation, args).await,
            Command::Logout => signin::logout(invocation).await,
            Command::Whoami => signin::whoami(invocation).await,
            Command::Key { .. } | Command::Sign(_) | Command::Verify(_) | Command::Codes => Ok(()),
        }
    })
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with exit 0, and usage
            // errors to stderr; keep its formatting, map usage errors to 2.
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let out = Output::new(cli.json);
    let invocation = Invocation {
        config_path: tapprove_config::Config::locate(cli.config.as_deref()),
        out,
        state_dir: tapprove_config::state_dir(),
    };
    let result = match cli.command {
        Command::Key {
            command: KeyCommand::Create(args),
        } => key::create(&out, args),
        Command::Key {
            command: KeyCommand::List(args),
        } => key::list(&out, args),
        Command::Sign(args) => sign::run(&out, args),
        Command::Verify(args) => verify::run(&out, args),
        Command::Codes => {
            out.codes();
            Ok(())
        }
        command => run_async(&invocation, command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            out.failure(&failure);
            std::process::ExitCode::from(failure.exit_code())
        }
    }
}
