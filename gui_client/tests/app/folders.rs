//! Folders in the app, against a real server: moving between folders by
//! keyboard, breadcrumb and Backspace, creating one, uploading a dropped
//! folder and downloading a folder with everything in it (again: only what
//! changed moves), and an admin deleting a folder.

use std::fs;
use std::path::Path;

use crate::support::*;
use egui::Key;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use ferry_client::Entry;
use ferry_proto::protocol::Role as UserRole;
use gui_client::settings::Settings;
use gui_client::state::transfers::TransferState;

/// Every file under `dir`, by its path below it, with its content.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                out.push((rel.display().to_string(), fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn folder_on_screen(h: &AppHarness) -> Option<String> {
    h.state().files().folder.clone()
}

/// Clicks the file table's row labelled `label` (a transfer row may show
/// the same words, as a label rather than a button).
fn click_row(h: &mut AppHarness, label: &str) {
    h.get_by_role_and_label(Role::Button, label).click();
}

/// Selects the row labelled `label` and presses Enter, as a user opens a
/// folder without the mouse.
fn open_row(h: &mut AppHarness, label: &str) {
    click_row(h, label);
    h.step();
    h.key_press(Key::Enter);
    h.step();
}

/// Runs until transfer row `index` has finished, and checks it succeeded.
fn finished_row(h: &mut AppHarness, index: usize, what: &str) -> String {
    wait_for(h, what, |app| {
        app.transfers()
            .rows
            .get(index)
            .is_some_and(|t| t.state.is_finished())
    });
    let row = &h.state().transfers().rows[index];
    assert_eq!(row.state, TransferState::Done, "{what}: {:?}", row.note);
    row.note.clone().unwrap_or_default()
}

#[test]
fn folders_open_with_enter_and_the_breadcrumb_and_backspace_go_back() {
    let server = TestServer::start();
    server.add_user("ann", UserRole::User);
    server.admin().mkdir("team/docs").unwrap();
    server.admin().mkdir("empty").unwrap();
    server.put("team/docs/plan.txt", b"plan");
    server.put("team/readme.md", b"read me");
    server.put("top.txt", b"top");

    let mut h = logged_in(&server, "ann", USER_PASSWORD);
    let paths: Vec<String> = h.state().files().visible_names();
    assert_eq!(paths, ["empty", "team", "top.txt"], "folders first");
    assert!(shows(&h, "🗀 team"));
    assert!(shows(&h, "2 folders, 1 file"));

    open_row(&mut h, "🗀 team");
    wait_for(&mut h, "the folder team", |app| {
        app.files().folder.as_deref() == Some("team") && app.files().loaded
    });
    assert!(shows(&h, "🗀 docs"));
    assert!(shows_exactly(&h, "readme.md"), "a file shows its own name");
    assert!(!shows(&h, "top.txt"), "the root's files are not here");

    open_row(&mut h, "🗀 docs");
    wait_for(&mut h, "the folder team/docs", |app| {
        app.files().folder.as_deref() == Some("team/docs") && app.files().loaded
    });
    assert!(shows_exactly(&h, "plan.txt"));

    // The breadcrumb's middle part opens that folder.
    h.get_by_label("team").click();
    wait_for(&mut h, "back in team", |app| {
        app.files().folder.as_deref() == Some("team") && app.files().loaded
    });
    // Backspace goes to the folder above.
    h.key_press(Key::Backspace);
    wait_for(&mut h, "back at the root", |app| {
        app.files().folder.is_none() && app.files().loaded
    });
    assert!(shows(&h, "top.txt"));

    open_row(&mut h, "🗀 empty");
    wait_for(&mut h, "the empty folder", |app| {
        app.files().folder.as_deref() == Some("empty") && app.files().loaded
    });
    assert!(shows(&h, "This folder is empty"));
    h.get_by_label("🏠 Home").click();
    wait_for(&mut h, "the root again", |app| app.files().folder.is_none());
    assert_eq!(folder_on_screen(&h), None);
}

