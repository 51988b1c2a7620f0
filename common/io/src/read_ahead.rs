//! Reading a large byte range of a file to send it: straight from the disk
//! (`O_DIRECT`), by a thread of its own, a few MiB ahead of the thread that
//! sends. The disk's latency overlaps the network, and no CPU goes into
//! copying the file out of the page cache, or into filling the cache with
//! a file that is read once (on our machines that costs more than the read
//! itself).

use std::fs::File;
use std::io;
use std::ops::Range;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use crate::appender::ALIGN;
use crate::platform;

/// Bytes per direct read.
const DIRECT_READ_BYTES: usize = 2 << 20;
/// Buffers per range: how far reading may run ahead of sending and hashing.
const DEPTH: usize = 4;

/// The pieces of one byte range of a file, in order, read ahead.
pub struct ReadAhead {
    pieces: Receiver<io::Result<Piece>>,
}

/// Bytes of the range, in a buffer that goes back to its reader when the
/// piece is dropped: a piece may be sent, then hashed on another thread.
pub struct Piece {
    buf: Vec<u8>,
    range: Range<usize>,
    home: Sender<Vec<u8>>,
}

impl Piece {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.range.clone()]
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        // The reader is gone once the range is read: nothing to give back.
        let _ = self.home.send(std::mem::take(&mut self.buf));
    }
}

impl ReadAhead {
    /// Starts reading `length` bytes of `file` from `offset`. `None` if the
    /// file cannot be opened for direct reads or there is no thread to be
    /// had: the caller reads it the ordinary way. A file system that turns
    /// down a direct read later gets ordinary reads.
    pub fn start(file: &File, offset: u64, length: u64) -> Option<ReadAhead> {
        // The same file (not whatever its path names now), opened again.
        let direct = platform::reopen_direct_for_reading(file)?;
        let plain = file.try_clone().ok()?;
        let (piece_tx, pieces) = mpsc::sync_channel::<io::Result<Piece>>(DEPTH);
        let (home, free) = mpsc::channel::<Vec<u8>>();
        for _ in 0..DEPTH {
            let _ = home.send(Vec::new());
        }
        thread::Builder::new()
            .name("read-ahead".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut direct = Some(direct);
                let align = ALIGN as u64;
                let mut at = offset / align * align;
                let mut skip = (offset - at) as usize;
                let mut left = length;
                while left > 0 {
                    // Every piece out and the range abandoned: stop.
                    let Ok(mut buf) = free.recv() else { return };
                    if buf.is_empty() {
                        buf = vec![0u8; DIRECT_READ_BYTES + ALIGN];
                    }
                    let start = buf.as_ptr().align_offset(ALIGN);
                    let region = &mut buf[start..start + DIRECT_READ_BYTES];
                    let mut got = match &direct {
                        Some(file) => read_piece(file, region, at),
                        None => read_piece(&plain, region, at),
                    };
                    if matches!(&got, Err(e) if platform::is_direct_refusal(e)) {
                        direct = None;
                        got = read_piece(&plain, region, at);
                    }
                    let piece = got.and_then(|got| {
                        let n = (got.saturating_sub(skip) as u64).min(left) as usize;
                        if n == 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the file is shorter than expected",
                            ));
                        }
                        at += DIRECT_READ_BYTES as u64;
                        left -= n as u64;
                        let range = start + skip..start + skip + n;
                        skip = 0;
                        Ok(Piece {
                            buf,
                            range,
                            home: home.clone(),
                        })
                    });
                    let failed = piece.is_err();
                    if piece_tx.send(piece).is_err() || failed {
                        return;
                    }
                }
            })
            .ok()?;
        Some(ReadAhead { pieces })
    }

    /// The next piece; `None` after the last one. A file shorter than the
    /// range is an error.
    pub fn next_piece(&mut self) -> Option<io::Result<Piece>> {
        self.pieces.recv().ok()
    }
}

/// Reads into `buf` from `at`; returns how many bytes were read, fewer
/// than asked only at the end of the file. A direct read past the end
/// stops short of a block boundary, and nothing more may be asked then.
fn read_piece(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match platform::read_at(file, &mut buf[got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                if !n.is_multiple_of(ALIGN) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_range_exactly_from_any_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(DIRECT_READ_BYTES * 3 + 5_000))
            .map(|i| (i * 11 + i / 4099) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        for (offset, length) in [
            (0, data.len()),
            (4_097, DIRECT_READ_BYTES * 2 + 3),
            (DIRECT_READ_BYTES, 10),
        ] {
            let Some(mut ahead) = ReadAhead::start(&file, offset as u64, length as u64) else {
                return; // a file system without direct reads (tmpfs): nothing to test
            };
            let mut got = Vec::new();
            let mut kept = Vec::new();
            while let Some(piece) = ahead.next_piece() {
                let piece = piece.unwrap();
                got.extend_from_slice(piece.bytes());
                // Pieces may be held a while (to be hashed) before they go back.
                kept.push(piece);
                if kept.len() == DEPTH - 1 {
                    kept.clear();
                }
            }
            assert_eq!(got, data[offset..offset + length], "from {offset}");
        }
    }

    #[test]
    fn a_range_past_the_end_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 10_000]).unwrap();
        let file = File::open(&path).unwrap();
        let Some(mut ahead) = ReadAhead::start(&file, 0, 20_000) else {
            return;
        };
        let first = ahead.next_piece().unwrap().unwrap();
        assert_eq!(first.bytes().len(), 10_000);
        let e = ahead.next_piece().unwrap().err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(ahead.next_piece().is_none());
    }
}
