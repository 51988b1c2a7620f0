//! Settings for a throwaway server in tests (feature `test-support`): the
//! server's own integration tests, the CLI's and the app's start real
//! servers with these.

use std::path::PathBuf;
use std::time::Duration;

use crate::Config;

/// The password of the `admin` account a test server creates.
pub const ADMIN_PASSWORD: &str = "admin-secret-1";

/// [`Config::new`] made fast for tests: the cheapest bcrypt cost (tests log
/// in a lot), a 10 ms pause after a failed login, and an `admin` account
/// with [`ADMIN_PASSWORD`]. It listens on `127.0.0.1:0`.
pub fn config(data_dir: impl Into<PathBuf>, logs_dir: impl Into<PathBuf>) -> Config {
    let mut config = Config::new(data_dir, logs_dir);
    config.bcrypt_cost = 4;
    config.admin_password = Some(ADMIN_PASSWORD.to_owned());
    config.login_failure_delay = Duration::from_millis(10);
    config
}
