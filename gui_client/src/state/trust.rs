//! The server's identity as the user sees it: the question open when a
//! server's certificate is new or has changed (with the fingerprint an
//! administrator gave, pasted in to compare), and what the padlock says
//! about the connection of the session. No drawing (`panels::trust` draws the
//! questions, `panels::top_bar` the padlock); pinning a fingerprint is the
//! worker's.

use ferry_client::Verified;
use ferry_proto::fingerprint::normalize_fingerprint;

use crate::worker::TrustQuestion;

/// The open question about a server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPrompt {
    /// What is asked.
    pub question: TrustQuestion,
    /// The fingerprint its administrator gave (typed or pasted), to
    /// compare with the one the server shows: the new one of a changed
    /// server, or a new server's.
    pub typed: String,
    /// Whether the fingerprint was copied, so the button can say so.
    pub copied: bool,
}

/// What the pasted fingerprint is worth against the one the server shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pasted {
    /// Nothing yet.
    Empty,
    /// Not a SHA-256 fingerprint.
    NotAFingerprint,
    /// A fingerprint, but not the server's: do not connect.
    Different,
    /// The server's: it may be trusted (in place of the old one, for a
    /// changed server).
    Matches(String),
}

impl Pasted {
    /// What to tell the user about it, if anything.
    pub fn advice(&self) -> Option<&'static str> {
        match self {
            Pasted::Empty => None,
            Pasted::NotAFingerprint => Some(
                "That is not a fingerprint: paste it as the server prints it, SHA256: and 64 hex digits.",
            ),
            Pasted::Different => Some(
                "That is not the fingerprint this server shows: do not connect, and tell your administrator.",
            ),
            Pasted::Matches(_) => Some("It matches the fingerprint the server shows now."),
        }
    }
}

impl TrustPrompt {
    /// A new question, nothing typed.
    pub fn new(question: TrustQuestion) -> TrustPrompt {
        TrustPrompt {
            question,
            typed: String::new(),
            copied: false,
        }
    }

    /// The fingerprint pasted, checked against the one the server shows
    /// now (a new server's, or a changed server's new one).
    pub fn pasted(&self) -> Pasted {
        let shown = match &self.question {
            TrustQuestion::New { fingerprint, .. } => fingerprint,
            TrustQuestion::Changed { presented, .. } => presented,
        };
        if self.typed.trim().is_empty() {
            return Pasted::Empty;
        }
        match normalize_fingerprint(&self.typed) {
            None => Pasted::NotAFingerprint,
            Some(given) if given == *shown => Pasted::Matches(given),
            Some(_) => Pasted::Different,
        }
    }
}

/// How the session's server was verified, for the padlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secured {
    /// By whom, or not at all.
    pub verified: Verified,
    /// The certificate's fingerprint; `None` in plaintext.
    pub fingerprint: Option<String>,
}

impl Secured {
    /// The padlock's words, and whether they are a warning.
    pub fn padlock(&self) -> (&'static str, bool) {
        match self.verified {
            Verified::Authority => ("🔒 Encrypted, verified by a certificate authority", false),
            Verified::Pinned => ("🔒 Encrypted, trusted fingerprint", false),
            Verified::Plaintext => ("⚠ Not encrypted (plaintext)", true),
        }
    }

    /// What the padlock means, shown when hovering it.
    pub fn explanation(&self) -> String {
        let fingerprint = self.fingerprint.as_deref().unwrap_or("(none)");
        match self.verified {
            Verified::Authority => format!(
                "The connection is encrypted, and a certificate authority this computer trusts \
                 vouches for the server's name. Its fingerprint is {fingerprint}."
            ),
            Verified::Pinned => format!(
                "The connection is encrypted, and the server shows the certificate you trusted: \
                 {fingerprint}."
            ),
            Verified::Plaintext => "Your password and files cross the network in clear: anyone on \
                                    it can read or change them, so use plaintext only on a \
                                    network you trust."
                .to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(digit: char) -> String {
        format!("SHA256:{}", digit.to_string().repeat(64))
    }

    fn changed() -> TrustPrompt {
        TrustPrompt::new(TrustQuestion::Changed {
            addr: "files.lan:7878".into(),
            pinned: fp('a'),
            presented: fp('b'),
            place: "/home/ann/.config/ferry/known_hosts".into(),
        })
    }

    #[test]
    fn only_the_fingerprint_the_server_shows_may_replace_the_pin() {
        let mut p = changed();
        assert_eq!(p.pasted(), Pasted::Empty);
        assert_eq!(p.pasted().advice(), None);
        p.typed = "SHA256:bbbb".into();
        assert_eq!(p.pasted(), Pasted::NotAFingerprint);
        p.typed = fp('a');
        assert_eq!(p.pasted(), Pasted::Different, "the old one is no answer");
        p.typed = fp('c');
        assert_eq!(p.pasted(), Pasted::Different);
        assert!(p.pasted().advice().unwrap().contains("do not connect"));
        // As people paste it: any case, without the prefix, with spaces.
        p.typed = format!("  {}\n", "B".repeat(64));
        assert_eq!(p.pasted(), Pasted::Matches(fp('b')));
    }

    #[test]
    fn a_new_servers_fingerprint_is_compared_with_the_one_pasted() {
        let mut p = TrustPrompt::new(TrustQuestion::New {
            addr: "h:1".into(),
            fingerprint: fp('b'),
        });
        assert_eq!(p.pasted(), Pasted::Empty, "comparing is optional");
        p.typed = fp('c');
        assert_eq!(p.pasted(), Pasted::Different);
        p.typed = "b".repeat(63);
        assert_eq!(p.pasted(), Pasted::NotAFingerprint);
        p.typed = format!("SHA256:{}", "B".repeat(64));
        assert_eq!(p.pasted(), Pasted::Matches(fp('b')));
    }

    #[test]
    fn the_padlock_warns_only_in_plaintext_and_shows_the_fingerprint() {
        let pinned = Secured {
            verified: Verified::Pinned,
            fingerprint: Some(fp('d')),
        };
        assert_eq!(
            pinned.padlock(),
            ("🔒 Encrypted, trusted fingerprint", false)
        );
        assert!(pinned.explanation().contains(&fp('d')));
        let plain = Secured {
            verified: Verified::Plaintext,
            fingerprint: None,
        };
        let (words, warning) = plain.padlock();
        assert!(warning && words.contains("Not encrypted"), "{words}");
        assert!(plain.explanation().contains("in clear"));
        let ca = Secured {
            verified: Verified::Authority,
            fingerprint: Some(fp('e')),
        };
        assert!(!ca.padlock().1 && ca.padlock().0.contains("certificate authority"));
    }
}
