//! The server under test, as a separate process so that its memory can be
//! read from `/proc/<pid>/status` without the benchmark's own allocations
//! in the figure.
//!
//! `ferry-bench` re-runs itself with the hidden `serve-internal`
//! subcommand, which starts [`ferry_server::Server`] exactly as
//! `ferry-server` does (same defaults, bcrypt cost 10, `server.log`), prints
//! its address and then serves until its stdin closes, so that a benchmark
//! killed in any way never leaves a server behind.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferry_client::transfer::Connector;
use ferry_client::{Client, Security, Trust};
use ferry_server::tls::TlsSource;
use ferry_server::{Config, Server, logfile};

/// The account every benchmark client logs in as.
pub const USER: &str = "admin";

/// What the `serve-internal` subcommand is told.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Folder for the database and blobs.
    #[arg(long)]
    data: PathBuf,
    /// Folder for server.log.
    #[arg(long)]
    logs: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Bytes per second per connection and direction; 0 = unlimited.
    #[arg(long, default_value_t = 0)]
    rate_limit: u64,
    /// Connections served at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Speak TLS (a self-signed certificate made in the data folder), as
    /// `ferry-server` does by default; without it, plaintext.
    #[arg(long)]
    tls: bool,
}

/// The body of `ferry-bench serve-internal`: the server with its defaults
/// but for the limits lifted below,
/// the admin password taken from `FERRY_ADMIN_PASSWORD`.
pub fn serve_internal(args: &ServeArgs) -> anyhow::Result<()> {
    logfile::init(&args.logs, false, logfile::Rotation::default())
        .with_context(|| format!("while opening the log folder {}", args.logs.display()))?;
    let mut config = Config::new(&args.data, &args.logs);
    config.tls = if args.tls {
        TlsSource::Generated
    } else {
        TlsSource::Plaintext
    };
    config.listen = vec![args.listen.clone()];
    config.max_connections = args.max_connections;
    // Every client of a benchmark comes from 127.0.0.1, standing in for
    // many machines, and the memory figure's idle connections are greeted
    // but never log in: lift the per-address cap on connections that have
    // not logged in, and the login deadline.
    config.max_unauthenticated = args.max_connections;
    config.login_timeout = std::time::Duration::from_secs(3600);
    // The benchmark's own temporary folder needs room for its files, not
    // the production reserve on top (its check still runs per upload).
    config.min_free_space = 0;
    config.admin_password = std::env::var("FERRY_ADMIN_PASSWORD").ok();
    config.rate_limit = Some(args.rate_limit).filter(|&r| r > 0);
    let server = Server::start(config)?;
    let addr = server
        .local_addrs()
        .first()
        .copied()
        .context("the server bound no address")?;
    if let Some(fingerprint) = server.fingerprint() {
        println!("FINGERPRINT {fingerprint}");
    }
    println!("LISTENING {addr}");
    // The parent holds our stdin: when it goes away (however it ends), so do we.
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin().lock();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    drop(server);
    Ok(())
}

/// Choices for one server process.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Bytes per second per connection and direction; `None`: unlimited.
    pub rate_limit: Option<u64>,
    /// The connection cap.
    pub max_connections: usize,
    /// TLS (with a self-signed certificate the clients pin) or plaintext.
    pub tls: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            rate_limit: None,
            max_connections: 1024,
            tls: false,
        }
    }
}

impl ServerOptions {
    /// The same options over TLS.
    pub fn tls(&self) -> ServerOptions {
        ServerOptions {
            tls: true,
            ..self.clone()
        }
    }
}

/// A running server process; killed (and reaped) on drop.
pub struct ServerProcess {
    child: Child,
    /// Held open: the child exits when it closes.
    _stdin: Option<ChildStdin>,
    /// Held open too, so that anything the server prints later does not
    /// hit a closed pipe.
    _stdout: Lines<BufReader<ChildStdout>>,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// The child's process id.
    pub pid: u32,
    /// How clients reach it: plaintext, or TLS trusting its fingerprint.
    pub security: Security,
    password: String,
}

