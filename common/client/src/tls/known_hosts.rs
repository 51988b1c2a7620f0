//! The known-hosts file: the servers this user has trusted by fingerprint,
//! one `HOST:PORT SHA256:<64 hex digits>` per line, like SSH's
//! `known_hosts`. Blank lines and lines starting with `#` are comments.
//!
//! Parsing and editing are pure ([`KnownHosts::parse`], [`KnownHosts::render`]);
//! [`KnownHosts::load`] and [`KnownHosts::update`] are the thin file I/O
//! around them. An update holds a lock while it reads the file again,
//! changes it and replaces it (a new file of its own, renamed over the
//! old one, so a crash never leaves half a file): writers in parallel,
//! in this process or in others, each add their pin and lose none.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ferry_proto::fingerprint::normalize_fingerprint;

/// The first lines of a new known-hosts file.
const HEADER: &str = "# Ferry's trusted servers: one \"HOST:PORT SHA256:<fingerprint>\" per line.\n\
# Remove a line (or run `ferry-cli trust remove HOST:PORT`) to forget a server.\n";

/// The pinned servers, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHosts {
    entries: Vec<(String, String)>,
}

/// A line of a known-hosts file that is not an entry.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line} is not \"HOST:PORT SHA256:<64 hex digits>\"")]
pub struct BadLine {
    /// Its number, from 1.
    pub line: usize,
}

