//! The transfers panel, against a real server: a failure and its reason,
//! the transfer slots with pause, resume and cancel, and a download from
//! several servers at once.

use std::path::Path;

use crate::support::*;
use egui_kittest::kittest::Queryable;
use gui_client::settings::Settings;
use gui_client::state::transfers::TransferState;

#[test]
fn a_failing_transfer_shows_its_reason() {
    let server = TestServer::start();
    server.put("here.txt", b"x");
    let local = Local::new();
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    // Deleted by someone else after the list was fetched.
    server.admin().delete("here.txt", None).unwrap();
    h.state_mut()
        .start_download("here.txt", None, local.path("here.txt"));
    wait_for(&mut h, "the failure", |app| {
        matches!(app.transfers().rows[0].state, TransferState::Failed(_))
    });
    let TransferState::Failed(reason) = &h.state().transfers().rows[0].state else {
        unreachable!()
    };
    assert!(reason.contains("here.txt"), "{reason}");
    assert!(shows(&h, "✖ failed"));
    assert!(shows(&h, reason), "the reason is on screen");
    assert!(shows(&h, "Retry"));
    assert!(!local.path("here.txt").exists());

    // A local file that cannot be read.
    h.state_mut()
        .queue_uploads(vec![local.path("does-not-exist.bin")]);
    wait_for(&mut h, "the upload failure", |app| {
        matches!(app.transfers().rows[1].state, TransferState::Failed(_))
    });
    assert!(shows(&h, "does-not-exist.bin: No such file"));
}

/// A named pipe: an upload of it holds its transfer slot, blocked on
/// opening it, until the test opens the other end.
#[cfg(unix)]
fn fifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn queued_transfers_pause_resume_and_cancel() {
    let server = TestServer::start();
    server.put("one.bin", &payload(200_000, 1));
    let local = Local::new();
    let pipe = local.path("pipe");
    fifo(&pipe);
    let settings = Settings {
        parallel_transfers: 1,
        ..Settings::default()
    };
    let mut h = harness(server.app_with(&settings));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the login", |app| app.files().loaded);

    // One slot, held by an upload stuck opening the pipe.
    h.state_mut().queue_uploads(vec![pipe.clone()]);
    wait_for(&mut h, "the upload to take the slot", |app| {
        app.transfers().rows[0].state == TransferState::Connecting
    });
    h.state_mut()
        .start_download("one.bin", None, local.path("a.bin"));
    h.state_mut()
        .start_download("one.bin", None, local.path("b.bin"));
    settle(&mut h);
    assert_eq!(h.state().transfers().active(), 3);
    assert!(shows(&h, "queued"));
    let ids: Vec<_> = h.state().transfers().rows.iter().map(|t| t.id).collect();

    // Buttons in row order: the upload's Pause is greyed out (uploads cannot
    // pause), then one per download.
    let pauses: Vec<_> = h.get_all_by_label("Pause").collect();
    assert_eq!(pauses.len(), 3);
    pauses[1].click();
    h.step();
    wait_for(&mut h, "the pause", |app| {
        app.transfers().get(ids[1]).unwrap().state == TransferState::Paused
    });
    assert!(shows(&h, "paused"));
    h.get_all_by_label("Cancel")
        .nth(2)
        .expect("the second download's Cancel")
        .click();
    wait_for(&mut h, "the cancel", |app| {
        app.transfers().get(ids[2]).unwrap().state == TransferState::Cancelled
    });
    h.get_by_label("Resume").click();
    h.step();
    assert_eq!(
        h.state().transfers().get(ids[1]).unwrap().state,
        TransferState::Queued
    );

    // Free the slot: the pipe upload ends (a pipe cannot be uploaded, it
    // cannot seek), then the resumed download runs.
    drop(std::fs::OpenOptions::new().write(true).open(&pipe).unwrap());
    wait_for(&mut h, "the upload and the resumed download", |app| {
        let state = |i: usize| app.transfers().get(ids[i]).unwrap().state.clone();
        state(0).is_finished() && state(1) == TransferState::Done
    });
    assert_eq!(
        std::fs::read(local.path("a.bin")).unwrap(),
        payload(200_000, 1)
    );
    assert!(
        !local.path("b.bin").exists(),
        "the cancelled one left nothing"
    );
}

/// An admin's app that downloads `dataset.bin` from `main` into `dest`
/// with `mirror` typed into the download dialog, run to the end.
fn download_with_mirror(main: &TestServer, mirror: &str, dest: &Path) -> AppHarness {
    let mut h = logged_in(main, "admin", ADMIN_PASSWORD);
    h.get_by_label("dataset.bin").click();
    h.run();
    h.get_by_label("Download…").click();
    h.run();
    type_into(&mut h, "Save as (full path)", &dest.display().to_string());
    type_into(&mut h, "Mirrors (optional)", mirror);
    h.get_by_label("Download").click();
    wait_for(&mut h, "the mirrored download", |app| {
        app.transfers().rows[0].state == TransferState::Done
    });
    h
}

#[test]
fn a_download_with_mirrors_shows_each_mirror() {
    let main = TestServer::start();
    let mirror = TestServer::start();
    let content = payload(9 << 20, 11);
    main.put("dataset.bin", &content);
    mirror.put("dataset.bin", &content);
    // The user trusted the mirror before, by logging in to it once.
    main.pin(&mirror);
    let local = Local::new();
    let dest = local.path("dataset.bin");
    let h = download_with_mirror(&main, &mirror.addr, &dest);
    assert_eq!(std::fs::read(&dest).unwrap(), content);
    let row = &h.state().transfers().rows[0];
    assert_eq!(
        row.mirrors.len(),
        2,
        "one line per server: {:?}",
        row.mirrors
    );
    assert!(shows(&h, &format!("from {}", mirror.addr)));
    assert!(shows(&h, &format!("from {}", main.addr)));
    assert!(shows(&h, "from 2 servers") || shows(&h, "from 1 server"));
}

#[test]
fn a_mirror_not_trusted_is_refused_by_name_and_the_download_goes_on() {
    let main = TestServer::start();
    let stranger = TestServer::start();
    let content = payload(3 << 20, 12);
    main.put("dataset.bin", &content);
    stranger.put("dataset.bin", &content);
    let local = Local::new();
    let dest = local.path("dataset.bin");
    let h = download_with_mirror(&main, &stranger.addr, &dest);
    assert_eq!(std::fs::read(&dest).unwrap(), content);
    let row = &h.state().transfers().rows[0];
    let refused = row
        .mirrors
        .iter()
        .find(|m| m.addr == stranger.addr)
        .and_then(|m| m.dropped.clone())
        .expect("the stranger is left out");
    assert!(refused.contains("refused, not verified"), "{refused}");
    assert!(refused.contains(&stranger.fingerprint()), "{refused}");
    assert!(shows(
        &h,
        &format!("from {}: left out, refused", stranger.addr)
    ));
    assert!(shows(&h, &format!("left out: {}", stranger.addr)));
    assert_eq!(
        main.pinned(&stranger.addr),
        None,
        "a mirror is never pinned unasked"
    );
}
