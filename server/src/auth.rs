//! Passwords: the rules for user names and passwords, bcrypt hashing and
//! checking (taking turns on the cores), the first admin's random password
//! and the dummy hash for unknown users. Counting failed logins is
//! [`crate::throttle`]'s.

use crossbeam_channel::{Receiver, Sender};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest user name accepted.
pub const MAX_USER_CHARS: usize = 64;

/// The longest password bcrypt reads, in bytes; longer ones are refused
/// everywhere rather than silently cut.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Lets only as many bcrypt computations run at once as there are cores.
/// Each costs tens of milliseconds of CPU; in a storm of logins, hundreds
/// sharing two cores would all finish late together (and time out
/// together), while taking turns answers each one as fast as the cores
/// allow. The slots are tokens in a bounded channel (a counting semaphore,
/// which the standard library lacks).
pub struct BcryptGate {
    give: Sender<()>,
    take: Receiver<()>,
}

impl BcryptGate {
    /// A gate for `slots` computations at once (at least one).
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(1);
        let (give, take) = crossbeam_channel::bounded(slots);
        for _ in 0..slots {
            give.send(()).expect("the channel has room for every token");
        }
        BcryptGate { give, take }
    }

    /// Runs `compute` once a slot is free.
    pub fn run<T>(&self, compute: impl FnOnce() -> T) -> T {
        // Both ends live in `self`, so the channel never disconnects.
        self.take.recv().expect("the gate holds its own sender");
        let _slot = GateSlot(self);
        compute()
    }

    /// Slots free now.
    #[cfg(test)]
    fn free(&self) -> usize {
        self.take.len()
    }
}

/// A slot taken from a [`BcryptGate`], given back when dropped (even by a panic).
struct GateSlot<'a>(&'a BcryptGate);

impl Drop for GateSlot<'_> {
    fn drop(&mut self) {
        let _ = self.0.give.send(());
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

#[cfg(test)]
mod tests {
    use super::*;

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
                        std::thread::sleep(std::time::Duration::from_millis(20));
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
        assert_eq!(gate.free(), 2);
    }
}
