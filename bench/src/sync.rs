//! Moving worker threads and the timing thread through phases together
//! (all logged in → go → all done), so that a figure times only the work,
//! never the logins.
//!
//! Unlike `std::sync::Barrier`, a party can leave: each worker holds a
//! [`Seat`] that leaves when it is dropped, so a worker that fails to start
//! or panics never leaves the others waiting forever.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Counts, per error kind, for the figures' error columns and the JSON.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Operations that completed.
    pub ops: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Transfers whose bytes came back different.
    pub corrupted: u64,
    /// The first few error messages, for the report.
    pub samples: Vec<String>,
}

impl Tally {
    /// Counts a failure and keeps its message if it is among the first few.
    pub fn error(&mut self, what: impl std::fmt::Display) {
        self.errors += 1;
        self.note(what);
    }

    /// Counts corrupted data and keeps its message.
    pub fn corrupt(&mut self, what: impl std::fmt::Display) {
        self.corrupted += 1;
        self.note(what);
    }

    fn note(&mut self, what: impl std::fmt::Display) {
        if self.samples.len() < 5 {
            self.samples.push(what.to_string());
        }
    }

    /// Adds another tally to this one.
    pub fn add(&mut self, other: Tally) {
        self.ops += other.ops;
        self.errors += other.errors;
        self.corrupted += other.corrupted;
        for s in other.samples {
            self.note(s);
        }
    }
}

struct State {
    parties: usize,
    arrived: usize,
    generation: u64,
}

/// A reusable barrier whose parties may leave.
pub struct Phases {
    state: Mutex<State>,
    turn: Condvar,
}

impl Phases {
    /// A barrier for `parties` threads.
    pub fn new(parties: usize) -> Phases {
        Phases {
            state: Mutex::new(State {
                parties,
                arrived: 0,
                generation: 0,
            }),
            turn: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until every remaining party has arrived at this phase.
    pub fn wait(&self) {
        let mut state = self.lock();
        let generation = state.generation;
        state.arrived += 1;
        if state.arrived >= state.parties {
            Self::release(&mut state, &self.turn);
            return;
        }
        while state.generation == generation {
            state = self
                .turn
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A seat for one worker: dropping it leaves the barrier.
    pub fn seat(&self) -> Seat<'_> {
        Seat(self)
    }

    fn leave(&self) {
        let mut state = self.lock();
        state.parties = state.parties.saturating_sub(1);
        if state.arrived > 0 && state.arrived >= state.parties {
            Self::release(&mut state, &self.turn);
        }
    }

    fn release(state: &mut State, turn: &Condvar) {
        state.arrived = 0;
        state.generation += 1;
        turn.notify_all();
    }
}

/// One worker's place at a [`Phases`] barrier; leaves on drop.
pub struct Seat<'a>(&'a Phases);

impl Seat<'_> {
    /// Waits for the others at this phase.
    pub fn wait(&self) {
        self.0.wait();
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    #[test]
    fn phases_hold_everyone_and_survive_a_worker_that_leaves() {
        let phases = Phases::new(4);
        let passed = AtomicUsize::new(0);
        thread::scope(|s| {
            for i in 0..3 {
                let seat = phases.seat();
                let passed = &passed;
                s.spawn(move || {
                    if i == 2 {
                        // Gives up before the first phase.
                        drop(seat);
                        return;
                    }
                    seat.wait();
                    passed.fetch_add(1, Ordering::SeqCst);
                    seat.wait();
                });
            }
            phases.wait();
            phases.wait();
            assert_eq!(passed.load(Ordering::SeqCst), 2);
        });
    }
}
