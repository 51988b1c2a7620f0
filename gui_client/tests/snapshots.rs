//! Rendered images of single panels, compared with the references in
//! `tests/snapshots/`. They render headless through wgpu (Mesa's software
//! renderer on Linux). To accept a deliberate change:
//! `UPDATE_SNAPSHOTS=1 cargo test -p gui_client --test snapshots`.
//!
//! The panels are fed fixed state (no server, no clock-dependent text), so
//! the pictures only change when the drawing does.
//!
//! Rendering needs a wgpu adapter; on Linux that is Mesa (`libegl1
//! libgl1-mesa-dri`). Without one these tests say so and pass, so a bare
//! machine can still run `cargo test`; set `FERRY_REQUIRE_SNAPSHOTS=1` to
//! make a missing renderer a failure instead.

use std::path::PathBuf;

use egui_kittest::wgpu::WgpuTestRenderer;
use egui_kittest::{Harness, HarnessBuilder};
use ferry_client::Verified;
use ferry_client::transfer::UploadReport;
use ferry_client::{Stage, Stored};
use ferry_proto::hash::md5_bytes;
use ferry_proto::protocol::Role;
use ferry_proto::protocol::{FileEntry, FolderEntry, VersionInfo};
use gui_client::local_file::{Digest, LocalFacts, Probed};
use gui_client::panels::top_bar::{self, Who};
use gui_client::panels::{dialogs, login, transfers, trust};
use gui_client::settings::RecentServer;
use gui_client::state::conflicts::{Conflict, Conflicts};
use gui_client::state::files::FileTable;
use gui_client::state::login::LoginForm;
use gui_client::state::main_screen::Tab;
use gui_client::state::transfers::{Direction, Transfers};
use gui_client::state::trust::{Secured, TrustPrompt};
use gui_client::worker::TrustQuestion;
use gui_client::worker::{LoginProblem, TransferUpdate};

/// A harness builder that renders with wgpu, or `None` (after saying why)
/// when this machine has no adapter.
fn builder<S>() -> Option<HarnessBuilder<S>> {
    // The renderer panics when no adapter exists; that is the signal.
    match std::panic::catch_unwind(WgpuTestRenderer::new) {
        Ok(renderer) => Some(Harness::builder().renderer(renderer)),
        Err(_) if std::env::var_os("FERRY_REQUIRE_SNAPSHOTS").is_some() => {
            panic!("no wgpu adapter to render snapshots with (install libegl1 libgl1-mesa-dri)")
        }
        Err(_) => {
            eprintln!(
                "snapshot skipped: no wgpu adapter on this machine \
                 (install libegl1 libgl1-mesa-dri to render snapshots)"
            );
            None
        }
    }
}

fn progress(stage: Stage, done: u64, total: u64, speed: f64) -> TransferUpdate {
    TransferUpdate::Progress {
        stage,
        done,
        total,
        speed,
    }
}

#[test]
fn login_screen_with_an_error() {
    let form = LoginForm {
        addr: "files.example.lan:7878".into(),
        user: "ann".into(),
        password: "secret".into(),
        remember: true,
        plaintext: false,
        error: Some((
            LoginProblem::WrongPassword,
            "wrong user name or password; check both and try again".into(),
        )),
        busy: false,
        busy_since: None,
    };
    let recent = vec![RecentServer {
        addr: "files.example.lan:7878".into(),
        user: "ann".into(),
        plaintext: false,
    }];
    let Some(builder) = builder() else {
        return;
    };
    let mut h = builder.with_size([640.0, 560.0]).build_ui_state(
        move |ui, form: &mut LoginForm| {
            egui::CentralPanel::default().show(ui, |ui| {
                login::show(ui, form, &recent);
            });
        },
        form,
    );
    h.run();
    h.snapshot("login_error");
}

