//! The transfer slots: a counting semaphore that caps how many transfers
//! run at once; a transfer waiting for one can still be cancelled or paused.
//!
//! It knows nothing of connections or the UI; `transfers` holds a slot for
//! as long as a transfer runs.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::messages::{Stop, StopFlag};

/// How often a queued transfer checks whether it was cancelled.
const QUEUE_POLL: Duration = Duration::from_millis(100);

/// A counting semaphore for transfers; waiting can be cancelled.
pub(super) struct TransferSlots {
    state: Mutex<(usize, usize)>, // (in use, allowed)
    freed: Condvar,
}

pub(super) struct TransferSlot<'a>(&'a TransferSlots);

impl TransferSlots {
    pub(super) fn new(max: usize) -> TransferSlots {
        TransferSlots {
            state: Mutex::new((0, max.max(1))),
            freed: Condvar::new(),
        }
    }

    pub(super) fn set_max(&self, max: usize) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = max.max(1);
        self.freed.notify_all();
    }

    /// Waits for a free slot; `None` if the transfer was stopped meanwhile.
    pub(super) fn acquire(&self, stop: &StopFlag) -> Option<TransferSlot<'_>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if stop.get() != Stop::Run {
                return None;
            }
            if state.0 < state.1 {
                state.0 += 1;
                return Some(TransferSlot(self));
            }
            state = self
                .freed
                .wait_timeout(state, QUEUE_POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for TransferSlot<'_> {
    fn drop(&mut self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0 -= 1;
        self.0.freed.notify_one();
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
}
