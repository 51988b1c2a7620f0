//! Hostile clients, round two, on the storage side (the door is in
//! `hostile.rs`): a planted symlink, a tab after the verb, a damaged blob,
//! a client that stops reading, and uploads on a nearly full disk. Each
//! test failed before its fix.

mod support;

use std::io::Cursor;
use std::thread;
use std::time::{Duration, Instant};

use ferry_client::Client;
use ferry_client::UploadOptions;
use ferry_proto::ErrorCode;
use support::{Raw, TestServer, payload};

fn upload(c: &mut Client, name: &str, data: &[u8]) {
    c.upload(Cursor::new(data), name, UploadOptions::default())
        .unwrap();
}

// -- 7. no file is written through a planted link ---------------------------

/// A symlink planted at an upload's `<id>.json.new` used to be written
/// through when the server saved the upload's record.
#[test]
fn an_uploads_record_is_not_written_through_a_planted_symlink() {
    let srv = TestServer::start();
    let target = srv.dir.path().join("precious.txt");
    std::fs::write(&target, "do not touch").unwrap();
    let mut raw = Raw::login_admin(&srv.addr);
    raw.send("UPLOAD cut.bin 100 fail");
    let ready = raw.line();
    let id = ready
        .strip_prefix("OK READY ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{ready}"))
        .to_owned();
    let planted = srv.data_dir().join("tmp").join(format!("{id}.json.new"));
    std::os::unix::fs::symlink(&target, &planted).unwrap();
    raw.send_bytes(b"DATA 100\nsome of the bytes");
    raw.shutdown();
    // The server keeps the cut upload: its record is saved then.
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.server.connection_count() > 0 {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "do not touch");
    let record = std::fs::read_to_string(srv.data_dir().join("tmp").join(format!("{id}.json")))
        .expect("the record was saved in its own file");
    assert!(record.contains("cut.bin"), "{record}");
}

// -- 8. one tokenizer ---------------------------------------------------------

/// `UPLOAD<TAB>…` is no UPLOAD to the parser, so the session must not wait
/// for an upload body after it (it used to read the next request as one).
#[test]
fn a_tab_after_the_verb_is_an_unknown_verb_with_no_body() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    raw.send("UPLOAD\tx.txt 5 fail");
    let reply = raw.line();
    assert!(reply.starts_with("ERR UNKNOWN_VERB "), "{reply}");
    raw.send("PING");
    assert_eq!(raw.line(), "OK");
    raw.send("LIST");
    assert_eq!(raw.line(), "OK LIST 0");
}

// -- 9. CHUNKS on a damaged copy ---------------------------------------------

#[test]
fn chunks_of_a_shortened_blob_is_an_internal_error_and_not_cached() {
    let srv = TestServer::start();
    let mut c = srv.admin();
    upload(&mut c, "big.bin", &payload(3 << 20, 9));
    let blobs: Vec<_> = std::fs::read_dir(srv.data_dir().join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(blobs.len(), 1);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&blobs[0])
        .unwrap();
    file.set_len(1 << 20).unwrap();
    drop(file);
    for _ in 0..2 {
        let e = c.chunks("big.bin", None).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Internal), "{e}");
    }
    // The server keeps serving.
    assert_eq!(c.list().unwrap().len(), 1);
}

// -- 10. a client that stops reading -----------------------------------------

/// With `--io-timeout N`, a client that stops reading a download used to
/// be closed after about 2N (a write that moved part of its bytes was
/// retried for another N). Now after N (plus half a second of lingering).
#[test]
fn a_client_that_stops_reading_is_closed_after_one_io_timeout() {
    let n = Duration::from_secs(3);
    let srv = TestServer::start_with(|c| c.io_timeout = n);
    {
        let mut c = srv.admin();
        upload(&mut c, "large.bin", &payload(48 << 20, 3));
        c.quit().unwrap();
    }
    let mut raw = Raw::login_admin(&srv.addr);
    raw.send("DOWNLOAD large.bin");
    let asked = Instant::now();
    let deadline = asked + Duration::from_secs(20);
    while srv.server.connection_count() > 0 {
        assert!(Instant::now() < deadline, "never closed");
        thread::sleep(Duration::from_millis(20));
    }
    let took = asked.elapsed();
    assert!(took >= n, "closed after {took:?}");
    assert!(
        took < n + Duration::from_millis(2200),
        "closed after {took:?}"
    );
    drop(raw);
}

// -- 11. free space for uploads in flight ------------------------------------

/// Two uploads that each fit the free space, but not both: the second used
/// to be accepted too (the check reserved nothing) and both could fail
/// half-way. Now the first holds its space and the second is refused.
#[test]
fn uploads_in_flight_reserve_their_space() {
    let srv = TestServer::start_with(|c| c.min_free_space = 0);
    let free = fs4::available_space(srv.data_dir()).unwrap();
    let size = free / 10 * 6;
    let mut first = Raw::login_admin(&srv.addr);
    first.send(&format!("UPLOAD first.bin {size} fail"));
    let ready = first.line();
    assert!(ready.starts_with("OK READY "), "{ready}");

    let mut second = Raw::login_admin(&srv.addr);
    second.send(&format!("UPLOAD second.bin {size} fail"));
    second.send("ABORT");
    let refused = second.line();
    assert!(refused.starts_with("ERR NO_SPACE "), "{refused}");
    assert!(refused.contains("disk is too full"), "{refused}");

    // The first gives its space back when it ends.
    first.send("ABORT");
    assert_eq!(first.line(), "OK");
    second.send(&format!("UPLOAD second.bin {size} fail"));
    assert!(second.line().starts_with("OK READY "));
    second.send("ABORT");
    assert_eq!(second.line(), "OK");
}

/// A resume refused for want of space keeps the bytes it had: the kept
/// upload used to be opened first and deleted with the refusal.
#[test]
fn a_resume_refused_for_space_keeps_what_arrived() {
    let srv = TestServer::start_with(|c| c.min_free_space = 0);
    let free = fs4::available_space(srv.data_dir()).unwrap();
    let size = free / 10 * 8;
    let mut cut = Raw::login_admin(&srv.addr);
    cut.send(&format!("UPLOAD kept.bin {size} fail"));
    let ready = cut.line();
    let id = ready
        .strip_prefix("OK READY ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{ready}"))
        .to_owned();
    cut.send_bytes(
        b"DATA 17
some of the bytes",
    );
    cut.shutdown();
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.server.connection_count() > 0 {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(20));
    }
    // Another upload holds half the disk; the resume needs more than is left.
    let mut holder = Raw::login_admin(&srv.addr);
    holder.send(&format!("UPLOAD holder.bin {} fail", free / 2));
    assert!(holder.line().starts_with("OK READY "));
    let mut resume = Raw::login_admin(&srv.addr);
    resume.send(&format!("UPLOAD kept.bin {size} fail resume={id}"));
    resume.send("ABORT");
    let refused = resume.line();
    assert!(refused.starts_with("ERR NO_SPACE "), "{refused}");
    holder.send("ABORT");
    assert_eq!(holder.line(), "OK");
    resume.send(&format!("UPLOAD kept.bin {size} fail resume={id}"));
    assert_eq!(resume.line(), format!("OK READY {id} 17"));
    resume.send("ABORT");
    assert_eq!(resume.line(), "OK");
}
