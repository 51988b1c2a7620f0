//! Hashing a transfer without slowing it down: [`StreamHasher`] hashes a
//! stream's first bytes inline and, once the stream proves large (or from
//! the start, when it is known to be large), moves the MD5 work to a thread
//! of its own, so hashing overlaps the I/O instead of running between its
//! reads and writes. The thread that moves the bytes reads or receives them
//! straight into the hasher's buffers ([`StreamHasher::buffer`], then
//! [`StreamHasher::update_owned`]), or has them copied in
//! ([`StreamHasher::update`]).
//!
//! A resumable transfer must save the MD5 state that matches the bytes it
//! has kept. [`StreamHasher::mark`] asks for the state at the current
//! offset without waiting for the hashing thread to catch up;
//! [`StreamHasher::take_checkpoint`] returns it once it is ready.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};

use ferry_proto::Md5Digest;
use ferry_proto::hash::Hasher;

/// Bytes hashed inline before a hashing thread is started: a thread per
/// small file would cost more than it saves, and memory for hand-off
/// buffers is spent only on large transfers.
const THREAD_AFTER: u64 = 32 << 20;
/// Size of one hand-off buffer.
const HANDOFF_BYTES: usize = 1 << 20;
/// Hand-off buffers per stream: how far the I/O may run ahead of hashing.
const DEPTH: usize = 4;
/// The hashing thread needs little stack.
const STACK: usize = 64 * 1024;

/// The MD5 state over the first `offset` bytes of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashCheckpoint {
    /// Bytes hashed.
    pub offset: u64,
    /// [`Hasher::save`] output.
    pub state: String,
}

/// A running MD5 of a stream that moves to its own thread once the stream
/// is large. Results are the same as [`Hasher`]'s, byte for byte.
pub struct StreamHasher {
    fed: u64,
    mode: Mode,
    snapshot: Option<HashCheckpoint>,
    /// The buffer of the last [`StreamHasher::update_owned`] while inline.
    spare: Option<Vec<u8>>,
}

enum Mode {
    Inline(Hasher),
    Threaded(Worker),
}

struct Worker {
    jobs: Sender<Job>,
    done: Receiver<Done>,
    thread: JoinHandle<Hasher>,
    /// The buffer being filled; handed off when full.
    current: Vec<u8>,
    spare: Vec<Vec<u8>>,
    /// Buffers handed off and not yet returned.
    in_flight: usize,
}

enum Job {
    /// A buffer and how many of its bytes to hash.
    Bytes(Vec<u8>, usize),
    Run(Box<dyn FnOnce(&mut Hasher) + Send>),
    Mark(u64),
}

enum Done {
    Buffer(Vec<u8>),
    Marked(HashCheckpoint),
}

impl StreamHasher {
    /// Continues `hasher`, which has seen the stream's first `offset` bytes.
    pub fn new(hasher: Hasher, offset: u64) -> Self {
        StreamHasher {
            fed: offset,
            mode: Mode::Inline(hasher),
            snapshot: None,
            spare: None,
        }
    }

    /// Like [`StreamHasher::new`] for a stream known to end at byte `end`:
    /// a large one gets its hashing thread at once.
    pub fn with_end(hasher: Hasher, offset: u64, end: u64) -> Self {
        let mut stream = StreamHasher::new(hasher, offset);
        if end.saturating_sub(offset) > THREAD_AFTER {
            stream.start_thread();
        }
        stream
    }

