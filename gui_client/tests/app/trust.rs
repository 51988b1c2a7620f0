//! Trusting servers through the app, over real TLS handshakes: the
//! first-connect dialog with the server's fingerprint (compare it, by eye
//! or by pasting the administrator's; trust, or cancel and nothing is
//! pinned), the red warning when a trusted address shows
//! another certificate (no button to connect anyway, only the fingerprint
//! the administrator gave), the padlock in the top bar, the plaintext
//! checkbox, and the clear error when TLS is on one side only.

use crate::support::*;
use egui_kittest::kittest::{NodeT, Queryable};
use ferry_client::Verified;
use ferry_proto::protocol::Role;
use gui_client::settings::{MemoryStorage, Settings};
use gui_client::worker::TrustQuestion;

/// Logs in to `server` with a fresh app that has never seen it, and waits
/// for the question about its certificate.
fn asked(server: &TestServer) -> AppHarness {
    let mut h = harness(server.new_app_with(&Settings::default()));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the question about the certificate", |app| {
        app.trust_prompt().is_some()
    });
    h
}

fn is_disabled(h: &AppHarness, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().is_disabled()
}

#[test]
fn a_new_server_shows_its_fingerprint_and_trusting_it_logs_in_pinned() {
    let server = TestServer::start();
    let fingerprint = server.fingerprint();
    let mut h = asked(&server);

    assert!(shows(&h, "Do you trust this server?"), "{:?}", labels(&h));
    assert!(shows_exactly(&h, &fingerprint), "{:?}", labels(&h));
    assert!(shows(&h, &format!("first connection to {}", server.addr)));
    assert!(shows(&h, "ferry-server --data DIR fingerprint"));
    assert!(shows(&h, "the server printed when it started"));
    assert_eq!(h.state().role(), None, "not logged in before trusting");
    assert_eq!(server.pinned(&server.addr), None, "nothing pinned yet");

    h.get_by_label("Copy").click();
    h.step();
    let copied = h
        .output()
        .platform_output
        .commands
        .iter()
        .any(|c| matches!(c, egui::OutputCommand::CopyText(text) if *text == fingerprint));
    assert!(copied, "the Copy button copies the fingerprint");
    h.step();
    assert!(shows(&h, "Copied"));

    h.get_by_label("Trust and connect").click();
    wait_for(&mut h, "the login", |app| {
        app.role() == Some(Role::Admin) && app.files().loaded
    });
    assert!(h.state().trust_prompt().is_none());
    assert_eq!(server.pinned(&server.addr), Some(fingerprint.clone()));
    let secured = h.state().secured().expect("the padlock's state");
    assert_eq!(secured.verified, Verified::Pinned);
    assert_eq!(secured.fingerprint.as_deref(), Some(fingerprint.as_str()));
    assert!(
        shows(&h, "🔒 Encrypted, trusted fingerprint"),
        "{:?}",
        labels(&h)
    );

    // The next login to it asks nothing.
    h.get_by_label("Log out").click();
    h.run();
    assert!(h.state().secured().is_none());
    type_into(&mut h, "Password", ADMIN_PASSWORD);
    h.get_by_label("Log in").click();
    wait_for(&mut h, "the second login", |app| app.files().loaded);
    assert!(h.state().trust_prompt().is_none());
    assert!(shows(&h, "trusted fingerprint"));
}

#[test]
fn cancelling_the_first_connect_dialog_logs_in_nowhere_and_pins_nothing() {
    let server = TestServer::start();
    let mut h = asked(&server);
    h.get_by_label("Cancel").click();
    h.run();
    assert!(h.state().trust_prompt().is_none());
    assert_eq!(h.state().role(), None);
    assert!(
        shows(&h, "you did not trust the certificate"),
        "{:?}",
        labels(&h)
    );
    assert!(shows_exactly(&h, "Log in"));
    assert!(!server.known_hosts().exists(), "nothing pinned");

    // Asked again next time, as nothing was remembered.
    type_into(&mut h, "Password", ADMIN_PASSWORD);
    h.get_by_label("Log in").click();
    wait_for(&mut h, "the question again", |app| {
        app.trust_prompt().is_some()
    });
    assert!(shows(&h, "Do you trust this server?"));
}

