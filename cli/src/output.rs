//! Pure formatting of what the CLI prints: human sizes, aligned tables and
//! the one-line results of each command. No I/O here, so every layout is
//! unit-tested; `commands` decides where the text goes.

use std::borrow::Cow;
use std::path::Path;

use ferry_client::Stored;
use ferry_client::mirror::MirrorReport;
use ferry_client::transfer::DownloadReport;
use ferry_proto::Role;
use ferry_proto::names::LocalOs;
use ferry_proto::protocol::VersionInfo;
use unicode_width::UnicodeWidthStr;

/// The line printed for an empty file list (the JSON form is `[]`).
pub const NO_FILES: &str = "No files yet — upload one with: ferry-cli upload PATH";

pub use ferry_proto::units::human_size;

/// Text from the server made safe for a terminal: control and invisible
/// formatting characters are shown escaped instead of being interpreted.
/// The server validates names, but the CLI does not have to trust it.
pub fn safe(text: &str) -> Cow<'_, str> {
    let risky = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    if !text.chars().any(risky) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if risky(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `n` and the word for that many: "1 file", "2 files", "0 files".
pub fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A name in quotes for a sentence, with anything odd escaped.
pub fn quoted(name: &str) -> String {
    format!("{name:?}")
}

/// A column's alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// Lays out a table: one header row, columns two spaces apart, widths by
/// display width (so CJK names line up), no trailing spaces.
pub fn table(columns: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|(h, _)| h.width()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let headers: Vec<String> = columns.iter().map(|(h, _)| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&headers).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[i].saturating_sub(cell.width()));
            if i > 0 {
                line.push_str("  ");
            }
            match columns[i].1 {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The table printed by `list` (and `list FOLDER`, `list --tree`): folders (their
/// path with a trailing `/`, and when they were created) and files, by path.
pub fn entries_table(entries: &[ferry_client::Entry]) -> String {
    if entries.is_empty() {
        return format!("{NO_FILES}\n");
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| match e {
            ferry_client::Entry::Folder(f) => vec![
                format!("{}/", safe(&f.path)),
                "-".to_owned(),
                f.created.to_string(),
                String::new(),
                String::new(),
                String::new(),
            ],
            ferry_client::Entry::File(e) => {
                let v = &e.current;
                vec![
                    safe(&v.name).into_owned(),
                    human_size(v.size),
                    v.modified.to_string(),
                    safe(&v.uploader).into_owned(),
                    e.versions.to_string(),
                    v.md5.to_string(),
                ]
            }
        })
        .collect();
    table(
        &[
            ("NAME", Align::Left),
            ("SIZE", Align::Right),
            ("MODIFIED (UTC)", Align::Left),
            ("UPLOADER", Align::Left),
            ("VERSIONS", Align::Right),
            ("MD5", Align::Left),
        ],
        &rows,
    )
}

/// The table printed by `history`, oldest version first; the newest is
/// marked as current.
pub fn history_table(versions: &[VersionInfo]) -> String {
    let newest = versions.iter().map(|v| v.version).max();
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            let mark = if Some(v.version) == newest {
                " (current)"
            } else {
                ""
            };
            vec![
                format!("{}{mark}", v.version),
                human_size(v.size),
                v.size.to_string(),
                v.md5.to_string(),
                v.modified.to_string(),
                safe(&v.uploader).into_owned(),
            ]
        })
        .collect();
    table(
        &[
            ("VERSION", Align::Left),
            ("SIZE", Align::Right),
            ("BYTES", Align::Right),
            ("MD5", Align::Left),
            ("MODIFIED (UTC)", Align::Left),
            ("UPLOADER", Align::Left),
        ],
        &rows,
    )
}

/// The table printed by `users list`.
pub fn users_table(users: &[(String, Role)]) -> String {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|(name, role)| vec![safe(name).into_owned(), role.to_string()])
        .collect();
    table(&[("USER", Align::Left), ("ROLE", Align::Left)], &rows)
}

/// What `upload` prints for one stored file.
pub fn stored_line(requested: &str, stored: &Stored) -> String {
    let renamed = if stored.name == requested {
        String::new()
    } else {
        format!(" as {}", quoted(&stored.name))
    };
    format!(
        "stored {}{renamed} (version {}, {}, md5 {})",
        quoted(requested),
        stored.version,
        human_size(stored.size),
        stored.md5
    )
}

/// What `download` prints once the file is in place.
pub fn saved_line(name: &str, dest: &Path, got: &DownloadReport) -> String {
    format!(
        "saved {} version {} to {} ({}, md5 {} verified)",
        quoted(name),
        got.version,
        quoted(&dest.display().to_string()),
        human_size(got.size),
        got.md5
    )
}

