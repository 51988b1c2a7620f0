//! Ferry's I/O that both ends share, over any stream or file and with no
//! knowledge of which end it serves: lines and `DATA` frames over a byte
//! stream with a hard line cap ([`wire`]), hashing a stream on a thread of
//! its own ([`hashing`]), appending a received file with direct I/O where
//! the system has it ([`appender`], [`hashed_file`]), reading a file ahead
//! of the socket ([`read_ahead`]), and the few file operations that differ
//! between systems ([`platform`]).
//!
//! What the lines mean is `ferry-proto`'s; conversations are the server's
//! and `ferry-client`'s.

#![deny(missing_docs)]

pub mod appender;
pub mod hashed_file;
pub mod hashing;
pub mod platform;
pub mod read_ahead;
pub mod socket_buffer;
pub mod wire;
