//! The desktop app driven like a user drives it, headless, against a real
//! server: typing into fields, clicking buttons, dropping files, and
//! watching the transfers panel and the file table.

mod support;

use egui_kittest::kittest::Queryable;
use ferry_common::Client;
use ferry_common::protocol::Role;
use ferry_common::units::human_size;
use gui_client::app::Tab;
use gui_client::settings::{MemoryStorage, STORAGE_KEY, Settings};
use gui_client::state::transfers::TransferState;
use support::*;

#[test]
fn logging_in_by_typing_with_clear_messages_for_each_failure() {
    let server = TestServer::start();
    let mut h = harness(app());
    assert!(shows(&h, "Ferry"));

    // Nobody listens on port 1.
    login(&mut h, "127.0.0.1:1", "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the connection to fail", |app| {
        app.login_form().error.is_some()
    });
    assert!(shows(&h, "Server unreachable"));
    assert!(shows(&h, "could not connect to 127.0.0.1:1"));

    login(&mut h, &server.addr, "admin", "not-the-password");
    wait_for(&mut h, "the login to be refused", |app| {
        app.login_form().error.is_some()
    });
    assert!(shows(&h, "Wrong user name or password"));
    assert!(shows(&h, "check both and try again"));
    assert!(h.state().role().is_none());

    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the login", |app| app.files().loaded);
    assert_eq!(h.state().role(), Some(Role::Admin));
    assert!(
        shows(&h, "No files on this server yet"),
        "the empty state says what to do"
    );
    assert!(shows(&h, "drop files onto this window"));

    // The server and user are remembered, the password is not.
    let mut storage = MemoryStorage::default();
    h.state().save_settings(&mut storage);
    let stored = storage.0.get(STORAGE_KEY).expect("settings saved");
    assert!(stored.contains(&server.addr), "{stored}");
    assert!(stored.contains("admin"), "{stored}");
    assert!(!stored.contains(ADMIN_PASSWORD), "{stored}");
    assert!(!stored.contains("not-the-password"), "{stored}");
    let settings = Settings::load(Some(&storage));
    assert_eq!(settings.recent[0].addr, server.addr);

    // Next start: the form is filled from the recent server.
    let mut again = harness(app_with(&settings));
    assert_eq!(again.state().login_form().addr, server.addr);
    assert_eq!(again.state().login_form().user, "admin");
    assert!(again.state().login_form().password.is_empty());
    assert!(shows(&again, "Recent servers"));
    again.run();
}

#[test]
fn a_throttled_login_says_to_wait() {
    let server = TestServer::start();
    server.add_user("ann", Role::User);
    let mut h = harness(app());
    for _ in 0..6 {
        login(&mut h, &server.addr, "ann", "wrong-password");
        wait_for(&mut h, "a refusal", |app| {
            app.login_form().error.is_some() && !app.login_form().busy
        });
        if shows(&h, "Too many failed logins") {
            break;
        }
    }
    assert!(shows(&h, "Too many failed logins"));
    assert!(shows(&h, "seconds and try again"));
}

#[test]
fn the_file_table_lists_sorts_and_filters() {
    let server = TestServer::start();
    server.add_user("ann", Role::User);
    server.put("Quarterly report.pdf", &payload(3000, 1));
    server.put("notes.txt", b"hello");
    server.put("notes.txt", b"hello again");
    server.put("Übersicht.csv", &payload(2 << 20, 2));

    let mut h = logged_in(&server, "ann", USER_PASSWORD);
    for name in ["Quarterly report.pdf", "notes.txt", "Übersicht.csv"] {
        assert!(shows(&h, name), "{name} is listed");
    }
    assert!(shows(&h, &human_size(3000)), "human sizes");
    assert!(shows(&h, &human_size(2 << 20)));
    assert!(shows(&h, "3 files"));

    let names = |h: &AppHarness| -> Vec<String> {
        h.state()
            .files()
            .visible()
            .iter()
            .map(|e| e.current.name.clone())
            .collect()
    };
    assert_eq!(
        names(&h),
        ["notes.txt", "Quarterly report.pdf", "Übersicht.csv"]
    );
    h.get_by_label("Size").click();
    h.run();
    assert_eq!(
        names(&h),
        ["Übersicht.csv", "Quarterly report.pdf", "notes.txt"]
    );
    h.get_by_label("Versions").click();
    h.run();
    assert_eq!(names(&h)[0], "notes.txt", "the most versions first");

    type_into(&mut h, "🔍", "report");
    h.run();
    assert_eq!(names(&h), ["Quarterly report.pdf"]);
    assert!(shows(&h, "1 of 3 files match the filter"));
    assert!(!shows(&h, "notes.txt"));
}

