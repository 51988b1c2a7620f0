//! The user's Downloads folder, found the way each system keeps it:
//! on Linux and BSD the XDG user dirs (`$XDG_CONFIG_HOME/user-dirs.dirs`,
//! `XDG_DOWNLOAD_DIR`), else `~/Downloads`; on macOS `~/Downloads`; on
//! Windows `%USERPROFILE%\Downloads` (the known folder's default place;
//! a user who moved it elsewhere gets the remembered folder after the
//! first download). Falls back to the home folder, then the current one.

use std::path::{Path, PathBuf};

/// Where downloads go when the user has not chosen a folder yet.
pub fn downloads() -> PathBuf {
    let home = std::env::home_dir();
    let xdg = cfg!(all(unix, not(target_os = "macos")))
        .then(|| home.as_deref().and_then(xdg_download_dir))
        .flatten();
    let candidates = xdg
        .into_iter()
        .chain(home.as_ref().map(|h| h.join("Downloads")))
        .chain(home.clone());
    candidates
        .into_iter()
        .find(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("."))
}

fn xdg_download_dir(home: &Path) -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".config"));
    let text = std::fs::read_to_string(config.join("user-dirs.dirs")).ok()?;
    parse_user_dirs(&text, home)
}

/// `XDG_DOWNLOAD_DIR` from a `user-dirs.dirs` file: `"$HOME/…"` or an
/// absolute path in double quotes; `$HOME` alone means "not set".
pub fn parse_user_dirs(text: &str, home: &Path) -> Option<PathBuf> {
    let value = text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("XDG_DOWNLOAD_DIR=")?;
        Some(rest.trim().trim_matches('"').to_owned())
    })?;
    let path = match value.strip_prefix("$HOME") {
        Some("") | Some("/") => return None,
        Some(rest) => home.join(rest.trim_start_matches('/')),
        None if value.starts_with('/') => PathBuf::from(value),
        None => return None,
    };
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_dirs_are_read_like_xdg_user_dir() {
        let home = Path::new("/home/ann");
        let file = "# comment\nXDG_DESKTOP_DIR=\"$HOME/Desktop\"\nXDG_DOWNLOAD_DIR=\"$HOME/Téléchargements\"\n";
        assert_eq!(
            parse_user_dirs(file, home),
            Some(PathBuf::from("/home/ann/Téléchargements"))
        );
        assert_eq!(
            parse_user_dirs("XDG_DOWNLOAD_DIR=\"/data/dl\"", home),
            Some(PathBuf::from("/data/dl"))
        );
        assert_eq!(parse_user_dirs("XDG_DOWNLOAD_DIR=\"$HOME/\"", home), None);
        assert_eq!(parse_user_dirs("XDG_MUSIC_DIR=\"$HOME/M\"", home), None);
        assert!(downloads().is_dir() || downloads() == Path::new("."));
    }
}
