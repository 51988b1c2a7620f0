//! Appending a transfer's bytes to a file. Large transfers bypass the page
//! cache (`O_DIRECT`): the bytes reach the disk while the transfer runs, so
//! an fsync at the end has almost nothing left to do, and the CPU does not
//! spend its time filling the page cache. Through the page cache, the kernel
//! starts writing late and an fsync of a large file waits for all of it; on
//! our machines that write-back path is also several times slower than
//! direct writes of the same bytes (see `docs/BENCHMARKS.md`).
//!
//! Direct I/O wants the memory, the file offset and the length of every
//! write aligned to the disk's block size. The [`Appender`] stages bytes in
//! an aligned buffer, writes whole buffers, and writes a final partial block
//! padded with zeros before cutting the file back to its real length. Full
//! buffers are written by a thread of the appender's own while the next one
//! fills, so the disk's latency does not hold up the network. The bytes can
//! be received straight into the stage ([`Appender::space`]), and a full
//! stage can be looked at on another thread before it is written
//! ([`Staged`]): that is how a transfer is hashed without a copy. A file
//! system that refuses direct I/O gets ordinary writes instead.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use log::info;

use crate::platform;

/// Transfers of at least this many bytes are written directly.
pub const DIRECT_FROM: u64 = 64 << 20;
/// Alignment for direct I/O: the largest logical block size in common use.
pub const ALIGN: usize = 4096;
/// Bytes staged before a direct write.
const STAGE: usize = 2 << 20;
/// Stages in use at once: one filling, the others being hashed, queued or
/// written.
const STAGES: usize = 4;

/// Appends bytes to a file, directly or through the page cache.
pub struct Appender {
    /// Opened the ordinary way: for ordinary writes, cutting and syncing.
    file: File,
    path: PathBuf,
    /// Present while writing directly.
    direct: Option<Direct>,
    /// Bytes appended (the file's length once [`Appender::finish`] ran).
    len: u64,
    /// Bytes handed to the file system; the rest wait in buffers.
    written: u64,
}

struct Direct {
    /// Opened with `O_DIRECT`.
    file: Arc<File>,
    /// The stage being filled.
    stage: Stage,
    /// To the thread writing full stages.
    writer: Sender<Stage>,
    /// Written stages coming back.
    done: Receiver<Written>,
    /// Full stages handed out and not back yet.
    out: usize,
    /// Buffers of written stages, to fill again.
    free: Vec<Vec<u8>>,
}

/// An aligned buffer holding the bytes from file offset `base` on.
struct Stage {
    buf: Vec<u8>,
    /// Where the aligned part of `buf` starts.
    start: usize,
    filled: usize,
    /// A multiple of [`ALIGN`].
    base: u64,
}

struct Written {
    stage: Stage,
    result: io::Result<()>,
}

/// A full stage on its way to the disk: its bytes may be looked at (and
/// hashed) on any thread before [`Staged::write`] sends it on. A stage
/// dropped unwritten is written all the same, so the appender never waits
/// for it in vain.
pub struct Staged {
    stage: Option<Stage>,
    writer: Sender<Stage>,
}

impl Staged {
    /// The file offset of the first byte.
    pub fn offset(&self) -> u64 {
        self.stage().base
    }

    /// The bytes to be written.
    pub fn bytes(&self) -> &[u8] {
        self.stage().bytes()
    }

    /// Queues the stage for writing.
    pub fn write(self) {
        drop(self);
    }

    fn stage(&self) -> &Stage {
        self.stage.as_ref().expect("present until dropped")
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(stage) = self.stage.take() {
            // If the appender is gone, so is the need to write it.
            let _ = self.writer.send(stage);
        }
    }
}

impl Stage {
    fn new(base: u64) -> Stage {
        Stage::in_buffer(vec![0u8; STAGE + ALIGN], base)
    }

    /// An empty stage in `buf`, which holds `STAGE + ALIGN` bytes (of an
    /// earlier stage, say: their values do not matter).
    fn in_buffer(buf: Vec<u8>, base: u64) -> Stage {
        let start = buf.as_ptr().align_offset(ALIGN);
        Stage {
            buf,
            start,
            filled: 0,
            base,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.filled]
    }

    fn end(&self) -> u64 {
        self.base + self.filled as u64
    }
}

impl Appender {
    /// Creates `path`, which must not exist.
    pub fn create(path: &Path, direct: bool) -> io::Result<Appender> {
        let file = open(path, true)?;
        Appender::with(file, path, 0, direct)
    }