#[test]
fn a_deep_folder_shows_the_last_parts_of_its_path_after_an_ellipsis() {
    let server = TestServer::start();
    server.put("a/b/c/d/e/f.txt", b"deep");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    h.state_mut().open_folder(Some("a/b/c/d/e".to_owned()));
    wait_for(&mut h, "the deep folder", |app| {
        app.files().folder.as_deref() == Some("a/b/c/d/e") && app.files().loaded
    });
    assert!(shows_exactly(&h, "f.txt"));
    assert!(shows_exactly(&h, "› …"), "{:?}", labels(&h));
    for shown in ["🏠 Home", "c", "d", "e"] {
        assert!(shows_exactly(&h, shown), "{shown}: {:?}", labels(&h));
    }
    for hidden in ["a", "b"] {
        assert!(!shows_exactly(&h, hidden), "{hidden}: {:?}", labels(&h));
    }
    h.get_by_label("c").click();
    wait_for(&mut h, "the folder a/b/c", |app| {
        app.files().folder.as_deref() == Some("a/b/c") && app.files().loaded
    });
    assert!(shows_exactly(&h, "🏠 Home") && shows_exactly(&h, "a"));
    assert!(!shows_exactly(&h, "› …"), "short enough to show whole");
}

#[test]
fn a_listing_that_arrives_after_the_user_left_its_folder_is_not_shown() {
    let server = TestServer::start();
    server.put("team/team-file.txt", b"team");
    server.put("other/other-file.txt", b"other");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    // Two folders opened before any answer arrives: the first one's
    // listing comes back after the user has moved on.
    h.state_mut().open_folder(Some("team".to_owned()));
    h.state_mut().open_folder(Some("other".to_owned()));
    wait_for(&mut h, "the folder other", |app| {
        app.files().folder.as_deref() == Some("other") && app.files().loaded
    });
    assert_eq!(h.state().files().visible_names(), ["other/other-file.txt"]);
    assert!(!shows(&h, "team-file.txt"));
}

#[test]
fn a_new_folder_is_created_where_the_user_is_and_bad_names_are_explained() {
    let server = TestServer::start();
    server.admin().mkdir("team").unwrap();
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    open_row(&mut h, "🗀 team");
    wait_for(&mut h, "the folder team", |app| {
        app.files().folder.as_deref() == Some("team") && app.files().loaded
    });

    h.get_by_label("New folder…").click();
    h.run();
    type_into(&mut h, "Folder name", "a:b");
    let rule = gui_client::state::dialogs::name_problem("a:b").unwrap();
    assert!(
        shows(&h, &rule),
        "the rule is explained as you type: {rule}"
    );
    assert!(
        h.get_by_label("Create folder")
            .accesskit_node()
            .is_disabled(),
        "and the button waits for a good name"
    );
    type_into(&mut h, "Folder name", "Reports 2026");
    h.get_by_label("Create folder").click();
    wait_for(&mut h, "the new folder", |app| {
        app.files().is_folder("team/Reports 2026")
    });
    assert!(shows(&h, "Created the folder team/Reports 2026."));
    let listed = server.admin().ls(Some("team"), false).unwrap();
    assert_eq!(
        listed.iter().map(Entry::path).collect::<Vec<_>>(),
        ["team/Reports 2026"]
    );
}

