//! The byte stream under a [`crate::Client`]: TCP in clear, or TLS over
//! TCP after a verified handshake.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::tls::TlsStream;

/// How long a goodbye (TLS `close_notify`) may take when a connection is
/// dropped.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf).map_err(|e| {
                // rustls's words for a peer gone without `close_notify`
                // point at its manual; the user gets ours.
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    io::Error::new(e.kind(), "the server closed the connection")
                } else {
                    e
                }
            }),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    /// Passed through (the default writes the first slice alone), so a
    /// frame's header leaves with its payload: in one system call in
    /// clear, in the same TLS records over TLS.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write_vectored(bufs),
            Stream::Tls(s) => rustls::Stream::new(&mut s.conn, &mut s.sock).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

impl Drop for Stream {
    /// Ends a TLS session properly, so the server can tell a goodbye from
    /// a cut connection; a peer that does not take it is not waited for.
    fn drop(&mut self) {
        if let Stream::Tls(s) = self {
            s.conn.send_close_notify();
            if s.sock
                .get_ref()
                .set_write_timeout(Some(GOODBYE_TIMEOUT))
                .is_ok()
            {
                let _ = s.conn.write_tls(&mut s.sock);
            }
        }
    }
}
