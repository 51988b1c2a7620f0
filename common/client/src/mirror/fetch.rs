//! Step two of a mirrored download: the pieces. One [`Job`] is shared by one
//! worker thread per agreeing mirror; each takes pieces from one queue, so a
//! fast mirror does more, gives back the piece it was on when it fails, and
//! once the queue is empty helps with pieces still in flight elsewhere (the
//! end game). Pieces land at their offsets in the `.part` file and are
//! reported as [`Event`]s; [`InOrder`] hashes them in file order as they
//! arrive.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::MIRROR_RANGE_BYTES;
use crate::{Client, ClientError, DownloadOptions, Span};
use ferry_io::platform;
use ferry_proto::hash::{Hasher, Md5Digest};

/// What a worker tells the download.
pub(super) enum Event {
    /// A piece is in place; reported exactly once per piece.
    Piece {
        mirror: usize,
        piece: u64,
        bytes: u64,
        speed: u64,
    },
    /// The mirror failed and its worker stopped.
    Dropped { mirror: usize, why: String },
}

/// The shared state of one mirrored download.
pub(super) struct Job {
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) file: File,
    pub(super) queue: Mutex<VecDeque<u64>>,
    /// Pieces being fetched, with how many workers are on each.
    pub(super) in_flight: Mutex<HashMap<u64, usize>>,
    /// Finished pieces and the mirror that delivered each (`usize::MAX`:
    /// an earlier run).
    pub(super) done: Mutex<HashMap<u64, usize>>,
    pub(super) stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Job {
    fn done_count(&self) -> usize {
        lock(&self.done).len()
    }

    /// Which mirror delivered each finished piece.
    pub(super) fn served_by(&self) -> HashMap<u64, usize> {
        lock(&self.done).clone()
    }

    /// The next piece for a worker: from the queue, or, once it is empty,
    /// one still in flight elsewhere (the end game).
    fn next_piece(&self) -> Option<u64> {
        if let Some(p) = lock(&self.queue).pop_front() {
            *lock(&self.in_flight).entry(p).or_default() += 1;
            return Some(p);
        }
        let mut flying = lock(&self.in_flight);
        let done = lock(&self.done);
        let p = flying
            .iter()
            .filter(|(p, workers)| **workers < 2 && !done.contains_key(*p))
            .map(|(p, _)| *p)
            .min()?;
        *flying.entry(p).or_default() += 1;
        Some(p)
    }

    fn release(&self, piece: u64) {
        let mut flying = lock(&self.in_flight);
        if let Some(n) = flying.get_mut(&piece) {
            *n -= 1;
            if *n == 0 {
                flying.remove(&piece);
            }
        }
    }

    /// One mirror's worker: fetch pieces until none are left or it fails.
    pub(super) fn work(
        &self,
        mirror: usize,
        mut client: Client,
        version: u32,
        events: &mpsc::Sender<Event>,
    ) {
        while !self.stop.load(Ordering::SeqCst) {
            let Some(piece) = self.next_piece() else {
                if self.done_count() as u64 == self.size.div_ceil(MIRROR_RANGE_BYTES)
                    || lock(&self.in_flight).is_empty()
                {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
                continue;
            };
            let start = piece * MIRROR_RANGE_BYTES;
            let len = piece_len(piece, self.size);
            let began = Instant::now();
            let mut bytes = Vec::with_capacity(len as usize);
            let stop = &self.stop;
            let piece_of = DownloadOptions {
                version: Some(version),
                span: Span::Range {
                    offset: start,
                    length: len,
                },
                progress: Some(&mut |_| {
                    if stop.load(Ordering::SeqCst) {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }),
                ..DownloadOptions::default()
            };
            let got = client.download(&self.name, &mut bytes, piece_of);
            if let Err(e) = got {
                // Back to the queue first, then out of flight, so no idle
                // worker ever sees the piece in neither place.
                if !lock(&self.done).contains_key(&piece) {
                    lock(&self.queue).push_front(piece);
                }
                self.release(piece);
                if !matches!(e, ClientError::Cancelled) {
                    let _ = events.send(Event::Dropped {
                        mirror,
                        why: format!("failed ({e})"),
                    });
                }
                return;
            }
            // First finisher wins; a duplicate from the end game is dropped.
            let mut done = lock(&self.done);
            if done.contains_key(&piece) {
                drop(done);
                self.release(piece);
                continue;
            }
            if let Err(e) = platform::write_all_at(&self.file, &bytes, start) {
                drop(done);
                lock(&self.queue).push_front(piece);
                self.release(piece);
                let _ = events.send(Event::Dropped {
                    mirror,
                    why: format!("could not write its piece ({e})"),
                });
                return;
            }
            done.insert(piece, mirror);
            drop(done);
            self.release(piece);
            let secs = began.elapsed().as_secs_f64().max(1e-6);
            let sent = events.send(Event::Piece {
                mirror,
                piece,
                bytes: len,
                speed: (len as f64 / secs) as u64,
            });
            if sent.is_err() {
                return; // the download was given up
            }
        }
    }
}

/// Hashes a file's pieces in order as they become available.
pub(super) struct InOrder {
    hasher: Hasher,
    next: u64,
    pieces: u64,
    size: u64,
    buf: Vec<u8>,
}

impl InOrder {
    pub(super) fn new(size: u64) -> Self {
        InOrder {
            hasher: Hasher::new(),
            next: 0,
            pieces: size.div_ceil(MIRROR_RANGE_BYTES),
            size,
            buf: Vec::new(),
        }
    }

    /// Hashes every piece from the next one on that is in place.
    pub(super) fn advance(&mut self, job: &Job) -> io::Result<()> {
        while self.next < self.pieces && lock(&job.done).contains_key(&self.next) {
            let len = piece_len(self.next, self.size) as usize;
            self.buf.resize(len, 0);
            platform::read_exact_at(&job.file, &mut self.buf, self.next * MIRROR_RANGE_BYTES)?;
            self.hasher.update(&self.buf);
            self.next += 1;
        }
        Ok(())
    }

    pub(super) fn finish(self) -> Md5Digest {
        debug_assert_eq!(self.next, self.pieces);
        self.hasher.finish()
    }
}

/// The length of piece number `piece` of a `size`-byte file.
pub(super) fn piece_len(piece: u64, size: u64) -> u64 {
    MIRROR_RANGE_BYTES.min(size - piece * MIRROR_RANGE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::hash::md5_bytes;

    #[test]
    fn pieces_cover_the_file() {
        let size = 3 * MIRROR_RANGE_BYTES + 17;
        let total: u64 = (0..size.div_ceil(MIRROR_RANGE_BYTES))
            .map(|p| piece_len(p, size))
            .sum();
        assert_eq!(total, size);
        assert_eq!(piece_len(3, size), 17);
        assert_eq!(piece_len(0, MIRROR_RANGE_BYTES), MIRROR_RANGE_BYTES);
    }

    fn job(size: u64, queue: &[u64]) -> Job {
        Job {
            name: "f.bin".into(),
            size,
            file: tempfile::tempfile().unwrap(),
            queue: Mutex::new(queue.iter().copied().collect()),
            in_flight: Mutex::new(HashMap::new()),
            done: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
        }
    }

    #[test]
    fn the_queue_first_then_at_most_two_workers_per_piece() {
        let job = job(3 * MIRROR_RANGE_BYTES, &[0, 1, 2]);
        assert_eq!(
            [job.next_piece(), job.next_piece(), job.next_piece()],
            [Some(0), Some(1), Some(2)]
        );
        lock(&job.done).insert(0, 0);
        // The end game: the lowest piece still in flight and not done.
        assert_eq!(job.next_piece(), Some(1));
        assert_eq!(job.next_piece(), Some(2));
        assert_eq!(job.next_piece(), None, "two workers on each already");
        job.release(1);
        assert_eq!(job.next_piece(), Some(1));
        job.release(1);
        job.release(1);
        assert!(!lock(&job.in_flight).contains_key(&1));
    }

    #[test]
    fn pieces_are_hashed_in_file_order_whatever_order_they_land_in() {
        let size = 2 * MIRROR_RANGE_BYTES + 5;
        let data: Vec<u8> = (0..size).map(|i| (i % 249) as u8).collect();
        let job = job(size, &[]);
        platform::write_all_at(&job.file, &data, 0).unwrap();
        let mut check = InOrder::new(size);
        lock(&job.done).insert(2, 0);
        check.advance(&job).unwrap();
        assert_eq!(check.next, 0, "piece 0 is not in place yet");
        lock(&job.done).insert(0, 1);
        check.advance(&job).unwrap();
        assert_eq!(check.next, 1);
        lock(&job.done).insert(1, 1);
        check.advance(&job).unwrap();
        assert_eq!(check.finish(), md5_bytes(&data));
    }
}
