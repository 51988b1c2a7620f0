//! Ferry's wire protocol with no I/O: the request and reply lines as types
//! with pure parse and render ([`protocol`]), the rules for file names
//! ([`names`]), MD5 digests and a resumable hasher ([`hash`]), timestamps
//! on the wire ([`time`]) and byte counts for people ([`units`]).
//!
//! Nothing here touches a socket, a file or a thread; moving lines and
//! bytes over a stream is `ferry-io`'s, talking to a server `ferry-client`'s.

#![deny(missing_docs)]

pub mod fingerprint;
pub mod hash;
pub mod names;
pub mod protocol;
pub mod time;
pub mod units;

pub use hash::Md5Digest;
pub use protocol::{ConflictPolicy, ErrorCode, Reply, Request, Role};