#[test]
fn a_dropped_folder_goes_up_whole_and_comes_down_whole_and_again_only_what_changed() {
    let server = TestServer::start();
    server.add_user("ann", UserRole::User);
    let local = Local::new();
    let project = local.path("project");
    fs::create_dir_all(project.join("sub/deeper")).unwrap();
    fs::create_dir_all(project.join("empty")).unwrap();
    fs::write(project.join("a.txt"), b"alpha").unwrap();
    fs::write(project.join("sub/deeper/b.bin"), payload(3 << 20, 7)).unwrap();
    fs::write(project.join("sub/c d.txt"), b"spaces too").unwrap();
    let mut h = logged_in(&server, "ann", USER_PASSWORD);

    drop_files(&mut h, std::slice::from_ref(&project));
    finished_row(&mut h, 0, "the folder upload");
    let row = &h.state().transfers().rows[0];
    assert!(row.folder);
    assert_eq!(row.files, (3, 3));
    assert_eq!(row.fraction(), 1.0);
    wait_for(&mut h, "the folder in the table", |app| {
        app.files().is_folder("project")
    });
    let up = server.admin().ls(Some("project"), true).unwrap();
    let paths: Vec<&str> = up.iter().map(Entry::path).collect();
    assert_eq!(
        paths,
        [
            "project/a.txt",
            "project/empty",
            "project/sub",
            "project/sub/c d.txt",
            "project/sub/deeper",
            "project/sub/deeper/b.bin",
        ]
    );
    assert_eq!(
        server.get("project/sub/deeper/b.bin", None),
        payload(3 << 20, 7)
    );

    // Down again, into another folder, through the typed-path dialog.
    let downloads = Local::new();
    click_row(&mut h, "🗀 project");
    h.run();
    h.get_by_label("Download…").click();
    h.run();
    assert!(shows(&h, "Download project"));
    let into = downloads.dir.path().display().to_string();
    type_into(&mut h, "Into folder (full path)", &into);
    h.get_by_label("Download").click();
    finished_row(&mut h, 1, "the folder download");
    let saved = downloads.path("project");
    assert_eq!(
        tree(&saved),
        tree(&project),
        "the same files, byte for byte"
    );
    assert!(saved.join("empty").is_dir(), "empty folders too");

    // The same folder up again: the server has it, so the app asks; Skip
    // uploads only what is new, and identical files are not sent again.
    fs::write(project.join("new.txt"), b"new").unwrap();
    drop_files(&mut h, std::slice::from_ref(&project));
    wait_for_text(&mut h, "The server already has a folder “project”");
    h.get_by_label("Skip").click();
    let note = finished_row(&mut h, 2, "the second upload");
    assert!(note.contains("1 file stored"), "{note}");
    assert!(note.contains("3 files already there"), "{note}");
    let history = server.admin().history("project/a.txt").unwrap();
    assert_eq!(history.len(), 1, "no new version of an unchanged file");

    // And down again into the same place: only the new file moves.
    h.get_by_label("Download…").click();
    h.run();
    type_into(&mut h, "Into folder (full path)", &into);
    h.get_by_label("Download").click();
    wait_for_text(&mut h, "This computer already has");
    h.get_by_label("Skip").click();
    let note = finished_row(&mut h, 3, "the second download");
    assert!(note.contains("1 file saved"), "{note}");
    assert!(note.contains("3 files already there"), "{note}");
    assert_eq!(fs::read(saved.join("new.txt")).unwrap(), b"new");
}

#[test]
fn an_admin_deletes_a_folder_with_everything_in_it_after_confirming() {
    let server = TestServer::start();
    server.put("old/a.txt", b"a");
    server.put("old/deep/b.txt", b"b");
    server.put("keep.txt", b"k");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    click_row(&mut h, "🗀 old");
    h.run();
    assert!(
        h.get_by_label("History").accesskit_node().is_disabled(),
        "a folder has no history"
    );
    h.get_by_label("Delete…").click();
    h.run();
    assert!(shows(&h, "Delete the folder “old”?"));
    h.get_by_label("Delete folder").click();
    wait_for(&mut h, "the folder to go", |app| {
        !app.files().is_folder("old")
    });
    assert!(shows(&h, "Deleted the folder old (2 files, 2 versions)."));
    assert_eq!(server.names(), ["keep.txt"]);
    assert!(server.admin().ls(None, true).unwrap().len() == 1);
}

