//! The command line as clap types: what a user may type and the help they
//! see. Nothing here touches the network or the terminal; `commands` turns a
//! parsed [`Cli`] into work.
//!
//! Passwords are deliberately absent: an argument shows up in `ps`, shell
//! history and CI logs, so they only come from the environment or a prompt
//! (see `password`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ferry_proto::protocol::{DEFAULT_LOG_LINES, MAX_LOG_LINES};
use ferry_proto::{ConflictPolicy, Role};

/// Where to connect when neither `--server` nor `FERRY_SERVER` says.
pub const DEFAULT_SERVER: &str = "127.0.0.1:7878";

/// The help heading that keeps the connection options together in every
/// subcommand's help.
const GLOBAL: &str = "Global options";

/// The scriptable Ferry client.
#[derive(Debug, Parser)]
#[command(
    name = "ferry-cli",
    version,
    about = "Share files through a Ferry server from the command line.",
    long_about = "Share files through a Ferry server from the command line.\n\n\
        The password is read from FERRY_PASSWORD or asked without echo on a terminal; \
        it is never accepted as an argument. Output is plain when piped, and the exit \
        code says what went wrong (see below).",
    after_help = crate::exit::help_text(),
)]
pub struct Cli {
    /// The server to talk to.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "FERRY_SERVER",
        value_name = "HOST:PORT",
        default_value = DEFAULT_SERVER
    )]
    pub server: String,

    /// Who to log in as; asked on a terminal when not given.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "FERRY_USER",
        value_name = "NAME"
    )]
    pub user: Option<String>,

    /// The folder for client.log.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "FERRY_LOGS",
        value_name = "DIR",
        default_value = "./logs"
    )]
    pub logs: PathBuf,

    /// How many times a transfer reconnects and resumes after a lost
    /// connection (waiting 0.5 s, 1 s, 2 s, … up to 8 s between tries).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "FERRY_RETRIES",
        value_name = "N",
        default_value_t = 5
    )]
    pub retries: u32,

    /// Speak in clear, without TLS: only for a server run with --plaintext,
    /// on a network you trust. The password and every file can then be read
    /// by anyone on the way.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub plaintext: bool,

    /// Trust the server showing this certificate fingerprint (as
    /// `ferry-server --data DIR fingerprint` prints it), and remember it; repeat for
    /// several. FERRY_TRUST takes a list separated by commas or spaces.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "FERRY_TRUST",
        value_name = "SHA256:HEX"
    )]
    pub trust: Vec<String>,

    /// Also trust the certificate authorities in this PEM file (an internal
    /// CA, for instance), beside the system's.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "FERRY_CA",
        value_name = "PEM"
    )]
    pub ca: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a folder on the server (the root by default): its folders, and
    /// its files with their current version.
    List {
        /// The folder to list, as a path like `reports/2026`.
        #[arg(value_name = "FOLDER")]
        folder: Option<String>,

        /// List everything below the folder, at any depth.
        #[arg(long)]
        tree: bool,

        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a folder on the server, with any missing folder above it.
    Mkdir {
        /// The folder's path, like `reports/2026`.
        path: String,
    },
    /// Move or rename a file (with its history) or a folder (with everything in it) (admin).
    Mv {
        /// The file or folder to move.
        from: String,

        /// Its new path; missing folders above it are created.
        to: String,
    },
    /// Remove a folder (admin). One that holds anything needs --recursive.
    Rmdir {
        /// The folder's path.
        path: String,

        /// Also remove everything in it: every file with its whole history.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Upload one or more files.
    Upload(UploadArgs),
    /// Download a file (its current version unless --version is given).
    Download(DownloadArgs),
    /// Show every stored version of a file, oldest first.
    History {
        /// The file's name on the server.
        name: String,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a file with its whole history, or one version (admin).
    Delete {
        /// The file's name on the server.
        name: String,
        /// Delete only this version.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        version: Option<u32>,
    },
    /// Print the last lines of the server log (admin).
    Logs {
        /// How many lines.
        #[arg(
            long,
            value_name = "N",
            default_value_t = DEFAULT_LOG_LINES,
            value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LOG_LINES))
        )]
        lines: u32,
    },
    /// Manage user accounts (admin; any user may change their own password).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage the servers trusted by fingerprint (the known-hosts file);
    /// needs no server and no login.
    #[command(subcommand)]
    Trust(TrustCommand),
}

/// `trust`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// List the trusted servers with their fingerprints, and where the list is kept.
    List {
        /// Print a JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Forget a trusted server: the next connection asks about its fingerprint again.
    Remove {
        /// The server, as it was connected to.
        #[arg(value_name = "HOST:PORT")]
        server: String,
    },
}

/// `upload`'s arguments.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The files to upload (folders need -r).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Store under this name (or path, like `docs/a.txt`) instead of the
    /// file's own; with -r, the folder's path on the server (only with one PATH).
    #[arg(long = "as", value_name = "NAME")]
    pub as_name: Option<String>,

    /// Upload folders with everything in them, keeping their structure
    /// (empty folders included); each goes to a folder of its own name.
    /// Files the server has already with the same content are skipped.
    #[arg(short, long)]
    pub recursive: bool,

    /// What to do when the name is taken. Without it: ask on a terminal, fail otherwise.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub on_conflict: Option<ConflictArg>,
}

