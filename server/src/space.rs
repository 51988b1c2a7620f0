//! Disk space for uploads: how much a new one may take, and what the
//! uploads in flight have already been promised.
//!
//! Each upload reserves its declared size (less what a resume already
//! holds) from its `OK READY` until its final reply. A new upload fits
//! only beside all the reservations, leaving the configured reserve free,
//! so uploads accepted together cannot all fail half-way on a full disk.

use std::sync::{Arc, Mutex, PoisonError};

/// Whether `need` more bytes fit on a disk with `free` bytes available,
/// `reserved` of them promised already, keeping `keep_free` free.
pub(crate) fn fits(free: u64, reserved: u64, need: u64, keep_free: u64) -> bool {
    free.saturating_sub(reserved) >= need.saturating_add(keep_free)
}

/// The bytes promised to uploads in flight.
#[derive(Default)]
pub(crate) struct Reservations {
    bytes: Mutex<u64>,
}

impl Reservations {
    /// Reserves `need` bytes if `allow(reserved)` says they fit beside the
    /// `reserved` bytes already promised. The check and the reservation are
    /// one step, so two uploads cannot both take the last space.
    pub(crate) fn reserve(
        self: &Arc<Self>,
        need: u64,
        allow: impl FnOnce(u64) -> bool,
    ) -> Option<Reserved> {
        let mut bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        if !allow(*bytes) {
            return None;
        }
        *bytes += need;
        Some(Reserved {
            reservations: Arc::clone(self),
            bytes: need,
        })
    }

    /// The bytes promised now.
    #[cfg(test)]
    fn total(&self) -> u64 {
        *self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Space promised to one upload, given back when dropped.
pub(crate) struct Reserved {
    reservations: Arc<Reservations>,
    bytes: u64,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let mut bytes = self
            .reservations
            .bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *bytes = bytes.saturating_sub(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_fit_only_beside_what_is_promised() {
        assert!(fits(100, 0, 60, 10));
        assert!(!fits(100, 40, 60, 10));
        assert!(fits(100, 30, 60, 10));
        assert!(!fits(10, 50, 0, 1), "more promised than free");
        assert!(!fits(u64::MAX - 1, 0, u64::MAX, 1), "no overflow");

        let space = Arc::new(Reservations::default());
        let free = 100;
        let first = space.reserve(60, |r| fits(free, r, 60, 10)).unwrap();
        assert!(space.reserve(60, |r| fits(free, r, 60, 10)).is_none());
        assert_eq!(space.total(), 60);
        drop(first);
        assert_eq!(space.total(), 0);
        assert!(space.reserve(60, |r| fits(free, r, 60, 10)).is_some());
    }
}
