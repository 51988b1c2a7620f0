//! Runs a parsed command line: checks local input, logs in, calls the client
//! library and writes the results to `out`. Errors come back as
//! `anyhow::Error` for `main` to print and turn into an exit status.
//!
//! Read-only commands build their whole output before writing it, so a
//! failure leaves stdout empty.
//!
//! One module per topic: `files` (list, history, delete, logs), `users`,
//! `upload`, `download` (one file or several), `mirror` (one file from
//! several servers) and `trust` (the known-hosts file, no server needed).
//!
//! Every connection of a run, transfers and mirrors included, is secured
//! the same way: the [`Security`] built once from the global options.

mod download;
mod files;
mod folders;
mod mirror;
mod trust;
mod upload;
mod users;

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use ferry_client::Security;
use ferry_client::transfer::Connector;
use ferry_proto::names::LocalOs;

use crate::args::{Cli, Command, TrustCommand, UsersCommand};
use crate::output::quoted;
use crate::session::{Connection, Credentials};
use crate::{password, security};

/// What the terminal around us allows.
#[derive(Clone, Copy, Debug)]
pub struct Terminal {
    /// A person can answer questions on stdin.
    pub interactive: bool,
    /// Progress bars may be drawn: stderr is a terminal and stdout is not
    /// piped (output that goes somewhere else stays plain).
    pub bars: bool,
    /// How the server was verified may be said on stderr: it is a terminal
    /// (scripts only hear about plaintext, which is always a warning).
    pub status: bool,
}

impl Terminal {
    /// Looks at the real standard streams.
    pub fn detect() -> Terminal {
        Terminal {
            interactive: io::stdin().is_terminal(),
            bars: io::stderr().is_terminal() && io::stdout().is_terminal(),
            status: io::stderr().is_terminal(),
        }
    }
}

/// Runs `cli`, writing results to `out`.
pub fn run(cli: &Cli, term: Terminal, out: &mut dyn Write) -> Result<()> {
    match &cli.command {
        // These only read and edit the local list: no server, no login.
        Command::Trust(TrustCommand::List { json }) => {
            let text = trust::list(
                &security::fingerprints(&cli.trust).collect::<Vec<_>>(),
                *json,
            )?;
            write_out(out, &text)
        }
        Command::Trust(TrustCommand::Remove { server }) => write_out(out, &trust::remove(server)?),
        _ => {
            let security = security::from_args(cli)?;
            run_on_server(
                &Server {
                    cli,
                    security,
                    term,
                },
                out,
            )
        }
    }
}

/// The server a command talks to, and how.
struct Server<'a> {
    cli: &'a Cli,
    security: Security,
    term: Terminal,
}