impl KnownHosts {
    /// Parses the text of a known-hosts file.
    pub fn parse(text: &str) -> Result<KnownHosts, BadLine> {
        let mut hosts = KnownHosts::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(addr), Some(fingerprint), None) = (words.next(), words.next(), words.next())
            else {
                return Err(BadLine { line: i + 1 });
            };
            let Some(fingerprint) = normalize_fingerprint(fingerprint) else {
                return Err(BadLine { line: i + 1 });
            };
            hosts.pin(addr, &fingerprint);
        }
        Ok(hosts)
    }

    /// The text of the file, header included.
    pub fn render(&self) -> String {
        let mut text = HEADER.to_owned();
        for (addr, fingerprint) in &self.entries {
            text.push_str(&format!("{addr} {fingerprint}\n"));
        }
        text
    }

    /// The fingerprint pinned for `addr`.
    pub fn get(&self, addr: &str) -> Option<&str> {
        let key = host_key(addr);
        self.entries
            .iter()
            .find(|(a, _)| *a == key)
            .map(|(_, f)| f.as_str())
    }

    /// Whether any address is pinned to `fingerprint`.
    pub fn knows_fingerprint(&self, fingerprint: &str) -> bool {
        self.entries.iter().any(|(_, f)| f == fingerprint)
    }

    /// Pins `addr` to `fingerprint`, replacing an earlier pin for it.
    pub fn pin(&mut self, addr: &str, fingerprint: &str) {
        let key = host_key(addr);
        match self.entries.iter_mut().find(|(a, _)| *a == key) {
            Some(entry) => entry.1 = fingerprint.to_owned(),
            None => self.entries.push((key, fingerprint.to_owned())),
        }
    }

    /// Forgets `addr`; whether it was pinned.
    pub fn remove(&mut self, addr: &str) -> bool {
        let key = host_key(addr);
        let before = self.entries.len();
        self.entries.retain(|(a, _)| *a != key);
        self.entries.len() != before
    }

    /// Every pin, as `(HOST:PORT, fingerprint)`, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(a, f)| (a.as_str(), f.as_str()))
    }

    /// Reads the file at `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<KnownHosts, String> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(KnownHosts::default()),
            Err(e) => return Err(format!("could not read {}: {e}", path.display())),
        };
        KnownHosts::parse(&text).map_err(|e| {
            format!(
                "{} is damaged: {e}; fix or delete that line",
                path.display()
            )
        })
    }

    /// Changes the file at `path` by `edit` and saves it, creating its
    /// folder: the file is read again under a lock, so what other writers
    /// saved meanwhile is kept. Returns what `edit` returned; the file is
    /// written only if `edit` changed something.
    pub fn update<R>(path: &Path, edit: impl FnOnce(&mut KnownHosts) -> R) -> Result<R, String> {
        let failed = |e: io::Error| format!("could not save {}: {e}", path.display());
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(failed)?;
        let _locked = WriteLock::take(path)?;
        let mut hosts = KnownHosts::load(path)?;
        let before = hosts.clone();
        let result = edit(&mut hosts);
        if hosts != before {
            hosts.replace(path, dir).map_err(failed)?;
        }
        Ok(result)
    }

    /// Writes the list to a new file of its own in `dir`, then renames it
    /// over `path`.
    fn replace(&self, path: &Path, dir: &Path) -> io::Result<()> {
        // A name no other writer uses, even one that took no lock (an
        // older Ferry): two writers never write, or rename, one file.
        // tempfile makes it only its owner may read (0600 on Unix): the
        // list says which servers this user reaches.
        let mut temp = tempfile::Builder::new()
            .prefix(".known_hosts.")
            .suffix(".new")
            .tempfile_in(dir)?;
        temp.write_all(self.render().as_bytes())?;
        temp.as_file().sync_all()?;
        temp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Held while the known-hosts file is read, changed and replaced, so that
/// no other writer does the same in between (each would save the file it
/// read plus its own pin, and the last rename would drop the other's pin).
///
/// Two locks, because neither covers both cases alone:
/// - An OS file lock (`flock` on Unix, `LockFileEx` on Windows, through
///   the standard library's `File::lock`, which does what the fs4 crate
///   does) on a file beside it, `known_hosts.lock`, which is never
///   renamed or deleted. It excludes other processes (the CLI and the app
///   running at once, or several CLIs in a script). The known-hosts file
///   itself cannot carry the lock: a writer replaces it by a rename, and a
///   lock on the old file does not stop the next writer who opens the new
///   one.
/// - A mutex for this process. Mirror handshakes pin from several threads
///   at once, and on some file systems (NFS) the OS lock is kept per
///   process, not per open file, so it would not stop two threads.
///
/// Where the OS has no file locks at all, the mutex still orders this
/// process's writers, and the private temporary names keep a rename from
/// failing.
struct WriteLock {
    // Fields drop in this order: the file lock goes before the mutex,
    // since closing a file drops a per-process lock for every thread.
    _file: Option<File>,
    _process: std::sync::MutexGuard<'static, ()>,
}

/// Orders this process's writers of known-hosts files.
static WRITERS: Mutex<()> = Mutex::new(());

impl WriteLock {
    /// Waits for the other writers of `path`, then holds it.
    fn take(path: &Path) -> Result<WriteLock, String> {
        let process = WRITERS.lock().unwrap_or_else(PoisonError::into_inner);
        let lock_path = lock_path(path);
        let cannot = |e: io::Error| {
            format!(
                "could not lock {} to save the trusted servers: {e}; check that its folder is writable",
                lock_path.display()
            )
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(cannot)?;
        let file = match file.lock() {
            Ok(()) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => None,
            Err(e) => return Err(cannot(e)),
        };
        Ok(WriteLock {
            _file: file,
            _process: process,
        })
    }
}

/// The lock file beside the known-hosts file at `path`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The key an address is pinned under: host names compare without case.
fn host_key(addr: &str) -> String {
    addr.trim().to_ascii_lowercase()
}

/// Where the known-hosts file lives: `$FERRY_KNOWN_HOSTS`, else
/// `known_hosts` in Ferry's configuration folder — `$XDG_CONFIG_HOME/ferry`
/// or `~/.config/ferry` on Linux and other Unixes,
/// `~/Library/Application Support/ferry` on macOS, `%APPDATA%\ferry` on
/// Windows.
pub fn default_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FERRY_KNOWN_HOSTS") {
        return Some(PathBuf::from(path));
    }
    config_dir().map(|dir| dir.join("ferry").join("known_hosts"))
}

#[cfg(windows)]
fn config_dir() -> Option<PathBuf> {
    std::env::var_os("APPDATA").map(PathBuf::from)
}

#[cfg(target_os = "macos")]
fn config_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/Application Support"))
}

