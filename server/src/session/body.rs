//! An upload's body: `DATA` frames received straight into the partial
//! upload, the terminator, and what is kept when the connection breaks.
//! The I/O timeout replaces the idle timeout while a body is read.

use std::io::{self, Read, Write};

use ferry_proto::Md5Digest;
use ferry_proto::names::{FilePath, escaped};
use ferry_proto::protocol::{ErrorCode, Reply, UploadFrame, line_str};
use log::{error, warn};

use super::fault::{Fault, refuse, storage_failure};
use super::{Session, is_timeout};
use crate::storage::Partial;
use crate::transport::Transport;

/// What arrived of an upload body.
pub(super) struct Body {
    /// Bytes of the file received so far, including any from an earlier connection.
    pub(super) arrived: u64,
    /// More bytes came than were announced.
    pub(super) overflow: bool,
    /// Writing to disk failed; later bytes are read and dropped.
    pub(super) write_error: Option<io::Error>,
}

impl<'a, S: Read + Write + Transport> Session<'a, S> {
    /// Receives the body into `partial` and checks it: the upload and its
    /// MD5 when it arrived intact, `None` when the client aborted. If the
    /// connection breaks, the partial upload is kept for a resume.
    pub(super) fn receive_upload(
        &mut self,
        mut partial: Partial,
        name: &FilePath,
        size: u64,
    ) -> Result<Option<(Partial, Md5Digest)>, Fault> {
        let mut body = Body {
            arrived: partial.received(),
            overflow: false,
            write_error: None,
        };
        let client_md5 = match self.receive_body(&mut partial, size, &mut body) {
            Ok(Some(md5)) => md5,
            Ok(None) => return Ok(None),
            Err(end) => {
                if body.write_error.is_none() {
                    partial.keep();
                }
                return Err(end);
            }
        };
        if let Some(e) = body.write_error {
            error!("writing the upload of {} failed: {e}", escaped(name));
            return Err(storage_failure(&e));
        }
        if body.overflow || body.arrived != size {
            let arrived = if body.overflow {
                "more".to_owned()
            } else {
                body.arrived.to_string()
            };
            return Err(refuse(
                ErrorCode::SizeMismatch,
                format!(
                    "the upload announced {size} bytes but {arrived} arrived; nothing was stored, send it again"
                ),
            ));
        }
        let md5 = partial.finish().map_err(|e| {
            error!("writing the upload of {} failed: {e}", escaped(name));
            storage_failure(&e)
        })?;
        if md5 != client_md5 {
            return Err(refuse(
                ErrorCode::Md5Mismatch,
                format!(
                    "the data arrived with MD5 {md5} but the client announced {client_md5}; nothing was stored, send it again"
                ),
            ));
        }
        Ok(Some((partial, md5)))
    }

    /// Reads DATA frames into `partial` up to the terminator; returns the
    /// client's MD5, or `None` for ABORT. Bytes past the announced size are
    /// read and dropped so the conversation stays in step.
    pub(super) fn receive_body(
        &mut self,
        partial: &mut Partial,
        size: u64,
        body: &mut Body,
    ) -> Result<Option<Md5Digest>, Fault> {
        loop {
            match self.next_frame()? {
                UploadFrame::Data(n) => {
                    if body.overflow || body.arrived + n > size {
                        body.overflow = true;
                        self.skip_payload(n)?;
                        continue;
                    }
                    let mut left = n;
                    while left > 0 {
                        if body.write_error.is_some() {
                            self.skip_payload(left)?;
                            break;
                        }
                        // Received where it is written and hashed: no copies.
                        let space = partial.space(left as usize);
                        let got = self.read_some_payload(space)?;
                        if let Err(e) = partial.filled(got) {
                            body.write_error = Some(e);
                        }
                        left -= got as u64;
                    }
                    body.arrived += n;
                }
                UploadFrame::Done(md5) => return Ok(Some(md5)),
                UploadFrame::Abort => return Ok(None),
            }
        }
    }

    /// Switches the read timeout between waiting for a request (the idle
    /// timeout) and waiting inside a transfer (the shorter I/O timeout).
    pub(super) fn transfer_timeouts(&mut self, in_transfer: bool) {
        let config = &self.shared.config;
        let timeout = if in_transfer {
            config.io_timeout
        } else {
            config.idle_timeout
        };
        if let Err(e) = self.conn.get_ref().set_read_timeout(Some(timeout)) {
            warn!("{} could not set a read timeout: {e}", self.who());
        }
    }

    /// Reads the next line of an upload body. A line that is not a body line
    /// means the framing is lost: say so and end the conversation.
    pub(super) fn next_frame(&mut self) -> Result<UploadFrame, Fault> {
        let line = self.read_line().map_err(Fault::End)?;
        let parsed = line_str(line).and_then(UploadFrame::parse);
        match parsed {
            Ok(frame) => Ok(frame),
            Err(e) => {
                let message = format!("{e}; the upload body is broken, closing the connection");
                let _ = self.conn.send(Reply::error(ErrorCode::BadRequest, message));
                Err(Fault::End("broken upload body".into()))
            }
        }
    }

    pub(super) fn read_payload(&mut self, buf: &mut [u8]) -> Result<(), Fault> {
        self.conn
            .read_payload(buf)
            .map_err(|e| self.lost_mid_upload(e))
    }

    /// Reads the payload bytes that have arrived (at least one).
    pub(super) fn read_some_payload(&mut self, buf: &mut [u8]) -> Result<usize, Fault> {
        self.conn
            .read_some_payload(buf)
            .map_err(|e| self.lost_mid_upload(e))
    }

    pub(super) fn lost_mid_upload(&mut self, e: io::Error) -> Fault {
        if is_timeout(&e) {
            let _ = self.conn.send(Reply::error(
                ErrorCode::Timeout,
                "the upload stalled for too long; what arrived is kept for a resume, closing the connection",
            ));
            Fault::End("timed out mid-upload".into())
        } else {
            Fault::End(format!("connection lost mid-upload: {e}"))
        }
    }

    pub(super) fn skip_payload(&mut self, mut n: u64) -> Result<(), Fault> {
        let mut scratch = vec![0u8; 8192];
        while n > 0 {
            let piece = n.min(scratch.len() as u64) as usize;
            self.read_payload(&mut scratch[..piece])?;
            n -= piece as u64;
        }
        Ok(())
    }

    pub(super) fn discard_body(&mut self) -> Result<(), Fault> {
        loop {
            match self.next_frame()? {
                UploadFrame::Data(n) => self.skip_payload(n)?,
                UploadFrame::Done(_) | UploadFrame::Abort => return Ok(()),
            }
        }
    }
}