#[test]
fn an_admin_renames_a_file_and_moves_a_folder_with_their_histories() {
    let server = TestServer::start();
    server.put("draft.txt", b"v1");
    server.put("draft.txt", b"v2");
    server.put("old/a.txt", b"a");
    server.admin().mkdir("archive").unwrap();
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    click_row(&mut h, "draft.txt");
    h.run();
    h.get_by_label("Rename…").click();
    h.run();
    assert!(shows(&h, "Rename or move the file “draft.txt”"));
    assert!(
        h.get_by_label("Move").accesskit_node().is_disabled(),
        "not before a new name is typed"
    );
    type_into(&mut h, "New path", "bad/../name");
    assert!(shows(&h, "is not allowed"), "the path rule is explained");
    type_into(&mut h, "New path", "archive/final.txt");
    h.get_by_label("Move").click();
    wait_for(&mut h, "the file to move", |app| {
        !app.files().contains("draft.txt")
    });
    assert!(shows(&h, "Moved draft.txt to archive/final.txt."));
    let history = server.admin().history("archive/final.txt").unwrap();
    assert_eq!(history.len(), 2, "the history went along");

    // F2 renames the selected folder; everything in it goes along.
    click_row(&mut h, "🗀 old");
    h.run();
    h.key_press(Key::F2);
    h.run();
    assert!(shows(&h, "Rename or move the folder “old”"));
    type_into(&mut h, "New path", "archive/2025");
    h.key_press(Key::Enter);
    wait_for(&mut h, "the folder to move", |app| {
        !app.files().is_folder("old")
    });
    assert_eq!(server.get("archive/2025/a.txt", None), b"a");
}

#[test]
fn a_user_has_no_rename_and_downloads_default_to_the_downloads_folder() {
    let server = TestServer::start();
    server.add_user("ann", UserRole::User);
    server.put("team/a.txt", b"a");
    let mut h = logged_in(&server, "ann", USER_PASSWORD);
    assert!(!shows(&h, "Rename…"), "renaming is for admins");

    click_row(&mut h, "🗀 team");
    h.run();
    h.get_by_label("Download…").click();
    h.run();
    let downloads = gui_client::folders::downloads().display().to_string();
    let field = h.get_by_label("Into folder (full path)");
    assert_eq!(field.value().as_deref(), Some(downloads.as_str()));
}

#[test]
fn a_file_goes_into_the_folder_on_screen_and_comes_back_under_its_own_name() {
    let server = TestServer::start();
    server.admin().mkdir("team").unwrap();
    let local = Local::new();
    let notes = local.file("notes.txt", b"in the team folder");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    open_row(&mut h, "🗀 team");
    wait_for(&mut h, "the folder team", |app| {
        app.files().folder.as_deref() == Some("team") && app.files().loaded
    });

    drop_files(&mut h, &[notes]);
    wait_for(&mut h, "the upload into team", |app| {
        app.files().contains("team/notes.txt")
    });
    assert_eq!(server.get("team/notes.txt", None), b"in the team folder");

    click_row(&mut h, "notes.txt");
    h.run();
    h.get_by_label("Download…").click();
    h.run();
    let field = h.get_by_label("Save as (full path)");
    let offered = field.value().unwrap_or_default();
    assert!(
        offered.ends_with("/notes.txt"),
        "saved under its last part: {offered}"
    );
    let dest = local.path("back.txt");
    type_into(&mut h, "Save as (full path)", &dest.display().to_string());
    h.get_by_label("Download").click();
    wait_for(&mut h, "the download", |app| {
        app.transfers()
            .rows
            .get(1)
            .is_some_and(|t| t.state == TransferState::Done)
    });
    assert_eq!(fs::read(&dest).unwrap(), b"in the team folder");
}

/// A server slowed to 2 MiB/s holding `media/`: a 6 MiB clip made from
/// `seed`, and a small file.
fn slow_media_server(seed: u64) -> TestServer {
    let server = TestServer::start_tls_with(|c| c.rate_limit = Some(2 << 20));
    server.put("media/clip.bin", &payload(6 << 20, seed));
    server.put("media/small.txt", b"small");
    server
}