    /// Opens `path` to append after its first `keep` bytes, cutting off the
    /// rest. Fails with `UnexpectedEof` if the file is shorter than that.
    pub fn open(path: &Path, keep: u64, direct: bool) -> io::Result<Appender> {
        let file = open(path, false)?;
        if file.metadata()?.len() < keep {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than its record says",
            ));
        }
        file.set_len(keep)?;
        Appender::with(file, path, keep, direct)
    }

    fn with(file: File, path: &Path, len: u64, direct: bool) -> io::Result<Appender> {
        let mut appender = Appender {
            file,
            path: path.to_owned(),
            direct: None,
            len,
            written: len,
        };
        if direct {
            appender.direct = appender.start_direct()?;
        }
        Ok(appender)
    }

    /// Opens the file for direct writes and starts the writer thread;
    /// `None` if the file system or the process cannot.
    fn start_direct(&self) -> io::Result<Option<Direct>> {
        let path = &self.path;
        let Some(file) = platform::open_direct(path)? else {
            info!("{} cannot be written directly", path.display());
            return Ok(None);
        };
        let file = Arc::new(file);
        let (writer, stages) = mpsc::channel::<Stage>();
        let (done_tx, done) = mpsc::channel::<Written>();
        let direct_file = Arc::clone(&file);
        let ordinary = self.file.try_clone()?;
        let shown = path.display().to_string();
        let spawned = thread::Builder::new()
            .name("writer".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut refused = false;
                for stage in stages {
                    let bytes = stage.bytes();
                    let mut result = Ok(());
                    if !refused {
                        result = platform::write_all_at(&direct_file, bytes, stage.base);
                        refused = is_refusal(&result);
                        if refused {
                            info!(
                                "{shown} cannot be written directly; writing through the page cache"
                            );
                        }
                    }
                    if refused {
                        result = platform::write_all_at(&ordinary, bytes, stage.base);
                    }
                    if done_tx.send(Written { stage, result }).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            info!(
                "no writer thread for {} ({e}); writing through the page cache",
                path.display()
            );
            return Ok(None);
        }
        // The last partial block is staged again, so direct writes start aligned.
        let mut stage = Stage::new(self.len / ALIGN as u64 * ALIGN as u64);
        let tail = (self.len - stage.base) as usize;
        let at = stage.start;
        platform::read_exact_at(&self.file, &mut stage.buf[at..at + tail], stage.base)?;
        stage.filled = tail;
        Ok(Some(Direct {
            file,
            stage,
            writer,
            done,
            out: 0,
            free: Vec::new(),
        }))
    }

    /// Bytes appended so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// While writing directly: room for the next bytes in the stage, to
    /// fill and confirm with [`Appender::filled`]. `None` otherwise.
    pub fn space(&mut self) -> Option<&mut [u8]> {
        let stage = &mut self.direct.as_mut()?.stage;
        let from = stage.start + stage.filled;
        Some(&mut stage.buf[from..stage.start + STAGE])
    }

    /// Counts the first `n` bytes of [`Appender::space`] as appended; a
    /// stage they fill is handed out, to be passed on and then written
    /// with [`Staged::write`]. `n` must fit the space.
    pub fn filled(&mut self, n: usize) -> io::Result<Option<Staged>> {
        let Some(direct) = &mut self.direct else {
            return Ok(None);
        };
        assert!(direct.stage.filled + n <= STAGE, "more than the space");
        direct.stage.filled += n;
        self.len += n as u64;
        if direct.stage.filled < STAGE {
            return Ok(None);
        }
        let base = direct.stage.end();
        let next = self.next_stage(base)?;
        let direct = self.direct.as_mut().expect("checked above");
        let full = std::mem::replace(&mut direct.stage, next);
        direct.out += 1;
        Ok(Some(Staged {
            stage: Some(full),
            writer: direct.writer.clone(),
        }))
    }

    /// While writing directly: the staged bytes from file offset `from`
    /// on, which is within the stage. Empty otherwise.
    pub fn staged_from(&self, from: u64) -> &[u8] {
        match &self.direct {
            Some(direct) => &direct.stage.bytes()[(from - direct.stage.base) as usize..],
            None => &[],
        }
    }

    /// Appends bytes.
    pub fn append(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while let Some(space) = self.space() {
            if bytes.is_empty() {
                return Ok(());
            }
            let n = space.len().min(bytes.len());
            space[..n].copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if let Some(staged) = self.filled(n)? {
                staged.write();
            }
        }
        platform::write_all_at(&self.file, bytes, self.len)?;
        self.len += bytes.len() as u64;
        self.written = self.len;
        Ok(())
    }

    /// Writes everything appended, so the file holds every byte. Stages
    /// handed out must have been written. Appending may go on afterwards.
    pub fn finish(&mut self) -> io::Result<()> {
        self.wait_for_stages()?;
        let Some(direct) = &mut self.direct else {
            return Ok(());
        };
        let stage = &mut direct.stage;
        if stage.filled == 0 {
            return Ok(());
        }
        // The last partial block is padded with zeros, then cut off.
        let padded = stage.filled.next_multiple_of(ALIGN);
        let region = stage.start..stage.start + padded;
        stage.buf[stage.start + stage.filled..region.end].fill(0);
        let result = platform::write_all_at(&direct.file, &stage.buf[region], stage.base);
        if is_refusal(&result) {
            platform::write_all_at(&self.file, stage.bytes(), stage.base)?;
        } else {
            result?;
        }
        self.file.set_len(self.len)?;
        // Whole blocks leave the stage; the partial one moves to its front
        // so later writes start aligned.
        let whole = stage.filled / ALIGN * ALIGN;
        let tail = stage.filled - whole;
        let from = stage.start + whole;
        stage.buf.copy_within(from..from + tail, stage.start);
        stage.filled = tail;
        stage.base += whole as u64;
        self.written = self.len;
        Ok(())
    }

    /// Bytes handed to the file system (not only buffered).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The open file, e.g. to sync it.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// An empty stage from file offset `base` on, in a written stage's
    /// buffer, in a new one while fewer than [`STAGES`] are in use, or else
    /// in the next one to be written.
    fn next_stage(&mut self, base: u64) -> io::Result<Stage> {
        self.reclaim(false)?;
        loop {
            let direct = self.direct.as_mut().expect("writing directly");
            if let Some(buf) = direct.free.pop() {
                return Ok(Stage::in_buffer(buf, base));
            }
            if direct.out + 1 < STAGES {
                return Ok(Stage::new(base));
            }
            self.reclaim(true)?;
        }
    }

    /// Waits until every stage handed out is written.
    fn wait_for_stages(&mut self) -> io::Result<()> {
        while self.direct.as_ref().is_some_and(|d| d.out > 0) {
            self.reclaim(true)?;
        }
        Ok(())
    }

    /// Takes back written stages: those already back, or (with `wait`) at
    /// least the next one.
    fn reclaim(&mut self, mut wait: bool) -> io::Result<()> {
        let direct = self.direct.as_mut().expect("writing directly");
        loop {
            let back = if wait {
                wait = false;
                match direct.done.recv() {
                    Ok(back) => back,
                    Err(_) => return Err(io::Error::other("the writer thread stopped")),
                }
            } else {
                match direct.done.try_recv() {
                    Ok(back) => back,
                    Err(_) => return Ok(()),
                }
            };
            direct.out -= 1;
            back.result?;
            // One writer takes stages in order: each ends after the last.
            self.written = back.stage.end();
            direct.free.push(back.stage.buf);
        }
    }
}

