//! What the "name exists" dialog says about the local side of a conflict:
//! the file's size, modification time and, when the sizes match, its MD5,
//! so the dialog can say the two are identical. Found on a named
//! `local-file` thread (hashing a large file takes seconds); the answers
//! come back on a channel the UI drains every frame.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::UNIX_EPOCH;

use crossbeam_channel::{Receiver, Sender};
use ferry_proto::hash::Md5Digest;
use ferry_proto::time::Timestamp;

/// A local file's facts, as far as they are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFacts {
    /// Its size in bytes.
    pub size: u64,
    /// When it was last changed, if the system says.
    pub modified: Option<Timestamp>,
    /// Its MD5.
    pub md5: Digest,
}

/// The MD5 of a local file, as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// Being computed.
    Pending,
    /// Computed.
    Known(Md5Digest),
    /// Not computed: the sizes differ, so the contents do.
    Unneeded,
    /// The file could not be read to the end.
    Failed,
}

impl LocalFacts {
    /// Whether the file has the content `size` and `md5` describe:
    /// `None` while that is still being found out (or cannot be).
    pub fn same_as(&self, size: u64, md5: Md5Digest) -> Option<bool> {
        if self.size != size {
            return Some(false);
        }
        match self.md5 {
            Digest::Known(mine) => Some(mine == md5),
            Digest::Pending | Digest::Unneeded | Digest::Failed => None,
        }
    }
}

/// What a probe found: a key chosen by the asker (a transfer id), and the
/// facts or why there are none.
#[derive(Debug, Clone)]
pub struct Probed {
    /// The asker's key.
    pub key: u64,
    /// The facts, or the sentence saying why the file could not be read.
    pub facts: Result<LocalFacts, String>,
}

/// Runs probes off the UI thread.
pub struct LocalProbes {
    tx: Sender<Probed>,
    rx: Receiver<Probed>,
}

impl Default for LocalProbes {
    fn default() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        LocalProbes { tx, rx }
    }
}

impl LocalProbes {
    /// Finds `path`'s facts, hashing it only when it is `compare_size`
    /// bytes long. Two answers come when it hashes: the size and time at
    /// once, then the MD5.
    pub fn probe(&self, ctx: &egui::Context, key: u64, path: PathBuf, compare_size: u64) {
        let (tx, ctx) = (self.tx.clone(), ctx.clone());
        let spawned = thread::Builder::new()
            .name("local-file".to_owned())
            .spawn(move || {
                let send = |facts| {
                    let sent = tx.send(Probed { key, facts }).is_ok();
                    ctx.request_repaint();
                    sent
                };
                let mut facts = match stat(&path) {
                    Ok(facts) => facts,
                    Err(e) => {
                        send(Err(e));
                        return;
                    }
                };
                if facts.size != compare_size {
                    facts.md5 = Digest::Unneeded;
                    send(Ok(facts));
                    return;
                }
                if !send(Ok(facts.clone())) {
                    return;
                }
                facts.md5 = match ferry_io::hashing::md5_file(&path) {
                    Ok((md5, _)) => Digest::Known(md5),
                    Err(_) => Digest::Failed,
                };
                send(Ok(facts));
            });
        if spawned.is_err() {
            let _ = self.tx.send(Probed {
                key,
                facts: Err("the app could not start a thread to read it".to_owned()),
            });
        }
    }

    /// The next answer, if one came.
    pub fn try_recv(&self) -> Option<Probed> {
        self.rx.try_recv().ok()
    }
}

fn stat(path: &Path) -> Result<LocalFacts, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("could not read {}: {e}", path.display()))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .map(Timestamp);
    Ok(LocalFacts {
        size: meta.len(),
        modified,
        md5: Digest::Pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::hash::md5_bytes;
    use std::time::{Duration, Instant};

    fn wait(probes: &LocalProbes) -> Probed {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(p) = probes.try_recv() {
                return p;
            }
            assert!(Instant::now() < deadline, "no answer");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn hashes_only_when_the_sizes_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"hello").unwrap();
        let probes = LocalProbes::default();
        let ctx = egui::Context::default();

        probes.probe(&ctx, 1, path.clone(), 5);
        let first = wait(&probes).facts.unwrap();
        assert_eq!((first.size, first.md5), (5, Digest::Pending));
        assert!(first.modified.is_some());
        let second = wait(&probes).facts.unwrap();
        assert_eq!(second.md5, Digest::Known(md5_bytes(b"hello")));
        assert_eq!(second.same_as(5, md5_bytes(b"hello")), Some(true));
        assert_eq!(second.same_as(5, md5_bytes(b"world")), Some(false));
        assert_eq!(first.same_as(5, md5_bytes(b"hello")), None, "not known yet");

        probes.probe(&ctx, 2, path, 99);
        let other = wait(&probes);
        assert_eq!(other.key, 2);
        let other = other.facts.unwrap();
        assert_eq!(other.md5, Digest::Unneeded);
        assert_eq!(other.same_as(99, md5_bytes(b"hello")), Some(false));

        probes.probe(&ctx, 3, dir.path().join("missing"), 1);
        assert!(wait(&probes).facts.unwrap_err().contains("could not read"));
    }
}
