//! Uploads through the app, against a real server: the typed-path dialog,
//! dropped files, and the "name already exists" dialog (asked before the
//! upload, or when the server finds the name taken meanwhile).

use crate::support::*;
use egui_kittest::kittest::{NodeT, Queryable};
use ferry_proto::units::human_size;
use gui_client::state::transfers::TransferState;

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
fn the_conflict_dialog_compares_the_local_file_and_skips_an_identical_one_on_enter() {
    let server = TestServer::start();
    server.put("same.txt", b"identical content");
    server.put("other.txt", &payload(4096, 1));
    let local = Local::new();
    let same = local.file("same.txt", b"identical content");
    let other = local.file("other.txt", b"much shorter");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    h.state_mut().queue_uploads(vec![same]);
    wait_for_text(&mut h, "Identical content (same MD5)");
    assert!(shows(&h, "On the server"));
    assert!(shows(&h, "Yours"));
    assert!(shows(&h, &human_size(17)), "both sizes are shown");
    // Enter presses the default button, which is Skip now.
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the skip", |app| {
        app.transfers().rows[0].state == TransferState::Skipped
    });
    assert!(!h.state().dialog_open());

    // Different sizes: no hashing needed, and Enter overwrites (keeping history).
    h.state_mut().queue_uploads(vec![other]);
    wait_for_text(&mut h, "The contents differ.");
    assert!(shows(&h, &human_size(4096)));
    assert!(shows(&h, &human_size(12)));
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the overwrite", |app| {
        app.transfers().rows[1].state == TransferState::Done
    });
    assert_eq!(server.get("other.txt", None), b"much shorter");
}

#[test]
fn a_refused_name_offers_upload_as_with_a_valid_suggestion() {
    let server = TestServer::start();
    let local = Local::new();
    // Fine on Linux, not allowed on the server (no drive colons).
    let path = local.file("draft: v1.txt", b"draft");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    drop_files(&mut h, &[path]);
    h.run();
    assert!(shows(
        &h,
        "“draft: v1.txt” cannot be stored under this name"
    ));
    assert!(
        h.query_by_label("Retry").is_none(),
        "no Retry that cannot succeed"
    );
    assert_eq!(
        h.state().transfers().rows[0].state,
        TransferState::WaitingForChoice
    );
    assert!(
        shows(&h, "✔ This name is allowed."),
        "the suggestion is valid"
    );

    // Checked as the user types, by the one rule.
    type_into(&mut h, "Upload as", "notes/draft.txt");
    h.run();
    assert!(
        shows(&h, "A file name cannot contain '/'"),
        "{:?}",
        labels(&h)
    );
    assert!(h.get_by_label("Upload as…").accesskit_node().is_disabled());

    type_into(&mut h, "Upload as", "draft v1.txt");
    h.run();
    h.get_by_label("Upload as…").click();
    wait_for(&mut h, "the upload under the new name", |app| {
        app.transfers().rows[0].state == TransferState::Done
    });
    assert_eq!(server.names(), ["draft v1.txt"]);
    assert_eq!(server.get("draft v1.txt", None), b"draft");
}

#[test]
fn the_upload_dialog_starts_in_the_last_used_folder() {
    use gui_client::settings::{MemoryStorage, Settings};
    let server = TestServer::start();
    let local = Local::new();
    let path = local.file("first.txt", b"1");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    h.state_mut().queue_uploads(vec![path]);
    wait_for(&mut h, "the upload", |app| {
        app.transfers().rows[0].state == TransferState::Done
    });
    // Remembered across a restart.
    let mut storage = MemoryStorage::default();
    h.state().save_settings(&mut storage);
    let settings = Settings::load(Some(&storage));
    assert_eq!(settings.upload_dir.as_deref(), Some(local.dir.path()));
    let mut h = harness(server.app_with(&settings));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the listing", |app| app.files().loaded);
    h.get_by_label("Upload…").click();
    h.run();
    let folder = local.dir.path().join("").display().to_string();
    let field = h.get_by_label("Files to upload (full paths, one per line)");
    assert_eq!(field.value().as_deref(), Some(folder.as_str()));
}
