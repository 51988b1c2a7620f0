//! What an upload reads from: the [`UploadSource`] trait (anything to read
//! and seek, measured and named for errors) and [`LocalFile`], a file on
//! disk opened for upload.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::ClientError;
#[cfg(doc)]
use ferry_io::read_ahead::ReadAhead;

/// The bytes of an upload: anything to read and seek. All of it is sent,
/// from the first byte to the end.
pub trait UploadSource: Read + Seek {
    /// The file behind the source, if it is one: a large one is then read
    /// directly from the disk, past the page cache (see [`ReadAhead`]).
    fn as_file(&self) -> Option<&File> {
        None
    }

    /// How many bytes the upload announces. By default the source is
    /// measured by seeking to its end (and back).
    fn upload_size(&mut self) -> io::Result<u64> {
        let here = self.stream_position()?;
        let end = self.seek(SeekFrom::End(0))?;
        self.seek(SeekFrom::Start(here))?;
        Ok(end)
    }

    /// The local file the bytes come from, to name in errors; `None` names
    /// the upload instead.
    fn origin(&self) -> Option<&Path> {
        None
    }
}

impl UploadSource for File {
    fn as_file(&self) -> Option<&File> {
        Some(self)
    }

    fn upload_size(&mut self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl<T: AsRef<[u8]>> UploadSource for io::Cursor<T> {}

impl<S: UploadSource + ?Sized> UploadSource for &mut S {
    fn as_file(&self) -> Option<&File> {
        (**self).as_file()
    }

    fn upload_size(&mut self) -> io::Result<u64> {
        (**self).upload_size()
    }

    fn origin(&self) -> Option<&Path> {
        (**self).origin()
    }
}

/// A local file opened for upload: checked not to be a folder, measured
/// once (so every attempt of a resumed upload announces the same size, and
/// one that grows meanwhile is caught as changed), and named in errors.
#[derive(Debug)]
pub struct LocalFile {
    file: File,
    size: u64,
    path: PathBuf,
}

impl LocalFile {
    /// Opens the file at `path`.
    pub fn open(path: &Path) -> Result<LocalFile, ClientError> {
        let file = File::open(path).map_err(|e| ClientError::local("open", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| ClientError::local("read", path, e))?;
        if meta.is_dir() {
            return Err(ClientError::local(
                "upload",
                path,
                io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "it is a folder; upload the files in it",
                ),
            ));
        }
        Ok(LocalFile {
            file,
            size: meta.len(),
            path: path.to_owned(),
        })
    }

    /// Its size when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Read for LocalFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for LocalFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

impl UploadSource for LocalFile {
    fn as_file(&self) -> Option<&File> {
        Some(&self.file)
    }

    fn upload_size(&mut self) -> io::Result<u64> {
        Ok(self.size)
    }

    fn origin(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_measure_themselves_without_moving() {
        let mut cursor = io::Cursor::new(vec![7u8; 1000]);
        cursor.set_position(10);
        assert_eq!(cursor.upload_size().unwrap(), 1000);
        assert_eq!(cursor.position(), 10);
        fn measured(mut source: impl UploadSource) -> u64 {
            source.upload_size().unwrap()
        }
        assert_eq!(measured(&mut cursor), 1000, "through a reference too");
        assert_eq!(cursor.origin(), None);
    }

    #[test]
    fn a_local_file_is_measured_once_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a b.txt");
        std::fs::write(&path, b"hello").unwrap();
        let mut file = LocalFile::open(&path).unwrap();
        std::fs::write(&path, b"hello, grown").unwrap();
        assert_eq!(file.upload_size().unwrap(), 5, "as it was when opened");
        assert_eq!(file.origin(), Some(path.as_path()));
        assert!(file.as_file().is_some());

        let folder = LocalFile::open(dir.path()).unwrap_err();
        assert!(folder.to_string().contains("it is a folder"), "{folder}");
        let missing = LocalFile::open(&dir.path().join("nope")).unwrap_err();
        assert!(
            missing.to_string().starts_with("could not open "),
            "{missing}"
        );
    }
}
