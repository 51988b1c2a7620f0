//! `ferry`: the Ferry desktop app. This only opens the window; everything
//! else lives in the `gui_client` library.

use std::path::PathBuf;

use gui_client::{AppOptions, FerryApp};

fn main() -> eframe::Result {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let options = AppOptions {
        server: env("FERRY_SERVER"),
        user: env("FERRY_USER"),
        password: env("FERRY_PASSWORD"),
        logs_dir: env("FERRY_LOGS").map(PathBuf::from),
        init_logging: true,
        native_dialogs: true,
        state_dir: ferry_client::transfer::default_state_dir(),
        local_os: None,
        // The user's own: the system's authorities and the known-hosts
        // file the CLI uses too ($FERRY_KNOWN_HOSTS moves it).
        trust: None,
    };
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Ferry")
            .with_app_id("ferry")
            .with_inner_size([1100.0, 720.0])
            .with_min_inner_size([640.0, 420.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "Ferry",
        native,
        Box::new(move |cc| Ok(Box::new(FerryApp::new(cc.storage, options)))),
    )
}