    /// Bytes of the stream fed so far (including the starting offset).
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.fed += bytes.len() as u64;
        self.thread_if_large();
        match &mut self.mode {
            Mode::Inline(hasher) => hasher.update(bytes),
            Mode::Threaded(worker) => worker.feed(bytes, &mut self.snapshot),
        }
    }

    /// A buffer of at least `len` bytes (or 1 MiB if that is less) of no
    /// particular value, to fill and give to [`StreamHasher::update_owned`],
    /// which hashes it without a copy.
    pub fn buffer(&mut self, len: usize) -> Vec<u8> {
        let mut buf = match &mut self.mode {
            Mode::Inline(_) => self.spare.take().unwrap_or_default(),
            Mode::Threaded(worker) => worker.free_buffer(&mut self.snapshot),
        };
        // A reused buffer keeps its length, so it is not filled again.
        let want = len.min(HANDOFF_BYTES);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        buf
    }

    /// Feeds the first `len` bytes of `buf`, best one from
    /// [`StreamHasher::buffer`].
    pub fn update_owned(&mut self, buf: Vec<u8>, len: usize) {
        self.fed += len as u64;
        self.thread_if_large();
        match &mut self.mode {
            Mode::Inline(hasher) => {
                hasher.update(&buf[..len]);
                self.spare = Some(buf);
            }
            Mode::Threaded(worker) => worker.feed_owned(buf, len, &mut self.snapshot),
        }
    }

    /// Feeds `len` bytes that live elsewhere: `hash` gives them to the
    /// hasher, on the hashing thread when there is one, in order with all
    /// other bytes, and may then pass their buffer on (to be written, say).
    pub fn update_with(&mut self, len: usize, hash: impl FnOnce(&mut Hasher) + Send + 'static) {
        self.fed += len as u64;
        self.thread_if_large();
        match &mut self.mode {
            Mode::Inline(hasher) => hash(hasher),
            Mode::Threaded(worker) => worker.run(Box::new(hash), &mut self.snapshot),
        }
    }

    /// Moves the hashing to a thread once the stream is large.
    fn thread_if_large(&mut self) {
        if self.fed > THREAD_AFTER {
            self.start_thread();
        }
    }

    fn start_thread(&mut self) {
        if let Mode::Inline(hasher) = &mut self.mode {
            let hasher = std::mem::take(hasher);
            self.mode = match Worker::start(hasher) {
                Ok(worker) => Mode::Threaded(worker),
                // No thread to be had (a process at its limit): hash here.
                Err(hasher) => Mode::Inline(hasher),
            };
        }
    }

    /// Asks for the MD5 state at the current offset; it arrives through
    /// [`StreamHasher::take_checkpoint`] once every byte before it is hashed.
    pub fn mark(&mut self) {
        match &mut self.mode {
            Mode::Inline(hasher) => {
                self.snapshot = Some(HashCheckpoint {
                    offset: self.fed,
                    state: hasher.save(),
                });
            }
            Mode::Threaded(worker) => worker.mark(self.fed, &mut self.snapshot),
        }
    }

    /// The newest marked state that is ready, if one became ready since the
    /// last call. Never waits.
    pub fn take_checkpoint(&mut self) -> Option<HashCheckpoint> {
        if let Mode::Threaded(worker) = &mut self.mode {
            worker.collect(&mut self.snapshot);
        }
        self.snapshot.take()
    }

    /// Waits until every byte fed so far is hashed; the hasher over them.
    /// Feeding may go on afterwards.
    pub fn hasher(&mut self) -> &Hasher {
        if let Mode::Threaded(_) = self.mode {
            let Mode::Threaded(worker) =
                std::mem::replace(&mut self.mode, Mode::Inline(Hasher::new()))
            else {
                unreachable!("matched above")
            };
            self.mode = Mode::Inline(worker.finish());
        }
        match &self.mode {
            Mode::Inline(hasher) => hasher,
            Mode::Threaded(_) => unreachable!("joined above"),
        }
    }

    /// Waits for every byte to be hashed; the hasher over the whole stream.
    pub fn finish(self) -> Hasher {
        match self.mode {
            Mode::Inline(hasher) => hasher,
            Mode::Threaded(worker) => worker.finish(),
        }
    }
}

