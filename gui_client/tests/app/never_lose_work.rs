//! "Never lose work", against real servers: log-out asks while transfers
//! run, the queue survives a log-out and a restart and is offered at the
//! next login, a download onto an existing file asks, a lost server shows
//! "reconnecting" and the list's banner goes once it is back, a server that
//! never greets is given up on, and transfers reuse logged-in connections.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use egui_kittest::kittest::Queryable;
use ferry_client::transfer::{self, Connector, ResumableDownloadOptions};
use ferry_proto::protocol::Role;
use gui_client::settings::Settings;
use gui_client::state::transfers::TransferState;

/// A named pipe: an upload of it holds its transfer slot, blocked on
/// opening it, until the test opens the other end.
fn fifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

/// Lets an upload blocked on opening `pipe` go on (and fail: a pipe cannot
/// be uploaded).
fn release(pipe: &Path) {
    drop(std::fs::OpenOptions::new().write(true).open(pipe).unwrap());
}

/// An admin's app with one transfer slot, held by an upload stuck on
/// opening the named pipe made at `pipe` (until [`release`]).
fn slot_held_by_a_pipe(server: &TestServer, pipe: &Path) -> AppHarness {
    fifo(pipe);
    let mut h = harness(server.app_with(&one_slot()));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the login", |app| app.files().loaded);
    h.state_mut().queue_uploads(vec![pipe.to_owned()]);
    wait_for(&mut h, "the upload to hold the slot", |app| {
        app.transfers().rows[0].state == TransferState::Connecting
    });
    h
}

fn one_slot() -> Settings {
    Settings {
        parallel_transfers: 1,
        ..Settings::default()
    }
}

#[test]
fn logging_out_with_running_transfers_asks_first() {
    let server = TestServer::start();
    let local = Local::new();
    let pipe = local.path("pipe");
    fifo(&pipe);
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);
    h.state_mut().queue_uploads(vec![pipe.clone()]);
    wait_for(&mut h, "the upload to run", |app| {
        app.transfers().active() == 1
    });

    h.get_by_label("Log out").click();
    settle(&mut h);
    assert!(shows(&h, "Log out while transfers are running?"));
    // Escape (or the dialog's Cancel) keeps the session.
    h.key_press(egui::Key::Escape);
    settle(&mut h);
    assert!(!shows(&h, "Log out while transfers are running?"));
    assert!(h.state().role().is_some(), "Cancel keeps the session");
    assert_eq!(h.state().transfers().active(), 1);

    h.get_by_label("Log out").click();
    settle(&mut h);
    h.get_by_label("Stop them and log out").click();
    settle(&mut h);
    assert!(h.state().role().is_none());
    assert!(shows(&h, "Log in"));
    release(&pipe);
}

