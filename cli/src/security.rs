//! How the CLI secures its connections: the [`Security`] the global options
//! ask for, connecting with trust on first use (ask on a terminal, refuse
//! with the fingerprint in a script), and the words for how a connection
//! was verified.
//!
//! The client library does the verifying and refuses to send anything
//! before it is done; this module only decides what to tell the person and
//! whether to pin. A changed fingerprint is never asked about: the
//! library's refusal is the message.

use anyhow::Result;
use ferry_client::{Client, ClientError, Security, Trust, Verified};

use crate::args::Cli;
use crate::exit::{Exit, Failure};
use crate::prompt::{self, TrustAnswer};

/// The security the command line asks for: TLS verified by the system's
/// authorities, the `--ca` file and the known-hosts file, plus every
/// `--trust` fingerprint; or, with `--plaintext`, none (the trust options
/// are then ignored, since there is no certificate to check).
pub fn from_args(cli: &Cli) -> Result<Security> {
    if cli.plaintext {
        return Ok(Security::Plaintext);
    }
    let mut trust = Trust::for_user();
    for fingerprint in fingerprints(&cli.trust) {
        trust = trust.vouch(fingerprint)?;
    }
    if let Some(ca) = &cli.ca {
        trust = trust.with_authorities_from(ca)?;
    }
    Ok(Security::Tls(trust))
}

/// The fingerprints in `--trust` values and `FERRY_TRUST`, which may each
/// hold several separated by commas or spaces.
pub fn fingerprints(given: &[String]) -> impl Iterator<Item = &str> {
    given
        .iter()
        .flat_map(|g| g.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|f| !f.is_empty())
}

/// The trust of the user's known-hosts file, for `trust list/remove`; an
/// error when there is no place for it.
pub fn known_hosts_trust() -> Result<Trust> {
    let trust = Trust::for_user();
    if trust.known_hosts.is_none() {
        return Err(Failure::local(
            "there is no place for the list of trusted servers (no home folder); set FERRY_KNOWN_HOSTS to a file path",
        )
        .into());
    }
    Ok(trust)
}

/// Connects to `addr` and verifies it. A server met for the first time is
/// shown to the person (when `interactive`) and, if they accept it, pinned
/// and connected to again; in a script it is refused with its fingerprint.
pub fn connect(addr: &str, security: &Security, interactive: bool) -> Result<Client> {
    let error = match Client::connect(addr, security) {
        Ok(client) => return Ok(client),
        Err(e) => e,
    };
    let (ClientError::UnknownServer { addr, fingerprint }, Security::Tls(trust)) =
        (&error, security)
    else {
        return Err(explained(error));
    };
    if !interactive {
        return Err(Failure::new(Exit::Untrusted, unknown_in_script(addr, fingerprint)).into());
    }
    match prompt::trust_server(addr, fingerprint, trust.known_hosts.is_some())? {
        TrustAnswer::Accept => {}
        TrustAnswer::Refuse => {
            return Err(Failure::new(
                Exit::Untrusted,
                format!("{addr} was not trusted, so nothing was sent to it"),
            )
            .into());
        }
        TrustAnswer::Mismatch => {
            return Err(Failure::new(Exit::Untrusted, mismatch(addr, fingerprint)).into());
        }
    }
    trust.pin(addr, fingerprint)?;
    log::info!("the user trusted {addr} as {fingerprint}");
    Client::connect(addr, security).map_err(explained)
}

/// Before a mirrored download on a terminal: asks about every mirror this
/// client has never met, so that the person's answer, not a refusal halfway
/// through, decides whether it takes part. A mirror that cannot be reached
/// or verified is left for the download to exclude and name.
pub fn vet_mirror(addr: &str, security: &Security) {
    match connect(addr, security, true) {
        Ok(client) => {
            if let Err(e) = client.quit() {
                log::info!("closing the check of mirror {addr}: {e}");
            }
        }
        Err(e) if crate::exit::classify(&e) == Exit::Untrusted => {
            eprintln!("ferry-cli: mirror {addr} will be left out: {e:#}");
        }
        // Unreachable now, perhaps not in a moment: the download decides.
        Err(e) => log::info!("mirror {addr} could not be checked: {e:#}"),
    }
}