#[test]
fn an_upload_through_the_app_shows_progress_to_done_and_lands_in_the_table() {
    let server = TestServer::start();
    let local = Local::new();
    let content = payload(3 << 20, 7);
    let path = local.file("holiday photos.zip", &content);
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    // The Upload button, with no native dialog here, asks for a path.
    h.get_by_label("Upload…").click();
    h.run();
    type_into(
        &mut h,
        "Files to upload (full paths, one per line)",
        &path.display().to_string(),
    );
    h.get_by_label("Upload").click();
    h.step();
    h.step();
    assert_eq!(
        h.state().transfers().rows.len(),
        1,
        "a progress row appears"
    );
    assert!(shows(&h, "holiday photos.zip"));

    wait_for(
        &mut h,
        "the upload to finish and the list to refresh",
        |app| {
            app.transfers().rows[0].state == TransferState::Done
                && app.files().contains("holiday photos.zip")
        },
    );
    let row = &h.state().transfers().rows[0];
    assert_eq!(row.fraction(), 1.0, "full only once the MD5 check passed");
    assert!(row.verified);
    assert_eq!(row.done, content.len() as u64);
    assert!(shows(&h, "✔ done"));
    let size = human_size(3 << 20);
    assert!(shows(&h, &format!("{size} / {size}")));
    assert!(shows(&h, "stored as version 1"));
    assert_eq!(server.get("holiday photos.zip", None), content);
}

#[test]
fn dropped_files_are_uploaded() {
    let server = TestServer::start();
    let local = Local::new();
    let a = local.file("a.txt", b"first");
    let b = local.file("b.txt", b"second");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    drop_files(&mut h, &[a, b]);
    wait_for(&mut h, "both uploads", |app| {
        app.files().contains("a.txt") && app.files().contains("b.txt")
    });
    assert!(
        h.state()
            .transfers()
            .rows
            .iter()
            .all(|t| t.state == TransferState::Done)
    );
    assert_eq!(server.get("b.txt", None), b"second");
}

#[test]
fn the_conflict_dialog_does_what_each_choice_says() {
    let server = TestServer::start();
    server.put("report.txt", b"old report");
    server.put("plan.txt", b"old plan");
    server.put("memo.txt", b"old memo");
    let local = Local::new();
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    // Overwrite: the new content is current, the old one stays a version.
    let report = local.file("report.txt", b"new report");
    h.state_mut().queue_uploads(vec![report.clone()]);
    settle(&mut h);
    assert!(shows(&h, "“report.txt” already exists"));
    assert!(shows(&h, "waiting for your choice"));
    h.get_by_label("Overwrite (keep history)").click();
    wait_for(&mut h, "the overwrite", |app| {
        app.transfers().rows.last().unwrap().state == TransferState::Done
    });
    assert_eq!(server.get("report.txt", None), b"new report");
    assert_eq!(server.get("report.txt", Some(1)), b"old report");

    // Keep both: stored as report_v2.txt, the original untouched.
    h.state_mut()
        .queue_uploads(vec![local.file("report.txt", b"third report")]);
    settle(&mut h);
    h.get_by_label("Keep both (rename to report_v2.txt)")
        .click();
    wait_for(&mut h, "the renamed upload", |app| {
        app.files().contains("report_v2.txt")
    });
    assert_eq!(server.get("report_v2.txt", None), b"third report");
    assert_eq!(server.get("report.txt", None), b"new report");

    // Skip: nothing is sent.
    h.state_mut()
        .queue_uploads(vec![local.file("report.txt", b"skipped")]);
    settle(&mut h);
    h.get_by_label("Skip").click();
    settle(&mut h);
    assert_eq!(
        h.state().transfers().rows.last().unwrap().state,
        TransferState::Skipped
    );
    assert!(shows(&h, "skipped"));
    assert_eq!(server.get("report.txt", None), b"new report");

    // A batch: "apply to all" answers every conflict of the batch at once.
    let batch = vec![
        local.file("plan.txt", b"new plan"),
        local.file("memo.txt", b"new memo"),
        local.file("fresh.txt", b"no conflict"),
    ];
    h.state_mut().queue_uploads(batch);
    settle(&mut h);
    assert!(shows(&h, "“plan.txt” already exists"));
    h.get_by_label_contains("Apply to all").click();
    settle(&mut h);
    h.get_by_label("Overwrite (keep history)").click();
    settle(&mut h);
    assert!(
        !shows(&h, "already exists"),
        "one answer for the whole batch"
    );
    wait_for(&mut h, "the batch", |app| {
        app.transfers()
            .rows
            .iter()
            .rev()
            .take(3)
            .all(|t| t.state == TransferState::Done)
            && app.files().contains("fresh.txt")
    });
    assert_eq!(server.get("plan.txt", None), b"new plan");
    assert_eq!(server.get("memo.txt", None), b"new memo");
    assert_eq!(server.get("memo.txt", Some(1)), b"old memo");
}

