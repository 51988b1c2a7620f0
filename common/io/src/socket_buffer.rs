//! [`SocketBuffer`]: a socket whose reads go through a buffer that exists
//! only while data streams in.
//!
//! TLS reads a socket in small pieces (rustls asks for 4 KiB at a time), so
//! a gigabyte read straight from the socket costs a quarter of a million
//! system calls. Through this buffer they are memory copies, and the socket
//! is read in pieces of up to [`CAPACITY`]: the buffer starts small and
//! grows each time a read fills it. An idle connection must stay cheap, so
//! the buffer is given back whenever it has been emptied after a small
//! read (the peer has paused); reads then go straight to the caller until
//! one fills the caller's buffer (the peer streams again). Writes go
//! straight through.

use std::io::{self, IoSlice, Read, Write};

/// The most one read of the socket takes.
pub const CAPACITY: usize = 256 * 1024;

/// A read that brings less than this means the peer is not streaming: the
/// buffer is given back once it is empty. It is also the buffer's first size.
const STREAMING: usize = 16 * 1024;

/// `inner` with buffered reads (see the module docs).
#[derive(Debug)]
pub struct SocketBuffer<S> {
    inner: S,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// The buffer's size for the next read of `inner`.
    size: usize,
    /// Whether the last read of `inner` was small.
    paused: bool,
}

impl<S> SocketBuffer<S> {
    /// Wraps `inner`; nothing is allocated yet.
    pub fn new(inner: S) -> Self {
        SocketBuffer {
            inner,
            buf: Vec::new(),
            pos: 0,
            len: 0,
            size: STREAMING,
            paused: true,
        }
    }

    /// The socket.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Bytes read from the socket and not yet handed out.
    pub fn buffered(&self) -> usize {
        self.len - self.pos
    }

    /// Bytes of buffer held now (0 when idle).
    pub fn held(&self) -> usize {
        self.buf.len()
    }
}

impl<S: Read> Read for SocketBuffer<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            // A caller asking for a buffer's worth gains nothing from a
            // copy; and while the peer is paused, a read that may wait for
            // a long time holds no buffer: it goes straight into `out`, and
            // only if it fills `out` is the peer streaming again.
            if out.len() >= CAPACITY || self.paused {
                let n = self.inner.read(out)?;
                self.paused = n < out.len();
                return Ok(n);
            }
            if self.buf.len() < self.size {
                self.buf.resize(self.size, 0);
            }
            let n = self.inner.read(&mut self.buf)?;
            self.pos = 0;
            self.len = n;
            if n == self.buf.len() {
                self.size = (self.size * 4).min(CAPACITY);
            }
            self.paused = n < STREAMING;
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == self.len && self.paused {
            self.buf = Vec::new();
            self.pos = 0;
            self.len = 0;
            self.size = STREAMING;
        }
        Ok(n)
    }
}

impl<S: Write> Write for SocketBuffer<S> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.inner.write(data)
    }

    fn write_vectored(&mut self, data: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write_vectored(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its data in the given read sizes.
    struct Pieces(Vec<Vec<u8>>);

    impl Read for Pieces {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let piece = &mut self.0[0];
            let n = out.len().min(piece.len());
            out[..n].copy_from_slice(&piece[..n]);
            piece.drain(..n);
            if piece.is_empty() {
                self.0.remove(0);
            }
            Ok(n)
        }
    }

    #[test]
    fn small_reads_are_served_from_one_big_read_and_the_buffer_goes_when_idle() {
        let streamed: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let mut s = SocketBuffer::new(Pieces(vec![streamed.clone(), b"tail".to_vec()]));
        assert_eq!(s.held(), 0, "nothing held before the first read");
        let mut got = Vec::new();
        let mut piece = [0u8; 4096];
        while got.len() < streamed.len() {
            let n = s.read(&mut piece).unwrap();
            got.extend_from_slice(&piece[..n]);
            if got.len() > piece.len() {
                assert!(s.held() > 0, "kept while data streams");
            } else {
                assert_eq!(s.held(), 0, "the first read goes straight through");
            }
        }
        assert_eq!(got, streamed);
        assert_eq!(s.held(), CAPACITY, "grown while every read filled it");
        let n = s.read(&mut piece).unwrap();
        assert_eq!(&piece[..n], b"tail");
        assert_eq!(s.held(), 0, "given back after a small read is used up");
        assert_eq!(s.read(&mut piece).unwrap(), 0, "the end");
    }

    #[test]
    fn a_big_read_skips_the_buffer() {
        let data = vec![7u8; CAPACITY + 10];
        let mut s = SocketBuffer::new(Pieces(vec![data.clone()]));
        let mut out = vec![0u8; CAPACITY + 10];
        let n = s.read(&mut out).unwrap();
        assert_eq!(&out[..n], &data[..n]);
        assert_eq!(s.held(), 0);
    }
}
