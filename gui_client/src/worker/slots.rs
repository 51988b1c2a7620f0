//! The transfer slots: a counting semaphore that caps how many transfers
//! run at once; a transfer waiting for one can still be cancelled or paused.
//!
//! It knows nothing of connections or the UI; `transfers` holds a slot for
//! as long as a transfer runs.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::messages::{Stop, StopFlag};

/// How often a queued transfer checks whether it was cancelled.
const QUEUE_POLL: Duration = Duration::from_millis(100);

/// A counting semaphore for transfers; waiting can be cancelled.
///
/// The free slots are tokens in a channel (the idiom of the server's
/// `BcryptGate`: the standard library has no semaphore). Unlike that gate,
/// the number of slots changes at run time, so the channel is unbounded
/// and a small count of tokens in existence says how many to make or
/// retire when the setting changes.
pub(super) struct TransferSlots {
    give: Sender<()>,
    take: Receiver<()>,
    /// (tokens in existence, free or held; slots allowed). Tokens beyond
    /// the allowed number are retired as they come back.
    count: Mutex<(usize, usize)>,
}

/// A slot taken from [`TransferSlots`], given back when dropped.
pub(super) struct TransferSlot<'a>(&'a TransferSlots);

impl TransferSlots {
    pub(super) fn new(max: usize) -> TransferSlots {
        let max = max.max(1);
        let (give, take) = crossbeam_channel::unbounded();
        for _ in 0..max {
            give.send(()).expect("both ends are held here");
        }
        TransferSlots {
            give,
            take,
            count: Mutex::new((max, max)),
        }
    }

    pub(super) fn set_max(&self, max: usize) {
        let max = max.max(1);
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, allowed) = &mut *count;
        *allowed = max;
        while *tokens < max {
            let _ = self.give.send(());
            *tokens += 1;
        }
        // Retire free tokens now; held ones beyond `max` go when given back.
        while *tokens > max && self.take.try_recv().is_ok() {
            *tokens -= 1;
        }
    }

    /// Waits for a free slot; `None` if the transfer was stopped meanwhile.
    pub(super) fn acquire(&self, stop: &StopFlag) -> Option<TransferSlot<'_>> {
        loop {
            if stop.get() != Stop::Run {
                return None;
            }
            match self.take.recv_timeout(QUEUE_POLL) {
                Ok(()) => return Some(TransferSlot(self)),
                Err(RecvTimeoutError::Timeout) => {}
                // Both ends live in `self`, so the channel never disconnects.
                Err(RecvTimeoutError::Disconnected) => unreachable!("slots hold their own sender"),
            }
        }
    }

    /// Slots free now.
    #[cfg(test)]
    fn free(&self) -> usize {
        self.take.len()
    }
}

impl Drop for TransferSlot<'_> {
    fn drop(&mut self) {
        let mut count = self.0.count.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, allowed) = &mut *count;
        if *tokens > *allowed {
            *tokens -= 1;
        } else {
            let _ = self.0.give.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_limit_and_cancel() {
        let slots = TransferSlots::new(1);
        let go = StopFlag::default();
        let first = slots.acquire(&go).expect("a free slot");
        let stop = StopFlag::default();
        stop.set(Stop::Pause);
        assert!(slots.acquire(&stop).is_none(), "stopped while waiting");
        assert_eq!(stop.get(), Stop::Pause);
        drop(first);
        assert!(slots.acquire(&go).is_some());
    }

    #[test]
    fn a_waiting_transfer_gets_the_freed_slot() {
        let slots = TransferSlots::new(1);
        let go = StopFlag::default();
        let first = slots.acquire(&go).expect("a free slot");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| slots.acquire(&go).is_some());
            std::thread::sleep(Duration::from_millis(50));
            drop(first);
            assert!(waiter.join().expect("the waiter ran"));
        });
        assert_eq!(slots.free(), 1);
    }

    #[test]
    fn the_limit_changes_while_transfers_run() {
        let slots = TransferSlots::new(2);
        let go = StopFlag::default();
        let a = slots.acquire(&go).expect("slot 1 of 2");
        let b = slots.acquire(&go).expect("slot 2 of 2");
        slots.set_max(1);
        assert_eq!(slots.free(), 0);
        drop(a);
        assert_eq!(slots.free(), 0, "the slot over the new limit is retired");
        drop(b);
        assert_eq!(slots.free(), 1);

        slots.set_max(3);
        assert_eq!(slots.free(), 3);
        slots.set_max(0);
        assert_eq!(slots.free(), 1, "at least one slot");
    }
}
