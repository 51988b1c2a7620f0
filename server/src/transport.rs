//! What a connection's stream must offer the session beyond reading and
//! writing: timeouts, a deadline, a look at pending input, and a second
//! handle for another connection to cut it. Implemented for `TcpStream`
//! here and by [`crate::meter::Metered`]; a byte buffer stands in for it
//! in unit tests.

use std::io;
use std::mem::MaybeUninit;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use socket2::SockRef;

/// What the session needs of its stream beyond reading and writing.
pub(crate) trait Transport {
    /// Sets how long one read may wait.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Sets when reads must be done, whatever the read timeout (`None`:
    /// no deadline). Only a stream that keeps one implements it.
    fn set_deadline(&self, _deadline: Option<Instant>) {}
    /// Whether the peer has sent bytes not yet read, without waiting.
    fn has_pending_input(&self) -> bool;
    /// A second handle on the socket, for another connection to cut this
    /// one (asked for only while an upload runs: it costs a descriptor).
    fn socket(&self) -> Option<TcpStream>;
}

impl Transport for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn has_pending_input(&self) -> bool {
        // One system call: a peek that does not wait (asked after every
        // reply, so it is on the path of every request).
        let mut byte = [MaybeUninit::uninit()];
        let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
        matches!(SockRef::from(self).recv_with_flags(&mut byte, flags), Ok(n) if n > 0)
    }

    fn socket(&self) -> Option<TcpStream> {
        self.try_clone().ok()
    }
}

/// A stream that ends in a TCP socket: plain, or TLS over one.
pub(crate) trait Socket {
    /// The TCP socket underneath.
    fn tcp(&self) -> &TcpStream;
    /// What to send before closing (TLS says `close_notify`).
    fn say_goodbye(&mut self) {}
}

impl Socket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}
