//! Where an unfinished download lives beside its destination: `NAME.part`
//! holds the bytes, `NAME.part.json` the sidecar that says what they are.
//!
//! Only the naming lives here, so that the one-connection client (whose
//! batch downloads land in `.part` files too), the resumable transfers and
//! the mirrored downloads agree on it without depending on each other. What
//! a sidecar holds is [`crate::transfer`]'s and [`crate::mirror`]'s business.

use std::path::{Path, PathBuf};

/// `dest` with `.part` appended: where a download collects its bytes.
pub fn part_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part")
}

/// `dest` with `.part.json` appended: the partial download's sidecar.
pub fn sidecar_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part.json")
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_sit_beside_their_destination() {
        let dest = Path::new("/tmp/x/report 1.pdf");
        assert_eq!(part_path(dest), Path::new("/tmp/x/report 1.pdf.part"));
        assert_eq!(
            sidecar_path(dest),
            Path::new("/tmp/x/report 1.pdf.part.json")
        );
    }

    #[test]
    fn only_the_file_name_grows() {
        assert_eq!(part_path(Path::new("a")), Path::new("a.part"));
        assert_eq!(
            part_path(Path::new("dir.d/Übersicht März")),
            Path::new("dir.d/Übersicht März.part")
        );
        assert_eq!(
            with_suffix(Path::new("state/upload-1.json"), ".new"),
            Path::new("state/upload-1.json.new")
        );
    }
}
