//! Reading a stored file for a download. A large one is read straight from
//! the disk (`O_DIRECT`) by a thread of its own, a few MiB ahead of the
//! connection that sends it: the disk's latency overlaps the network, and
//! no CPU goes into filling the page cache with a file that is read once
//! (on our machines that costs more than the read itself). A small one is
//! read through the page cache, where a popular file stays.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use ferry_common::appender;
use ferry_common::protocol::CHUNK_SIZE;

/// Alignment for direct reads.
const ALIGN: u64 = appender::ALIGN as u64;
/// Bytes per direct read.
const PIECE: usize = 2 << 20;
/// Buffers per download: how far reading may run ahead of sending.
const DEPTH: usize = 3;

/// The pieces of one byte range of a file, in order.
pub struct BlobReader {
    source: Source,
    /// Bytes not yet handed out.
    left: u64,
}

enum Source {
    Buffered { file: File, buf: Vec<u8> },
    Ahead(Ahead),
}

struct Ahead {
    pieces: Receiver<io::Result<Piece>>,
    free: Sender<Vec<u8>>,
    /// The piece handed out last, returned on the next call.
    current: Option<Vec<u8>>,
}

/// `buf[range]` are the next bytes of the range.
struct Piece {
    buf: Vec<u8>,
    range: std::ops::Range<usize>,
}

impl BlobReader {
    /// Reads `length` bytes from `offset` of `file` (opened the ordinary
    /// way), or of `direct`, the same file opened with `O_DIRECT`, when
    /// given.
    pub fn new(mut file: File, direct: Option<File>, offset: u64, length: u64) -> io::Result<Self> {
        if let Some(direct) = direct
            && let Some(ahead) = Ahead::start(direct, file.try_clone()?, offset, length)
        {
            return Ok(BlobReader {
                source: Source::Ahead(ahead),
                left: length,
            });
        }
        file.seek(SeekFrom::Start(offset))?;
        Ok(BlobReader {
            source: Source::Buffered {
                file,
                buf: vec![0u8; length.min(CHUNK_SIZE) as usize],
            },
            left: length,
        })
    }

    /// The next piece, `None` after the last one. A file shorter than the
    /// range is an error.
    pub fn next_piece(&mut self) -> Option<io::Result<&[u8]>> {
        if self.left == 0 {
            return None;
        }
        let piece = match &mut self.source {
            Source::Buffered { file, buf } => {
                let n = self.left.min(buf.len() as u64) as usize;
                file.read_exact(&mut buf[..n]).map(|()| &buf[..n])
            }
            Source::Ahead(ahead) => ahead.next(),
        };
        if let Ok(piece) = &piece {
            self.left -= piece.len() as u64;
        }
        Some(piece)
    }
}

impl Ahead {
    /// Starts the reading thread; `None` if there is no thread to be had.
    /// `plain` serves if the file system refuses a direct read.
    fn start(direct: File, plain: File, offset: u64, length: u64) -> Option<Ahead> {
        let (piece_tx, pieces) = mpsc::sync_channel::<io::Result<Piece>>(DEPTH);
        let (free, free_rx) = mpsc::channel::<Vec<u8>>();
        for _ in 0..DEPTH {
            let _ = free.send(Vec::new());
        }
        thread::Builder::new()
            .name("read-ahead".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut direct = Some(direct);
                let mut at = offset / ALIGN * ALIGN;
                let mut skip = (offset - at) as usize;
                let mut left = length;
                while left > 0 {
                    // The sender is gone when the download ended early.
                    let Ok(mut buf) = free_rx.recv() else { return };
                    if buf.is_empty() {
                        buf = vec![0u8; PIECE + ALIGN as usize];
                    }
                    let start = buf.as_ptr().align_offset(ALIGN as usize);
                    let region = &mut buf[start..start + PIECE];
                    let mut got = match &direct {
                        Some(file) => read_piece(file, region, at),
                        None => read_piece(&plain, region, at),
                    };
                    if matches!(&got, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) {
                        direct = None;
                        got = read_piece(&plain, region, at);
                    }
                    let piece = got.and_then(|got| {
                        let n = (got.saturating_sub(skip) as u64).min(left) as usize;
                        if n == 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the file is shorter than its record",
                            ));
                        }
                        at += PIECE as u64;
                        left -= n as u64;
                        let range = start + skip..start + skip + n;
                        skip = 0;
                        Ok(Piece { buf, range })
                    });
                    let failed = piece.is_err();
                    if piece_tx.send(piece).is_err() || failed {
                        return;
                    }
                }
            })
            .ok()?;
        Some(Ahead {
            pieces,
            free,
            current: None,
        })
    }

    fn next(&mut self) -> io::Result<&[u8]> {
        if let Some(buf) = self.current.take() {
            let _ = self.free.send(buf);
        }
        let piece = self
            .pieces
            .recv()
            .map_err(|_| io::Error::other("the read-ahead thread stopped"))??;
        let buf = self.current.insert(piece.buf);
        Ok(&buf[piece.range])
    }
}

/// Reads into `buf` from `at`; returns how many bytes were read, fewer
/// than asked only at the end of the file. A direct read past the end
/// stops short of a block boundary, and nothing more may be asked then.
fn read_piece(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                if !(n as u64).is_multiple_of(ALIGN) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