#[test]
fn a_name_taken_meanwhile_is_asked_about_too() {
    let server = TestServer::start();
    let local = Local::new();
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    // Another client stores the name after the app listed the files.
    server.put("race.txt", b"theirs");
    h.state_mut()
        .queue_uploads(vec![local.file("race.txt", b"mine")]);
    wait_for(&mut h, "the server to report the name taken", |app| {
        app.transfers().rows[0].state == TransferState::WaitingForChoice
    });
    h.run();
    assert!(shows(&h, "“race.txt” already exists"));
    h.get_by_label_contains("Keep both").click();
    wait_for(&mut h, "the renamed upload", |app| {
        app.files().contains("race_v2.txt")
    });
    assert_eq!(server.get("race.txt", None), b"theirs");
    assert_eq!(server.get("race_v2.txt", None), b"mine");
}

#[test]
fn a_plain_user_sees_no_admin_panel() {
    let server = TestServer::start();
    server.add_user("bob", Role::User);
    server.put("shared.txt", b"x");

    let mut user = logged_in(&server, "bob", USER_PASSWORD);
    assert_eq!(user.state().role(), Some(Role::User));
    assert!(shows(&user, "Client log"));
    for admin_only in ["Server log", "Users", "Delete…"] {
        assert!(
            user.query_by_label(admin_only).is_none(),
            "{admin_only} is hidden"
        );
    }
    user.get_by_label("shared.txt").click();
    user.run();
    assert!(user.query_by_label("Delete…").is_none());
    user.get_by_label("History").click();
    wait_for(&mut user, "the history", |app| {
        app.history().is_some_and(|h| !h.loading)
    });
    assert!(shows(&user, "Download v1"));
    assert!(user.query_by_label("Delete v1").is_none());

    let admin = logged_in(&server, "admin", ADMIN_PASSWORD);
    for admin_only in ["Server log", "Users", "Delete…"] {
        assert!(admin.query_by_label(admin_only).is_some(), "{admin_only}");
    }
}

#[test]
fn a_plain_user_changes_their_own_password() {
    let server = TestServer::start();
    server.add_user("bob", Role::User);
    let mut h = logged_in(&server, "bob", USER_PASSWORD);
    h.get_by_label("Change my password…").click();
    settle(&mut h);
    assert!(shows(&h, "New password for bob"));
    type_into(&mut h, "New password", "bob-secret-2");
    type_into(&mut h, "Repeat it", "bob-secret-2");
    h.get_by_label("Set password").click();
    wait_for(&mut h, "the password change", |app| {
        app.status()
            .is_some_and(|s| s.text.contains("changed the password of bob"))
    });
    assert!(!h.state().status().is_some_and(|s| s.error));
    assert!(Client::connect_and_login(&server.addr, "bob", "bob-secret-2").is_ok());
    assert!(Client::connect_and_login(&server.addr, "bob", USER_PASSWORD).is_err());
}

