//! The known-hosts file: the servers this user has trusted by fingerprint,
//! one `HOST:PORT SHA256:<64 hex digits>` per line, like SSH's
//! `known_hosts`. Blank lines and lines starting with `#` are comments.
//!
//! Parsing and editing are pure ([`KnownHosts::parse`], [`KnownHosts::render`]);
//! [`KnownHosts::load`] and [`KnownHosts::save`] are the thin file I/O
//! around them (a save writes a new file and renames it over the old one,
//! so a crash never leaves half a file).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

    /// Writes the list to `path`, creating its folder.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let failed = |e: io::Error| format!("could not save {}: {e}", path.display());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(failed)?;
        }
        let mut temp = path.as_os_str().to_owned();
        temp.push(".new");
        let temp = PathBuf::from(temp);
        let mut file = fs::File::create(&temp).map_err(failed)?;
        file.write_all(self.render().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(failed)?;
        fs::rename(&temp, path).map_err(failed)
    }
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
    fn save_and_load_go_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("known_hosts");
        assert_eq!(KnownHosts::load(&path).unwrap(), KnownHosts::default());
        let mut hosts = KnownHosts::default();
        hosts.pin("h:1", A);
        hosts.save(&path).unwrap();
        assert_eq!(KnownHosts::load(&path).unwrap(), hosts);
        fs::write(&path, "garbage\n").unwrap();
        let e = KnownHosts::load(&path).unwrap_err();
        assert!(e.contains("is damaged: line 1"), "{e}");
    }
}
