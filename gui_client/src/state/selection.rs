//! The file table's selection, as a file manager keeps it: a set of
//! selected rows, the *anchor* a Shift-click or Shift-arrow extends from,
//! and the *cursor*, the row the arrow keys move from and Enter acts on.
//!
//! Every gesture is a pure function of the selection and the rows on
//! screen ([`Selection::apply`]), so the rules are tested without drawing.
//! Rows are identified by their name on the server (a path once folders
//! exist); what Enter does with the cursor row (download a file, open a
//! folder) is the app's business, not this module's.

use std::collections::BTreeSet;

/// A click or key that changes the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gesture<'a> {
    /// A plain click: only this row.
    Click(&'a str),
    /// Ctrl-click (⌘-click on macOS): this row in or out, the others stay.
    Toggle(&'a str),
    /// Shift-click: every row from the anchor to this one.
    Extend(&'a str),
    /// Ctrl-A: every row on screen.
    All,
    /// Arrow keys (`by` rows; negative is up), Home/End (`by` far past the
    /// end). With `extend` (Shift held) the range from the anchor grows.
    Move {
        /// How many rows, and which way.
        by: isize,
        /// Whether Shift is held.
        extend: bool,
    },
    /// Nothing selected.
    Clear,
}

/// Which rows are selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    names: BTreeSet<String>,
    anchor: Option<String>,
    cursor: Option<String>,
}

impl Selection {
    /// Only `name`, as after a click on it.
    pub fn only(name: &str) -> Selection {
        Selection::default().apply(&[name], Gesture::Click(name))
    }

    /// The selection after `gesture`, with `rows` the names on screen in
    /// their order (filtered and sorted).
    pub fn apply(&self, rows: &[&str], gesture: Gesture<'_>) -> Selection {
        let mut next = self.clone();
        match gesture {
            Gesture::Click(name) => next = one(name),
            Gesture::Toggle(name) => {
                if !next.names.remove(name) {
                    next.names.insert(name.to_owned());
                }
                next.anchor = Some(name.to_owned());
                next.cursor = Some(name.to_owned());
            }
            Gesture::Extend(name) => {
                let anchor = self.anchor.as_deref().filter(|a| rows.contains(a));
                next.names = range(rows, anchor.unwrap_or(name), name);
                next.anchor = Some(anchor.unwrap_or(name).to_owned());
                next.cursor = Some(name.to_owned());
            }
            Gesture::All => {
                next.names = rows.iter().map(|&r| r.to_owned()).collect();
                if next.cursor.as_deref().is_none_or(|c| !rows.contains(&c)) {
                    next.cursor = rows.first().map(|&r| r.to_owned());
                    next.anchor.clone_from(&next.cursor);
                }
            }
            Gesture::Move { by, extend } => {
                let Some(to) = moved(rows, self.cursor.as_deref(), by) else {
                    return next;
                };
                if extend {
                    let anchor = self.anchor.as_deref().filter(|a| rows.contains(a));
                    let anchor = anchor.or(self.cursor.as_deref()).unwrap_or(to);
                    next.names = range(rows, anchor, to);
                    next.anchor = Some(anchor.to_owned());
                    next.cursor = Some(to.to_owned());
                } else {
                    next = one(to);
                }
            }
            Gesture::Clear => next = Selection::default(),
        }
        next
    }

    /// Whether `name` is selected.
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// How many rows are selected (on screen or not).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The row the arrow keys move from and Enter acts on.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The selected rows among `rows`, in their order: what a batch action
    /// acts on (a row hidden by the filter is never acted on unseen).
    pub fn among(&self, rows: &[&str]) -> Vec<String> {
        rows.iter()
            .filter(|r| self.names.contains(**r))
            .map(|&r| r.to_owned())
            .collect()
    }

    /// Drops the rows that no longer exist (after a new listing).
    pub fn retain(&mut self, exists: impl Fn(&str) -> bool) {
        self.names.retain(|n| exists(n));
        if self.anchor.as_deref().is_some_and(|a| !exists(a)) {
            self.anchor = None;
        }
        if self.cursor.as_deref().is_some_and(|c| !exists(c)) {
            self.cursor = None;
        }
    }
}

fn one(name: &str) -> Selection {
    Selection {
        names: BTreeSet::from([name.to_owned()]),
        anchor: Some(name.to_owned()),
        cursor: Some(name.to_owned()),
    }
}

/// The rows from `a` to `b`, both included, whichever comes first.
fn range(rows: &[&str], a: &str, b: &str) -> BTreeSet<String> {
    let (Some(i), Some(j)) = (
        rows.iter().position(|r| *r == a),
        rows.iter().position(|r| *r == b),
    ) else {
        return BTreeSet::from([b.to_owned()]);
    };
    rows[i.min(j)..=i.max(j)]
        .iter()
        .map(|&r| r.to_owned())
        .collect()
}

/// The row `by` rows from `cursor`, kept within the rows. Without a cursor
/// on screen, down starts at the first row and up at the last.
fn moved<'a>(rows: &[&'a str], cursor: Option<&str>, by: isize) -> Option<&'a str> {
    let last = rows.len().checked_sub(1)?;
    let to = match cursor.and_then(|c| rows.iter().position(|r| *r == c)) {
        Some(at) => at.saturating_add_signed(by).min(last),
        None if by < 0 => last,
        None => 0,
    };
    Some(rows[to])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROWS: [&str; 5] = ["a", "b", "c", "d", "e"];

    fn selected(s: &Selection) -> Vec<String> {
        s.among(&ROWS)
    }

    fn go(s: &Selection, g: Gesture<'_>) -> Selection {
        s.apply(&ROWS, g)
    }

    #[test]
    fn click_toggle_and_extend() {
        let s = go(&Selection::default(), Gesture::Click("b"));
        assert_eq!(selected(&s), ["b"]);
        let s = go(&s, Gesture::Toggle("d"));
        assert_eq!(selected(&s), ["b", "d"]);
        assert_eq!(
            selected(&go(&s, Gesture::Toggle("b"))),
            ["d"],
            "Ctrl-click takes a row out again"
        );
        // Shift extends from the last clicked row (the anchor), either way.
        let s = go(&s, Gesture::Extend("b"));
        assert_eq!(selected(&s), ["b", "c", "d"]);
        let s = go(&s, Gesture::Extend("e"));
        assert_eq!(
            selected(&s),
            ["d", "e"],
            "the range moves, the anchor stays"
        );
        assert_eq!(s.cursor(), Some("e"));
        let s = go(&s, Gesture::Click("a"));
        assert_eq!(selected(&s), ["a"]);
        // Shift-click with nothing clicked before selects just that row.
        assert_eq!(
            selected(&go(&Selection::default(), Gesture::Extend("c"))),
            ["c"]
        );
    }

    #[test]
    fn ctrl_a_and_clear() {
        let s = go(&Selection::default(), Gesture::All);
        assert_eq!(selected(&s), ROWS);
        assert_eq!(s.cursor(), Some("a"));
        let s = go(&Selection::only("c"), Gesture::All);
        assert_eq!(s.cursor(), Some("c"), "the cursor stays where it was");
        assert!(go(&s, Gesture::Clear).is_empty());
        assert!(go(&s, Gesture::All).apply(&[], Gesture::All).is_empty());
    }

    #[test]
    fn arrows_move_and_shift_arrows_extend() {
        let down = Gesture::Move {
            by: 1,
            extend: false,
        };
        let up = Gesture::Move {
            by: -1,
            extend: false,
        };
        let s = go(&Selection::default(), down);
        assert_eq!(selected(&s), ["a"], "down from nothing is the first row");
        assert_eq!(selected(&go(&Selection::default(), up)), ["e"]);
        let s = go(&go(&s, down), down);
        assert_eq!(
            (selected(&s), s.cursor()),
            (vec!["c".to_owned()], Some("c"))
        );
        let s = go(&go(&s, up), up);
        let s = go(&s, up);
        assert_eq!(selected(&s), ["a"], "stops at the top");
        let end = Gesture::Move {
            by: isize::MAX,
            extend: false,
        };
        assert_eq!(selected(&go(&s, end)), ["e"], "End");

        let shift_down = Gesture::Move {
            by: 1,
            extend: true,
        };
        let s = go(&Selection::only("b"), shift_down);
        let s = go(&s, shift_down);
        assert_eq!(selected(&s), ["b", "c", "d"]);
        let s = go(
            &s,
            Gesture::Move {
                by: -3,
                extend: true,
            },
        );
        assert_eq!(selected(&s), ["a", "b"], "back past the anchor");
        // Arrows on an empty table change nothing.
        assert_eq!(s.apply(&[], down), s);
    }

    #[test]
    fn hidden_and_gone_rows() {
        let s = go(&Selection::default(), Gesture::All);
        // The filter shows only b and d: batch actions see those two.
        assert_eq!(s.among(&["b", "d"]), ["b", "d"]);
        assert_eq!(s.len(), 5);
        let mut s = go(&Selection::only("b"), Gesture::Extend("d"));
        s.retain(|n| n != "b");
        assert_eq!(selected(&s), ["c", "d"]);
        // The anchor went with b: Shift-click starts from the clicked row.
        assert_eq!(selected(&go(&s, Gesture::Extend("e"))), ["e"]);
    }
}
