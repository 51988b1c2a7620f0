//! Runs the whole tool in `--quick` mode, as CI does on every change, so
//! that it cannot rot: every figure must be measured, with no errors and
//! no corrupted data. Whether targets are met is for the full run to say.

use std::process::Command;

use serde_json::Value;

/// Every figure `ferry-bench all` reports.
const FIGURES: &[&str] = &[
    "md5sum_baseline",
    "md5_baseline",
    "md5_crate_baseline",
    "tcp_baseline",
    "disk_baseline",
    "upload_large",
    "download_large",
    "upload_large_tls",
    "download_large_tls",
    "small_upload_1",
    "small_download_1",
    "small_upload_1_tls",
    "small_download_1_tls",
    "requests_1_tls",
    "small_upload_8",
    "small_download_8",
    "tree_upload",
    "tree_download",
    "list",
    "concurrent",
    "rss_concurrent",
    "rss_idle",
    "rss_idle_small",
    "rss_idle_large",
    "rss_idle_large_tls",
    "mirror_1",
    "mirror_4",
    "load_ops",
    "load_idle",
    "load_rss",
];

#[test]
fn quick_run_measures_every_figure_without_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("results.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ferry-bench"))
        .arg("--quick")
        .arg("--json")
        .arg(&json)
        .arg("all")
        .current_dir(dir.path())
        .output()
        .expect("ferry-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ferry-bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("figure"), "no table on stdout:\n{stdout}");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON written"))
            .expect("valid JSON");
    assert_eq!(report["quick"], true);
    assert!(report["machine"]["nproc"].as_u64().unwrap_or(0) > 0);
    assert!(!report["date"].as_str().unwrap_or("").is_empty());
    let figures = report["figures"].as_array().expect("a figure list");
    for id in FIGURES {
        let figure = figures
            .iter()
            .find(|f| f["id"] == *id)
            .unwrap_or_else(|| panic!("figure {id} is missing\n{stdout}"));
        let value = figure["value"].as_f64();
        assert!(
            value.is_some_and(|v| v > 0.0),
            "figure {id} has no positive value: {figure}"
        );
        assert_eq!(figure["errors"], 0, "figure {id} had errors: {figure}");
        assert_eq!(
            figure["corrupted"], 0,
            "figure {id} had corrupted data: {figure}"
        );
    }
    assert_eq!(
        figures.len(),
        FIGURES.len(),
        "unexpected extra figures: {stdout}"
    );
}
