//! MD5 digests as Ferry uses them: a 16-byte value shown as 32 lowercase hex
//! digits, and a hasher whose running state can be saved and restored so a
//! resumed transfer never re-reads what it already hashed.
//!
//! MD5 is an integrity check against accidents (bad disks, cut connections),
//! not a defence against an attacker who controls the bytes.

use std::fmt;
use std::str::FromStr;

mod md5;
use md5::Md5;

/// An MD5 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Md5Digest(pub [u8; 16]);

impl fmt::Display for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Md5Digest({self})")
    }
}

/// The text was not 32 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an MD5 must be 32 hexadecimal digits")]
pub struct BadDigest;

impl FromStr for Md5Digest {
    type Err = BadDigest;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = unhex(s).ok_or(BadDigest)?;
        Ok(Md5Digest(bytes.try_into().map_err(|_| BadDigest)?))
    }
}

impl serde::Serialize for Md5Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Md5Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A running MD5 computation.
#[derive(Clone, Default)]
pub struct Hasher(Md5);

impl Hasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Md5Digest {
        Md5Digest(self.0.finish())
    }

    /// The running state as hex, to be stored and later given to [`Hasher::restore`].
    pub fn save(&self) -> String {
        hex(&self.0.save())
    }

    /// Rebuilds a hasher from [`Hasher::save`]'s output; `None` if the text is not one.
    pub fn restore(saved: &str) -> Option<Hasher> {
        let bytes = unhex(saved)?;
        Md5::restore(bytes.as_slice().try_into().ok()?).map(Hasher)
    }
}

/// The digest of a byte slice.
pub fn md5_bytes(bytes: &[u8]) -> Md5Digest {
    let mut h = Hasher::new();
    h.update(bytes);
    h.finish()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            md5_bytes(b"").to_string(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            md5_bytes(b"The quick brown fox jumps over the lazy dog").to_string(),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    #[test]
    fn digest_text_round_trip_and_rejects() {
        let d = md5_bytes(b"abc");
        assert_eq!(d.to_string().parse::<Md5Digest>(), Ok(d));
        assert_eq!(
            "D41D8CD98F00B204E9800998ECF8427E".parse::<Md5Digest>(),
            Ok(md5_bytes(b""))
        );
        for bad in [
            "",
            "abc",
            "zz1d8cd98f00b204e9800998ecf8427e",
            "d41d8cd98f00b204",
        ] {
            assert_eq!(bad.parse::<Md5Digest>(), Err(BadDigest), "{bad}");
        }
    }

    #[test]
    fn saved_state_continues_where_it_left_off() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let mut first = Hasher::new();
        first.update(&data[..3333]);
        let mut resumed = Hasher::restore(&first.save()).expect("state restores");
        resumed.update(&data[3333..]);
        assert_eq!(resumed.finish(), md5_bytes(&data));
        assert!(Hasher::restore("not hex").is_none());
        assert!(Hasher::restore("00").is_none());
    }
}
