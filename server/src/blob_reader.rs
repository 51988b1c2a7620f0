//! Reading a stored file for a download. A large one is read straight from
//! the disk, ahead of the connection that sends it ([`ReadAhead`]); a small
//! one through the page cache, where a popular file stays.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use ferry_io::appender::DIRECT_FROM;
use ferry_io::read_ahead::{Piece, ReadAhead};
use ferry_proto::protocol::CHUNK_SIZE;

/// The pieces of one byte range of a file, in order.
pub struct BlobReader {
    source: Source,
    /// Bytes not yet handed out.
    left: u64,
}

enum Source {
    Buffered {
        file: File,
        buf: Vec<u8>,
    },
    Ahead {
        ahead: ReadAhead,
        /// The piece handed out last, given back on the next call.
        current: Option<Piece>,
    },
}

impl BlobReader {
    /// Reads `length` bytes of `file` from `offset`.
    pub fn new(mut file: File, offset: u64, length: u64) -> io::Result<Self> {
        if length >= DIRECT_FROM
            && let Some(ahead) = ReadAhead::start(&file, offset, length)
        {
            return Ok(BlobReader {
                source: Source::Ahead {
                    ahead,
                    current: None,
                },
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
            Source::Ahead { ahead, current } => {
                *current = None;
                match ahead.next_piece() {
                    Some(Ok(piece)) => Ok(current.insert(piece).bytes()),
                    Some(Err(e)) => Err(e),
                    None => Err(io::Error::other("the read-ahead thread stopped")),
                }
            }
        };
        if let Ok(piece) = &piece {
            self.left -= piece.len() as u64;
        }
        Some(piece)
    }
}
