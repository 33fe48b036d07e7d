//! `tapprove`: the approval protocol from a terminal.
//!
//! Exit codes (also in `tapprove --help` and the README):
//! - 0: done; for `verify`, the decision was accepted
//! - 1: `verify` rejected the decision (the JSON says which rule)
//! - 2: usage or input error: bad arguments, unreadable or invalid files
//! - 3: could not complete: the authenticator failed or was cancelled, or a
//!   key store or registry could not be written

mod cli;
mod exit;
mod files;
mod key;
mod output;
mod prompt;
mod sign;
mod verify;

use clap::Parser;

use crate::cli::{Cli, Command, KeyCommand};
use crate::output::Output;

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
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            out.failure(&failure);
            std::process::ExitCode::from(failure.exit_code())
        }
    }
}
