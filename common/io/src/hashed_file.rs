//! The receiving end of a transfer, on either side: bytes appended to a
//! file ([`Appender`]) and hashed on the way ([`StreamHasher`]), with resume
//! points that are safe to record: a saved MD5 state never covers bytes
//! that are not yet written.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::appender::{Appender, DIRECT_FROM};
use crate::hashing::{HashCheckpoint, StreamHasher};
use ferry_proto::hash::Hasher;

/// Most bytes lent by [`HashedFile::space`] while the file is not written
/// directly: many small uploads run at once, each holding one such buffer.
const LEND: usize = 256 * 1024;

/// A file being received, hashed as it grows.
pub struct HashedFile {
    out: Appender,
    hasher: StreamHasher,
    /// The hasher's buffer lent by [`HashedFile::space`] while the file is
    /// not written directly.
    lent: Option<Vec<u8>>,
    /// Bytes between resume points.
    every: u64,
    marked_at: u64,
    /// A resume point whose bytes may still wait in the appender's buffer.
    pending: Option<HashCheckpoint>,
}

impl HashedFile {
    /// Creates `path` (which must not exist) for `size` bytes; a resume
    /// point is offered every `every` bytes.
    pub fn create(path: &Path, size: u64, every: u64) -> io::Result<HashedFile> {
        let out = Appender::create(path, size >= DIRECT_FROM)?;
        Ok(HashedFile::with(out, Hasher::new(), 0, size, every))
    }

    /// Continues `path` of `size` bytes after its first `keep` bytes, whose
    /// MD5 state is `hasher`; the rest of the file is cut off. Fails with
    /// `UnexpectedEof` if the file is shorter than `keep`.
    pub fn open(
        path: &Path,
        size: u64,
        keep: u64,
        hasher: Hasher,
        every: u64,
    ) -> io::Result<HashedFile> {
        let out = Appender::open(path, keep, size.saturating_sub(keep) >= DIRECT_FROM)?;
        Ok(HashedFile::with(out, hasher, keep, size, every))
    }

    fn with(out: Appender, hasher: Hasher, offset: u64, size: u64, every: u64) -> HashedFile {
        HashedFile {
            out,
            hasher: StreamHasher::with_end(hasher, offset, size),
            lent: None,
            every,
            marked_at: offset,
            pending: None,
        }
    }

    /// Bytes in the file so far, written or still buffered.
    pub fn len(&self) -> u64 {
        self.out.len()
    }

    /// Whether nothing was received yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends bytes and hashes them. Returns a resume point when one is
    /// ready: the MD5 state over bytes that are all written.
    pub fn write(&mut self, mut bytes: &[u8]) -> io::Result<Option<HashCheckpoint>> {
        let mut point = None;
        while !bytes.is_empty() {
            let space = self.space(bytes.len());
            let n = space.len();
            space.copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            point = self.filled(n)?.or(point);
        }
        Ok(point)
    }

    /// Room for the next bytes, at least one and at most `max`, to receive
    /// into and confirm with [`HashedFile::filled`]: the bytes are then
    /// written and hashed where they are, without a copy.
    pub fn space(&mut self, max: usize) -> &mut [u8] {
        if let Some(space) = self.out.space() {
            let n = space.len().min(max);
            return &mut space[..n];
        }
        let buf = self.lent.insert(self.hasher.buffer(max.min(LEND)));
        let n = buf.len().min(max);
        &mut buf[..n]
    }

    /// Appends the first `n` bytes of the last [`HashedFile::space`]. Returns
    /// a resume point when one is ready, as [`HashedFile::write`] does.
    pub fn filled(&mut self, n: usize) -> io::Result<Option<HashCheckpoint>> {
        if let Some(buf) = self.lent.take() {
            self.out.append(&buf[..n])?;
            self.hasher.update_owned(buf, n);
        } else if let Some(staged) = self.out.filled(n)? {
            // A stage may begin with bytes hashed already (the block a
            // resume started in): they are written again, not hashed.
            let skip = (self.hasher.fed() - staged.offset()) as usize;
            let len = staged.bytes().len() - skip;
            self.hasher.update_with(len, move |hasher| {
                hasher.update(&staged.bytes()[skip..]);
                staged.write();
            });
        }
        Ok(self.resume_point())
    }

    fn resume_point(&mut self) -> Option<HashCheckpoint> {
        if self.len() - self.marked_at >= self.every {
            self.hasher.mark();
            self.marked_at = self.len();
        }
        if let Some(snapshot) = self.hasher.take_checkpoint() {
            self.pending = Some(snapshot);
        }
        let written = self.out.written();
        self.pending.take_if(|s| s.offset <= written)
    }

    /// Writes out every byte received and waits for the hashing: the MD5
    /// state over the whole file. Writing may go on afterwards.
    pub fn finish(&mut self) -> io::Result<&Hasher> {
        self.hasher.update(self.out.staged_from(self.hasher.fed()));
        self.out.finish()?;
        Ok(self.hasher.hasher())
    }

    /// The open file, e.g. to sync it or read its metadata.
    pub fn file(&self) -> &File {
        self.out.file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::hash::md5_bytes;

    #[test]
    fn resume_points_cover_only_written_bytes_and_resume_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(DIRECT_FROM as usize + 3_000_001))
            .map(|i| (i * 13 + i / 4093) as u8)
            .collect();
        let mut file = HashedFile::create(&path, data.len() as u64, 5 << 20).unwrap();
        let mut points = Vec::new();
        for piece in data[..data.len() / 2].chunks(100_003) {
            if let Some(point) = file.write(piece).unwrap() {
                let on_disk = std::fs::read(&path).unwrap();
                let at = point.offset as usize;
                assert!(on_disk.len() >= at);
                assert_eq!(on_disk[..at], data[..at], "written before recorded");
                points.push(point);
            }
        }
        assert!(points.len() >= 3, "{} resume points", points.len());
        drop(file);

        // Continue from a point that is not block-aligned.
        let point = points.last().unwrap();
        let mut file = HashedFile::open(
            &path,
            data.len() as u64,
            point.offset,
            Hasher::restore(&point.state).unwrap(),
            5 << 20,
        )
        .unwrap();
        for piece in data[point.offset as usize..].chunks(77_777) {
            file.write(piece).unwrap();
        }
        let whole = file.finish().unwrap().clone();
        assert_eq!(whole.finish(), md5_bytes(&data));
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }

    #[test]
    fn a_file_shorter_than_its_record_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123").unwrap();
        let e = HashedFile::open(&path, 10, 5, Hasher::new(), 1 << 20)
            .err()
            .expect("shorter than kept");
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