#[cfg(unix)]
#[test]
fn the_queue_survives_log_out_and_restart_and_continues_where_it_stopped() {
    let server = TestServer::start();
    let content = payload(3 << 20, 7);
    server.put("big.bin", &content);
    server.put("docs/a.txt", b"in a folder");
    server.put("docs/sub/b.txt", b"deeper");
    let local = Local::new();
    let pipe = local.path("notes.txt");
    let dest = local.path("big.bin");

    // The download and the folder download wait for the slot.
    let mut h = slot_held_by_a_pipe(&server, &pipe);
    h.state_mut().start_download("big.bin", None, dest.clone());
    h.state_mut()
        .start_downloads_into(vec!["docs".to_owned()], local.dir.path());
    wait_for(&mut h, "all queued", |app| app.transfers().active() == 3);
    h.get_by_label("Log out").click();
    settle(&mut h);
    h.get_by_label("Stop them and log out").click();
    settle(&mut h);
    let settings = h.state().settings().clone();
    let kept = &settings.saved_transfers;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        (kept[0].addr.as_str(), kept[0].user.as_str()),
        (server.addr.as_str(), "admin")
    );
    assert_eq!(kept[0].transfers.len(), 3);
    release(&pipe);
    drop(h);

    // Meanwhile: the pipe became a file, and half of the download arrived
    // (as if the app had been killed in the middle of it).
    std::fs::remove_file(&pipe).unwrap();
    std::fs::write(&pipe, b"my notes").unwrap();
    let connector = Connector::new(&server.addr, server.security(), "admin", ADMIN_PASSWORD);
    let half = transfer::download(
        &connector,
        "big.bin",
        &dest,
        &ResumableDownloadOptions::default(),
        &mut |p| {
            if p.done >= 1 << 20 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        },
    );
    assert!(half.is_err(), "stopped halfway");
    assert!(transfer::partial_download(&dest).is_some());

    // The restarted app offers them at the next login as the same user.
    let mut h = harness(server.app_with(&settings));
    login(&mut h, &server.addr, "admin", ADMIN_PASSWORD);
    wait_for_text(&mut h, "Continue 3 unfinished transfers?");
    assert!(shows(&h, "⬇ big.bin to"));
    assert!(shows(&h, "⬆ notes.txt from"));
    assert!(shows(&h, "⬇ folder docs to"));
    h.get_by_label("Continue").click();
    wait_for(&mut h, "all three to finish", |app| {
        let rows = &app.transfers().rows;
        rows.len() == 3 && rows.iter().all(|t| t.state == TransferState::Done)
    });
    assert_eq!(std::fs::read(&dest).unwrap(), content);
    let docs = local.path("docs");
    assert_eq!(std::fs::read(docs.join("a.txt")).unwrap(), b"in a folder");
    assert_eq!(std::fs::read(docs.join("sub/b.txt")).unwrap(), b"deeper");
    let download = h
        .state()
        .transfers()
        .rows
        .iter()
        .find(|t| t.name == "big.bin")
        .unwrap();
    let note = download.note.clone().unwrap_or_default();
    assert!(
        note.contains("resumed at"),
        "continued, not restarted: {note}"
    );
    assert_eq!(server.get("notes.txt", None), b"my notes");
    h.state_mut().remember_queue();
    assert!(
        h.state().settings().saved_transfers.is_empty(),
        "nothing left to offer"
    );
}

#[cfg(unix)]
#[test]
fn discarding_the_saved_queue_forgets_it_and_its_partial_downloads_at_any_address() {
    let server = TestServer::start();
    server.put("big.bin", &payload(2 << 20, 3));
    let local = Local::new();
    let pipe = local.path("pipe");
    let dest = local.path("big.bin");
    let mut h = slot_held_by_a_pipe(&server, &pipe);
    h.state_mut().start_download("big.bin", None, dest.clone());
    wait_for(&mut h, "both queued", |app| app.transfers().active() == 2);
    h.state_mut().logout();
    let settings = h.state().settings().clone();
    release(&pipe);
    drop(h);
    std::fs::write(ferry_client::partial::part_path(&dest), b"half").unwrap();

    // The same server by another name: known by its certificate, the
    // queue is offered there too.
    let port = server.addr.rsplit(':').next().unwrap();
    let other_name = format!("localhost:{port}");
    (server.app_trust())
        .pin(&other_name, &server.fingerprint())
        .unwrap();
    let mut h = harness(server.new_app_with(&settings));
    login(&mut h, &other_name, "admin", ADMIN_PASSWORD);
    wait_for_text(&mut h, "Continue 2 unfinished transfers?");
    h.get_by_label("Discard").click();
    settle(&mut h);
    settle(&mut h);
    assert!(!shows(&h, "Continue 2 unfinished transfers?"));
    assert!(h.state().transfers().rows.is_empty());
    assert!(!ferry_client::partial::part_path(&dest).exists());
    assert!(h.state().settings().saved_transfers.is_empty());
}

