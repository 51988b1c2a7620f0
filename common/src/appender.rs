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
//! fills, so the disk's latency does not hold up the network. A file system
//! that refuses direct I/O gets ordinary writes instead.

use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use log::info;

/// Transfers of at least this many bytes are written directly.
pub const DIRECT_FROM: u64 = 64 << 20;
/// Alignment for direct I/O: the largest logical block size in common use.
pub const ALIGN: usize = 4096;
/// Bytes staged before a direct write.
const STAGE: usize = 2 << 20;

/// Appends bytes to a file, directly or through the page cache.
pub struct Appender {
    file: Arc<File>,
    path: PathBuf,
    /// Present while writing directly.
    direct: Option<Direct>,
    /// Bytes appended (the file's length once [`Appender::finish`] ran).
    len: u64,
    /// Bytes handed to the file system; the rest wait in buffers.
    written: u64,
}

struct Direct {
    stage: Stage,
    /// The thread writing full stages.
    jobs: Sender<Job>,
    done: Receiver<Done>,
    /// The stage being written, if any.
    busy: bool,
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

/// Bytes of `buf` to write at file offset `at`.
struct Job {
    buf: Vec<u8>,
    range: Range<usize>,
    at: u64,
}

struct Done {
    job: Job,
    result: io::Result<()>,
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
            file: Arc::new(file),
            path: path.to_owned(),
            direct: None,
            len,
            written: len,
        };
        if !direct {
            return Ok(appender);
        }
        let direct_file = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECT)
            .open(path)
        {
            Ok(f) => Arc::new(f),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                info!("{} cannot be written directly ({e})", path.display());
                return Ok(appender);
            }
            Err(e) => return Err(e),
        };
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel::<Done>();
        let writer_file = Arc::clone(&direct_file);
        let spawned = thread::Builder::new()
            .name("writer".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for job in job_rx {
                    let result = writer_file.write_all_at(&job.buf[job.range.clone()], job.at);
                    if done_tx.send(Done { job, result }).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            info!(
                "no writer thread for {} ({e}); writing through the page cache",
                path.display()
            );
            return Ok(appender);
        }
        // The last partial block is staged again, so direct writes start aligned.
        let mut stage = Stage::new(len / ALIGN as u64 * ALIGN as u64);
        let tail = (len - stage.base) as usize;
        let at = stage.start;
        appender
            .file
            .read_exact_at(&mut stage.buf[at..at + tail], stage.base)?;
        stage.filled = tail;
        appender.file = direct_file;
        appender.written = stage.base;
        appender.direct = Some(Direct {
            stage,
            jobs,
            done,
            busy: false,
        });
        Ok(appender)
    }

    /// Appends bytes.
    pub fn append(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while let Some(direct) = &mut self.direct {
            if bytes.is_empty() {
                return Ok(());
            }
            let stage = &mut direct.stage;
            let n = (STAGE - stage.filled).min(bytes.len());
            let at = stage.start + stage.filled;
            stage.buf[at..at + n].copy_from_slice(&bytes[..n]);
            stage.filled += n;
            self.len += n as u64;
            bytes = &bytes[n..];
            if stage.filled == STAGE {
                self.hand_off()?;
            }
        }
        // Ordinary writes: from the start, or since a fallback.
        self.file.write_all_at(bytes, self.len)?;
        self.len += bytes.len() as u64;
        self.written = self.len;
        Ok(())
    }

    /// Writes everything appended, so the file holds every byte. Appending
    /// may go on afterwards.
    pub fn finish(&mut self) -> io::Result<()> {
        self.wait()?;
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
        match self.file.write_all_at(&stage.buf[region], stage.base) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return self.stop_direct(None, e),
            result => result?,
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

    /// Sends the full stage to the writer thread and takes the buffer of
    /// the previous write (once it is done) as the next stage.
    fn hand_off(&mut self) -> io::Result<()> {
        let buf = self.wait()?;
        let Some(direct) = &mut self.direct else {
            return Ok(());
        };
        let base = direct.stage.base + direct.stage.filled as u64;
        let next = match buf {
            Some(buf) => Stage::in_buffer(buf, base),
            None => Stage::new(base),
        };
        let full = std::mem::replace(&mut direct.stage, next);
        let job = Job {
            range: full.start..full.start + full.filled,
            at: full.base,
            buf: full.buf,
        };
        direct.busy = direct.jobs.send(job).is_ok();
        if !direct.busy {
            return Err(io::Error::other("the writer thread stopped"));
        }
        Ok(())
    }

    /// Waits for the write in flight, if any; its buffer.
    fn wait(&mut self) -> io::Result<Option<Vec<u8>>> {
        let Some(direct) = self.direct.as_mut().filter(|d| d.busy) else {
            return Ok(None);
        };
        direct.busy = false;
        let Ok(Done { job, result }) = direct.done.recv() else {
            return Err(io::Error::other("the writer thread stopped"));
        };
        match result {
            Ok(()) => {
                self.written = job.at + job.range.len() as u64;
                Ok(Some(job.buf))
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                self.stop_direct(Some(job), e)?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The file system refused a direct write: write what is buffered (the
    /// refused `job` first) the ordinary way and carry on like that.
    fn stop_direct(&mut self, job: Option<Job>, why: io::Error) -> io::Result<()> {
        info!(
            "{} cannot be written directly ({why}); writing through the page cache",
            self.path.display()
        );
        let direct = self.direct.take().expect("writing directly");
        self.file = Arc::new(open(&self.path, false)?);
        if let Some(job) = job {
            self.file.write_all_at(&job.buf[job.range], job.at)?;
        }
        self.file
            .write_all_at(direct.stage.bytes(), direct.stage.base)?;
        self.file.set_len(self.len)?;
        self.written = self.len;
        Ok(())
    }
}

/// Opens for reading and writing, never through a symlink planted in our folder.
fn open(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(create)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
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
