//! "Upload as…": uploads whose name the one name rule refuses (the
//! client's check, or the server's `ERR BAD_NAME`) wait here for a name
//! that is allowed, instead of failing with a Retry that cannot succeed.
//! The field starts with a suggested valid name and is checked as the
//! user types, by the same rule ([`ferry_client::file_name`]). No drawing
//! here; `panels::upload_as` asks.

use std::collections::VecDeque;

use ferry_proto::names::{MAX_NAME_BYTES, NameError, validate_name};

use crate::state::dialogs::name_problem;
use crate::worker::TransferId;

/// An upload waiting for an allowed name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFix {
    /// Its transfer row.
    pub transfer: TransferId,
    /// The name that was refused.
    pub refused: String,
    /// Why, as a sentence.
    pub reason: String,
    /// The name typed so far (starts as [`suggest_name`]).
    pub text: String,
}

impl NameFix {
    /// A question about `refused`, with a suggestion filled in.
    pub fn new(transfer: TransferId, refused: &str, reason: String) -> NameFix {
        NameFix {
            transfer,
            refused: refused.to_owned(),
            reason,
            text: suggest_name(refused),
        }
    }

    /// Why what is typed cannot be used yet, as a sentence; `None` when it
    /// can.
    pub fn problem(&self) -> Option<String> {
        name_problem(&self.text)
    }
}

/// The questions still to ask, first on screen.
#[derive(Debug, Default)]
pub struct NameFixes {
    queue: VecDeque<NameFix>,
}

impl NameFixes {
    /// Adds a question (once per transfer).
    pub fn push(&mut self, fix: NameFix) {
        if !self.queue.iter().any(|f| f.transfer == fix.transfer) {
            self.queue.push_back(fix);
        }
    }

    /// The question on screen.
    pub fn current_mut(&mut self) -> Option<&mut NameFix> {
        self.queue.front_mut()
    }

    /// Whether a question is on screen.
    pub fn is_open(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Takes the question on screen away (answered).
    pub fn pop(&mut self) -> Option<NameFix> {
        self.queue.pop_front()
    }

    /// Drops the question of a transfer that went away.
    pub fn forget(&mut self, transfer: TransferId) {
        self.queue.retain(|f| f.transfer != transfer);
    }
}

/// A name the rule allows, close to `name`: separators, drive colons and
/// control or invisible characters become `_`, white space at either end
/// goes, `.` and `..` become `_`, and an over-long name is cut at a
/// character boundary (keeping its extension when it can).
pub fn suggest_name(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            // Between two letters, so only the character itself is judged.
            let alone = validate_name(&format!("x{c}x"));
            let bad = matches!(alone, Err(NameError::Separator(_) | NameError::Control(_)));
            if bad { '_' } else { c }
        })
        .collect();
    let trimmed = replaced.trim();
    let mut out = match trimmed {
        "" => "file".to_owned(),
        "." | ".." => "_".to_owned(),
        other => other.to_owned(),
    };
    if out.len() > MAX_NAME_BYTES {
        let ext = out
            .rfind('.')
            .filter(|&dot| dot > 0 && out.len() - dot <= 16)
            .map(|dot| out[dot..].to_owned())
            .unwrap_or_default();
        let mut cut = MAX_NAME_BYTES - ext.len();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        let stem = out.trim_end().to_owned();
        out = stem + &ext;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pass_the_rule() {
        for (bad, good) in [
            ("a:b.txt", "a_b.txt"),
            ("back\\slash", "back_slash"),
            (" spaced.txt ", "spaced.txt"),
            ("tab\there", "tab_here"),
            ("rtl\u{202E}txt.exe", "rtl_txt.exe"),
            ("..", "_"),
            ("", "file"),
            ("   ", "file"),
        ] {
            let suggested = suggest_name(bad);
            assert_eq!(suggested, good, "{bad:?}");
            assert!(ferry_client::file_name(&suggested).is_ok(), "{suggested:?}");
        }
        let long = format!("{}.pdf", "é".repeat(200));
        let suggested = suggest_name(&long);
        assert!(suggested.len() <= MAX_NAME_BYTES);
        assert!(suggested.ends_with("é.pdf"), "the extension stays");
        assert!(ferry_client::file_name(&suggested).is_ok());
        assert_eq!(suggest_name("fine.txt"), "fine.txt");
    }

    #[test]
    fn typed_names_are_checked_by_the_one_rule() {
        let mut fix = NameFix::new(7, "a:b.txt", "not allowed".into());
        assert_eq!(fix.text, "a_b.txt");
        assert_eq!(fix.problem(), None);
        fix.text = "x/y".into();
        let problem = fix.problem().unwrap();
        assert!(
            problem.starts_with("A file name cannot contain"),
            "{problem}"
        );
        assert!(problem.ends_with('.'));
        fix.text.clear();
        assert_eq!(fix.problem().unwrap(), "A file name cannot be empty.");

        let mut fixes = NameFixes::default();
        fixes.push(fix.clone());
        fixes.push(fix);
        assert!(fixes.is_open());
        fixes.forget(7);
        assert!(!fixes.is_open());
    }
}
