//! Ferry's shared core: the wire protocol, file-name rules, hashing, and the
//! blocking client library that the desktop app, the command-line client and
//! the tests all drive.
//!
//! Nothing in here draws a window or writes to a terminal; the GUI and the CLI
//! are thin faces over [`client::Client`].

#![deny(missing_docs)]

pub mod appender;
pub mod client;
pub mod hash;
pub mod hashed_file;
pub mod mirror;
pub mod names;
pub mod partial;
pub mod platform;
pub mod protocol;
pub mod read_ahead;
pub mod time;
pub mod transfer;
pub mod units;
pub mod wire;

pub use client::{Client, ClientError};
pub use hash::Md5Digest;
pub use protocol::{ConflictPolicy, ErrorCode, Reply, Request, Role};