fn run_on_server(to: &Server<'_>, out: &mut dyn Write) -> Result<()> {
    let (cli, term) = (to.cli, to.term);
    match &cli.command {
        Command::Trust(_) => unreachable!("trust commands need no server"),
        Command::List { folder, tree, json } => answer(to, out, |s| {
            folders::list(s, folder.as_deref(), *tree, *json)
        }),
        Command::Mkdir { path } => answer(to, out, |s| folders::mkdir(s, path)),
        Command::Mv { from, to: dest } => answer(to, out, |s| folders::mv(s, from, dest)),
        Command::Rmdir { path, recursive } => {
            answer(to, out, |s| folders::rmdir(s, path, *recursive))
        }
        Command::Upload(args) if args.recursive => {
            let plan = folders::plan_tree_uploads(args)?;
            let policy = args
                .on_conflict
                .map_or(ferry_proto::ConflictPolicy::Fail, Into::into);
            folders::upload_trees(&check_login(to)?, &plan, policy, retry(cli), term, out)
        }
        Command::Download(args) if args.recursive => {
            let plan = folders::plan_tree_downloads(args, LocalOs::current())?;
            let connector = check_login(to)?;
            folders::download_trees(&connector, &plan, args.force, retry(cli), term, out)
        }
        Command::History { name, json } => answer(to, out, |s| files::history(s, name, *json)),
        Command::Delete { name, version } => answer(to, out, |s| files::delete(s, name, *version)),
        Command::Logs { lines } => answer(to, out, |s| files::logs(s, *lines)),
        Command::Users(UsersCommand::List { json }) => answer(to, out, |s| users::list(s, *json)),
        Command::Users(UsersCommand::Remove { name }) => {
            answer(to, out, |s| users::remove(s, name))
        }
        Command::Users(UsersCommand::Role { name, role }) => {
            answer(to, out, |s| users::set_role(s, name, (*role).into()))
        }
        Command::Users(UsersCommand::Add { name, role }) => {
            let credentials = Credentials::gather(cli.user.as_deref())?;
            let password = password::new_password(name)?;
            let mut session = Connection::open(&cli.server, &to.security, credentials, term)?;
            let text = users::add(&mut session, name, (*role).into(), &password)?;
            finish(session, out, &text)
        }
        Command::Users(UsersCommand::Passwd { name }) => {
            let credentials = Credentials::gather(cli.user.as_deref())?;
            let name = name.as_deref().unwrap_or(credentials.user()).to_owned();
            let password = password::new_password(&name)?;
            let mut session = Connection::open(&cli.server, &to.security, credentials, term)?;
            let text = users::passwd(&mut session, &name, &password)?;
            finish(session, out, &text)
        }
        Command::Upload(args) => {
            // Every path is checked before connecting, so a typo costs no
            // login and uploads nothing.
            let plan = upload::plan_uploads(args, term.interactive)?;
            upload::upload(&check_login(to)?, &plan, retry(cli), term, out)
        }
        Command::Download(args) if args.names.len() > 1 => {
            let plan = download::plan_downloads(args, LocalOs::current())?;
            download::download_batch(&check_login(to)?, &plan, out)
        }
        Command::Download(args) => {
            let dest = download::download_destination(args, LocalOs::current())?;
            download::download(&check_login(to)?, args, &dest, retry(cli), term, out)
        }
    }
}

fn open(to: &Server<'_>) -> Result<Connection> {
    let credentials = Credentials::gather(to.cli.user.as_deref())?;
    Connection::open(&to.cli.server, &to.security, credentials, to.term)
}

/// Logs in once and hands back what the transfer functions need to connect
/// by themselves. They retry lost connections with back-off, which is right
/// mid-transfer but would make a wrong address or password take many
/// seconds to report; this first login fails at once instead. Its
/// connection serves the first transfer.
fn check_login(to: &Server<'_>) -> Result<Connector> {
    let session = open(to)?;
    let connector = session.connector();
    connector.keep_for_next(session.into_client());
    Ok(connector)
}

/// Logs in, asks one thing, prints the answer.
fn answer(
    to: &Server<'_>,
    out: &mut dyn Write,
    ask: impl FnOnce(&mut Connection) -> Result<String>,
) -> Result<()> {
    let mut session = open(to)?;
    let text = ask(&mut session)?;
    finish(session, out, &text)
}

fn finish(session: Connection, out: &mut dyn Write, text: &str) -> Result<()> {
    session.close();
    write_out(out, text)
}

fn write_out(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The retry policy the global flags ask for.
fn retry(cli: &Cli) -> ferry_client::transfer::Retry {
    ferry_client::transfer::Retry {
        retries: cli.retries,
        ..Default::default()
    }
}

/// A local path as it is shown in messages.
fn shown(path: &Path) -> String {
    quoted(&path.display().to_string())
}

/// The outcome of a batch: the first failure decides the exit status; the
/// others are printed on stderr.
fn first_failure(failures: Vec<anyhow::Error>) -> Result<()> {
    let mut failures = failures.into_iter();
    let Some(first) = failures.next() else {
        return Ok(());
    };
    for other in failures {
        eprintln!("ferry-cli: error: {other:#}");
    }
    Err(first)
}