/// An admin's app downloading `media/` from `server` into `into`, a few
/// MiB of it arrived.
fn media_download_underway(server: &TestServer, into: &Path) -> AppHarness {
    let mut h = logged_in(server, "admin", ADMIN_PASSWORD);
    h.state_mut()
        .start_downloads_into(vec!["media".to_owned()], into);
    wait_for(&mut h, "a few MiB to move", |app| {
        let row = &app.transfers().rows[0];
        row.done > 2 << 20 && row.state == TransferState::Transferring
    });
    h
}

#[test]
fn a_folder_download_pauses_and_resumes_where_it_stopped() {
    let server = slow_media_server(3);
    let local = Local::new();
    let mut h = media_download_underway(&server, local.dir.path());
    h.get_by_label("Pause").click();
    wait_for(&mut h, "the pause", |app| {
        app.transfers().rows[0].state == TransferState::Paused
    });
    let part = local.path("media/clip.bin.part");
    assert!(part.is_file(), "the cut file waits in its .part");
    assert!(!local.path("media/clip.bin").exists());
    h.get_by_label("Resume").click();
    let note = finished_row(&mut h, 0, "the end");
    assert!(note.contains("continued, not fetched again"), "{note}");
    assert_eq!(
        fs::read(local.path("media/clip.bin")).unwrap(),
        payload(6 << 20, 3)
    );
    assert_eq!(fs::read(local.path("media/small.txt")).unwrap(), b"small");
}

#[test]
fn a_cancelled_folder_download_keeps_whole_files_and_no_partial_ones() {
    let server = slow_media_server(4);
    let local = Local::new();
    let mut h = media_download_underway(&server, local.dir.path());
    h.get_by_label("Cancel").click();
    wait_for(&mut h, "the cancel", |app| {
        app.transfers().rows[0].state == TransferState::Cancelled
    });
    assert_eq!(fs::read(local.path("media/small.txt")).unwrap(), b"small");
    let left: Vec<String> = tree(&local.path("media"))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(left, ["small.txt"], "no .part or sidecar is left");
}