impl ServerProcess {
    /// Starts a server over `dir` (`dir/data`, `dir/logs`), or restarts one
    /// over a folder an earlier one used.
    pub fn start(dir: &Path, password: &str, options: &ServerOptions) -> anyhow::Result<Self> {
        let data = dir.join("data");
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)
            .with_context(|| format!("while creating {}", logs.display()))?;
        let stderr_path = logs.join("stderr.txt");
        let stderr = File::create(&stderr_path)
            .with_context(|| format!("while creating {}", stderr_path.display()))?;
        let exe = std::env::current_exe().context("while finding the ferry-bench executable")?;
        let mut command = Command::new(exe);
        command.arg("serve-internal");
        if options.tls {
            command.arg("--tls");
        }
        let mut child = command
            .arg("--data")
            .arg(&data)
            .arg("--logs")
            .arg(&logs)
            .arg("--rate-limit")
            .arg(options.rate_limit.unwrap_or(0).to_string())
            .arg("--max-connections")
            .arg(options.max_connections.to_string())
            // Never on a command line, where `ps` would show it.
            .env("FERRY_ADMIN_PASSWORD", password)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .context("while starting the server process")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("the server has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut security = Security::Plaintext;
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(fingerprint) = line.strip_prefix("FINGERPRINT ") {
                        security = Security::Tls(Trust::nothing().vouch(fingerprint.trim())?);
                    }
                    if let Some(addr) = line.strip_prefix("LISTENING ") {
                        break addr.trim().to_owned();
                    }
                }
                Some(Err(_)) | None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let said = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    bail!("the server process did not start: {}", said.trim());
                }
            }
        };
        let pid = child.id();
        Ok(ServerProcess {
            child,
            _stdin: stdin,
            _stdout: lines,
            addr,
            pid,
            security,
            password: password.to_owned(),
        })
    }

    /// How to connect and log in, as the transfer functions want it.
    pub fn connector(&self) -> Connector {
        Connector::new(
            self.addr.clone(),
            self.security.clone(),
            USER,
            self.password.clone(),
        )
        .with_timeout(Duration::from_secs(60))
    }

    /// A new connection, logged in.
    pub fn login(&self) -> anyhow::Result<Client> {
        self.connector()
            .connect()
            .with_context(|| format!("while logging in to {}", self.addr))
    }

    /// The server's memory and thread count now.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        Memory::of(self.pid)
    }

    /// Waits until the server runs `threads` threads or more (connection
    /// threads started) or fewer (ended), at most `limit`.
    pub fn wait_threads(&self, ok: impl Fn(u64) -> bool, limit: Duration) -> anyhow::Result<u64> {
        let start = Instant::now();
        loop {
            let now = self.memory()?.threads;
            if ok(now) || start.elapsed() > limit {
                return Ok(now);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `/proc/<pid>/status` says about a process's memory.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident set size now, bytes.
    pub rss: u64,
    /// Peak resident set size ("high water mark"), bytes.
    pub hwm: u64,
    /// Threads.
    pub threads: u64,
}

impl Memory {
    /// Reads `/proc/<pid>/status`.
    pub fn of(pid: u32) -> anyhow::Result<Memory> {
        let path = format!("/proc/{pid}/status");
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("while reading {path}"))?;
        let field = |name: &str| -> Option<u64> {
            let line = text.lines().find(|l| l.starts_with(name))?;
            line[name.len()..].split_whitespace().next()?.parse().ok()
        };
        Ok(Memory {
            rss: field("VmRSS:").context("no VmRSS in /proc status")? * 1024,
            hwm: field("VmHWM:").context("no VmHWM in /proc status")? * 1024,
            threads: field("Threads:").unwrap_or(0),
        })
    }
}

/// Samples a process's RSS every 50 ms on its own thread and keeps the peak.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<u64>>,
}

