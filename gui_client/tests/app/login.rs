//! Logging in and out through the login screen, against a real server:
//! typing into the form, a clear message for each kind of failure, and
//! what is remembered for the next start.

use crate::support::*;
use egui_kittest::kittest::Queryable;
use ferry_proto::protocol::Role;
use gui_client::settings::{MemoryStorage, STORAGE_KEY, Settings};

#[test]
fn logging_in_by_typing_with_clear_messages_for_each_failure() {
    let server = TestServer::start();
    let mut h = harness(server.app());
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
    assert!(shows(&h, "drop files or folders onto this window"));

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
    let mut again = harness(server.app_with(&settings));
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
    let mut h = harness(server.app());
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