/// The line printed for a finished multi-mirror download.
pub fn mirrored_line(name: &str, dest: &Path, got: &MirrorReport) -> String {
    let used = got.bytes_per_mirror.iter().filter(|(_, b)| *b > 0).count();
    format!(
        "saved {} to {} ({}, md5 {} verified, from {})",
        quoted(name),
        quoted(&dest.display().to_string()),
        human_size(got.size),
        got.md5,
        counted(used as u64, "mirror", "mirrors")
    )
}

/// The stderr note for a download saved under another name than the
/// server's, because that name cannot be saved on `os` as it is.
pub fn renamed_note(name: &str, local: &str, os: LocalOs) -> String {
    format!(
        "ferry-cli: note: saved {} as {}: {} is not a valid file name on {os}",
        quoted(name),
        quoted(local),
        quoted(name)
    )
}

/// What a multi-mirror download tells the user on stderr: mirrors left out
/// and why, what each delivered, what was continued or repaired.
pub fn mirror_notes(report: &MirrorReport) -> Vec<String> {
    let mut notes: Vec<String> = report
        .excluded
        .iter()
        .map(|(addr, why)| format!("ferry-cli: mirror {addr} {why} — excluded"))
        .collect();
    // The client library's words for a mirror whose certificate it could
    // not verify (unknown, changed, invalid, or TLS on one side only).
    if report
        .excluded
        .iter()
        .any(|(_, why)| why.starts_with("refused, not verified"))
    {
        notes.push(
            "ferry-cli: note: to use a refused mirror, compare its fingerprint with the one its server printed and pass --trust SHA256:… (or set FERRY_TRUST)"
                .to_owned(),
        );
    }
    if report.resumed_from > 0 {
        notes.push(format!(
            "ferry-cli: note: continued an interrupted download after {}",
            human_size(report.resumed_from)
        ));
    }
    for (addr, bytes) in &report.bytes_per_mirror {
        notes.push(format!(
            "ferry-cli: {addr} delivered {}",
            human_size(*bytes)
        ));
    }
    if !report.repaired_chunks.is_empty() {
        let chunks = &report.repaired_chunks;
        notes.push(format!(
            "ferry-cli: note: {} {chunks:?} arrived damaged and {} fetched again from honest mirrors",
            if chunks.len() == 1 { "chunk" } else { "chunks" },
            if chunks.len() == 1 { "was" } else { "were" },
        ));
    }
    notes
}

/// What a download that did more than fetch bytes tells the user on stderr:
/// it continued, started over, or repaired damaged chunks.
pub fn download_notes(report: &DownloadReport) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(why) = &report.restarted {
        notes.push(format!("ferry-cli: note: {why}"));
    } else if report.resumed_from > 0 {
        notes.push(format!(
            "ferry-cli: note: continued an interrupted download after {}",
            human_size(report.resumed_from)
        ));
    }
    if !report.repaired_chunks.is_empty() {
        let n = report.repaired_chunks.len();
        notes.push(format!(
            "ferry-cli: note: {} of the partial download {} fetched again",
            counted(n as u64, "damaged chunk", "damaged chunks"),
            if n == 1 { "was" } else { "were" },
        ));
    }
    notes
}

/// The stderr note for an upload that continued an interrupted one.
pub fn upload_resumed_note(name: &str, from: u64) -> String {
    format!(
        "ferry-cli: note: continued an interrupted upload of {} after {}",
        quoted(name),
        human_size(from)
    )
}

