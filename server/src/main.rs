//! `ferry-server`: flags, logging, the `user` admin subcommands, and the
//! server itself (see the library for how it works).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use ferry_proto::protocol::{DEFAULT_PORT, Role};
use ferry_proto::units::parse_size;
use ferry_server::auth::{self, check_password, check_user_name};
use ferry_server::db::{Db, DbError};
use ferry_server::tls::{self, TlsSource};
use ferry_server::{Config, Server, logfile};

/// The Ferry file server.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// Folder for the database (ferry.db) and stored files.
    #[arg(long, default_value = "./data", global = true, value_name = "DIR")]
    data: PathBuf,
    /// Folder for server.log.
    #[arg(long, default_value = "./logs", value_name = "DIR")]
    logs: PathBuf,
    /// Address to listen on; repeat for several (one process serves the same
    /// files on each, e.g. as mirrors). Use 0.0.0.0:7878 to serve the LAN. An
    /// address that cannot be used is reported and the others still start.
    #[arg(long, value_name = "ADDR:PORT", default_values_t = [format!("127.0.0.1:{DEFAULT_PORT}")])]
    listen: Vec<String>,
    /// Print a status report every SECS seconds: per listener the open
    /// connections, transfers and bytes, with totals and throughput. Also
    /// written to the log. 0 = no reports.
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    status_interval: u64,
    /// Colour the status report: auto = when stdout is a terminal and
    /// NO_COLOR is unset or empty.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    color: ColorArg,
    /// Most bytes per second each connection may send, and separately
    /// receive (e.g. 512K, 20M; K = 1024). 0 = unlimited.
    #[arg(long, default_value = "0", value_parser = parse_size, value_name = "BYTES_PER_SEC")]
    rate_limit: u64,
    /// Connections served at once; more get a "busy" reply.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_connections: usize,
    /// Longest request line in bytes.
    #[arg(long, default_value_t = ferry_proto::protocol::MAX_LINE_BYTES, value_name = "BYTES")]
    max_line: usize,
    /// Seconds a client may stay silent between requests.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    idle_timeout: u64,
    /// Seconds after connecting within which a client must log in.
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    login_timeout: u64,
    /// Connections from one client address that may be open at once
    /// without having logged in; more get a "busy" reply.
    #[arg(long, default_value_t = 32, value_name = "N")]
    max_unauthenticated: usize,
    /// Size at which server.log is rotated to server.log.1 (e.g. 10M).
    #[arg(long, default_value = "10M", value_parser = parse_size, value_name = "SIZE")]
    log_max_size: u64,
    /// Rotated log files kept (server.log.1 … server.log.N).
    #[arg(long, default_value_t = 5, value_name = "N")]
    log_keep: u32,
    /// Seconds one read or write may stall during a transfer.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    io_timeout: u64,
    /// Largest upload accepted (e.g. 500M, 20G).
    #[arg(long, default_value = "1T", value_parser = parse_size, value_name = "SIZE")]
    max_upload_size: u64,
    /// Seconds to let running transfers finish after Ctrl-C or SIGTERM.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    shutdown_grace: u64,
    /// Disk space uploads must leave free in the data folder (e.g. 1G).
    #[arg(long, default_value = "256M", value_parser = parse_size, value_name = "SIZE")]
    min_free_space: u64,
    /// Hours an interrupted upload is kept for the client to resume it.
    #[arg(long, default_value_t = 24, value_name = "HOURS")]
    partial_upload_hours: u64,
    /// bcrypt cost for new password hashes (4–31; each step doubles the work).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=31), value_name = "N")]
    bcrypt_cost: u32,
    /// Turn TLS off: passwords and files then cross the network in clear.
    /// Only for a loopback test or behind a proxy that terminates TLS.
    /// (By default every listener speaks TLS, with a self-signed
    /// certificate made on first start in DIR/tls/, or --tls-cert.)
    #[arg(long, conflicts_with = "tls_cert", global = true)]
    plaintext: bool,
    /// Speak TLS with this certificate chain (PEM, leaf first), e.g. from
    /// an internal CA, instead of the self-signed one.
    #[arg(long, value_name = "PEM", requires = "tls_key", global = true)]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert", global = true)]
    tls_key: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

