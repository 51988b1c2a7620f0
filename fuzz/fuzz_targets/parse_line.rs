//! Feeds arbitrary bytes to every line parser of the protocol, the way the
//! server and client meet them after the line reader: they must never
//! panic, and whatever parses must render back to something that parses to
//! the same value.

#![no_main]

use ferry_proto::protocol::{Reply, Request, UploadFrame, line_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(line) = line_str(bytes) else { return };
    if let Ok(request) = Request::parse(line) {
        assert_eq!(Request::parse(&request.to_string()).as_ref(), Ok(&request));
    }
    if let Ok(reply) = Reply::parse(line) {
        let again = Reply::parse(&reply.to_string());
        // Free text is normalised (control characters become spaces), so
        // compare renderings rather than values.
        assert_eq!(again.map(|r| r.to_string()), Ok(reply.to_string()));
    }
    if let Ok(frame) = UploadFrame::parse(line) {
        assert_eq!(UploadFrame::parse(&frame.to_string()), Ok(frame));
    }
});
