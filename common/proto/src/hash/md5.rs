//! MD5 (RFC 1321), written for speed on one core: both sides of every
//! transfer hash every byte, so this function sets how fast Ferry moves a
//! large file.
//!
//! Each of MD5's 64 steps waits for the one before it, so what counts is
//! the length of that chain, not the number of operations. A step is
//! `a = b + ((a + f(b, c, d) + word + constant) <<< s)`, and only `b` is new:
//! `a + word + constant` is summed while the previous step still runs, so
//! the chain is the step function, one add, the rotate and one add. The
//! second round's function is written as an addition of two terms, one of
//! which does not wait for `b`. Written this way it hashes about 20 % faster
//! than the RustCrypto `md-5` crate on our machines, and a file 10–15 %
//! faster than `md5sum` (see `docs/BENCHMARKS.md`).
//!
//! The saved state has the layout of `md-5` 0.11's serialized state (state
//! words, block count, buffered bytes), so records saved by Ferry versions
//! that used that crate still restore.

/// Bytes in a block: MD5 compresses 64 at a time.
const BLOCK: usize = 64;

/// The running state before any byte: RFC 1321, section 3.3.
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The step constants: the integer part of 2^32 × |sin(i + 1)| (RFC 1321,
/// section 3.4; a test recomputes them).
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, //
    0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, //
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, //
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, //
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, //
    0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, //
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, //
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, //
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, //
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, //
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, //
    0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, //
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, //
    0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1, //
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, //
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391, //
];

/// Bytes in a saved state: 4 state words, the block count, the number of
/// buffered bytes and room for 63 of them.
pub const SAVED_LEN: usize = 16 + 8 + 1 + (BLOCK - 1);

/// A running MD5 computation.
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    /// Whole blocks compressed so far.
    blocks: u64,
    /// Bytes waiting for a whole block; always fewer than [`BLOCK`].
    buf: [u8; BLOCK],
    pos: usize,
}

impl Default for Md5 {
    fn default() -> Self {
        Md5 {
            state: INIT,
            blocks: 0,
            buf: [0; BLOCK],
            pos: 0,
        }
    }
}

impl Md5 {
    /// Feeds bytes.
    pub fn update(&mut self, mut bytes: &[u8]) {
        if self.pos > 0 {
            let n = (BLOCK - self.pos).min(bytes.len());
            self.buf[self.pos..self.pos + n].copy_from_slice(&bytes[..n]);
            self.pos += n;
            bytes = &bytes[n..];
            if self.pos < BLOCK {
                return;
            }
            let block = self.buf;
            self.compress(&[block]);
            self.pos = 0;
        }
        let (blocks, rest) = bytes.as_chunks::<BLOCK>();
        self.compress(blocks);
        self.buf[..rest.len()].copy_from_slice(rest);
        self.pos = rest.len();
    }

    /// The digest of everything fed: the message padded with a one bit,
    /// zeros and its length in bits (RFC 1321, sections 3.1 and 3.2).
    pub fn finish(mut self) -> [u8; 16] {
        // The length modulo 2^64 bits, as the RFC counts it.
        let bytes = self
            .blocks
            .wrapping_mul(BLOCK as u64)
            .wrapping_add(self.pos as u64);
        let bits = bytes.wrapping_mul(8);
        let mut tail = [0u8; 2 * BLOCK];
        tail[..self.pos].copy_from_slice(&self.buf[..self.pos]);
        tail[self.pos] = 0x80;
        let len = if self.pos < BLOCK - 8 {
            BLOCK
        } else {
            2 * BLOCK
        };
        tail[len - 8..len].copy_from_slice(&bits.to_le_bytes());
        let (blocks, _) = tail[..len].as_chunks::<BLOCK>();
        self.compress(blocks);
        let mut digest = [0u8; 16];
        for (out, word) in digest.chunks_exact_mut(4).zip(self.state) {
            out.copy_from_slice(&word.to_le_bytes());
        }
        digest
    }

    /// The state as bytes, for [`Md5::restore`].
    pub fn save(&self) -> [u8; SAVED_LEN] {
        let mut out = [0u8; SAVED_LEN];
        for (chunk, word) in out[..16].chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out[16..24].copy_from_slice(&self.blocks.to_le_bytes());
        out[24] = self.pos as u8;
        out[25..25 + self.pos].copy_from_slice(&self.buf[..self.pos]);
        out
    }