#[test]
fn an_admin_deletes_a_file_and_a_version_after_confirming() {
    let server = TestServer::start();
    server.put("old.txt", b"1");
    server.put("keep.txt", b"v1");
    server.put("keep.txt", b"v2");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    h.get_by_label("old.txt").click();
    h.run();
    h.get_by_label("Delete…").click();
    h.run();
    assert!(shows(&h, "Delete “old.txt”?"));
    h.get_by_label("Cancel").click();
    h.run();
    assert!(h.state().files().contains("old.txt"), "Cancel keeps it");

    h.get_by_label("Delete…").click();
    h.run();
    h.get_by_label("Delete file").click();
    wait_for(&mut h, "the file to go", |app| {
        !app.files().contains("old.txt")
    });
    assert!(!shows_exactly(&h, "old.txt"), "gone from the table");
    assert!(shows(&h, "Deleted old.txt (1 version)."));
    assert_eq!(server.names(), ["keep.txt"]);

    // One version, from the history panel.
    h.get_by_label("keep.txt").click();
    h.run();
    h.get_by_label("History").click();
    wait_for(&mut h, "the history", |app| {
        app.history().is_some_and(|v| v.versions.len() == 2)
    });
    h.get_by_label("Delete v1").click();
    h.run();
    assert!(shows(&h, "Delete version 1 of “keep.txt”?"));
    h.get_by_label("Delete version").click();
    wait_for(&mut h, "the version to go", |app| {
        app.history()
            .is_some_and(|v| v.versions.len() == 1 && !v.loading)
    });
    assert!(!shows(&h, "Download v1"));
    assert!(shows(&h, "Download v2"));
    assert_eq!(server.get("keep.txt", None), b"v2");
}

#[test]
fn downloads_of_current_and_older_versions_land_where_asked() {
    let server = TestServer::start();
    server.put("song.ogg", &payload(100_000, 1));
    server.put("song.ogg", &payload(120_000, 2));
    let local = Local::new();
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    // Download… with the typed-path dialog.
    h.get_by_label("song.ogg").click();
    h.run();
    h.get_by_label("Download…").click();
    h.run();
    let dest = local.path("current.ogg");
    type_into(&mut h, "Save as (full path)", &dest.display().to_string());
    h.get_by_label("Download").click();
    wait_for(&mut h, "the download", |app| {
        app.transfers().rows[0].state == TransferState::Done
    });
    assert_eq!(std::fs::read(&dest).unwrap(), payload(120_000, 2));
    assert!(shows(&h, "saved to"));

    // Enter in the path field downloads too; the field has the focus.
    h.get_by_label("Download…").click();
    settle(&mut h);
    type_into(
        &mut h,
        "Save as (full path)",
        &local.path("by-enter.ogg").display().to_string(),
    );
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the download started with Enter", |app| {
        app.transfers().rows.len() == 2 && app.transfers().rows[1].state == TransferState::Done
    });
    assert!(local.path("by-enter.ogg").exists());

    // Version 1 from the history panel.
    h.get_by_label("History").click();
    wait_for(&mut h, "the history", |app| {
        app.history().is_some_and(|v| v.versions.len() == 2)
    });
    assert!(shows(&h, "Version 2"));
    assert!(shows(&h, "MD5 "));
    h.get_by_label("Download v1").click();
    h.run();
    let old = local.path("first.ogg");
    type_into(&mut h, "Save as (full path)", &old.display().to_string());
    h.get_by_label("Download").click();
    wait_for(&mut h, "the old version", |app| {
        app.transfers().rows.len() == 3 && app.transfers().rows[2].state == TransferState::Done
    });
    assert_eq!(std::fs::read(&old).unwrap(), payload(100_000, 1));
    assert!(shows(&h, "(v1)"));
}

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
    let mut h = harness(app_with(&settings));
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