impl Drop for Appender {
    /// Waits for the stages handed out, so no write lands after the file
    /// is reopened or removed.
    fn drop(&mut self) {
        // A write that failed was reported to no one: nothing to do about it.
        let _ = self.wait_for_stages();
    }
}

/// Whether a direct write was refused because the file system cannot do
/// direct I/O (or not with this alignment).
fn is_refusal(result: &io::Result<()>) -> bool {
    matches!(result, Err(e) if platform::is_direct_refusal(e))
}

/// Opens for reading and writing, never through a symlink planted in our folder.
fn open(path: &Path, create: bool) -> io::Result<File> {
    platform::no_follow(OpenOptions::new().read(true).write(true).create_new(create)).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 5003) as u8).collect()
    }

    #[test]
    fn direct_appends_of_any_size_make_the_exact_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = data(STAGE * 2 + ALIGN * 3 + 17);
        let mut out = Appender::create(&path, true).unwrap();
        for piece in data.chunks(300_001) {
            out.append(piece).unwrap();
            assert!(out.written() <= out.len);
            assert!(out.direct.is_some() || !cfg!(target_os = "linux"));
        }
        out.finish().unwrap();
        assert_eq!(out.written(), data.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        // Appending goes on after a finish, from the unaligned end.
        out.append(b"more").unwrap();
        out.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), data.len() + 4);
    }

    #[test]
    fn reopening_keeps_a_prefix_and_continues_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = data(STAGE + 12_345);
        for direct in [true, false] {
            std::fs::write(&path, &data[..9_000]).unwrap();
            let keep = 5_000;
            let mut out = Appender::open(&path, keep, direct).unwrap();
            out.append(&data[keep as usize..]).unwrap();
            out.finish().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "direct: {direct}");
            let e = Appender::open(&path, data.len() as u64 + 1, direct)
                .err()
                .expect("too short");
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        }
    }

    #[test]
    fn ordinary_appends_are_written_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut out = Appender::create(&path, false).unwrap();
        out.append(b"abc").unwrap();
        assert_eq!(out.written(), 3);
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        assert!(Appender::create(&path, false).is_err(), "must not exist");
    }
}
