//! The last step of a mirrored download, when the assembled file fails its
//! MD5 check: per-chunk MD5s by majority find the bad chunks, the mirrors
//! that served them are excluded, and only those chunks are fetched again
//! from an honest mirror.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use log::{info, warn};

use super::vote::majority_chunks;
use super::{MIRROR_RANGE_BYTES, MirrorStatus};
use crate::transfer::Connector;
use crate::{ClientError, DownloadOptions, Span};
use ferry_io::platform;
use ferry_proto::hash::{Hasher, Md5Digest, md5_bytes};
use ferry_proto::names::escaped;
use ferry_proto::protocol::CHUNK_SIZE;

/// Where a repair looks and what it may change.
pub(super) struct Repair<'a> {
    pub(super) mirrors: &'a [Connector],
    /// Every agreeing mirror, by index with its version: each may vote and
    /// help, including one dropped for a passing failure, which may well be
    /// reachable again.
    pub(super) good: &'a [(usize, u32)],
    pub(super) name: &'a str,
    pub(super) size: u64,
    /// The MD5 the majority agreed on.
    pub(super) md5: Md5Digest,
    pub(super) file: &'a File,
    pub(super) part: &'a Path,
    /// Which mirror delivered each piece (`usize::MAX`: an earlier run).
    pub(super) served_by: &'a HashMap<u64, usize>,
}

impl Repair<'_> {
    /// Finds and refetches the bad chunks, marking the mirrors that served
    /// them as dropped, and returns the chunks repaired; a file that still
    /// fails its MD5 check is [`ClientError::Corrupt`].
    pub(super) fn run(
        &self,
        statuses: &mut [MirrorStatus],
        excluded: &mut Vec<(String, String)>,
    ) -> Result<Vec<u64>, ClientError> {
        let local = |action, e| ClientError::local(action, self.part, e);
        warn!(
            "{} failed its MD5 check after the mirrored download; checking chunk by chunk",
            escaped(self.name)
        );
        let sums = majority_chunks(self.mirrors, self.good, self.name, self.size)?;
        let mut repaired = Vec::new();
        let mut liars = HashSet::new();
        let mut buf = vec![0u8; CHUNK_SIZE as usize];
        for (index, expected) in sums.iter().enumerate() {
            let start = index as u64 * CHUNK_SIZE;
            let len = CHUNK_SIZE.min(self.size - start) as usize;
            platform::read_exact_at(self.file, &mut buf[..len], start)
                .map_err(|e| local("read", e))?;
            if md5_bytes(&buf[..len]) != *expected {
                repaired.push(index as u64);
                if let Some(&m) = self.served_by.get(&(start / MIRROR_RANGE_BYTES))
                    && m != usize::MAX
                {
                    liars.insert(m);
                }
            }
        }
        for &m in &liars {
            let why = "served corrupt data".to_owned();
            warn!("mirror {} {why} — excluded", self.mirrors[m].addr);
            statuses[m].dropped = Some(why.clone());
            excluded.push((self.mirrors[m].addr.clone(), why));
        }
        let honest: Vec<(usize, u32)> = self
            .good
            .iter()
            .copied()
            .filter(|(i, _)| !liars.contains(i))
            .collect();
        for &index in &repaired {
            let start = index * CHUNK_SIZE;
            let len = CHUNK_SIZE.min(self.size - start);
            let bytes = self.fetch_from_any(&honest, start, len, &sums[index as usize])?;
            platform::write_all_at(self.file, &bytes, start).map_err(|e| local("write", e))?;
        }
        let actual = hash_file(self.file, self.size).map_err(|e| local("read", e))?;
        if actual != self.md5 {
            return Err(ClientError::Corrupt {
                expected: self.md5,
                actual,
            });
        }
        info!("repaired chunks {repaired:?} of {}", escaped(self.name));
        Ok(repaired)
    }

    /// Fetches one chunk from the first mirror that delivers it intact.
    fn fetch_from_any(
        &self,
        honest: &[(usize, u32)],
        start: u64,
        len: u64,
        expected: &Md5Digest,
    ) -> Result<Vec<u8>, ClientError> {
        let mut last = None;
        for &(i, version) in honest {
            let got = self.mirrors[i].connect().and_then(|mut client| {
                let mut bytes = Vec::with_capacity(len as usize);
                let chunk = DownloadOptions {
                    version: Some(version),
                    span: Span::Range {
                        offset: start,
                        length: len,
                    },
                    ..DownloadOptions::default()
                };
                client.download(self.name, &mut bytes, chunk)?;
                Ok(bytes)
            });
            match got {
                Ok(bytes) if md5_bytes(&bytes) == *expected => return Ok(bytes),
                Ok(_) => {
                    last = Some(ClientError::Protocol(format!(
                        "mirror {} sent a bad chunk again",
                        self.mirrors[i].addr
                    )))
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            ClientError::NoMajority("no honest mirror is left to repair from".into())
        }))
    }
}

/// The MD5 of the first `size` bytes of `file`.
fn hash_file(file: &File, size: u64) -> io::Result<Md5Digest> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut reader = file;
    let mut at = 0u64;
    reader.seek(SeekFrom::Start(0))?;
    while at < size {
        let want = ((size - at) as usize).min(buf.len());
        reader.read_exact(&mut buf[..want])?;
        hasher.update(&buf[..want]);
        at += want as u64;
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_file_is_hashed_from_its_start_up_to_the_size() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..(3 << 20) + 7).map(|i| (i % 241) as u8).collect();
        file.write_all(&data).unwrap();
        file.write_all(b"beyond the size").unwrap();
        assert_eq!(
            hash_file(&file, data.len() as u64).unwrap(),
            md5_bytes(&data)
        );
        assert!(
            hash_file(&file, data.len() as u64 + 100).is_err(),
            "too short"
        );
    }
}
