//! Why a line could not be parsed ([`ProtocolError`]), and the rule that an
//! error about a line carrying a password repeats none of it.

/// Why a line could not be parsed. Every variant reads as a sentence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The line was empty.
    #[error("the line is empty; send a command such as LIST")]
    Empty,
    /// The line was not UTF-8.
    #[error("the line is not valid UTF-8 text")]
    NotUtf8,
    /// The verb is unknown. It holds the verb as sent when that is at most
    /// 20 ASCII letters and digits, and is empty otherwise: a verb run
    /// together with its arguments (by a tab, say) could hold a password.
    #[error("{}", unknown_verb_message(.0))]
    UnknownVerb(String),
    /// A required argument is missing.
    #[error("{verb} is missing its {field}; usage: {usage}")]
    Missing {
        /// The verb.
        verb: &'static str,
        /// The missing argument.
        field: &'static str,
        /// The verb's usage line.
        usage: &'static str,
    },
    /// Arguments were left over.
    #[error("{verb} got an unexpected argument {extra:?}; usage: {usage}")]
    Extra {
        /// The verb.
        verb: &'static str,
        /// The first surplus argument.
        extra: String,
        /// The verb's usage line.
        usage: &'static str,
    },
    /// An argument had the wrong form.
    #[error("{verb}: {field} {text:?} is not valid: it must be {expected}")]
    Invalid {
        /// The verb.
        verb: &'static str,
        /// The argument.
        field: &'static str,
        /// What was sent.
        text: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An option was given twice.
    #[error("{verb}: the option {key}= is given twice")]
    Duplicate {
        /// The verb.
        verb: &'static str,
        /// The repeated key.
        key: String,
    },
    /// A malformed request that carries a password (`LOGIN`, `USERADD`,
    /// `PASSWD`): what is wrong, without repeating any of its arguments.
    #[error("{verb}: {problem} (the line is not repeated: it may hold a password); usage: {usage}")]
    Concealed {
        /// The verb.
        verb: &'static str,
        /// What is wrong, in words that quote nothing the client sent.
        problem: String,
        /// The verb's usage line.
        usage: &'static str,
    },
}

impl ProtocolError {
    /// The verb of the line when it was recognised, so that a caller can
    /// tell a malformed `UPLOAD` (which is still followed by its body) from
    /// a line that is no request at all. Parsing is the one place that
    /// splits a line into its verb and arguments.
    pub fn verb(&self) -> Option<&'static str> {
        match self {
            ProtocolError::Missing { verb, .. }
            | ProtocolError::Extra { verb, .. }
            | ProtocolError::Invalid { verb, .. }
            | ProtocolError::Duplicate { verb, .. }
            | ProtocolError::Concealed { verb, .. } => Some(verb),
            ProtocolError::Empty | ProtocolError::NotUtf8 | ProtocolError::UnknownVerb(_) => None,
        }
    }

    /// The same error with nothing of the client's text in it, for a line
    /// that carries a secret.
    pub(super) fn concealed(self) -> ProtocolError {
        match self {
            ProtocolError::Extra { verb, usage, .. } => ProtocolError::Concealed {
                verb,
                problem: "there is an argument too many".to_owned(),
                usage,
            },
            ProtocolError::Invalid {
                verb,
                field,
                expected,
                ..
            } => ProtocolError::Concealed {
                verb,
                problem: format!("the {field} is not valid: it must be {expected}"),
                usage: usage_of(verb),
            },
            ProtocolError::Duplicate { verb, .. } => ProtocolError::Concealed {
                verb,
                problem: "an option is given twice".to_owned(),
                usage: usage_of(verb),
            },
            other => other,
        }
    }
}

/// The requests whose lines carry a password: no error about them may
/// repeat what was sent.
pub(super) const SECRET_VERBS: [&str; 3] = ["LOGIN", "USERADD", "PASSWD"];

pub(super) const LOGIN_USAGE: &str = "LOGIN <user> <password>";
pub(super) const USERADD_USAGE: &str = "USERADD <user> <admin|user> <password>";
pub(super) const PASSWD_USAGE: &str = "PASSWD <user> <password>";

pub(super) fn usage_of(verb: &str) -> &'static str {
    match verb {
        "LOGIN" => LOGIN_USAGE,
        "USERADD" => USERADD_USAGE,
        "PASSWD" => PASSWD_USAGE,
        _ => "see docs/PROTOCOL.md",
    }
}

/// The longest verb an `UNKNOWN_VERB` reply repeats.
pub(super) const MAX_SHOWN_VERB: usize = 20;

/// The verb as an `UnknownVerb` error may hold it: itself when it is a
/// short run of ASCII letters and digits, else nothing.
pub(super) fn shown_verb(verb: &str) -> String {
    let plain = !verb.is_empty()
        && verb.len() <= MAX_SHOWN_VERB
        && verb.bytes().all(|b| b.is_ascii_alphanumeric());
    if plain {
        verb.to_owned()
    } else {
        String::new()
    }
}

pub(super) fn unknown_verb_message(verb: &str) -> String {
    if verb.is_empty() {
        format!(
            "unknown command (a command is a word of letters followed by a space); the commands are {ALL_VERBS}"
        )
    } else {
        format!("unknown command {verb:?}; the commands are {ALL_VERBS}")
    }
}

pub(super) const ALL_VERBS: &str = "LOGIN, LIST, STAT, HISTORY, DOWNLOAD, UPLOAD, CHUNKS, DELETE, LS, MKDIR, RMDIR, MOVE, LOGS, USERS, USERADD, USERDEL, PASSWD, ROLE, PING, QUIT";
