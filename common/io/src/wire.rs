//! Moving protocol lines and payload bytes over a stream.
//!
//! [`Conn`] wraps any `Read + Write` (a `TcpStream`, later a TLS stream, or a
//! byte buffer in tests). It reads one line at a time with a hard length cap,
//! and queues outgoing lines so that a reply's header and a small body leave
//! in one write. What the lines mean is [`ferry_proto::protocol`]'s business.

use std::fmt;
use std::io::{self, BufRead, BufReader, IoSlice, Read, Write};

use ferry_proto::protocol::CHUNK_SIZE;

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The peer closed the connection before sending anything more.
    #[error("the connection was closed")]
    Closed,
    /// The peer closed the connection in the middle of a line.
    #[error("the connection was closed in the middle of a line")]
    Truncated,
    /// The line is longer than the cap.
    #[error("a line is longer than {0} bytes")]
    TooLong(usize),
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Payloads up to this size are copied into the outgoing buffer so header and
/// body go out in one write; larger ones are written straight from the caller.
const COALESCE_LIMIT: usize = 64 * 1024;

/// A line-and-frame connection over any byte stream.
pub struct Conn<S> {
    stream: BufReader<S>,
    out: Vec<u8>,
    line: Vec<u8>,
    max_line: usize,
}

impl<S: Read + Write> Conn<S> {
    /// Wraps `stream`, reading lines of at most `max_line` bytes (terminator
    /// included) through a read buffer of `buffer` bytes.
    pub fn new(stream: S, max_line: usize, buffer: usize) -> Self {
        Conn {
            stream: BufReader::with_capacity(buffer, stream),
            out: Vec::new(),
            line: Vec::new(),
            max_line,
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.stream.get_ref()
    }

    /// The underlying stream, to change it.
    pub fn get_mut(&mut self) -> &mut S {
        self.stream.get_mut()
    }

    /// The next byte the peer sends, without consuming it (waiting for it
    /// as a read would); `None` at end of stream.
    pub fn peek_byte(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.stream.fill_buf() {
                Ok(bytes) => return Ok(bytes.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether bytes the peer sent are already waiting in the read buffer,
    /// i.e. the peer has pipelined more requests.
    pub fn has_buffered_input(&self) -> bool {
        !self.stream.buffer().is_empty()
    }

    /// Reads one line, without its `\n` (and without a `\r` before it).
    pub fn read_line(&mut self) -> Result<&[u8], LineError> {
        self.line.clear();
        loop {
            let available = match self.stream.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if available.is_empty() {
                return Err(if self.line.is_empty() {
                    LineError::Closed
                } else {
                    LineError::Truncated
                });
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            if self.line.len() + take > self.max_line {
                return Err(LineError::TooLong(self.max_line));
            }
            self.line.extend_from_slice(&available[..take]);
            self.stream.consume(take);
            if newline.is_some() {
                self.line.pop();
                if self.line.last() == Some(&b'\r') {
                    self.line.pop();
                }
                return Ok(&self.line);
            }
        }
    }

    /// The line the last successful [`Conn::read_line`] returned.
    pub fn last_line(&self) -> &[u8] {
        &self.line
    }

    /// Reads exactly `buf.len()` payload bytes.
    pub fn read_payload(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.stream.read_exact(buf)
    }

    /// Reads the payload bytes that have arrived, at least one and at most
    /// `buf.len()`: nothing received is lost if the connection then fails.
    pub fn read_some_payload(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Ok(0) if !buf.is_empty() => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Queues a line (anything that renders as one, such as a
    /// [`ferry_proto::Request`] or [`ferry_proto::Reply`]) to be sent by the next flush.
    pub fn queue(&mut self, line: impl fmt::Display) {
        // Writing to a Vec cannot fail.
        let _ = writeln!(self.out, "{line}");
    }

    /// Sends one DATA frame: its header line and then `payload`. Small frames
    /// are queued with the header; large ones go out at once, with
    /// everything queued, in one system call: the header is no tiny segment
    /// of its own for the peer to wake up for.
    pub fn send_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        debug_assert!(!payload.is_empty());
        self.queue(format_args!("DATA {}", payload.len()));
        if payload.len() <= COALESCE_LIMIT {
            self.out.extend_from_slice(payload);
            return Ok(());
        }
        let mut parts = [IoSlice::new(&self.out), IoSlice::new(payload)];
        let result = write_all_vectored(self.stream.get_mut(), &mut parts);
        self.out.clear();
        result
    }

    /// Writes everything queued in one write and flushes the stream.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let result = self.stream.get_mut().write_all(&self.out);
            self.out.clear();
            // A big one-off buffer (a batch of small files) is not kept
            // around on an idle connection.
            if self.out.capacity() > 4 * COALESCE_LIMIT {
                self.out = Vec::new();
            }
            result?;
        }
        self.stream.get_mut().flush()
    }

    /// Sends one line at once.
    pub fn send(&mut self, line: impl fmt::Display) -> io::Result<()> {
        self.queue(line);
        self.flush()
    }
}

/// Writes every byte of `parts`, in order.
fn write_all_vectored(out: &mut impl Write, mut parts: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut parts, 0);
    while !parts.is_empty() {
        match out.write_vectored(parts) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A reusable payload buffer of one chunk, allocated only while a transfer runs.
pub fn chunk_buffer() -> Vec<u8> {
    vec![0u8; CHUNK_SIZE as usize]
}

/// How much of a DATA frame a receiver reads (and hands on) at a time: small
/// enough that a cut connection loses little of the frame in progress.
pub const RECEIVE_PIECE: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A stream that yields its input a few bytes at a time and records what
    /// is written, to exercise partial reads.
    struct Trickle {
        input: Cursor<Vec<u8>>,
        step: usize,
        written: Vec<u8>,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step);
            self.input.read(&mut buf[..n])
        }
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn conn(input: &[u8], step: usize, max: usize) -> Conn<Trickle> {
        Conn::new(
            Trickle {
                input: Cursor::new(input.to_vec()),
                step,
                written: Vec::new(),
            },
            max,
            16,
        )
    }

    #[test]
    fn complete_lines_arrive_whole_however_the_bytes_are_split() {
        for step in [1, 2, 3, 7, 100] {
            let mut c = conn(b"LIST\r\nSTAT a\nDATA 3\nxyzEND\n", step, 64);
            assert_eq!(c.read_line().unwrap(), b"LIST");
            assert_eq!(c.read_line().unwrap(), b"STAT a");
            assert_eq!(c.read_line().unwrap(), b"DATA 3");
            let mut payload = [0u8; 3];
            c.read_payload(&mut payload).unwrap();
            assert_eq!(&payload, b"xyz");
            assert_eq!(c.read_line().unwrap(), b"END");
            assert!(matches!(c.read_line(), Err(LineError::Closed)));
        }
    }

    #[test]
    fn incomplete_line_is_reported_as_truncated() {
        let mut c = conn(b"LIST\nSTA", 2, 64);
        assert_eq!(c.read_line().unwrap(), b"LIST");
        assert!(matches!(c.read_line(), Err(LineError::Truncated)));
    }

    #[test]
    fn overlong_line_is_refused_without_buffering_it_all() {
        let mut long = vec![b'A'; 10_000];
        long.push(b'\n');
        let mut c = conn(&long, 4096, 64);
        assert!(matches!(c.read_line(), Err(LineError::TooLong(64))));
        // The cap counts the terminator: 63 bytes + LF fits, 64 + LF does not.
        let mut c = conn(&[b"x".repeat(63), b"\n".to_vec()].concat(), 5, 64);
        assert_eq!(c.read_line().unwrap().len(), 63);
        let mut c = conn(&[b"x".repeat(64), b"\n".to_vec()].concat(), 5, 64);
        assert!(matches!(c.read_line(), Err(LineError::TooLong(64))));
    }

    #[test]
    fn small_frames_leave_with_their_header_in_one_write() {
        let mut c = conn(b"", 1, 64);
        c.queue("OK DOWNLOAD");
        c.send_frame(b"abc").unwrap();
        c.queue("END");
        c.flush().unwrap();
        assert_eq!(c.get_ref().written, b"OK DOWNLOAD\nDATA 3\nabcEND\n");
        let big = vec![7u8; COALESCE_LIMIT + 1];
        c.send_frame(&big).unwrap();
        c.send("END").unwrap();
        let expected = [
            b"OK DOWNLOAD\nDATA 3\nabcEND\n".as_slice(),
            format!("DATA {}\n", big.len()).as_bytes(),
            &big,
            b"END\n",
        ]
        .concat();
        assert_eq!(c.get_ref().written, expected);
    }
}