impl RssSampler {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> anyhow::Result<RssSampler> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                let mut peak = 0;
                while !flag.load(Ordering::SeqCst) {
                    if let Ok(m) = Memory::of(pid) {
                        peak = peak.max(m.rss);
                    }
                    thread::sleep(Duration::from_millis(50));
                }
                peak
            })
            .context("while starting the memory sampler")?;
        Ok(RssSampler {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops sampling; the highest RSS seen, in bytes.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().and_then(|h| h.join().ok()).unwrap_or(0)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The open-files limit (soft, hard) of a process (`None`: this one).
/// `u64::MAX` stands for "unlimited". Our own comes from `getrlimit`;
/// another process's from `/proc/<pid>/limits` (Linux only), since
/// `getrlimit` reads only the caller's.
pub fn nofile_limit(pid: Option<u32>) -> Option<(u64, u64)> {
    match pid {
        None => nofile::get(),
        Some(p) => proc_nofile_limit(p),
    }
}

/// The open-files limit of process `pid` as `/proc` shows it.
fn proc_nofile_limit(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let mut words = line["Max open files".len()..].split_whitespace();
    let parse = |w: Option<&str>| match w? {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    };
    Some((parse(words.next())?, parse(words.next())?))
}

/// Makes sure this process (and the server processes it starts later,
/// which inherit the limit) may open `need` files, by raising the soft
/// limit towards the hard one. Returns why not, when it cannot be done.
pub fn ensure_nofile(need: u64) -> Result<(), String> {
    let Some((soft, hard)) = nofile_limit(None) else {
        return Err(format!(
            "needs {need} open files but cannot read or raise the open-files limit on this system"
        ));
    };
    if soft >= need {
        return Ok(());
    }
    if hard < need {
        return Err(format!(
            "needs {need} open files but the hard limit is {hard}; raise it (e.g. in /etc/security/limits.conf) and run again"
        ));
    }
    let target = if hard == u64::MAX { need } else { hard };
    let raised = nofile::raise_soft(target);
    match nofile_limit(None) {
        Some((soft, _)) if soft >= need => Ok(()),
        Some((soft, _)) => Err(format!(
            "needs {need} open files but the soft limit is {soft}{}; run `ulimit -n {need}` first",
            match raised {
                Ok(()) => String::new(),
                Err(why) => format!(" and it could not be raised ({why})"),
            }
        )),
        None => Err(format!(
            "needs {need} open files but cannot read the open-files limit any more"
        )),
    }
}

/// Reading and raising our own open-files limit (`RLIMIT_NOFILE`).
#[cfg(unix)]
mod nofile {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    /// (soft, hard); `u64::MAX` for "unlimited".
    pub(super) fn get() -> Option<(u64, u64)> {
        let limit = getrlimit(Resource::Nofile);
        Some((
            limit.current.unwrap_or(u64::MAX),
            limit.maximum.unwrap_or(u64::MAX),
        ))
    }

    /// Sets the soft limit to `target`, leaving the hard limit as it is
    /// (lowering it could not be undone without privileges).
    pub(super) fn raise_soft(target: u64) -> Result<(), String> {
        let maximum = getrlimit(Resource::Nofile).maximum;
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum,
            },
        )
        .map_err(|e| format!("setrlimit: {e}"))
    }
}

/// Elsewhere the limit is not ours to read or raise.
#[cfg(not(unix))]
mod nofile {
    pub(super) fn get() -> Option<(u64, u64)> {
        None
    }

    pub(super) fn raise_soft(_target: u64) -> Result<(), String> {
        Err("this system has no open-files limit the benchmark can raise".to_owned())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    #[test]
    fn the_open_files_limit_is_read_and_raised() {
        let (soft, hard) = nofile_limit(None).expect("getrlimit answers on unix");
        assert!(soft <= hard);
        if cfg!(target_os = "linux") {
            assert_eq!(proc_nofile_limit(std::process::id()), Some((soft, hard)));
        }
        assert_eq!(ensure_nofile(soft), Ok(()));

        // Lower the soft limit (always allowed), then let ensure_nofile put it back.
        let lower = soft.saturating_sub(1).max(1);
        let before = getrlimit(Resource::Nofile);
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(lower),
                maximum: before.maximum,
            },
        )
        .expect("lowering the soft limit is allowed");
        assert_eq!(ensure_nofile(soft), Ok(()));
        assert!(nofile_limit(None).expect("readable").0 >= soft);
        assert_eq!(
            nofile_limit(None).expect("readable").1,
            hard,
            "hard limit kept"
        );

        if hard < u64::MAX {
            let why = ensure_nofile(hard + 1).expect_err("over the hard limit");
            assert!(why.contains("hard limit"), "{why}");
        }
    }
}