impl Args {
    /// Where the TLS identity comes from.
    fn tls(&self) -> TlsSource {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ if self.plaintext => TlsSource::Plaintext,
            _ => TlsSource::Generated,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print the SHA-256 fingerprint of the server's TLS certificate, for
    /// people to compare with what their client shows.
    Fingerprint,
    /// Manage user accounts directly in the database (the server may be running).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user; the password comes from FERRY_PASSWORD or a prompt.
    Add {
        /// User name: letters, digits, '.', '_' and '-'.
        name: String,
        /// The user's role.
        #[arg(long, value_enum, default_value_t = RoleArg::User)]
        role: RoleArg,
    },
    /// List users and their roles.
    List,
    /// Remove a user.
    Remove {
        /// User name.
        name: String,
    },
    /// Set a user's password (from FERRY_PASSWORD or a prompt).
    Passwd {
        /// User name.
        name: String,
    },
    /// Set a user's role.
    Role {
        /// User name.
        name: String,
        /// The new role.
        #[arg(value_enum)]
        role: RoleArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

impl ColorArg {
    /// Whether to colour what goes to stdout.
    fn for_stdout(self) -> bool {
        match self {
            ColorArg::Always => true,
            ColorArg::Never => false,
            // https://no-color.org: set and not empty means no colour.
            ColorArg::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    User,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::User => Role::User,
        }
    }
}

fn main() {
    let args = Args::parse();
    let result = match &args.command {
        Some(Command::User { action }) => manage_users(&args.data, action, args.bcrypt_cost),
        Some(Command::Fingerprint) => {
            tls::fingerprint_of(&args.data, &args.tls()).map(|fingerprint| {
                println!("{fingerprint}");
            })
        }
        None => serve(&args),
    };
    if let Err(e) = result {
        eprintln!("ferry-server: error: {e:#}");
        std::process::exit(1);
    }
}

fn serve(args: &Args) -> anyhow::Result<()> {
    let rotation = logfile::Rotation {
        max_size: args.log_max_size,
        keep: args.log_keep,
    };
    let log_path = logfile::init(&args.logs, true, rotation)
        .with_context(|| format!("while opening the log folder {}", args.logs.display()))?;
    let mut config = Config::new(&args.data, &args.logs);
    config.listen = args.listen.clone();
    config.max_connections = args.max_connections;
    config.max_line = args.max_line;
    config.idle_timeout = Duration::from_secs(args.idle_timeout);
    config.io_timeout = Duration::from_secs(args.io_timeout);
    config.login_timeout = Duration::from_secs(args.login_timeout);
    config.max_unauthenticated = args.max_unauthenticated;
    config.max_upload_size = args.max_upload_size;
    config.bcrypt_cost = args.bcrypt_cost;
    config.partial_upload_ttl = Duration::from_secs(args.partial_upload_hours.saturating_mul(3600));
    config.min_free_space = args.min_free_space;
    config.admin_password = std::env::var("FERRY_ADMIN_PASSWORD").ok();
    config.status_interval =
        Some(Duration::from_secs(args.status_interval)).filter(|d| !d.is_zero());
    config.status_color = args.color.for_stdout();
    config.rate_limit = Some(args.rate_limit).filter(|&r| r > 0);
    config.tls = args.tls();

    let server = Server::start(config)?;
    for problem in server.bind_errors() {
        eprintln!("ferry-server: warning: {problem}");
    }
    if let Some(password) = server.admin_password() {
        if std::env::var_os("FERRY_ADMIN_PASSWORD").is_some() {
            println!("Created user \"admin\" with the password from FERRY_ADMIN_PASSWORD.");
        } else {
            println!(
                "Created user \"admin\" with password {password}\n\
                 It is shown only this once: note it, then change it with `ferry-cli --user admin users passwd admin`."
            );
        }
    }
    // Right after the password: on a first start the two are what the
    // administrator notes and hands on, so they are read as one block.
    // (Without TLS, the start has warned on stderr already.)
    if let Some(fingerprint) = server.fingerprint() {
        println!(
            "TLS certificate fingerprint {fingerprint}\n\
             Clients are shown this on their first connection: compare before trusting it."
        );
    }
    for addr in server.local_addrs() {
        println!("Ferry server listening on {addr}");
    }
    println!(
        "Data in {}, log in {}",
        args.data.display(),
        log_path.display()
    );
    // The listeners run on their own threads; this one waits for Ctrl-C or
    // SIGTERM, then lets the transfers under way finish.
    let (stop, stopped) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop.send(());
    })
    .context("while installing the Ctrl-C / SIGTERM handler")?;
    let _ = stopped.recv();
    let grace = Duration::from_secs(args.shutdown_grace);
    eprintln!(
        "ferry-server: stopping; waiting up to {}s for requests under way",
        grace.as_secs()
    );
    log::info!("shutdown requested");
    let unfinished = server.shutdown_gracefully(grace);
    if unfinished > 0 {
        eprintln!(
            "ferry-server: stopped with {unfinished} transfers unfinished (their clients can resume them)"
        );
    }
    log::info!("stopped");
    Ok(())
}

fn manage_users(data: &Path, action: &UserAction, cost: u32) -> anyhow::Result<()> {
    if !data.join(ferry_server::db::DB_FILE).exists() {
        bail!(
            "there is no Ferry database in {}; start the server once there, or pass --data",
            data.display()
        );
    }
    let db = Db::open(data)
        .with_context(|| format!("while opening the database in {}", data.display()))?;
    let friendly = |e: DbError, name: &str| match e {
        DbError::NotFound => anyhow::anyhow!("there is no user named {name:?}"),
        DbError::Exists => anyhow::anyhow!("a user named {name:?} already exists"),
        DbError::LastAdmin => {
            anyhow::anyhow!("{name:?} is the last admin; make another user admin first")
        }
        other => other.into(),
    };
    match action {
        UserAction::Add { name, role } => {
            check_user_name(name).map_err(anyhow::Error::msg)?;
            let password = new_password(name)?;
            let hash = auth::hash_password(&password, cost)?;
            db.add_user(name, &hash, (*role).into())
                .map_err(|e| friendly(e, name))?;
            println!("added user {name:?} ({})", Role::from(*role));
        }
        UserAction::List => {
            for (name, role) in db.users()? {
                println!("{name}\t{role}");
            }
        }
        UserAction::Remove { name } => {
            db.remove_user(name).map_err(|e| friendly(e, name))?;
            println!("removed user {name:?}");
        }
        UserAction::Passwd { name } => {
            if db.user(name)?.is_none() {
                return Err(friendly(DbError::NotFound, name));
            }
            let password = new_password(name)?;
            let hash = auth::hash_password(&password, cost)?;
            db.set_password(name, &hash)
                .map_err(|e| friendly(e, name))?;
            println!("changed the password of {name:?}");
        }
        UserAction::Role { name, role } => {
            db.set_role(name, (*role).into())
                .map_err(|e| friendly(e, name))?;
            println!("{name:?} is now {}", Role::from(*role));
        }
    }
    Ok(())
}

/// A new password from FERRY_PASSWORD, or asked twice on the terminal.
fn new_password(user: &str) -> anyhow::Result<String> {
    let password = match std::env::var("FERRY_PASSWORD") {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => {
            let first = rpassword::prompt_password(format!("New password for {user}: "))?;
            let second = rpassword::prompt_password("Repeat it: ")?;
            if first != second {
                bail!("the two passwords differ; nothing was changed");
            }
            first
        }
        Err(_) => {
            bail!("set FERRY_PASSWORD or run this on a terminal to be asked for the password")
        }
    };
    check_password(&password).map_err(anyhow::Error::msg)?;
    Ok(password)
}
