//! Connections that have not logged in yet, counted per client address.
//!
//! Before its login a connection costs the server a thread and a slot of
//! the connection cap while proving nothing, so one address may hold only
//! a few such connections at once ([`crate::Config::max_unauthenticated`]);
//! past that a new one is refused at once. Together with the login deadline
//! this keeps slow or anonymous sockets from starving real users.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The count of not-logged-in connections per address.
#[derive(Default)]
pub(crate) struct Anonymous {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl Anonymous {
    /// Counts a new connection from `ip`, unless `ip` already has `cap`
    /// connections that have not logged in.
    pub(crate) fn enter(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<Stranger> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(Stranger {
            anonymous: Arc::clone(self),
            ip,
        })
    }

    /// How many connections from `ip` have not logged in.
    #[cfg(test)]
    fn count(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&ip).copied().unwrap_or(0)
    }
}

/// One connection that has not logged in yet; dropped at its first login
/// or when it closes.
pub(crate) struct Stranger {
    anonymous: Arc<Anonymous>,
    ip: IpAddr,
}

impl Drop for Stranger {
    fn drop(&mut self) {
        let mut open = self
            .anonymous
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_holds_at_most_its_cap() {
        let anonymous = Arc::new(Anonymous::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let held: Vec<Stranger> = (0..3).map(|_| anonymous.enter(a, 3).unwrap()).collect();
        assert!(anonymous.enter(a, 3).is_none());
        assert!(anonymous.enter(b, 3).is_some(), "another address is let in");
        drop(held);
        assert_eq!(anonymous.count(a), 0);
        assert!(anonymous.enter(a, 3).is_some());
    }
}
