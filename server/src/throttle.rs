//! Login throttling. Failed logins are counted per account and per client
//! address, each with its own budget (as fail2ban's or SFTPGo's defender
//! do): past [`ACCOUNT_FAILURES`] failures of one account, or
//! [`ADDRESS_FAILURES`] from one address, within [`WINDOW`], that key is
//! locked out for a time that doubles with each further failure. A login
//! takes its place in both budgets *before* its password is checked
//! ([`Logins::admit`]), so connections in parallel get no more guesses than
//! one connection in a row. [`Throttle`] is pure bookkeeping over instants
//! handed in by the caller, so it is tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed logins of one account within [`WINDOW`] before it is locked out.
pub const ACCOUNT_FAILURES: u32 = 5;
/// Failed logins from one address (of any accounts) within [`WINDOW`]
/// before the address is locked out. Larger than [`ACCOUNT_FAILURES`], so
/// a few typos before a good login lock nobody out, while spraying many
/// accounts from one address is still bounded.
pub const ADDRESS_FAILURES: u32 = 20;
/// How long failures are remembered.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The first lock-out; each further failure doubles it.
pub const FIRST_LOCKOUT: Duration = Duration::from_secs(30);
/// The longest lock-out.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// How long a login waits for a place when its account's (or address's)
/// remaining budget is taken by checks in progress. Generous: each check
/// takes milliseconds, so only a storm of good logins (hundreds at once,
/// queued for the cores anyway) waits long, and it must not be refused.
pub const ADMIT_WAIT: Duration = Duration::from_secs(60);
/// How many keys are remembered before quiet ones are forgotten.
const MAX_KEYS: usize = 100_000;

/// What is known of one key's logins.
#[derive(Debug, Clone)]
struct Record {
    failures: u32,
    first_failure: Instant,
    locked_until: Option<Instant>,
    /// Logins holding a place, whose password is being checked.
    checking: u32,
}

impl Record {
    fn new(now: Instant) -> Record {
        Record {
            failures: 0,
            first_failure: now,
            locked_until: None,
            checking: 0,
        }
    }

    /// Forgets failures older than the window, unless a lock-out still runs.
    fn expire(&mut self, now: Instant) {
        let quiet = self.locked_until.is_none_or(|until| until <= now);
        if quiet && now.duration_since(self.first_failure) > WINDOW {
            self.failures = 0;
            self.first_failure = now;
            self.locked_until = None;
        }
    }

    fn forgettable(&self, now: Instant) -> bool {
        self.checking == 0
            && (self.failures == 0 || now.duration_since(self.first_failure) > WINDOW)
            && self.locked_until.is_none_or(|until| until <= now)
    }
}

/// One budget a login draws on: an account's or an address's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    id: String,
    free_failures: u32,
}

impl Key {
    /// The budget of the account `user`.
    pub fn account(user: &str) -> Key {
        Key {
            id: format!("user:{user}"),
            free_failures: ACCOUNT_FAILURES,
        }
    }

    /// The budget of the client address `ip`.
    pub fn address(ip: IpAddr) -> Key {
        Key {
            id: format!("addr:{ip}"),
            free_failures: ADDRESS_FAILURES,
        }
    }
}

/// Whether a login may have its password checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes: a place is taken in every key; end it with [`Throttle::end`].
    Go,
    /// No: a key is locked out for this long.
    Locked(Duration),
    /// Not yet: every place left is held by a check in progress.
    Full,
}

/// Failed-login bookkeeping per [`Key`].
#[derive(Default)]
pub struct Throttle {
    records: HashMap<String, Record>,
}

impl Throttle {
    /// Takes a place for one login in every key, unless one is locked out
    /// or all its places are held by checks in progress.
    pub fn begin(&mut self, keys: &[Key], now: Instant) -> Admission {
        if self.records.len() >= MAX_KEYS {
            self.records.retain(|_, r| !r.forgettable(now));
        }
        let mut full = false;
        let mut locked = None;
        for key in keys {
            let Some(record) = self.records.get_mut(&key.id) else {
                continue;
            };
            record.expire(now);
            if let Some(until) = record.locked_until.filter(|until| *until > now) {
                locked = locked.max(Some(until - now));
            }
            // Once the budget is spent, a lock-out that ran out lets one
            // login through at a time: its failure locks again, longer.
            let places = key.free_failures.saturating_sub(record.failures).max(1);
            full |= record.checking >= places;
        }
        if let Some(wait) = locked {
            return Admission::Locked(wait);
        }
        if full {
            return Admission::Full;
        }
        for key in keys {
            self.records
                .entry(key.id.clone())
                .or_insert_with(|| Record::new(now))
                .checking += 1;
        }
        Admission::Go
    }