/// The CLI's own words for library errors whose remedy is a CLI flag.
fn explained(error: ClientError) -> anyhow::Error {
    match error {
        ClientError::NotTls { addr } => Failure::new(
            Exit::Untrusted,
            format!(
                "{addr} answered without TLS, so that server runs with --plaintext; run again with --plaintext only if you trust the network, or ask its administrator to turn TLS on"
            ),
        )
        .into(),
        other => other.into(),
    }
}

/// Why a script's connection to an unknown server failed, and what to pass.
pub fn unknown_in_script(addr: &str, fingerprint: &str) -> String {
    format!(
        "{addr} is a server you have not trusted yet, with the certificate fingerprint {fingerprint}; compare it with the fingerprint the server printed at start (or `ferry-server --data DIR fingerprint`) and, if they match, run again with --trust {fingerprint} or set FERRY_TRUST={fingerprint}"
    )
}

/// The person pasted a fingerprint that is not the server's.
fn mismatch(addr: &str, fingerprint: &str) -> String {
    format!(
        "the fingerprint you entered is not the one {addr} shows ({fingerprint}), so it was not trusted and nothing was sent; someone may be intercepting the connection, so ask the server's administrator which fingerprint is right"
    )
}

/// How the connection to `addr` is secured, as the one line shown on a
/// terminal (and always in the log).
pub fn status_line(addr: &str, verified: Verified) -> String {
    match verified {
        Verified::Authority => {
            format!("ferry-cli: connected to {addr} over TLS, verified by a certificate authority")
        }
        Verified::Pinned => {
            format!("ferry-cli: connected to {addr} over TLS, verified by its trusted fingerprint")
        }
        Verified::Plaintext => plaintext_warning(addr),
    }
}

/// The warning every plaintext connection gets, terminal or not.
pub fn plaintext_warning(addr: &str) -> String {
    format!(
        "ferry-cli: warning: the connection to {addr} is not encrypted (--plaintext): anyone on the network can read the password and the files"
    )
}

/// Reports how `client` was verified: plaintext always on stderr, a
/// verified connection only when stderr is a terminal (`status`); both in
/// the log.
pub fn report(client: &Client, status: bool) {
    let line = status_line(client.server(), client.verified());
    log::info!("{}", line.trim_start_matches("ferry-cli: "));
    if status || client.verified() == Verified::Plaintext {
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "SHA256:3f1c000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn trust_lists_split_on_commas_and_spaces() {
        let given = vec!["a,b".to_owned(), " c  d ,".to_owned(), "e".to_owned()];
        assert_eq!(
            fingerprints(&given).collect::<Vec<_>>(),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(fingerprints(&[]).count(), 0);
    }

    #[test]
    fn a_script_is_told_the_fingerprint_and_the_flag() {
        let text = unknown_in_script("h:1", FP);
        assert!(
            text.contains(FP) && text.contains(&format!("--trust {FP}")),
            "{text}"
        );
        assert!(
            text.contains("FERRY_TRUST") && text.contains("ferry-server --data DIR fingerprint")
        );
        assert!(!text.ends_with('.'));
    }

    #[test]
    fn the_status_says_how_the_server_was_verified() {
        assert!(status_line("h:1", Verified::Authority).contains("certificate authority"));
        assert!(status_line("h:1", Verified::Pinned).contains("trusted fingerprint"));
        let plain = status_line("h:1", Verified::Plaintext);
        assert!(plain.starts_with("ferry-cli: warning:") && plain.contains("not encrypted"));
        assert!(plain.contains("password"), "{plain}");
    }
}