/// `download`'s arguments.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The file's name (or path) on the server. Several names are
    /// downloaded on one connection into the -o folder (or the current one).
    /// With -r, server folders.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,

    /// Download folders with everything in them, keeping their structure
    /// (empty folders included), each into a local folder of its name
    /// inside -o FOLDER (made if missing; default: the current folder). Local files with the
    /// server's content are skipped; an interrupted run continues.
    #[arg(short, long)]
    pub recursive: bool,

    /// Download this version instead of the current one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub version: Option<u32>,

    /// Where to save: a file path, or a folder to save NAME into [default: ./NAME].
    /// A path ending in / is a folder, made if it is not there; so is the
    /// path given with several names or -r.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Replace the output file if it exists (with -r: local files that
    /// differ from the server's).
    #[arg(long)]
    pub force: bool,

    /// Throw away a partial download left by an interrupted run and start
    /// from zero (by default it is continued).
    #[arg(long)]
    pub restart: bool,

    /// Also download from this server (repeat for several); --server counts
    /// as one of them. Only mirrors that agree with the majority on the
    /// file's size and MD5 are used; the rest are named and left out.
    #[arg(long, value_name = "HOST:PORT")]
    pub mirror: Vec<String>,
}

impl DownloadArgs {
    /// The first (for a single download, the only) name.
    pub fn name(&self) -> &str {
        &self.names[0]
    }
}

/// `users`' subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List the accounts and their roles.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create an account; its password comes from FERRY_NEW_PASSWORD or is asked twice.
    Add {
        /// The new user's name.
        name: String,
        /// The new user's role.
        #[arg(long, value_enum, default_value = "user")]
        role: RoleArg,
    },
    /// Remove an account.
    Remove {
        /// The user to remove.
        name: String,
    },
    /// Set a password (FERRY_NEW_PASSWORD or asked twice); NAME defaults to yourself.
    Passwd {
        /// Whose password.
        name: Option<String>,
    },
    /// Change an account's role.
    Role {
        /// Whose role.
        name: String,
        /// The new role.
        #[arg(value_enum)]
        role: RoleArg,
    },
}

/// A role as typed on the command line; `Role` itself lives in `common`,
/// which does not depend on clap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Full rights.
    Admin,
    /// List, upload and download.
    User,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::User => Role::User,
        }
    }
}

/// A conflict policy as typed on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConflictArg {
    /// The new content becomes current; the old stays in the history.
    Overwrite,
    /// Store under the first free name_vN.ext.
    Rename,
    /// Refuse the upload (exit code 7).
    Fail,
}

impl From<ConflictArg> for ConflictPolicy {
    fn from(policy: ConflictArg) -> ConflictPolicy {
        match policy {
            ConflictArg::Overwrite => ConflictPolicy::Overwrite,
            ConflictArg::Rename => ConflictPolicy::Rename,
            ConflictArg::Fail => ConflictPolicy::Fail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use ferry_proto::protocol::DEFAULT_PORT;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ferry-cli").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn default_server_uses_the_protocol_port() {
        assert!(DEFAULT_SERVER.ends_with(&format!(":{DEFAULT_PORT}")));
    }

    #[test]
    fn upload_takes_several_paths_and_a_policy() {
        let cli = parse(&["upload", "a b.txt", "c", "--on-conflict", "rename"]).unwrap();
        let Command::Upload(args) = cli.command else {
            panic!("not an upload: {cli:?}")
        };
        assert_eq!(args.paths, [PathBuf::from("a b.txt"), PathBuf::from("c")]);
        assert_eq!(args.on_conflict, Some(ConflictArg::Rename));
        assert!(parse(&["upload"]).is_err());
        assert!(parse(&["upload", "x", "--on-conflict", "maybe"]).is_err());
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = parse(&["list", "--json", "--server", "h:1", "--user", "ann"]).unwrap();
        assert_eq!(cli.server, "h:1");
        assert_eq!(cli.user.as_deref(), Some("ann"));
        assert!(matches!(cli.command, Command::List { json: true, .. }));
    }

    #[test]
    fn security_options_are_global_and_trust_repeats() {
        let cli = parse(&["list", "--trust", "a", "--trust", "b", "--ca", "ca.pem"]).unwrap();
        assert_eq!(cli.trust, ["a", "b"]);
        assert_eq!(cli.ca, Some(PathBuf::from("ca.pem")));
        assert!(!cli.plaintext);
        assert!(parse(&["--plaintext", "list"]).unwrap().plaintext);
        let cli = parse(&["trust", "remove", "h:1"]).unwrap();
        assert!(
            matches!(cli.command, Command::Trust(TrustCommand::Remove { server }) if server == "h:1")
        );
        assert!(parse(&["trust", "remove"]).is_err());
    }

    #[test]
    fn there_is_no_password_option() {
        assert!(parse(&["--password", "x", "list"]).is_err());
        assert!(parse(&["users", "add", "bob", "--password", "x"]).is_err());
    }

    #[test]
    fn versions_and_line_counts_are_checked() {
        assert!(parse(&["download", "f", "--version", "0"]).is_err());
        assert!(parse(&["logs", "--lines", "0"]).is_err());
        assert!(parse(&["logs", "--lines", &(MAX_LOG_LINES + 1).to_string()]).is_err());
        let cli = parse(&["download", "f", "--version", "3", "-o", "out", "--force"]).unwrap();
        let Command::Download(args) = cli.command else {
            panic!("not a download: {cli:?}")
        };
        assert_eq!((args.version, args.force), (Some(3), true));
    }

    #[test]
    fn users_add_defaults_to_the_plain_role() {
        let cli = parse(&["users", "add", "bob"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Users(UsersCommand::Add {
                role: RoleArg::User,
                ..
            })
        ));
    }

    #[test]
    fn help_lists_every_exit_code() {
        let help = Cli::command().render_long_help().to_string();
        for exit in crate::exit::Exit::ALL {
            assert!(
                help.contains(exit.meaning()),
                "{exit:?} missing from --help"
            );
        }
    }
}