    /// Ends a login that [`Throttle::begin`] let through. A failure counts
    /// against every key; a success clears the account's failures (the
    /// first key), while an address keeps its failures until they expire.
    pub fn end(&mut self, keys: &[Key], succeeded: bool, now: Instant) {
        for (i, key) in keys.iter().enumerate() {
            let record = self
                .records
                .entry(key.id.clone())
                .or_insert_with(|| Record::new(now));
            record.checking = record.checking.saturating_sub(1);
            if succeeded {
                if i == 0 {
                    record.failures = 0;
                    record.locked_until = None;
                }
            } else {
                record.expire(now);
                if record.failures == 0 {
                    record.first_failure = now;
                }
                record.failures += 1;
                if record.failures >= key.free_failures {
                    let doublings = (record.failures - key.free_failures).min(10);
                    let lockout = (FIRST_LOCKOUT * 2u32.pow(doublings)).min(MAX_LOCKOUT);
                    record.locked_until = Some(now + lockout);
                }
            }
            if record.forgettable(now) && record.failures == 0 {
                self.records.remove(&key.id);
            }
        }
    }
}

/// Why a login was not let through to its password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A key is locked out for this long.
    Locked(Duration),
    /// Checks in progress held every place for [`ADMIT_WAIT`].
    Crowded,
}

/// The server's [`Throttle`], shared by all connections, with a way to
/// wait for a place.
#[derive(Default)]
pub struct Logins {
    throttle: Mutex<Throttle>,
    turn: Condvar,
}