#[cfg(not(any(windows, target_os = "macos")))]
fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "SHA256:3f1c000000000000000000000000000000000000000000000000000000000000";
    const B: &str = "SHA256:beef000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn a_file_round_trips_with_its_comments_dropped() {
        let text = format!("# mine\n\nfiles.lan:7878 {A}\n  [::1]:7878   {B}  \n");
        let hosts = KnownHosts::parse(&text).unwrap();
        assert_eq!(hosts.get("files.lan:7878"), Some(A));
        assert_eq!(hosts.get("[::1]:7878"), Some(B));
        assert_eq!(KnownHosts::parse(&hosts.render()).unwrap(), hosts);
        assert!(hosts.render().starts_with("# Ferry's trusted servers"));
    }

    #[test]
    fn host_names_compare_without_case_and_a_pin_replaces_the_old_one() {
        let mut hosts = KnownHosts::default();
        hosts.pin("Files.LAN:7878", A);
        assert_eq!(hosts.get("files.lan:7878"), Some(A));
        hosts.pin("files.lan:7878", B);
        assert_eq!(hosts.entries().count(), 1);
        assert_eq!(hosts.get("FILES.lan:7878"), Some(B));
        assert!(hosts.knows_fingerprint(B) && !hosts.knows_fingerprint(A));
        assert!(hosts.remove("files.lan:7878"));
        assert!(!hosts.remove("files.lan:7878"));
        assert_eq!(hosts.get("files.lan:7878"), None);
    }

    #[test]
    fn a_damaged_line_is_named() {
        for bad in ["files.lan:7878", "files.lan:7878 SHA256:12", "a b c"] {
            let text = format!("# ok\nx:1 {A}\n{bad}\n");
            assert_eq!(KnownHosts::parse(&text), Err(BadLine { line: 3 }), "{bad}");
        }
    }

    #[test]
    fn updates_and_loads_go_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("known_hosts");
        assert_eq!(KnownHosts::load(&path).unwrap(), KnownHosts::default());
        KnownHosts::update(&path, |hosts| hosts.pin("h:1", A)).unwrap();
        let mut hosts = KnownHosts::default();
        hosts.pin("h:1", A);
        assert_eq!(KnownHosts::load(&path).unwrap(), hosts);
        // An edit that changes nothing writes nothing.
        let written = fs::metadata(&path).unwrap().modified().unwrap();
        assert!(!KnownHosts::update(&path, |hosts| hosts.remove("other:1")).unwrap());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), written);
        // No temporary file is left behind.
        let mut names: Vec<String> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["known_hosts", "known_hosts.lock"]);
        fs::write(&path, "garbage\n").unwrap();
        let e = KnownHosts::load(&path).unwrap_err();
        assert!(e.contains("is damaged: line 1"), "{e}");
        let e = KnownHosts::update(&path, |hosts| hosts.pin("h:2", B)).unwrap_err();
        assert!(e.contains("is damaged: line 1"), "{e}");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "garbage\n",
            "left as it was"
        );
    }

    #[test]
    fn writers_in_parallel_keep_every_pin() {
        const WRITERS: usize = 16;
        const ROUNDS: usize = 5;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let start = std::sync::Barrier::new(WRITERS);
        std::thread::scope(|scope| {
            for w in 0..WRITERS {
                let (path, start) = (&path, &start);
                std::thread::Builder::new()
                    .name(format!("pinner-{w}"))
                    .spawn_scoped(scope, move || {
                        start.wait();
                        for r in 0..ROUNDS {
                            KnownHosts::update(path, |hosts| hosts.pin(&format!("h{w}:{r}"), A))
                                .unwrap();
                        }
                    })
                    .unwrap();
            }
        });
        let hosts = KnownHosts::load(&path).unwrap();
        assert_eq!(hosts.entries().count(), WRITERS * ROUNDS);
        for w in 0..WRITERS {
            for r in 0..ROUNDS {
                assert_eq!(hosts.get(&format!("h{w}:{r}")), Some(A), "h{w}:{r}");
            }
        }
    }

    #[test]
    fn the_lock_holds_off_other_processes_too() {
        // Another process opens the lock file on its own; a handle of our
        // own stands for it (a file lock belongs to the open file, not to
        // the thread).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let held = WriteLock::take(&path).unwrap();
        let other = File::open(lock_path(&path)).unwrap();
        assert!(
            matches!(other.try_lock(), Err(fs::TryLockError::WouldBlock)),
            "a second opener must wait"
        );
        drop(held);
        other.try_lock().expect("free once the writer is done");
    }
}