/// The first-connect dialog's box for the fingerprint to compare.
const COMPARE: &str = "Paste the fingerprint you were given (optional)";

#[test]
fn a_pasted_fingerprint_that_matches_says_so_and_trusting_logs_in() {
    let server = TestServer::start();
    let mut h = asked(&server);
    assert!(
        !is_disabled(&h, "Trust and connect"),
        "comparing is optional"
    );
    // As an administrator might send it: upper case, without the prefix.
    let given = server.fingerprint()["SHA256:".len()..].to_uppercase();
    type_into(&mut h, COMPARE, &given);
    assert!(
        shows(&h, "It matches the fingerprint the server shows now."),
        "{:?}",
        labels(&h)
    );
    assert!(!shows(&h, "That is not"), "{:?}", labels(&h));
    assert!(!is_disabled(&h, "Trust and connect"));
    h.get_by_label("Trust and connect").click();
    wait_for(&mut h, "the login", |app| {
        app.role() == Some(Role::Admin) && app.files().loaded
    });
    assert_eq!(server.pinned(&server.addr), Some(server.fingerprint()));
}

#[test]
fn a_pasted_fingerprint_that_differs_is_a_red_sentence_and_trust_is_disabled() {
    let server = TestServer::start();
    let mut h = asked(&server);
    let other = format!("SHA256:{}", "0".repeat(64));
    type_into(&mut h, COMPARE, &other);
    assert!(
        shows(
            &h,
            "That is not the fingerprint this server shows: do not connect, and tell your administrator."
        ),
        "{:?}",
        labels(&h)
    );
    assert!(!shows(&h, "It matches"));
    assert!(is_disabled(&h, "Trust and connect"));
    // Half a fingerprint cannot be compared either.
    type_into(&mut h, COMPARE, &server.fingerprint()[..40]);
    assert!(shows(&h, "That is not a fingerprint"), "{:?}", labels(&h));
    assert!(is_disabled(&h, "Trust and connect"));
    // An empty box leaves comparing by eye.
    type_into(&mut h, COMPARE, "");
    assert!(!shows(&h, "That is not"), "{:?}", labels(&h));
    assert!(!is_disabled(&h, "Trust and connect"));

    type_into(&mut h, COMPARE, &other);
    h.get_by_label("Trust and connect").click();
    h.run();
    assert!(h.state().trust_prompt().is_some(), "a disabled button");
    h.get_by_label("Cancel").click();
    h.run();
    assert!(h.state().trust_prompt().is_none());
    assert_eq!(h.state().role(), None);
    assert!(!server.known_hosts().exists(), "nothing pinned");
}

#[test]
fn a_changed_certificate_is_a_red_warning_with_no_way_to_click_through() {
    let server = TestServer::start();
    let old = format!("SHA256:{}", "0".repeat(64));
    server
        .app_trust()
        .pin(&server.addr, &old)
        .expect("the old pin");
    let mut h = asked(&server);

    let question = h.state().trust_prompt().unwrap().question.clone();
    assert!(
        matches!(question, TrustQuestion::Changed { .. }),
        "{question:?}"
    );
    assert!(
        shows(
            &h,
            &format!("WARNING: {} is not the server you trusted", server.addr)
        ),
        "{:?}",
        labels(&h)
    );
    assert!(shows(&h, "someone may be intercepting the connection"));
    assert!(shows(&h, "the server got a new certificate"));
    assert!(shows_exactly(&h, &old), "the fingerprint trusted before");
    assert!(
        shows_exactly(&h, &server.fingerprint()),
        "the one shown now"
    );
    assert!(shows(
        &h,
        &format!("ferry-cli trust remove {}", server.addr)
    ));
    assert!(!shows(&h, "Trust and connect"), "no one-click way in");
    assert!(is_disabled(&h, "Replace the fingerprint and connect"));
    assert_eq!(h.state().role(), None);

    // The old fingerprint, or any other, does not open it.
    type_into(&mut h, "New fingerprint from your administrator", &old);
    assert!(shows(&h, "That is not the fingerprint this server shows"));
    assert!(is_disabled(&h, "Replace the fingerprint and connect"));

    h.get_by_label("Do not connect").click();
    h.run();
    assert!(h.state().trust_prompt().is_none());
    assert_eq!(h.state().role(), None);
    assert!(shows(&h, "Server not verified"));
    assert!(shows(
        &h,
        "shows another certificate than the one you trusted"
    ));
    assert_eq!(
        server.pinned(&server.addr),
        Some(old),
        "the pin is unchanged"
    );
}