#[test]
fn downloading_onto_an_existing_file_asks_overwrite_keep_both_or_skip() {
    let server = TestServer::start();
    server.put("a.txt", b"server a");
    server.put("b.txt", b"server b");
    let local = Local::new();
    let a = local.file("a.txt", b"local a");
    let b = local.file("b.txt", b"local b");
    let mut h = logged_in(&server, "admin", ADMIN_PASSWORD);

    // Keep both: saved beside it.
    h.state_mut().start_download("a.txt", None, a.clone());
    settle(&mut h);
    assert!(shows(&h, "“a.txt” already exists"));
    assert!(shows(&h, "This computer already has"));
    h.get_by_label("Keep both (save as a (2).txt)").click();
    wait_for(&mut h, "the copy", |app| {
        app.transfers().rows[0].state == TransferState::Done
    });
    assert_eq!(std::fs::read(&a).unwrap(), b"local a");
    assert_eq!(std::fs::read(local.path("a (2).txt")).unwrap(), b"server a");

    // A batch: Skip for all.
    h.state_mut().start_downloads(vec![
        ("a.txt".into(), None, a.clone()),
        ("b.txt".into(), None, b.clone()),
    ]);
    settle(&mut h);
    h.get_by_label_contains("Apply to all").click();
    settle(&mut h);
    h.get_by_label("Skip").click();
    settle(&mut h);
    let rows = &h.state().transfers().rows;
    assert!(
        rows[1..].iter().all(|t| t.state == TransferState::Skipped),
        "{rows:?}"
    );
    assert!(!h.state().dialog_open());
    assert_eq!(std::fs::read(&b).unwrap(), b"local b");

    // Overwrite.
    h.state_mut().start_download("b.txt", None, b.clone());
    settle(&mut h);
    h.get_by_label("Overwrite the local file").click();
    wait_for(&mut h, "the overwrite", |app| {
        app.transfers().rows.last().unwrap().state == TransferState::Done
    });
    assert_eq!(std::fs::read(&b).unwrap(), b"server b");
}

