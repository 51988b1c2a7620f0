//! The file table and getting files out of it, against a real server:
//! listing, sorting and filtering, deleting after confirming, and
//! downloads of current and older versions (renamed where this system
//! cannot save the server's name).

use crate::support::*;
use egui_kittest::kittest::Queryable;
use ferry_proto::protocol::Role;
use ferry_proto::units::human_size;
use gui_client::settings::{MemoryStorage, Settings};
use gui_client::state::transfers::TransferState;

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
            .map(|r| r.path().to_owned())
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
fn names_windows_cannot_save_are_offered_renamed_and_the_app_says_so() {
    use ferry_proto::names::LocalOs;
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
        ..server.options()
    };
    server.pin(&server);
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

#[test]
fn multi_select_keyboard_and_batch_actions_like_a_file_manager() {
    use egui::{Key, Modifiers};
    let server = TestServer::start();
    for name in ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"] {
        server.put(name, name.as_bytes());
    }
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    let selected = |h: &AppHarness| h.state().files().selected();

    // Click, Ctrl-click, Shift-click.
    h.get_by_label("b.txt").click();
    h.run();
    h.get_by_label("d.txt").click_modifiers(Modifiers::COMMAND);
    h.run();
    assert_eq!(selected(&h), ["b.txt", "d.txt"]);
    assert!(shows(&h, "2 selected"));
    assert!(shows_exactly(&h, "Download 2 files…"));
    assert!(shows_exactly(&h, "Delete 2 files…"));
    h.get_by_label("a.txt").click_modifiers(Modifiers::SHIFT);
    h.run();
    assert_eq!(selected(&h), ["a.txt", "b.txt", "c.txt", "d.txt"]);

    // Arrows move the selection; Shift-arrows extend it; Ctrl-A takes all.
    h.get_by_label("c.txt").click();
    h.run();
    h.key_press(Key::ArrowDown);
    h.run();
    assert_eq!(selected(&h), ["d.txt"]);
    h.key_press_modifiers(Modifiers::SHIFT, Key::ArrowUp);
    h.key_press_modifiers(Modifiers::SHIFT, Key::ArrowUp);
    h.run();
    assert_eq!(selected(&h), ["b.txt", "c.txt", "d.txt"]);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run();
    assert_eq!(selected(&h).len(), 5);

    // Ctrl-F types into the filter; Escape clears it; Ctrl-A there is the text's.
    h.key_press_modifiers(Modifiers::COMMAND, Key::F);
    h.run();
    h.get_by_label("🔍").type_text("e.t");
    h.run();
    assert_eq!(h.state().files().filter, "e.t");
    assert_eq!(
        selected(&h),
        ["e.txt"],
        "batch actions act on rows on screen"
    );
    h.key_press(Key::Escape);
    h.run();
    assert_eq!(h.state().files().filter, "");

    // Delete asks once, naming the count, and deletes them all.
    h.get_by_label("a.txt").click();
    h.get_by_label("b.txt").click_modifiers(Modifiers::COMMAND);
    h.run();
    h.key_press(Key::Delete);
    h.run();
    assert!(shows(&h, "Delete 2 files?"), "{:?}", labels(&h));
    assert!(shows(&h, "“a.txt” and “b.txt”"));
    h.get_by_label("Delete files").click();
    wait_for(&mut h, "both files to go", |app| {
        !app.files().contains("a.txt") && !app.files().contains("b.txt") && !app.files().loading
    });
    assert_eq!(server.names(), ["c.txt", "d.txt", "e.txt"]);

    // F5 lists again: a file another client stored appears.
    server.put("f.txt", b"f");
    h.key_press(Key::F5);
    wait_for(&mut h, "the refresh", |app| app.files().contains("f.txt"));

    // Enter on several files downloads them into a folder.
    let local = Local::new();
    h.get_by_label("c.txt").click();
    h.get_by_label("d.txt").click_modifiers(Modifiers::SHIFT);
    h.run();
    h.key_press(Key::Enter);
    h.run();
    assert!(shows(&h, "Download 2 files"), "{:?}", labels(&h));
    type_into(
        &mut h,
        "Into folder (full path)",
        &local.dir.path().display().to_string(),
    );
    h.get_by_label("Download").click();
    wait_for(&mut h, "both downloads", |app| {
        app.transfers().rows.len() == 2
            && app
                .transfers()
                .rows
                .iter()
                .all(|t| t.state == TransferState::Done)
    });
    assert_eq!(std::fs::read(local.path("c.txt")).unwrap(), b"c.txt");
    assert_eq!(std::fs::read(local.path("d.txt")).unwrap(), b"d.txt");

    // Enter on one file opens the download dialog, as a double-click does.
    h.get_by_label("e.txt").click();
    h.run();
    h.key_press(Key::Enter);
    h.run();
    assert!(shows(&h, "Download e.txt"));
    h.get_by_label("Cancel").click();
    h.run();
}

#[test]
fn the_sort_order_is_remembered_across_restarts() {
    let server = TestServer::start();
    server.put("small.txt", b"1");
    server.put("big.txt", &payload(5000, 1));
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    h.get_by_label("Size").click();
    h.run();
    let sort = h.state().settings().file_sort;
    assert_eq!(sort.column, gui_client::settings::SortKey::Size);
    assert!(!sort.ascending, "largest first");

    // The next start reads what this one saved.
    let mut storage = MemoryStorage::default();
    h.state().save_settings(&mut storage);
    let settings = Settings::load(Some(&storage));
    let mut h = harness(server.app_with(&settings));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the listing", |app| app.files().loaded);
    let names: Vec<_> = h.state().files().visible_names();
    assert_eq!(names, ["big.txt", "small.txt"]);
}
