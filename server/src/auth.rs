//! Passwords and login throttling.
//!
//! Passwords are stored only as bcrypt hashes. Failed logins are counted per
//! user name and per client address; past a threshold that key is locked out
//! for a time that doubles with each further failure. [`Throttle`] is pure
//! bookkeeping over instants handed in by the caller, so it is tested without
//! sleeping.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest user name accepted.
pub const MAX_USER_CHARS: usize = 64;

/// Failures allowed within [`WINDOW`] before a lock-out starts.
const FREE_FAILURES: u32 = 5;
/// How long failures are remembered.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The first lock-out; each further failure doubles it.
const FIRST_LOCKOUT: Duration = Duration::from_secs(30);
/// The longest lock-out.
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// How many keys are remembered before quiet ones are forgotten.
const MAX_KEYS: usize = 100_000;

/// Lets only as many bcrypt computations run at once as there are cores.
/// Each costs tens of milliseconds of CPU; in a storm of logins, hundreds
/// sharing two cores would all finish late together (and time out
/// together), while taking turns answers each one as fast as the cores
/// allow.
pub struct BcryptGate {
    free: Mutex<usize>,
    turn: Condvar,
}

impl BcryptGate {
    /// A gate for `slots` computations at once (at least one).
    pub fn new(slots: usize) -> Self {
        BcryptGate {
            free: Mutex::new(slots.max(1)),
            turn: Condvar::new(),
        }
    }

    /// Runs `compute` once a slot is free.
    pub fn run<T>(&self, compute: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.turn.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        drop(free);
        let _slot = Slot(self);
        compute()
    }
}

/// A slot taken from a [`BcryptGate`], given back when dropped (even by a panic).
struct Slot<'a>(&'a BcryptGate);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.turn.notify_one();
    }
}

/// Checks a new user name: 1–64 letters, digits, `.`, `_` or `-`.
pub fn check_user_name(name: &str) -> Result<(), String> {
    let count = name.chars().count();
    if count == 0 || count > MAX_USER_CHARS {
        return Err(format!(
            "a user name must be 1 to {MAX_USER_CHARS} characters long"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "a user name may hold only letters, digits, '.', '_' and '-' (not {c:?})"
        ));
    }
    Ok(())
}

/// Checks a new password.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > 72 {
        // bcrypt reads only the first 72 bytes; refuse rather than ignore the rest.
        return Err("a password can be at most 72 bytes long".to_owned());
    }
    Ok(())
}

/// Hashes a password with bcrypt at `cost`.
pub fn hash_password(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    bcrypt::hash(password, cost)
}

/// Whether `password` matches `hash`. A malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// A random password for the first admin: 20 characters from an alphabet
/// without look-alikes.
pub fn random_password() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)?;
    // 256 % 56 != 0 gives a slight bias, irrelevant at 20 characters.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

#[derive(Debug, Clone)]
struct Record {
    failures: u32,
    first_failure: Instant,
    locked_until: Option<Instant>,
}

/// Failed-login bookkeeping, keyed by strings such as `user:alice` or
/// `addr:10.0.0.5`.
#[derive(Default)]
pub struct Throttle {
    records: HashMap<String, Record>,
}

impl Throttle {
    /// How long the longest lock-out among `keys` still runs, if any.
    pub fn locked_for(&self, keys: &[&str], now: Instant) -> Option<Duration> {
        keys.iter()
            .filter_map(|k| self.records.get(*k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Records a failed login for each key.
    pub fn failure(&mut self, keys: &[&str], now: Instant) {
        if self.records.len() >= MAX_KEYS {
            self.records
                .retain(|_, r| now.duration_since(r.first_failure) < WINDOW);
        }
        for key in keys {
            let record = self.records.entry((*key).to_owned()).or_insert(Record {
                failures: 0,
                first_failure: now,
                locked_until: None,
            });
            let quiet = record.locked_until.is_none_or(|until| until <= now);
            if quiet && now.duration_since(record.first_failure) > WINDOW {
                *record = Record {
                    failures: 0,
                    first_failure: now,
                    locked_until: None,
                };
            }
            record.failures += 1;
            if record.failures >= FREE_FAILURES {
                let doublings = (record.failures - FREE_FAILURES).min(10);
                let lockout = (FIRST_LOCKOUT * 2u32.pow(doublings)).min(MAX_LOCKOUT);
                record.locked_until = Some(now + lockout);
            }
        }
    }

    /// Forgets failures for a key after a successful login.
    pub fn success(&mut self, key: &str) {
        self.records.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_starts_after_five_failures_and_doubles() {
        let mut t = Throttle::default();
        let start = Instant::now();
        let keys = ["user:bob", "addr:10.0.0.5"];
        for i in 0..4 {
            t.failure(&keys, start + Duration::from_secs(i));
            assert_eq!(t.locked_for(&keys, start + Duration::from_secs(i)), None);
        }
        let fifth = start + Duration::from_secs(4);
        t.failure(&keys, fifth);
        assert_eq!(t.locked_for(&keys, fifth), Some(FIRST_LOCKOUT));
        assert_eq!(t.locked_for(&["user:bob"], fifth + FIRST_LOCKOUT), None);
        let sixth = fifth + FIRST_LOCKOUT;
        t.failure(&keys, sixth);
        assert_eq!(t.locked_for(&keys, sixth), Some(FIRST_LOCKOUT * 2));
        // Another user from another address is not affected.
        assert_eq!(t.locked_for(&["user:eve", "addr:10.0.0.9"], sixth), None);
        // The address alone keeps the lock for any user name tried from it.
        assert!(
            t.locked_for(&["user:eve", "addr:10.0.0.5"], sixth)
                .is_some()
        );
        t.success("user:bob");
        assert_eq!(t.locked_for(&["user:bob"], sixth), None);
    }

    #[test]
    fn lockout_is_capped_and_failures_expire() {
        let mut t = Throttle::default();
        let start = Instant::now();
        let mut now = start;
        for _ in 0..30 {
            t.failure(&["k"], now);
            now += Duration::from_secs(1);
        }
        assert!(t.locked_for(&["k"], now).unwrap() <= MAX_LOCKOUT);
        let later = now + MAX_LOCKOUT + WINDOW + Duration::from_secs(1);
        t.failure(&["k"], later);
        assert_eq!(
            t.locked_for(&["k"], later),
            None,
            "old failures were forgotten"
        );
    }

    #[test]
    fn name_and_password_rules() {
        assert!(check_user_name("ana.maría_2-x").is_ok());
        assert!(check_user_name("").is_err());
        assert!(check_user_name("a b").is_err());
        assert!(check_user_name("a/b").is_err());
        assert!(check_user_name(&"x".repeat(65)).is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
        assert!(check_password(&"x".repeat(73)).is_err());
    }

    #[test]
    fn hashes_verify() {
        let hash = hash_password("correct horse", 4).unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("x", "not a hash"));
        let pw = random_password().unwrap();
        assert_eq!(pw.len(), 20);
        assert!(check_password(&pw).is_ok());
    }

    #[test]
    fn the_bcrypt_gate_lets_only_its_slots_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let gate = BcryptGate::new(2);
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    gate.run(|| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
        // A panic inside gives its slot back.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gate.run(|| panic!("inside the gate"))
        }));
        assert!(caught.is_err());
        assert_eq!(gate.run(|| 7), 7);
        assert_eq!(*gate.free.lock().unwrap(), 2);
    }
}