/// A TCP proxy in front of a server whose network can be cut: all its
/// connections close and new ones are refused until it is restored, on
/// the same address.
struct Proxy {
    addr: String,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = first.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (up2, open2, listen) = (up.clone(), open.clone(), addr.clone());
        std::thread::Builder::new()
            .name("proxy".into())
            .spawn(move || {
                let mut listener = Some(first);
                loop {
                    if !up2.load(Ordering::SeqCst) {
                        listener = None;
                    } else if listener.is_none() {
                        listener = TcpListener::bind(&listen).ok();
                    }
                    if let Some(l) = &listener {
                        l.set_nonblocking(true).unwrap();
                        if let Ok((client, _)) = l.accept() {
                            client.set_nonblocking(false).unwrap();
                            let server = TcpStream::connect(&target).unwrap();
                            pipe(&client, &server, &open2);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
            .unwrap();
        Proxy { addr, up, open }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies both ways between `a` and `b`, keeping both for a cut.
fn pipe(a: &TcpStream, b: &TcpStream, open: &Mutex<Vec<TcpStream>>) {
    for (mut from, mut to) in [
        (a.try_clone().unwrap(), b.try_clone().unwrap()),
        (b.try_clone().unwrap(), a.try_clone().unwrap()),
    ] {
        std::thread::Builder::new()
            .name("proxy-copy".into())
            .spawn(move || {
                let _ = std::io::copy(&mut from, &mut to);
                let _ = to.shutdown(std::net::Shutdown::Both);
            })
            .unwrap();
    }
    let mut open = open.lock().unwrap();
    open.push(a.try_clone().unwrap());
    open.push(b.try_clone().unwrap());
}

#[test]
fn a_lost_server_shows_reconnecting_and_the_list_recovers_when_it_is_back() {
    let server = TestServer::start_plaintext();
    let content = payload(1 << 20, 5);
    server.put("data.bin", &content);
    let proxy = Proxy::start(server.addr.clone());
    let local = Local::new();
    let mut h = harness(server.app());
    h.get_by_label("Plaintext (not encrypted)").click();
    login(&mut h, &proxy.addr, "admin", ADMIN_PASSWORD);
    wait_for(&mut h, "the login", |app| app.files().loaded);

    // The network goes away.
    proxy.cut();
    h.get_by_label("Refresh").click();
    wait_for_text(&mut h, "Could not list the files");
    h.state_mut()
        .start_download("data.bin", None, local.path("data.bin"));
    wait_for_text(&mut h, "reconnecting (attempt 1 of 5)");
    assert!(
        !shows(&h, "/s"),
        "no speed while reconnecting: {:?}",
        labels(&h)
    );

    // It comes back: the download goes on, and the banner goes without a
    // click.
    proxy.restore();
    wait_for(&mut h, "the download and a listing", |app| {
        app.transfers().rows[0].state == TransferState::Done && app.files().error.is_none()
    });
    assert!(!shows(&h, "Could not list the files"));
    assert_eq!(std::fs::read(local.path("data.bin")).unwrap(), content);
}

#[test]
fn a_server_that_never_greets_is_mentioned_then_given_up_on() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::Builder::new()
        .name("silent".into())
        .spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                held.push(stream);
            }
        })
        .unwrap();
    let mut h = harness(gui_client::FerryApp::new(
        None,
        gui_client::AppOptions::default(),
    ));
    h.get_by_label("Plaintext (not encrypted)").click();
    login(&mut h, &addr, "admin", ADMIN_PASSWORD);
    settle(&mut h);
    assert!(shows(&h, "Connecting…"));
    assert!(!shows(&h, "has not answered yet"));
    wait_for_text(&mut h, "The server has not answered yet");
    wait_for_text(&mut h, "did not answer within 15 s");
    assert!(!h.state().login_form().busy);
    assert!(!shows(&h, "has not answered yet"));
}

#[test]
fn transfers_reuse_a_logged_in_connection() {
    let server = TestServer::start();
    server.add_user("ann", Role::User);
    for name in ["a.bin", "b.bin", "c.bin"] {
        server.put(name, &payload(100_000, name.len() as u64));
    }
    let local = Local::new();
    let mut h = harness(server.app_with(&one_slot()));
    login(&mut h, &server.addr, "ann", USER_PASSWORD);
    wait_for(&mut h, "the login", |app| app.files().loaded);
    h.state_mut()
        .start_download("a.bin", None, local.path("a.bin"));
    wait_for(&mut h, "the first download", |app| {
        app.transfers().rows[0].state == TransferState::Done
    });

    // A new login would fail now; the kept connection is logged in already.
    server
        .admin()
        .set_password("ann", "changed-elsewhere-1")
        .unwrap();
    h.state_mut().start_downloads(vec![
        ("b.bin".into(), None, local.path("b.bin")),
        ("c.bin".into(), None, local.path("c.bin")),
    ]);
    wait_for(&mut h, "the next downloads", |app| {
        app.transfers().rows.iter().all(|t| t.state.is_finished())
    });
    for t in &h.state().transfers().rows {
        assert_eq!(t.state, TransferState::Done, "{}: {:?}", t.name, t.state);
    }
    assert_eq!(
        std::fs::read(local.path("c.bin")).unwrap(),
        payload(100_000, 5)
    );
}

#[test]
fn the_transfers_panel_shows_reconnecting_and_the_totals() {
    use ferry_client::Stage;
    use gui_client::state::transfers::Transfers;
    use gui_client::worker::TransferUpdate;

    let mut t = Transfers::default();
    let lost = t.add_download("lost.iso", None, "/tmp/lost.iso".into());
    let fine = t.add_download("fine.iso", None, "/tmp/fine.iso".into());
    let progress = |stage, done: u64| TransferUpdate::Progress {
        stage,
        done: done << 20,
        total: 100 << 20,
        speed: (5 << 20) as f64,
    };
    t.apply(lost, progress(Stage::Transferring, 40));
    t.apply(lost, progress(Stage::Reconnecting { retry: 2, of: 5 }, 40));
    t.apply(fine, progress(Stage::Transferring, 20));
    let mut h = egui_kittest::Harness::builder()
        .with_size([1100.0, 300.0])
        .build_ui_state(
            |ui, t: &mut Transfers| {
                egui::CentralPanel::default().show(ui, |ui| {
                    gui_client::panels::transfers::show(ui, t);
                });
            },
            t,
        );
    h.run_steps(4);
    let on_screen = |text: &str| h.query_all_by_label_contains(text).next().is_some();
    assert!(on_screen("reconnecting (attempt 2 of 5)"));
    assert!(on_screen("Total 60.0 MiB / 200 MiB"));
    // Two speeds: the row still moving bytes, and the total at its speed;
    // none for the row that is reconnecting.
    assert_eq!(h.query_all_by_label_contains("5.0 MiB/s").count(), 2);
    assert!(on_screen("at 5.0 MiB/s"));
}