/// What `delete` prints.
pub fn deleted_line(name: &str, version: Option<u32>, removed: u32) -> String {
    match version {
        Some(v) => format!("deleted version {v} of {}", quoted(name)),
        None if removed == 1 => format!("deleted {} (1 version)", quoted(name)),
        None => format!("deleted {} (all {removed} versions)", quoted(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::hash::md5_bytes;
    use ferry_proto::protocol::FileEntry;
    use ferry_proto::time::Timestamp;
    use std::path::PathBuf;

    fn version(name: &str, version: u32, size: u64) -> VersionInfo {
        VersionInfo {
            name: name.into(),
            version,
            size,
            md5: md5_bytes(name.as_bytes()),
            modified: Timestamp(1_795_278_067),
            uploader: "ann".into(),
        }
    }

    #[test]
    fn terminal_tricks_are_escaped() {
        assert_eq!(safe("Übersicht März.txt"), "Übersicht März.txt");
        assert!(matches!(safe("plain"), Cow::Borrowed(_)));
        assert_eq!(safe("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(safe("evil\u{202E}txt"), "evil\\u{202e}txt");
        assert!(!safe("line\nbreak").contains('\n'));
        assert_eq!(quoted("a \"b\"\n"), r#""a \"b\"\n""#);
    }

    #[test]
    fn empty_list_is_friendly() {
        assert_eq!(entries_table(&[]), format!("{NO_FILES}\n"));
    }

    #[test]
    fn file_table_aligns_by_display_width() {
        let files = [
            FileEntry {
                current: version("日本語.txt", 2, 1536),
                versions: 2,
            },
            FileEntry {
                current: version("a b.txt", 1, 5),
                versions: 1,
            },
        ];
        let (m1, m2) = (files[0].current.md5, files[1].current.md5);
        let entries: Vec<ferry_client::Entry> =
            files.into_iter().map(ferry_client::Entry::File).collect();
        assert_eq!(
            entries_table(&entries),
            format!(
                "NAME           SIZE  MODIFIED (UTC)        UPLOADER  VERSIONS  MD5\n\
                 日本語.txt  1.5 KiB  2026-11-21T16:21:07Z  ann              2  {m1}\n\
                 a b.txt         5 B  2026-11-21T16:21:07Z  ann              1  {m2}\n"
            )
        );
    }

    #[test]
    fn folders_are_rows_with_a_slash() {
        let folder = ferry_client::Entry::Folder(ferry_proto::protocol::FolderEntry {
            path: "docs/2026".into(),
            created: "2026-11-21T16:21:07Z".parse().unwrap(),
        });
        let table = entries_table(&[folder]);
        assert!(
            table
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("docs/2026/     -  2026-11-21T16:21:07Z"),
            "{table}"
        );
    }

    #[test]
    fn history_marks_the_current_version() {
        let text = history_table(&[version("f", 1, 10), version("f", 2, 20)]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("1            10 B"));
        assert!(lines[2].starts_with("2 (current)  20 B"));
    }

    #[test]
    fn users_table_lists_roles() {
        let text = users_table(&[("admin".into(), Role::Admin), ("bob".into(), Role::User)]);
        assert_eq!(text, "USER   ROLE\nadmin  admin\nbob    user\n");
    }

    #[test]
    fn download_notes_say_what_happened() {
        let plain = DownloadReport::default();
        assert!(download_notes(&plain).is_empty());
        let resumed = DownloadReport {
            resumed_from: 3 << 20,
            repaired_chunks: vec![1, 4],
            ..DownloadReport::default()
        };
        assert_eq!(
            download_notes(&resumed),
            [
                "ferry-cli: note: continued an interrupted download after 3.0 MiB",
                "ferry-cli: note: 2 damaged chunks of the partial download were fetched again"
            ]
        );
        let restarted = DownloadReport {
            resumed_from: 0,
            restarted: Some(
                "version 2 of \"f\" changed on the server; the download started again".into(),
            ),
            ..DownloadReport::default()
        };
        assert_eq!(download_notes(&restarted).len(), 1);
        assert!(upload_resumed_note("f", 1024).ends_with("\"f\" after 1.0 KiB"));
    }

    #[test]
    fn result_lines() {
        let stored = Stored {
            name: "report_v2.pdf".into(),
            version: 1,
            size: 1_258_291,
            md5: md5_bytes(b"x"),
        };
        assert_eq!(
            stored_line("report.pdf", &stored),
            format!(
                "stored \"report.pdf\" as \"report_v2.pdf\" (version 1, 1.2 MiB, md5 {})",
                stored.md5
            )
        );
        let same = Stored {
            name: "report.pdf".into(),
            ..stored.clone()
        };
        assert!(stored_line("report.pdf", &same).starts_with("stored \"report.pdf\" (version 1,"));
        let got = DownloadReport {
            version: 3,
            size: 5,
            md5: stored.md5,
            ..DownloadReport::default()
        };
        assert_eq!(
            saved_line("a b.txt", &PathBuf::from("out/a b.txt"), &got),
            format!(
                "saved \"a b.txt\" version 3 to \"out/a b.txt\" (5 B, md5 {} verified)",
                got.md5
            )
        );
        assert_eq!(deleted_line("f", Some(2), 1), "deleted version 2 of \"f\"");
        assert_eq!(deleted_line("f", None, 3), "deleted \"f\" (all 3 versions)");
        assert_eq!(deleted_line("f", None, 1), "deleted \"f\" (1 version)");
    }
}
