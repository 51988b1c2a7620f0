//! What each role sees and may do, against a real server: no admin panel
//! for plain users, changing one's own password, managing users and
//! reading the server log as an admin, and the client log panel.

use crate::support::*;
use egui_kittest::kittest::Queryable;
use ferry_proto::protocol::Role;
use gui_client::app::Tab;
use gui_client::state::transfers::TransferState;

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
    assert!(server.login_as("bob", "bob-secret-2").is_ok());
    assert!(server.login_as("bob", USER_PASSWORD).is_err());
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
    type_into(&mut h, "Repeat", "carol-secret-1");
    h.get_by_label("Add user").click();
    wait_for(&mut h, "carol", |app| {
        app.status().is_some_and(|s| s.text.contains("added carol"))
    });
    wait_for_text(&mut h, "Make carol admin");
    assert!(server.login_as("carol", "carol-secret-1").is_ok());

    // Make her admin, after confirming.
    h.get_by_label("Make carol admin").click();
    h.run();
    assert!(shows(&h, "Make “carol” an admin?"));
    h.get_by_label("Make admin").click();
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
    assert!(server.login_as("carol", "carol-secret-1").is_err());

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
    assert!(server.login_as("admin", "admin-secret-2").is_ok());

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
fn the_add_user_form_keeps_its_fields_and_wants_the_password_twice() {
    use egui_kittest::kittest::NodeT;
    let server = TestServer::start();
    server.add_user("dave", Role::User);
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    h.get_by_label("Users").click();
    wait_for_text(&mut h, "Make dave admin");

    type_into(&mut h, "Name", "dave");
    type_into(&mut h, "Password", "dave-secret-9");
    type_into(&mut h, "Repeat", "dave-secret-8");
    assert!(shows(&h, "The two passwords differ."));
    assert!(h.get_by_label("Add user").accesskit_node().is_disabled());
    type_into(&mut h, "Repeat", "dave-secret-9");
    // The name exists: the server refuses, and the form keeps what was typed.
    h.get_by_label("Add user").click();
    wait_for(&mut h, "the refusal", |app| {
        app.status().is_some_and(|s| s.error)
    });
    let form = |h: &AppHarness| {
        let users = h.state().users();
        (users.new_name.clone(), users.new_password.clone())
    };
    assert_eq!(form(&h), ("dave".to_owned(), "dave-secret-9".to_owned()));
    // Corrected, it works and the form empties.
    type_into(&mut h, "Name", "erin");
    h.get_by_label("Add user").click();
    wait_for(&mut h, "erin", |app| {
        app.status().is_some_and(|s| s.text.contains("added erin"))
    });
    assert_eq!(form(&h), (String::new(), String::new()));
    assert!(server.login_as("erin", "dave-secret-9").is_ok());

    // A role change asks first; Cancel changes nothing.
    h.get_by_label("Make dave admin").click();
    h.run();
    assert!(shows(&h, "Make “dave” an admin?"));
    h.get_by_label("Cancel").click();
    h.run();
    assert!(
        server
            .admin()
            .users()
            .unwrap()
            .contains(&("dave".to_owned(), Role::User))
    );
}