impl Logins {
    /// Waits (up to `wait`) for a place in every key; the place is given
    /// back by [`Attempt::end`], or by dropping the attempt (which counts
    /// as neither success nor failure).
    pub fn admit<'a>(&'a self, keys: &'a [Key], wait: Duration) -> Result<Attempt<'a>, Refusal> {
        let deadline = Instant::now() + wait;
        let mut throttle = self.throttle.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            match throttle.begin(keys, now) {
                Admission::Go => {
                    return Ok(Attempt {
                        logins: self,
                        keys,
                        ended: false,
                    });
                }
                Admission::Locked(wait) => return Err(Refusal::Locked(wait)),
                Admission::Full if now >= deadline => return Err(Refusal::Crowded),
                Admission::Full => {
                    throttle = self
                        .turn
                        .wait_timeout(throttle, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }

    fn end(&self, keys: &[Key], outcome: Option<bool>) {
        let mut throttle = self.throttle.lock().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Some(succeeded) => throttle.end(keys, succeeded, Instant::now()),
            None => {
                // Give the places back without counting anything.
                for key in keys {
                    if let Some(record) = throttle.records.get_mut(&key.id) {
                        record.checking = record.checking.saturating_sub(1);
                    }
                }
            }
        }
        drop(throttle);
        self.turn.notify_all();
    }
}

/// A login holding its places while its password is checked.
pub struct Attempt<'a> {
    logins: &'a Logins,
    keys: &'a [Key],
    ended: bool,
}

impl Attempt<'_> {
    /// Records how the check went and gives the places back.
    pub fn end(mut self, succeeded: bool) {
        self.ended = true;
        self.logins.end(self.keys, Some(succeeded));
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.logins.end(self.keys, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(user: &str, ip: [u8; 4]) -> [Key; 2] {
        [Key::account(user), Key::address(IpAddr::from(ip))]
    }

    /// One login, begun and ended at `now`.
    fn attempt(t: &mut Throttle, keys: &[Key], ok: bool, now: Instant) -> Admission {
        let admission = t.begin(keys, now);
        if admission == Admission::Go {
            t.end(keys, ok, now);
        }
        admission
    }

    #[test]
    fn an_account_locks_after_five_failures_and_doubles() {
        let mut t = Throttle::default();
        let start = Instant::now();
        let bob = keys("bob", [10, 0, 0, 5]);
        for i in 0..5 {
            let now = start + Duration::from_secs(i);
            assert_eq!(attempt(&mut t, &bob, false, now), Admission::Go);
        }
        let fifth = start + Duration::from_secs(4);
        assert_eq!(t.begin(&bob, fifth), Admission::Locked(FIRST_LOCKOUT));
        let sixth = fifth + FIRST_LOCKOUT;
        assert_eq!(attempt(&mut t, &bob, false, sixth), Admission::Go);
        assert_eq!(t.begin(&bob, sixth), Admission::Locked(FIRST_LOCKOUT * 2));
        // Another account from the same address is not locked: the address
        // has 6 of its 20 failures.
        assert_eq!(
            attempt(&mut t, &keys("eve", [10, 0, 0, 5]), false, sixth),
            Admission::Go
        );
    }

    #[test]
    fn an_address_locks_after_twenty_failures_of_any_accounts() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for i in 0..ADDRESS_FAILURES {
            let k = keys(&format!("user{i}"), [10, 0, 0, 7]);
            assert_eq!(attempt(&mut t, &k, false, now), Admission::Go, "{i}");
        }
        let admin = keys("admin", [10, 0, 0, 7]);
        assert_eq!(t.begin(&admin, now), Admission::Locked(FIRST_LOCKOUT));
        // Another address is served.
        assert_eq!(
            attempt(&mut t, &keys("admin", [10, 0, 0, 8]), true, now),
            Admission::Go
        );
    }

    /// 4 failures, a success, 1 failure: today's lock-out of every account
    /// from the address must not happen.
    #[test]
    fn a_success_between_typos_locks_nobody_out() {
        let mut t = Throttle::default();
        let now = Instant::now();
        let ann = keys("ann", [10, 0, 0, 9]);
        for _ in 0..4 {
            attempt(&mut t, &ann, false, now);
        }
        assert_eq!(attempt(&mut t, &ann, true, now), Admission::Go);
        assert_eq!(attempt(&mut t, &ann, false, now), Admission::Go);
        assert_eq!(attempt(&mut t, &ann, true, now), Admission::Go);
        let admin = keys("admin", [10, 0, 0, 9]);
        assert_eq!(attempt(&mut t, &admin, true, now), Admission::Go);
    }

    /// The bypass: guesses in parallel all reached bcrypt. Now checks in
    /// progress hold places, so at most the budget's worth are let through.
    #[test]
    fn logins_in_parallel_get_no_more_places_than_the_budget() {
        let mut t = Throttle::default();
        let now = Instant::now();
        let victim: Vec<[Key; 2]> = (0..80u8).map(|i| keys("victim", [10, 1, 0, i])).collect();
        let admitted: Vec<&[Key; 2]> = victim
            .iter()
            .filter(|k| t.begin(&k[..], now) == Admission::Go)
            .collect();
        assert_eq!(admitted.len(), ACCOUNT_FAILURES as usize);
        for k in &admitted {
            t.end(&k[..], false, now);
        }
        assert_eq!(t.begin(&victim[79], now), Admission::Locked(FIRST_LOCKOUT));
        // After the lock-out, one at a time.
        let later = now + FIRST_LOCKOUT;
        assert_eq!(t.begin(&victim[0], later), Admission::Go);
        assert_eq!(t.begin(&victim[1], later), Admission::Full);
    }

    #[test]
    fn waiting_logins_get_the_places_that_checks_give_back() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let logins = Logins::default();
        let (checked, crowded) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let keys = keys("carol", [10, 2, 0, 1]);
        std::thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| match logins.admit(&keys, Duration::from_secs(5)) {
                    Ok(attempt) => {
                        checked.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        attempt.end(true);
                    }
                    Err(_) => {
                        crowded.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        // Good logins only wait their turn; none is refused.
        assert_eq!(checked.load(Ordering::SeqCst), 12);
        assert_eq!(crowded.load(Ordering::SeqCst), 0);
        // A dropped attempt gives its places back without a failure.
        drop(logins.admit(&keys, Duration::ZERO).unwrap());
        let t = logins.throttle.lock().unwrap();
        assert!(
            t.records
                .values()
                .all(|r| r.checking == 0 && r.failures == 0)
        );
    }

    #[test]
    fn lockout_is_capped_and_failures_expire() {
        let mut t = Throttle::default();
        let start = Instant::now();
        let mut now = start;
        let k = [Key::account("k")];
        for _ in 0..30 {
            t.begin(&k, now);
            t.end(&k, false, now);
            now += Duration::from_secs(1);
        }
        let Admission::Locked(wait) = t.begin(&k, now) else {
            panic!("locked")
        };
        assert!(wait <= MAX_LOCKOUT);
        let later = now + MAX_LOCKOUT + WINDOW + Duration::from_secs(1);
        assert_eq!(attempt(&mut t, &k, false, later), Admission::Go);
        assert_eq!(
            t.begin(&k, later),
            Admission::Go,
            "old failures were forgotten"
        );
    }
}
