//! Test data: deterministic pseudo-random bytes (so nothing compresses or
//! dedups by accident, and any byte can be regenerated from its position
//! without keeping the data around), and a small random generator for
//! the load mix.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use ferry_client::UploadSource;

/// The SplitMix64 step: golden-ratio increment, then a bit mixer.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `buf` with bytes `offset..offset + buf.len()` of stream `seed`.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = offset;
    let mut out = buf;
    // Unaligned head, whole words, unaligned tail: every byte is byte
    // `pos % 8` of word `pos / 8`.
    while !out.is_empty() {
        let word = mix(seed.wrapping_add((pos / 8 + 1).wrapping_mul(GOLDEN))).to_le_bytes();
        let skip = (pos % 8) as usize;
        let n = (8 - skip).min(out.len());
        out[..n].copy_from_slice(&word[skip..skip + n]);
        out = &mut out[n..];
        pos += n as u64;
    }
}

/// `len` bytes of stream `seed`.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill(seed, 0, &mut v);
    v
}

/// Writes `len` bytes of stream `seed` to a new file at `path`.
pub fn write_file(path: &Path, seed: u64, len: u64) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        fill(seed, at, &mut buf[..n]);
        out.write_all(&buf[..n])?;
        at += n as u64;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// A `Read + Seek` source of `len` bytes of stream `seed`, generated on the
/// fly: lets 64 clients upload 16 MiB each without holding 1 GiB.
#[derive(Clone, Debug)]
pub struct Pattern {
    seed: u64,
    len: u64,
    pos: u64,
}

impl Pattern {
    /// Stream `seed`, `len` bytes long.
    pub fn new(seed: u64, len: u64) -> Pattern {
        Pattern { seed, len, pos: 0 }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.len.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        fill(self.seed, self.pos, &mut buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// Generated, not a file: always read the ordinary way.
impl UploadSource for Pattern {}

impl Seek for Pattern {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// A small, fast, seedable random generator (SplitMix64) for choosing
/// operations; not for anything secret.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// A number in `0..n` (`n` > 0; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A seed that differs from run to run (time and process id), for names
/// and passwords that must not collide with an earlier run's.
pub fn run_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    mix(nanos ^ (u64::from(std::process::id()) << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_slice_matches_the_whole_stream() {
        let whole = bytes(7, 100);
        for start in 0..20 {
            for len in [0, 1, 7, 8, 9, 33] {
                let mut part = vec![0u8; len];
                fill(7, start as u64, &mut part);
                assert_eq!(part, whole[start..start + len]);
            }
        }
    }

    #[test]
    fn streams_differ_by_seed_and_are_not_constant() {
        assert_ne!(bytes(1, 64), bytes(2, 64));
        let b = bytes(3, 4096);
        assert!(b.iter().any(|&x| x != b[0]));
    }

    #[test]
    fn pattern_reads_and_seeks_like_the_stream() {
        let whole = bytes(9, 1000);
        let mut p = Pattern::new(9, 1000);
        let mut all = Vec::new();
        p.read_to_end(&mut all).unwrap();
        assert_eq!(all, whole);
        p.seek(SeekFrom::Start(990)).unwrap();
        let mut tail = Vec::new();
        p.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, whole[990..]);
    }
}
