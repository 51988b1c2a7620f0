//! The file table's keyboard, as a pure mapping from a key press to what
//! it means there, so the bindings are tested without drawing:
//! arrows (Shift extends), Page Up/Down, Home/End, Ctrl-A, Enter, Delete,
//! Backspace and Alt-Up (the folder above), F2 (rename), Ctrl-F, Escape
//! and F5. While the filter box has the keyboard only
//! Ctrl-F, Escape and F5 are the table's; the other keys are the text's.

use egui::{Key, Modifiers};

/// What a key asks of the file table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCommand {
    /// Move the cursor `by` rows (Shift: extend the selection).
    Move {
        /// Rows, negative up; far past the end for Home/End.
        by: isize,
        /// Shift is held.
        extend: bool,
    },
    /// Ctrl-A.
    SelectAll,
    /// Enter: what a double-click does, on the selection.
    Activate,
    /// Delete: delete the selection (admins; asks first).
    Delete,
    /// Ctrl-F: type in the filter.
    FocusFilter,
    /// Escape: clear the filter, or when there is none, the selection.
    Escape,
    /// F5: list again.
    Refresh,
    /// Backspace or Alt-Up: open the folder above.
    Up,
    /// F2: rename or move the selected row (admins).
    Rename,
}

/// Rows one Page Up/Down moves.
const PAGE: isize = 10;

/// What `key` with `mods` means to the file table; `typing` when a text
/// field has the keyboard.
pub fn command(key: Key, mods: Modifiers, typing: bool) -> Option<KeyCommand> {
    let plain = !mods.command && !mods.alt && !mods.ctrl;
    let cmd = match key {
        Key::F if mods.command => KeyCommand::FocusFilter,
        Key::Escape => KeyCommand::Escape,
        Key::F5 => KeyCommand::Refresh,
        Key::F2 if !typing => KeyCommand::Rename,
        _ if typing => return None,
        Key::A if mods.command => KeyCommand::SelectAll,
        Key::ArrowUp if mods.alt && !mods.command => KeyCommand::Up,
        Key::Backspace if plain => KeyCommand::Up,
        Key::ArrowUp | Key::ArrowDown | Key::PageUp | Key::PageDown | Key::Home | Key::End
            if plain =>
        {
            let by = match key {
                Key::ArrowUp => -1,
                Key::ArrowDown => 1,
                Key::PageUp => -PAGE,
                Key::PageDown => PAGE,
                Key::Home => isize::MIN,
                _ => isize::MAX,
            };
            KeyCommand::Move {
                by,
                extend: mods.shift,
            }
        }
        Key::Enter if plain => KeyCommand::Activate,
        Key::Delete if plain => KeyCommand::Delete,
        _ => return None,
    };
    Some(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings() {
        let none = Modifiers::NONE;
        let c = |k, m| command(k, m, false);
        assert_eq!(
            c(Key::ArrowDown, none),
            Some(KeyCommand::Move {
                by: 1,
                extend: false
            })
        );
        assert_eq!(
            c(Key::ArrowUp, Modifiers::SHIFT),
            Some(KeyCommand::Move {
                by: -1,
                extend: true
            })
        );
        assert_eq!(c(Key::A, Modifiers::COMMAND), Some(KeyCommand::SelectAll));
        assert_eq!(c(Key::A, none), None);
        assert_eq!(c(Key::Enter, none), Some(KeyCommand::Activate));
        assert_eq!(c(Key::Delete, none), Some(KeyCommand::Delete));
        assert_eq!(c(Key::F, Modifiers::COMMAND), Some(KeyCommand::FocusFilter));
        assert_eq!(c(Key::F5, none), Some(KeyCommand::Refresh));
        assert_eq!(c(Key::Backspace, none), Some(KeyCommand::Up));
        assert_eq!(c(Key::F2, none), Some(KeyCommand::Rename));
        assert_eq!(c(Key::ArrowUp, Modifiers::ALT), Some(KeyCommand::Up));
        assert_eq!(
            command(Key::Backspace, none, true),
            None,
            "Backspace edits the filter while it has the keyboard"
        );
        assert_eq!(c(Key::Escape, none), Some(KeyCommand::Escape));
        assert_eq!(c(Key::ArrowDown, Modifiers::COMMAND), None);
    }

    #[test]
    fn the_filter_keeps_its_own_keys() {
        for key in [Key::A, Key::ArrowDown, Key::Enter, Key::Delete, Key::Home] {
            for mods in [Modifiers::NONE, Modifiers::COMMAND] {
                assert_eq!(command(key, mods, true), None, "{key:?}");
            }
        }
        assert_eq!(
            command(Key::Escape, Modifiers::NONE, true),
            Some(KeyCommand::Escape)
        );
        assert_eq!(
            command(Key::F5, Modifiers::NONE, true),
            Some(KeyCommand::Refresh)
        );
        assert_eq!(
            command(Key::F, Modifiers::COMMAND, true),
            Some(KeyCommand::FocusFilter)
        );
    }
}
