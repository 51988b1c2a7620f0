//! Passwords and login throttling.
//!
//! Passwords are stored only as bcrypt hashes. Failed logins are counted per
//! account and per client address, each with its own budget (as fail2ban's
//! or SFTPGo's defender do): past [`ACCOUNT_FAILURES`] failures of one
//! account, or [`ADDRESS_FAILURES`] from one address, within [`WINDOW`],
//! that key is locked out for a time that doubles with each further
//! failure. A login takes its place in both budgets *before* its password
//! is checked ([`Logins::admit`]), so connections in parallel get no more
//! guesses than one connection in a row. [`Throttle`] is pure bookkeeping
//! over instants handed in by the caller, so it is tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest user name accepted.
pub const MAX_USER_CHARS: usize = 64;

/// The longest password bcrypt reads, in bytes; longer ones are refused
/// everywhere rather than silently cut.
pub const MAX_PASSWORD_BYTES: usize = 72;

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

/// Checks a new password: 8 characters to 72 bytes, no control characters.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        // bcrypt reads only the first 72 bytes; refuse rather than ignore the rest.
        return Err(format!(
            "a password can be at most {MAX_PASSWORD_BYTES} bytes long (this one has {}); choose a shorter one",
            password.len()
        ));
    }
    if password.chars().any(char::is_control) {
        // bcrypt implementations stop at a NUL byte.
        return Err(
            "a password cannot contain control characters such as NUL or tab; choose another"
                .to_owned(),
        );
    }
    Ok(())
}

/// Whether a password offered at login could be anyone's: one that no
/// [`check_password`] would accept is refused without asking bcrypt, which
/// would otherwise cut it at 72 bytes and let "password + anything" in.
pub fn could_be_a_password(password: &str) -> bool {
    password.len() <= MAX_PASSWORD_BYTES && !password.contains('\0')
}

/// A bcrypt hash of a random password at `cost`, checked against when a
/// user does not exist: a wrong user name then costs as much time as a
/// wrong password at the configured cost, so names cannot be told apart
/// by timing.
pub fn dummy_hash(cost: u32) -> anyhow::Result<String> {
    let password = random_password()?;
    Ok(hash_password(&password, cost)?)
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
        assert!(check_password(&"x".repeat(72)).is_ok());
        assert!(check_password(&"é".repeat(37)).is_err(), "74 bytes");
        assert!(check_password("long enough\0").is_err());
        assert!(check_password("long\tenough").is_err());
        assert!(could_be_a_password(&"x".repeat(72)));
        assert!(!could_be_a_password(&"x".repeat(73)));
        assert!(!could_be_a_password("nul\0byte"));
    }

    /// Unknown users were checked against a fixed cost-10 hash, so at any
    /// other cost a real user's login took measurably longer.
    #[test]
    fn the_dummy_hash_has_the_configured_cost() {
        for cost in [4, 5] {
            let dummy = dummy_hash(cost).unwrap();
            assert!(dummy.starts_with(&format!("$2b$0{cost}$")), "{dummy}");
            assert!(!verify_password("", &dummy));
        }
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