impl Worker {
    /// Starts the hashing thread; gives the hasher back if it cannot.
    fn start(hasher: Hasher) -> Result<Worker, Hasher> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel::<Done>();
        // A copy goes to the thread, so the original can be given back if
        // there is no thread.
        let mut seed = hasher.clone();
        let spawned = thread::Builder::new()
            .name("md5".into())
            .stack_size(STACK)
            .spawn(move || {
                for job in job_rx {
                    let reply = match job {
                        Job::Bytes(buf, len) => {
                            seed.update(&buf[..len]);
                            Done::Buffer(buf)
                        }
                        Job::Run(hash) => {
                            hash(&mut seed);
                            continue;
                        }
                        Job::Mark(offset) => Done::Marked(HashCheckpoint {
                            offset,
                            state: seed.save(),
                        }),
                    };
                    // The owner may be gone (dropped mid-transfer): keep going
                    // only while someone listens.
                    if done_tx.send(reply).is_err() {
                        break;
                    }
                }
                seed
            });
        match spawned {
            Ok(thread) => Ok(Worker {
                jobs,
                done,
                thread,
                current: Vec::with_capacity(HANDOFF_BYTES),
                spare: Vec::new(),
                in_flight: 0,
            }),
            Err(e) => {
                log::warn!("cannot start a hashing thread ({e}); hashing inline");
                Err(hasher)
            }
        }
    }

    fn feed(&mut self, mut bytes: &[u8], snapshot: &mut Option<HashCheckpoint>) {
        while !bytes.is_empty() {
            let room = HANDOFF_BYTES - self.current.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.current.extend_from_slice(now);
            bytes = rest;
            if self.current.len() == HANDOFF_BYTES {
                self.hand_off(snapshot);
            }
        }
    }

    fn feed_owned(&mut self, buf: Vec<u8>, len: usize, snapshot: &mut Option<HashCheckpoint>) {
        // Bytes fed by copy before these go first.
        self.hand_off(snapshot);
        self.in_flight += 1;
        self.send(Job::Bytes(buf, len));
    }

    fn run(
        &mut self,
        hash: Box<dyn FnOnce(&mut Hasher) + Send>,
        snapshot: &mut Option<HashCheckpoint>,
    ) {
        // Bytes fed by copy before these go first.
        self.hand_off(snapshot);
        self.send(Job::Run(hash));
    }

    fn mark(&mut self, offset: u64, snapshot: &mut Option<HashCheckpoint>) {
        self.hand_off(snapshot);
        self.send(Job::Mark(offset));
    }

    /// Sends the current buffer (if it holds anything) to be hashed and
    /// takes a free one in its place.
    fn hand_off(&mut self, snapshot: &mut Option<HashCheckpoint>) {
        if self.current.is_empty() {
            return;
        }
        let mut next = self.free_buffer(snapshot);
        next.clear();
        let full = std::mem::replace(&mut self.current, next);
        self.in_flight += 1;
        let len = full.len();
        self.send(Job::Bytes(full, len));
    }

    /// A buffer that is not in flight, waiting for the hashing thread to
    /// return one when all are.
    fn free_buffer(&mut self, snapshot: &mut Option<HashCheckpoint>) -> Vec<u8> {
        self.collect(snapshot);
        if let Some(buf) = self.spare.pop() {
            return buf;
        }
        if self.in_flight + 1 < DEPTH {
            return Vec::with_capacity(HANDOFF_BYTES);
        }
        loop {
            match self.done.recv() {
                Ok(Done::Buffer(buf)) => {
                    self.in_flight -= 1;
                    return buf;
                }
                Ok(Done::Marked(s)) => *snapshot = Some(s),
                Err(_) => hashing_thread_died(),
            }
        }
    }

    /// Takes back what the hashing thread has finished, without waiting.
    fn collect(&mut self, snapshot: &mut Option<HashCheckpoint>) {
        while let Ok(done) = self.done.try_recv() {
            match done {
                Done::Buffer(buf) => {
                    self.in_flight -= 1;
                    self.spare.push(buf);
                }
                Done::Marked(s) => *snapshot = Some(s),
            }
        }
    }

    fn send(&self, job: Job) {
        if self.jobs.send(job).is_err() {
            hashing_thread_died();
        }
    }

    fn finish(mut self) -> Hasher {
        self.hand_off(&mut None);
        drop(self.jobs);
        match self.thread.join() {
            Ok(hasher) => hasher,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// The hashing thread only ends when told to, unless it panicked; that
/// panic is the bug to report, so it is raised here too.
fn hashing_thread_died() -> ! {
    panic!("the MD5 hashing thread stopped unexpectedly")
}

/// Hashes a whole file; returns its digest and length.
pub fn md5_file(path: &Path) -> io::Result<(Md5Digest, u64)> {
    md5_reader(File::open(path)?)
}

/// Hashes everything a reader yields; returns its digest and length.
pub fn md5_reader(mut reader: impl Read) -> io::Result<(Md5Digest, u64)> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hasher.finish(), total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::hash::md5_bytes;

    /// `data` cut into pieces of the given sizes, cycling through them.
    fn pieces(data: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = 0;
        for size in sizes.iter().cycle() {
            if at >= data.len() {
                break;
            }
            let end = (at + size).min(data.len());
            out.push(data[at..end].to_vec());
            at = end;
        }
        out
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len as u64).map(|i| (i * 31 + i / 977) as u8).collect()
    }

    #[test]
    fn a_large_stream_hashes_the_same_on_its_thread() {
        let data = data(THREAD_AFTER as usize + 3 * HANDOFF_BYTES + 12_345);
        let mut stream = StreamHasher::new(Hasher::new(), 0);
        for piece in pieces(
            &data,
            &[1, 70_000, HANDOFF_BYTES, 3 * HANDOFF_BYTES + 5, 4096],
        ) {
            stream.update(&piece);
        }
        assert!(matches!(stream.mode, Mode::Threaded(_)));
        assert_eq!(stream.fed(), data.len() as u64);
        assert_eq!(stream.finish().finish(), md5_bytes(&data));
    }

    #[test]
    fn snapshots_match_their_offset_and_a_resume_continues_from_them() {
        let data = data(THREAD_AFTER as usize * 2);
        let mut stream = StreamHasher::new(Hasher::new(), 0);
        let mut snapshots = Vec::new();
        for (i, piece) in pieces(&data, &[1 << 20]).into_iter().enumerate() {
            stream.update(&piece);
            if i % 5 == 4 {
                stream.mark();
            }
            snapshots.extend(stream.take_checkpoint());
        }
        let whole = stream.finish();
        assert_eq!(whole.finish(), md5_bytes(&data));
        assert!(!snapshots.is_empty());
        for s in &snapshots {
            let at = s.offset as usize;
            assert_eq!(at % (5 << 20), 0, "marks fall every 5 MiB");
            let mut resumed = StreamHasher::new(Hasher::restore(&s.state).unwrap(), s.offset);
            resumed.update(&data[at..]);
            assert_eq!(resumed.finish().finish(), md5_bytes(&data), "from {at}");
        }
    }

    #[test]
    fn owned_buffers_and_copies_mix_in_order() {
        let data = data(THREAD_AFTER as usize + 5 * HANDOFF_BYTES + 999);
        let mut stream = StreamHasher::new(Hasher::new(), 0);
        let mut at = 0;
        let mut owned = true;
        while at < data.len() {
            let n = (data.len() - at).min(if owned { HANDOFF_BYTES - 7 } else { 5000 });
            if owned {
                let mut buf = stream.buffer(HANDOFF_BYTES);
                assert_eq!(buf.len(), HANDOFF_BYTES);
                buf[..n].copy_from_slice(&data[at..at + n]);
                stream.update_owned(buf, n);
            } else {
                stream.update(&data[at..at + n]);
            }
            at += n;
            owned = !owned;
        }
        assert!(matches!(stream.mode, Mode::Threaded(_)));
        assert_eq!(stream.finish().finish(), md5_bytes(&data));
    }

    #[test]
    fn bytes_hashed_elsewhere_keep_their_place_and_their_offsets() {
        let data = data(THREAD_AFTER as usize + 4 * HANDOFF_BYTES + 777);
        let mut stream = StreamHasher::new(Hasher::new(), 0);
        let (tx, rx) = mpsc::channel();
        let mut at = 0;
        let mut marked_at = 0;
        for (i, n) in [5000, HANDOFF_BYTES, 3 * HANDOFF_BYTES, 123]
            .iter()
            .cycle()
            .enumerate()
        {
            let n = (*n).min(data.len() - at);
            if n == 0 {
                break;
            }
            let piece = data[at..at + n].to_vec();
            if i % 2 == 0 {
                stream.update(&piece);
            } else {
                // As a stage is: hashed where it lies, then passed on.
                let passed_on = tx.clone();
                stream.update_with(n, move |hasher| {
                    hasher.update(&piece);
                    passed_on.send(piece.len()).unwrap();
                });
            }
            at += n;
            if i == 5 {
                stream.mark();
                marked_at = at;
            }
        }
        assert!(matches!(stream.mode, Mode::Threaded(_)));
        assert_eq!(stream.fed(), data.len() as u64);
        // The mark arrives once the hashing thread gets to it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mark = loop {
            if let Some(mark) = stream.take_checkpoint() {
                break mark;
            }
            assert!(std::time::Instant::now() < deadline, "the mark never came");
            thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(mark.offset, marked_at as u64);
        let mut resumed = StreamHasher::new(Hasher::restore(&mark.state).unwrap(), mark.offset);
        resumed.update(&data[marked_at..]);
        assert_eq!(resumed.finish().finish(), md5_bytes(&data));
        let whole = stream.finish();
        drop(tx);
        assert!(rx.iter().count() > 0, "the buffers were passed on");
        assert_eq!(whole.finish(), md5_bytes(&data));
    }

    #[test]
    fn a_small_stream_stays_inline_and_marks_at_once() {
        let data = data(100_000);
        let mut stream = StreamHasher::new(Hasher::new(), 0);
        stream.update(&data[..40_000]);
        stream.mark();
        let s = stream
            .take_checkpoint()
            .expect("inline marks are ready at once");
        assert_eq!(s.offset, 40_000);
        assert!(stream.take_checkpoint().is_none());
        stream.update(&data[40_000..]);
        assert!(matches!(stream.mode, Mode::Inline(_)));
        assert_eq!(stream.finish().finish(), md5_bytes(&data));
    }
}