    /// Rebuilds a computation from [`Md5::save`]'s bytes; `None` if they are
    /// not a saved state (a byte count of 64 or more, or bytes past it).
    pub fn restore(saved: &[u8; SAVED_LEN]) -> Option<Md5> {
        let pos = usize::from(saved[24]);
        let (kept, unused) = saved[25..].split_at_checked(pos)?;
        if unused.iter().any(|&b| b != 0) {
            return None;
        }
        let mut md5 = Md5 {
            blocks: u64::from_le_bytes(saved[16..24].try_into().expect("8 bytes")),
            pos,
            ..Md5::default()
        };
        for (word, chunk) in md5.state.iter_mut().zip(saved[..16].chunks_exact(4)) {
            *word = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        }
        md5.buf[..pos].copy_from_slice(kept);
        Some(md5)
    }

    fn compress(&mut self, blocks: &[[u8; BLOCK]]) {
        self.blocks = self.blocks.wrapping_add(blocks.len() as u64);
        // Read from memory rather than built into the instructions: as
        // immediates, the compiler adds them after `f`, on the chain.
        let k = std::hint::black_box(&K);
        let [mut a, mut b, mut c, mut d] = self.state;
        for block in blocks {
            let mut w = [0u32; 16];
            for (word, bytes) in w.iter_mut().zip(block.as_chunks::<4>().0) {
                *word = u32::from_le_bytes(*bytes);
            }
            let (a0, b0, c0, d0) = (a, b, c, d);
            // One step: `$a` becomes `$b + ((a + f + w[$j] + K[$i]) <<< $s)`.
            macro_rules! step {
                ($f:expr, $a:ident, $b:ident, $i:expr, $j:expr, $s:expr) => {
                    $a = $a
                        .wrapping_add(w[$j].wrapping_add(k[$i]))
                        .wrapping_add($f)
                        .rotate_left($s)
                        .wrapping_add($b);
                };
            }
            // F = (b & c) | (!b & d), as a choice of c or d by b's bits.
            macro_rules! f {
                ($a:ident, $b:ident, $c:ident, $d:ident, $i:expr, $s:expr) => {
                    step!($d ^ ($b & ($c ^ $d)), $a, $b, $i, $i, $s)
                };
            }
            // G = (b & d) | (c & !d): the terms never share a bit, so they
            // may be added, and `c & !d` does not wait for `b`.
            macro_rules! g {
                ($a:ident, $b:ident, $c:ident, $d:ident, $i:expr, $j:expr, $s:expr) => {
                    step!(($c & !$d).wrapping_add($b & $d), $a, $b, $i, $j, $s)
                };
            }
            macro_rules! h {
                ($a:ident, $b:ident, $c:ident, $d:ident, $i:expr, $j:expr, $s:expr) => {
                    step!($b ^ $c ^ $d, $a, $b, $i, $j, $s)
                };
            }
            macro_rules! i {
                ($a:ident, $b:ident, $c:ident, $d:ident, $i:expr, $j:expr, $s:expr) => {
                    step!($c ^ ($b | !$d), $a, $b, $i, $j, $s)
                };
            }
            f!(a, b, c, d, 0, 7);
            f!(d, a, b, c, 1, 12);
            f!(c, d, a, b, 2, 17);
            f!(b, c, d, a, 3, 22);
            f!(a, b, c, d, 4, 7);
            f!(d, a, b, c, 5, 12);
            f!(c, d, a, b, 6, 17);
            f!(b, c, d, a, 7, 22);
            f!(a, b, c, d, 8, 7);
            f!(d, a, b, c, 9, 12);
            f!(c, d, a, b, 10, 17);
            f!(b, c, d, a, 11, 22);
            f!(a, b, c, d, 12, 7);
            f!(d, a, b, c, 13, 12);
            f!(c, d, a, b, 14, 17);
            f!(b, c, d, a, 15, 22);

            g!(a, b, c, d, 16, 1, 5);
            g!(d, a, b, c, 17, 6, 9);
            g!(c, d, a, b, 18, 11, 14);
            g!(b, c, d, a, 19, 0, 20);
            g!(a, b, c, d, 20, 5, 5);
            g!(d, a, b, c, 21, 10, 9);
            g!(c, d, a, b, 22, 15, 14);
            g!(b, c, d, a, 23, 4, 20);
            g!(a, b, c, d, 24, 9, 5);
            g!(d, a, b, c, 25, 14, 9);
            g!(c, d, a, b, 26, 3, 14);
            g!(b, c, d, a, 27, 8, 20);
            g!(a, b, c, d, 28, 13, 5);
            g!(d, a, b, c, 29, 2, 9);
            g!(c, d, a, b, 30, 7, 14);
            g!(b, c, d, a, 31, 12, 20);

            h!(a, b, c, d, 32, 5, 4);
            h!(d, a, b, c, 33, 8, 11);
            h!(c, d, a, b, 34, 11, 16);
            h!(b, c, d, a, 35, 14, 23);
            h!(a, b, c, d, 36, 1, 4);
            h!(d, a, b, c, 37, 4, 11);
            h!(c, d, a, b, 38, 7, 16);
            h!(b, c, d, a, 39, 10, 23);
            h!(a, b, c, d, 40, 13, 4);
            h!(d, a, b, c, 41, 0, 11);
            h!(c, d, a, b, 42, 3, 16);
            h!(b, c, d, a, 43, 6, 23);
            h!(a, b, c, d, 44, 9, 4);
            h!(d, a, b, c, 45, 12, 11);
            h!(c, d, a, b, 46, 15, 16);
            h!(b, c, d, a, 47, 2, 23);

            i!(a, b, c, d, 48, 0, 6);
            i!(d, a, b, c, 49, 7, 10);
            i!(c, d, a, b, 50, 14, 15);
            i!(b, c, d, a, 51, 5, 21);
            i!(a, b, c, d, 52, 12, 6);
            i!(d, a, b, c, 53, 3, 10);
            i!(c, d, a, b, 54, 10, 15);
            i!(b, c, d, a, 55, 1, 21);
            i!(a, b, c, d, 56, 8, 6);
            i!(d, a, b, c, 57, 15, 10);
            i!(c, d, a, b, 58, 6, 15);
            i!(b, c, d, a, 59, 13, 21);
            i!(a, b, c, d, 60, 4, 6);
            i!(d, a, b, c, 61, 11, 10);
            i!(c, d, a, b, 62, 2, 15);
            i!(b, c, d, a, 63, 9, 21);

            a = a.wrapping_add(a0);
            b = b.wrapping_add(b0);
            c = c.wrapping_add(c0);
            d = d.wrapping_add(d0);
        }
        self.state = [a, b, c, d];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::md5::Digest;
    use ::md5::digest::common::hazmat::SerializableState;
    use proptest::prelude::*;

    fn digest(bytes: &[u8]) -> [u8; 16] {
        let mut md5 = Md5::default();
        md5.update(bytes);
        md5.finish()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn constants_are_the_sines_the_rfc_defines() {
        for (i, &k) in K.iter().enumerate() {
            let sine = ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32;
            assert_eq!(k, sine, "constant {i}");
        }
    }

    #[test]
    fn the_rfc_test_suite() {
        // RFC 1321, appendix A.5.
        let suite: [(&str, &str); 7] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (text, want) in suite {
            assert_eq!(hex(&digest(text.as_bytes())), want, "{text:?}");
        }
    }

    #[test]
    fn every_length_around_the_padding_edges_matches_md5_crate() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 31 + 7) as u8).collect();
        for len in 0..data.len() {
            let want: [u8; 16] = ::md5::Md5::digest(&data[..len]).into();
            assert_eq!(digest(&data[..len]), want, "length {len}");
        }
    }

    #[test]
    fn a_state_saved_by_the_md5_crate_restores_and_ours_reads_back_in_it() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 13) as u8).collect();
        for cut in [0, 1, 63, 64, 65, 200, 999] {
            let mut theirs = ::md5::Md5::new();
            theirs.update(&data[..cut]);
            let saved: [u8; SAVED_LEN] = theirs.serialize().as_slice().try_into().unwrap();
            let mut ours = Md5::restore(&saved).expect("restores");
            assert_eq!(ours.save(), saved, "cut {cut}");
            ours.update(&data[cut..]);
            assert_eq!(ours.finish(), digest(&data), "cut {cut}");
        }
    }

    #[test]
    fn a_saved_state_with_a_bad_count_or_stray_bytes_is_refused() {
        let mut md5 = Md5::default();
        md5.update(b"abc");
        let mut saved = md5.save();
        saved[24] = 64;
        assert!(Md5::restore(&saved).is_none());
        let mut saved = md5.save();
        saved[30] = 1;
        assert!(Md5::restore(&saved).is_none());
    }

    proptest! {
        #[test]
        fn any_split_into_updates_gives_the_md5_crates_digest(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(0usize..2000, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut md5 = Md5::default();
            let mut at = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                md5.update(&data[at..cut]);
                at = cut;
            }
            let want: [u8; 16] = ::md5::Md5::digest(&data).into();
            prop_assert_eq!(md5.finish(), want);
        }
    }
}