#[test]
fn the_new_fingerprint_from_the_administrator_replaces_the_old_one() {
    let server = TestServer::start();
    let old = format!("SHA256:{}", "0".repeat(64));
    server.app_trust().pin(&server.addr, &old).unwrap();
    let mut h = asked(&server);

    // As an administrator might send it: upper case, without the prefix.
    let given = server.fingerprint()["SHA256:".len()..].to_uppercase();
    type_into(&mut h, "New fingerprint from your administrator", &given);
    assert!(shows(
        &h,
        "It matches the fingerprint the server shows now."
    ));
    assert!(!is_disabled(&h, "Replace the fingerprint and connect"));
    h.get_by_label("Replace the fingerprint and connect")
        .click();
    wait_for(&mut h, "the login", |app| app.files().loaded);
    assert_eq!(server.pinned(&server.addr), Some(server.fingerprint()));
    assert!(shows(&h, "trusted fingerprint"));
}

#[test]
fn plaintext_ticked_for_a_plaintext_server_logs_in_with_a_warning() {
    let server = TestServer::start_plaintext();
    let mut h = harness(server.app());
    assert!(!h.state().login_form().plaintext, "TLS unless asked");
    h.get_by_label("Plaintext (not encrypted)").click();
    h.step();
    assert!(shows(&h, "will cross the network unencrypted"));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the login", |app| app.files().loaded);
    let secured = h.state().secured().unwrap();
    assert_eq!(
        (secured.verified, secured.fingerprint.clone()),
        (Verified::Plaintext, None)
    );
    assert!(shows(&h, "⚠ Not encrypted (plaintext)"), "{:?}", labels(&h));
    assert!(!server.known_hosts().exists(), "nothing to pin");

    // Remembered with the server, like the other fields.
    let mut storage = MemoryStorage::default();
    h.state().save_settings(&mut storage);
    let settings = Settings::load(Some(&storage));
    assert!(settings.recent[0].plaintext);
    let again = harness(server.app_with(&settings));
    assert!(again.state().login_form().plaintext);
}

#[test]
fn tls_on_one_side_only_is_one_clear_sentence() {
    let plain = TestServer::start_plaintext();
    let mut h = harness(plain.app());
    login(&mut h, &plain.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the refusal", |app| {
        app.login_form().error.is_some()
    });
    assert!(shows(&h, "Encryption setting does not match the server"));
    assert!(
        shows(
            &h,
            &format!(
                "{} answered without encryption (its server runs with --plaintext); tick \
                 “Plaintext (not encrypted)” only if you trust this network",
                plain.addr
            )
        ),
        "{:?}",
        labels(&h)
    );
    assert!(h.state().trust_prompt().is_none());

    let tls = TestServer::start();
    let mut h = harness(tls.app());
    h.get_by_label("Plaintext (not encrypted)").click();
    login(&mut h, &tls.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the refusal", |app| {
        app.login_form().error.is_some()
    });
    assert!(shows(&h, "Encryption setting does not match the server"));
    assert!(shows(
        &h,
        &format!(
            "{} speaks only TLS; untick “Plaintext (not encrypted)” and log in again.",
            tls.addr
        )
    ));
    assert_eq!(h.state().role(), None);
}