#[test]
fn transfers_panel_in_every_state() {
    let mut t = Transfers::default();
    let running = t.add_download(
        "Quarterly report.pdf",
        None,
        PathBuf::from("/home/ann/report.pdf"),
    );
    t.apply(running, TransferUpdate::Connecting);
    t.apply(
        running,
        progress(
            Stage::Transferring,
            42 << 20,
            100 << 20,
            12.5 * 1024.0 * 1024.0,
        ),
    );
    let done = t.add_upload(PathBuf::from("/home/ann/photos.zip"), "photos.zip", 1);
    t.apply(done, progress(Stage::Transferring, 8 << 20, 8 << 20, 1e7));
    t.apply(
        done,
        TransferUpdate::Uploaded(UploadReport {
            stored: Stored {
                name: "photos_v2.zip".into(),
                version: 1,
                size: 8 << 20,
                md5: md5_bytes(b"photos"),
            },
            resumed_from: 0,
            retries: 0,
        }),
    );
    let failed = t.add_download("old.iso", Some(2), PathBuf::from("/home/ann/old.iso"));
    t.apply(
        failed,
        TransferUpdate::Failed(
            "there is no file named \"old.iso\"; check the name with LIST".into(),
        ),
    );
    let paused = t.add_download("video.mp4", None, PathBuf::from("/home/ann/video.mp4"));
    t.apply(
        paused,
        progress(Stage::Transferring, 300 << 20, 1 << 30, 0.0),
    );
    t.pause(paused);
    t.apply(paused, TransferUpdate::Paused);
    let waiting = t.add_upload(PathBuf::from("/home/ann/notes.txt"), "notes.txt", 2);
    t.apply(waiting, TransferUpdate::NameTaken);

    let Some(builder) = builder() else {
        return;
    };
    let mut h = builder.with_size([1100.0, 300.0]).build_ui_state(
        |ui, t: &mut Transfers| {
            egui::CentralPanel::default().show(ui, |ui| {
                transfers::show(ui, t);
            });
        },
        t,
    );
    h.run();
    h.snapshot("transfers_panel");
}

#[test]
fn conflict_dialog() {
    let mut conflicts = Conflicts::default();
    for (transfer, name) in [(1, "budget.xlsx"), (2, "plan.txt"), (3, "memo.txt")] {
        conflicts.push(Conflict {
            transfer,
            name: name.into(),
            batch: 1,
            download_to: None,
            copy_name: None,
            local: Some(PathBuf::from(format!("/home/ann/{name}"))),
            folder: false,
        });
    }
    // The local side as the probe finds it (no time: no time-zone-dependent text).
    conflicts.to_probe();
    conflicts.learned(Probed {
        key: 1,
        facts: Ok(LocalFacts {
            size: 48_213,
            modified: None,
            md5: Digest::Unneeded,
        }),
    });
    // A listing without the file keeps clock-dependent text out of the picture.
    let mut files = FileTable::default();
    files.set_entries(Vec::<FileEntry>::new());
    let Some(builder) = builder() else {
        return;
    };
    let mut h = builder.with_size([640.0, 400.0]).build_ui_state(
        move |ui, conflicts: &mut Conflicts| {
            dialogs::conflict(ui, conflicts, &files);
        },
        conflicts,
    );
    h.run();
    h.snapshot("conflict_dialog");
}

const FINGERPRINT: &str = "SHA256:3f9a0c5e1b7d2468ace0f13579bdf2468ace13579bdf02468ace13579bdf0246";
const OLD_FINGERPRINT: &str =
    "SHA256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn trust_snapshot(name: &str, prompt: TrustPrompt) {
    let Some(builder) = builder() else {
        return;
    };
    let mut h = builder.with_size([760.0, 560.0]).build_ui_state(
        |ui, prompt: &mut TrustPrompt| {
            trust::show(ui, prompt);
        },
        prompt,
    );
    h.run();
    h.snapshot(name);
}

#[test]
fn first_connect_dialog() {
    trust_snapshot(
        "trust_new_server",
        TrustPrompt::new(TrustQuestion::New {
            addr: "files.example.lan:7878".into(),
            fingerprint: FINGERPRINT.into(),
        }),
    );
}

#[test]
fn first_connect_dialog_with_the_fingerprint_pasted_to_compare() {
    let mut prompt = TrustPrompt::new(TrustQuestion::New {
        addr: "files.example.lan:7878".into(),
        fingerprint: FINGERPRINT.into(),
    });
    prompt.typed = FINGERPRINT.into();
    trust_snapshot("trust_new_server_matched", prompt);
}

#[test]
fn changed_certificate_warning() {
    trust_snapshot(
        "trust_changed_server",
        TrustPrompt::new(TrustQuestion::Changed {
            addr: "files.example.lan:7878".into(),
            pinned: OLD_FINGERPRINT.into(),
            presented: FINGERPRINT.into(),
            place: "/home/ann/.config/ferry/known_hosts".into(),
        }),
    );
}

