//! `ferry-cli`: the scriptable Ferry client, a thin face over
//! `ferry_client::Client`.
//!
//! This file owns the process edge: parse the arguments, start the log, run
//! the command, and turn the outcome into one error line on stderr and an
//! exit status (see `exit` for the table).

mod args;
mod commands;
mod exit;
mod logging;
mod output;
mod password;
mod progress;
mod prompt;
mod security;
mod session;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::commands::Terminal;
use crate::exit::Exit;

fn main() -> ExitCode {
    // clap prints its own usage errors and exits with 2.
    let cli = Cli::parse();
    logging::init(&cli.logs);
    log::info!(
        "ferry-cli {} starting: {} server={}",
        env!("CARGO_PKG_VERSION"),
        command_name(&cli),
        cli.server
    );

    let mut stdout = io::stdout().lock();
    let result = commands::run(&cli, Terminal::detect(), &mut stdout);
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    if exit::is_closed_stdout(&error) {
        // The reader went away (`| head`); there is no one to tell.
        return ExitCode::SUCCESS;
    }
    let status = exit::classify(&error);
    let message = format!("{error:#}");
    log::error!(
        "{} failed (exit {}): {message}",
        command_name(&cli),
        status.code()
    );
    eprintln!("ferry-cli: error: {message}");
    debug_assert_ne!(status, Exit::Success);
    ExitCode::from(status.code())
}

/// The subcommand's name, for the log.
fn command_name(cli: &Cli) -> &'static str {
    use crate::args::{Command, TrustCommand, UsersCommand};
    match &cli.command {
        Command::List { .. } => "list",
        Command::Mkdir { .. } => "mkdir",
        Command::Mv { .. } => "mv",
        Command::Rmdir { .. } => "rmdir",
        Command::Upload(_) => "upload",
        Command::Download(_) => "download",
        Command::History { .. } => "history",
        Command::Delete { .. } => "delete",
        Command::Logs { .. } => "logs",
        Command::Users(UsersCommand::List { .. }) => "users list",
        Command::Users(UsersCommand::Add { .. }) => "users add",
        Command::Users(UsersCommand::Remove { .. }) => "users remove",
        Command::Users(UsersCommand::Passwd { .. }) => "users passwd",
        Command::Users(UsersCommand::Role { .. }) => "users role",
        Command::Trust(TrustCommand::List { .. }) => "trust list",
        Command::Trust(TrustCommand::Remove { .. }) => "trust remove",
    }
}