#[test]
fn a_folder_on_both_sides_is_overwritten_or_kept_beside_as_the_user_chooses() {
    let server = TestServer::start();
    server.add_user("ann", UserRole::User);
    let local = Local::new();
    let project = local.path("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("a.txt"), b"one").unwrap();
    fs::write(project.join("same.txt"), b"same").unwrap();
    let mut h = logged_in(&server, "ann", USER_PASSWORD);
    drop_files(&mut h, std::slice::from_ref(&project));
    finished_row(&mut h, 0, "the first upload");

    // Up, Keep both: the changed file goes beside the server's as _v2.
    fs::write(project.join("a.txt"), b"two").unwrap();
    drop_files(&mut h, std::slice::from_ref(&project));
    wait_for_text(&mut h, "The server already has a folder “project”");
    h.get_by_label("Keep both (store yours as name_v2…)")
        .click();
    finished_row(&mut h, 1, "the upload keeping both");
    assert_eq!(server.get("project/a.txt", None), b"one");
    assert_eq!(server.get("project/a_v2.txt", None), b"two");
    assert_eq!(server.admin().history("project/same.txt").unwrap().len(), 1);

    // Up, Overwrite: the changed file becomes a new version of the same name.
    fs::write(project.join("a.txt"), b"three").unwrap();
    drop_files(&mut h, std::slice::from_ref(&project));
    wait_for_text(&mut h, "The server already has a folder “project”");
    h.get_by_label("Overwrite them (keep history)").click();
    finished_row(&mut h, 2, "the overwriting upload");
    assert_eq!(server.get("project/a.txt", None), b"three");
    assert_eq!(server.get("project/a.txt", Some(1)), b"one", "history kept");
    assert_eq!(server.admin().history("project/same.txt").unwrap().len(), 1);

    // Down into a folder holding an older project: Keep both saves the
    // server's folder beside it, "project (2)", and leaves the old one be.
    let downloads = Local::new();
    let mine = downloads.path("project");
    fs::create_dir_all(&mine).unwrap();
    fs::write(mine.join("a.txt"), b"mine").unwrap();
    let into = downloads.dir.path().display().to_string();
    click_row(&mut h, "🗀 project");
    h.run();
    h.get_by_label("Download…").click();
    h.run();
    type_into(&mut h, "Into folder (full path)", &into);
    h.get_by_label("Download").click();
    wait_for_text(&mut h, "This computer already has");
    h.get_by_label("Keep both (download into project (2))")
        .click();
    finished_row(&mut h, 3, "the download keeping both");
    assert_eq!(fs::read(mine.join("a.txt")).unwrap(), b"mine");
    assert_eq!(tree(&mine).len(), 1, "nothing added to the user's folder");
    let copy = downloads.path("project (2)");
    assert_eq!(fs::read(copy.join("a.txt")).unwrap(), b"three");
    assert_eq!(fs::read(copy.join("a_v2.txt")).unwrap(), b"two");
    assert_eq!(fs::read(copy.join("same.txt")).unwrap(), b"same");

    // Again, Overwrite: the user's different file is replaced.
    h.get_by_label("Download…").click();
    h.run();
    type_into(&mut h, "Into folder (full path)", &into);
    h.get_by_label("Download").click();
    wait_for_text(&mut h, "This computer already has");
    h.get_by_label("Overwrite them").click();
    finished_row(&mut h, 4, "the overwriting download");
    assert_eq!(fs::read(mine.join("a.txt")).unwrap(), b"three");
    assert_eq!(fs::read(mine.join("same.txt")).unwrap(), b"same");
    assert!(
        !downloads.path("project (3)").exists(),
        "no other copy made"
    );
}

/// Starts downloading the server's `media` folder into `into` on a
/// logged-in app and logs out once a few MiB have arrived: the settings
/// that keep it for the next login.
fn log_out_mid_folder_download(server: &TestServer, into: &Path) -> Settings {
    let mut h = media_download_underway(server, into);
    h.get_by_label("Log out").click();
    settle(&mut h);
    h.get_by_label("Stop them and log out").click();
    settle(&mut h);
    let settings = h.state().settings().clone();
    assert_eq!(settings.saved_transfers.len(), 1, "the folder is kept");
    settings
}

#[test]
fn a_folder_download_kept_at_log_out_continues_at_the_next_login_or_is_discarded() {
    let server = slow_media_server(5);
    let local = Local::new();
    let part = local.path("media/clip.bin.part");

    // Continue: the cut file goes on from its partial file.
    let settings = log_out_mid_folder_download(&server, local.dir.path());
    assert!(part.is_file(), "the cut file waits in its .part");
    let mut h = harness(server.app_with(&settings));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for_text(&mut h, "Continue 1 unfinished transfer?");
    assert!(shows(&h, "⬇ folder media to"));
    h.get_by_label("Continue").click();
    let note = finished_row(&mut h, 0, "the continued folder download");
    assert!(note.contains("continued, not fetched again"), "{note}");
    assert_eq!(
        fs::read(local.path("media/clip.bin")).unwrap(),
        payload(6 << 20, 5)
    );
    assert_eq!(fs::read(local.path("media/small.txt")).unwrap(), b"small");
    drop(h);

    // Discard: the partial files go, and nothing is offered again.
    let elsewhere = Local::new();
    let settings = log_out_mid_folder_download(&server, elsewhere.dir.path());
    assert!(elsewhere.path("media/clip.bin.part").is_file());
    let mut h = harness(server.app_with(&settings));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for_text(&mut h, "Continue 1 unfinished transfer?");
    h.get_by_label("Discard").click();
    settle(&mut h);
    let part = elsewhere.path("media/clip.bin.part");
    let sidecar = elsewhere.path("media/clip.bin.part.json");
    wait_for(&mut h, "the partial files to go", |_| {
        !part.exists() && !sidecar.exists()
    });
    assert!(h.state().transfers().rows.is_empty());
    assert!(h.state().settings().saved_transfers.is_empty());
}