#[test]
fn top_bar_with_each_padlock() {
    let states = [
        Secured {
            verified: Verified::Pinned,
            fingerprint: Some(FINGERPRINT.into()),
        },
        Secured {
            verified: Verified::Authority,
            fingerprint: Some(FINGERPRINT.into()),
        },
        Secured {
            verified: Verified::Plaintext,
            fingerprint: None,
        },
    ];
    let Some(builder) = builder() else {
        return;
    };
    let mut h = builder.with_size([1100.0, 130.0]).build_ui(move |ui| {
        for (i, secured) in states.iter().enumerate() {
            egui::Panel::top(format!("bar-{i}")).show(ui, |ui| {
                let who = Who {
                    user: "ann",
                    addr: "files.example.lan:7878",
                    role: Some(Role::Admin),
                    secured: Some(secured),
                };
                top_bar::show(ui, Tab::Files, true, Some(who));
            });
        }
    });
    h.run();
    h.snapshot("top_bar_padlocks");
}

/// The main screen laid out as the app lays it out, at the window's
/// minimum size (640×420, `main.rs`), inside a folder with a folder
/// download running: nothing may overlap.
#[test]
fn main_screen_at_the_minimum_window_size() {
    use gui_client::panels::{files, status_bar};
    use gui_client::state::main_screen::Status;

    let mut t = Transfers::default();
    let running = t.add_download(
        "Quarterly report.pdf",
        None,
        PathBuf::from("/home/ann/r.pdf"),
    );
    t.apply(running, TransferUpdate::Connecting);
    t.apply(
        running,
        progress(
            Stage::Transferring,
            42 << 20,
            100 << 20,
            12.5 * 1024.0 * 1024.0,
        ),
    );
    let folder = t.add_folder(
        Direction::Download,
        "team/reports/2026",
        PathBuf::from("/home/ann/2026"),
        1,
    );
    t.apply(folder, TransferUpdate::Connecting);
    t.apply(
        folder,
        TransferUpdate::Files {
            done: 12,
            total: 40,
        },
    );
    t.apply(
        folder,
        progress(
            Stage::Transferring,
            30 << 20,
            80 << 20,
            9.0 * 1024.0 * 1024.0,
        ),
    );
    let mut table = FileTable::default();
    table.open(Some("team/reports".into()));
    let created = ferry_proto::time::Timestamp(1_764_000_000);
    table.set_listing(
        vec![FolderEntry {
            path: "team/reports/2026".into(),
            created,
        }],
        vec![FileEntry {
            current: VersionInfo {
                name: "team/reports/summary.pdf".into(),
                version: 2,
                size: 180_000,
                md5: md5_bytes(b"summary"),
                modified: created,
                uploader: "ann".into(),
            },
            versions: 2,
        }],
    );
    table.refreshed_at = None;
    let secured = Secured {
        verified: Verified::Pinned,
        fingerprint: Some(FINGERPRINT.into()),
    };
    let status = Status {
        text: "Queued 1 upload.".into(),
        error: false,
    };
    let Some(builder) = builder() else {
        return;
    };
    let mut h = builder.with_size([640.0, 420.0]).build_ui_state(
        move |ui, table: &mut FileTable| {
            egui::Panel::top("top-bar").show(ui, |ui| {
                let who = Who {
                    user: "ann",
                    addr: "files.example.lan:7878",
                    role: Some(Role::Admin),
                    secured: Some(&secured),
                };
                top_bar::show(ui, Tab::Files, true, Some(who));
            });
            egui::Panel::bottom("status-bar").show(ui, |ui| {
                status_bar::show(ui, Some(&status), None);
            });
            egui::Panel::bottom("transfers")
                .resizable(true)
                .default_size(gui_client::app::TRANSFERS_HEIGHT)
                .min_size(80.0)
                .show(ui, |ui| {
                    ui.add_space(4.0);
                    transfers::show(ui, &t);
                });
            egui::CentralPanel::default().show(ui, |ui| {
                let cx = files::FilesContext {
                    is_admin: true,
                    ..Default::default()
                };
                files::show(ui, table, cx);
            });
        },
        table,
    );
    h.run();
    h.snapshot("main_screen_minimum_size");
}