#[test]
fn the_admin_manages_users_and_reads_the_server_log() {
    let server = TestServer::start();
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    h.get_by_label("Users").click();
    h.step();
    assert_eq!(h.state().tab(), Tab::Users);
    wait_for_text(&mut h, "(you)");
    type_into(&mut h, "Name", "carol");
    type_into(&mut h, "Password", "carol-secret-1");
    h.get_by_label("Add user").click();
    wait_for(&mut h, "carol", |app| {
        app.status().is_some_and(|s| s.text.contains("added carol"))
    });
    wait_for_text(&mut h, "Make carol admin");
    assert!(
        ferry_common::Client::connect_and_login(&server.addr, "carol", "carol-secret-1").is_ok()
    );

    // Make her admin.
    h.get_by_label("Make carol admin").click();
    wait_for(&mut h, "the role change", |app| {
        app.status()
            .is_some_and(|s| s.text.contains("made carol admin"))
    });
    let users = server.admin().users().unwrap();
    assert!(
        users.contains(&("carol".to_owned(), Role::Admin)),
        "{users:?}"
    );

    // Remove her, after confirming.
    h.get_all_by_label("Remove…").last().unwrap().click();
    h.run();
    assert!(shows(&h, "Remove the account “carol”?"));
    h.get_by_label("Remove user").click();
    wait_for(&mut h, "the removal", |app| {
        app.status()
            .is_some_and(|s| s.text.contains("removed carol"))
    });
    assert!(
        ferry_common::Client::connect_and_login(&server.addr, "carol", "carol-secret-1").is_err()
    );

    // The admin changes their own password; new connections (a transfer)
    // use the new one.
    h.get_all_by_label("Change password…")
        .next()
        .unwrap()
        .click();
    settle(&mut h);
    type_into(&mut h, "New password", "admin-secret-2");
    type_into(&mut h, "Repeat it", "admin-secret-2");
    h.get_by_label("Set password").click();
    wait_for(&mut h, "the password change", |app| {
        app.status()
            .is_some_and(|s| s.text.contains("changed the password of admin"))
    });
    let local = Local::new();
    h.state_mut()
        .queue_uploads(vec![local.file("after.txt", b"new password")]);
    wait_for(&mut h, "an upload with the new password", |app| {
        app.transfers()
            .rows
            .last()
            .is_some_and(|t| t.state == TransferState::Done)
    });
    assert!(
        ferry_common::Client::connect_and_login(&server.addr, "admin", "admin-secret-2").is_ok()
    );

    // The server log (the library server in tests logs nowhere, so the
    // test writes the file its LOGS command reads), filtered.
    std::fs::create_dir_all(server.dir.path().join("logs")).unwrap();
    std::fs::write(
        server.dir.path().join("logs/server.log"),
        "2026-11-21T10:00:00Z INFO peer=127.0.0.1:5000 login ok user=admin role=admin\n\
         2026-11-21T10:00:05Z WARN peer=127.0.0.1:5001 login failed user=\"mallory\"\n",
    )
    .unwrap();
    h.get_by_label("Server log").click();
    wait_for_text(&mut h, "login ok user=admin");
    assert!(shows(&h, "2 of 2 lines"));
    type_into(&mut h, "🔍", "FAILED");
    h.run();
    assert!(shows(&h, "login failed"));
    assert!(
        !shows(&h, "login ok user=admin"),
        "the filter hides other lines"
    );
    assert!(shows(&h, "1 of 2 lines match the filter"));
    std::fs::write(
        server.dir.path().join("logs/server.log"),
        "2026-11-21T10:01:00Z INFO upload done name=\"a\"\n",
    )
    .unwrap();
    h.get_by_label("Refresh log").click();
    type_into(&mut h, "🔍", "");
    wait_for_text(&mut h, "upload done");
}

#[test]
fn a_download_with_mirrors_shows_each_mirror() {
    let main = TestServer::start();
    let mirror = TestServer::start();
    let content = payload(9 << 20, 11);
    main.put("dataset.bin", &content);
    mirror.put("dataset.bin", &content);
    let local = Local::new();
    let mut h = logged_in(&main, "admin", ADMIN_PASSWORD);

    h.get_by_label("dataset.bin").click();
    h.run();
    h.get_by_label("Download…").click();
    h.run();
    let dest = local.path("dataset.bin");
    type_into(&mut h, "Save as (full path)", &dest.display().to_string());
    type_into(&mut h, "Mirrors (optional)", &mirror.addr);
    h.get_by_label("Download").click();
    wait_for(&mut h, "the mirrored download", |app| {
        app.transfers().rows[0].state == TransferState::Done
    });
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
fn the_client_log_panel_shows_and_filters_its_file() {
    use gui_client::panels::client_log;
    use gui_client::state::client_log::ClientLogView;

    let dir = tempfile::tempdir().unwrap();
    let mut view = ClientLogView::new(dir.path().to_owned());
    view.reload();
    assert!(
        view.error
            .as_deref()
            .unwrap()
            .contains("does not exist yet")
    );
    std::fs::write(
        dir.path().join("client.log"),
        "2026-11-21T10:00:00Z [INFO] login ok server=a user=\"ann\"\n\
         2026-11-21T10:00:02Z [INFO] upload done name=\"a.txt\"\n",
    )
    .unwrap();
    let mut h = egui_kittest::Harness::builder()
        .with_size([900.0, 400.0])
        .build_ui_state(
            |ui, view: &mut ClientLogView| {
                egui::CentralPanel::default().show(ui, |ui| {
                    if client_log::show(ui, view) == Some(client_log::ClientLogAction::Reload) {
                        view.reload();
                    }
                });
            },
            view,
        );
    h.get_by_label("Reload log").click();
    h.run();
    assert!(h.query_by_label_contains("upload done").is_some());
    h.get_by_label("🔍").click();
    h.run();
    h.get_by_label("🔍").type_text("login");
    h.run();
    assert!(h.query_by_label_contains("login ok").is_some());
    assert!(h.query_by_label_contains("upload done").is_none());
}

#[test]
fn logging_out_returns_to_a_filled_login_form() {
    let server = TestServer::start();
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    h.get_by_label("Log out").click();
    h.run();
    assert!(h.state().role().is_none());
    assert!(shows_exactly(&h, "Log in"));
    assert_eq!(h.state().login_form().addr, server.addr);
    assert_eq!(h.state().login_form().user, "admin");
    assert!(
        h.state().login_form().password.is_empty(),
        "the password is forgotten"
    );
}

#[test]
fn names_windows_cannot_save_are_offered_renamed_and_the_app_says_so() {
    use ferry_common::names::LocalOs;
    use gui_client::{AppOptions, FerryApp};

    let server = TestServer::start();
    server.put("CON", b"console");
    server.put("why?.txt", b"first");
    server.put("why?.txt", b"second");
    let local = Local::new();
    let settings = Settings {
        download_dir: Some(local.path("")),
        ..Settings::default()
    };
    let mut storage = MemoryStorage::default();
    settings.save(&mut storage);
    // The Windows rule, checked on whatever system runs the test.
    let options = AppOptions {
        local_os: Some(LocalOs::Windows),
        ..AppOptions::default()
    };
    let mut h = harness(FerryApp::new(Some(&storage), options));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the first listing", |app| app.files().loaded);

    // The dialog offers "_CON" and says why before anything is saved.
    h.get_by_label("CON").click();
    h.run();
    h.get_by_label("Download…").click();
    h.run();
    assert!(
        shows(
            &h,
            "“CON” is not a valid file name on Windows, so it is saved as “_CON” \
             unless you choose another name."
        ),
        "{:?}",
        labels(&h)
    );
    h.get_by_label("Download").click();
    wait_for(&mut h, "the download", |app| {
        app.transfers().rows[0].state == TransferState::Done
    });
    assert_eq!(std::fs::read(local.path("_CON")).unwrap(), b"console");
    assert!(!local.path("CON").exists());
    let row = &h.state().transfers().rows[0];
    assert_eq!(row.name, "CON", "the row names the file on the server");
    assert!(shows(
        &h,
        "“CON” is not a valid file name on Windows: saved to "
    ));
    let status = h.state().status().expect("a status line").text.clone();
    assert_eq!(
        status,
        format!(
            "Downloaded CON to {} (“CON” is not a valid file name on Windows).",
            local.path("_CON").display()
        )
    );

    // An older version: its _vN name, mapped as well.
    h.get_by_label("why?.txt").click();
    h.run();
    h.get_by_label("History").click();
    wait_for(&mut h, "the history", |app| {
        app.history().is_some_and(|v| v.versions.len() == 2)
    });
    h.get_by_label("Download v1").click();
    h.run();
    assert!(shows(&h, "so it is saved as “why__v1.txt”"));
    h.get_by_label("Download").click();
    wait_for(&mut h, "the old version", |app| {
        app.transfers().rows.len() == 2 && app.transfers().rows[1].state == TransferState::Done
    });
    assert_eq!(std::fs::read(local.path("why__v1.txt")).unwrap(), b"first");

    // A name the user types is theirs: no word about it.
    h.get_by_label("CON").click();
    h.run();
    h.get_by_label("Download…").click();
    h.run();
    let typed = local.path("console.txt");
    type_into(&mut h, "Save as (full path)", &typed.display().to_string());
    h.get_by_label("Download").click();
    wait_for(&mut h, "the typed download", |app| {
        app.transfers().rows.len() == 3 && app.transfers().rows[2].state == TransferState::Done
    });
    assert_eq!(std::fs::read(&typed).unwrap(), b"console");
    assert_eq!(h.state().transfers().rows[2].renamed, None);
    let status = h.state().status().expect("a status line").text.clone();
    assert_eq!(status, format!("Downloaded CON to {}.", typed.display()));
}
