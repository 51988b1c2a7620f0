//! Questions for a person at the terminal (user name, what to do about a
//! name that exists, whether to trust a server met for the first time). Callers only ask when standard input is a terminal;
//! scripts never see a prompt. Questions go to stderr so stdout stays clean.

use std::io::{self, BufRead, Write};

use anyhow::{Context as _, Result};
use ferry_proto::fingerprint::normalize_fingerprint;

use crate::exit::Failure;

/// What to do with an upload whose name is taken, as answered at the prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictChoice {
    /// Make the new content current.
    Overwrite,
    /// Store as `name_vN.ext`.
    Rename,
    /// Leave this file out.
    Skip,
}

/// Writes `question` to stderr and reads one line from stdin; `None` at end
/// of input.
fn ask(question: &str) -> Result<Option<String>> {
    let mut stderr = io::stderr().lock();
    write!(stderr, "{question}")
        .and_then(|()| stderr.flush())
        .context("could not write a question to the terminal")?;
    drop(stderr);
    let mut line = String::new();
    let read = io::stdin()
        .lock()
        .read_line(&mut line)
        .context("could not read an answer from the terminal")?;
    Ok((read > 0).then(|| line.trim().to_owned()))
}

/// Asks for the user name to log in with.
pub fn user_name() -> Result<String> {
    match ask("User: ")? {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(Failure::usage("no user name was entered").into()),
    }
}

/// Asks what to do about `name`, which exists on the server; asks again on
/// an answer it does not understand. End of input means skip.
pub fn conflict(name: &str) -> Result<ConflictChoice> {
    let question =
        format!("{name:?} already exists on the server. [o]verwrite, [r]ename or [s]kip? ");
    loop {
        let Some(answer) = ask(&question)? else {
            return Ok(ConflictChoice::Skip);
        };
        if let Some(choice) = parse_conflict_choice(&answer) {
            return Ok(choice);
        }
        eprintln!("Please answer o (overwrite), r (rename) or s (skip).");
    }
}

/// Understands `o`/`overwrite`, `r`/`rename`, `s`/`skip`, in any case.
pub fn parse_conflict_choice(answer: &str) -> Option<ConflictChoice> {
    match answer.trim().to_lowercase().as_str() {
        "o" | "overwrite" => Some(ConflictChoice::Overwrite),
        "r" | "rename" => Some(ConflictChoice::Rename),
        "s" | "skip" => Some(ConflictChoice::Skip),
        _ => None,
    }
}

/// What the person said about a server met for the first time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustAnswer {
    /// Trust it: `yes`, or the same fingerprint pasted back.
    Accept,
    /// Do not: `no`, or the end of input.
    Refuse,
    /// They pasted a fingerprint, and it is not the server's.
    Mismatch,
}

/// Shows the fingerprint of the server at `addr` and asks whether to trust
/// it, as SSH does; asks again on an answer it does not understand. `saved`
/// says whether the answer is kept in the known-hosts file or only for this
/// run.
pub fn trust_server(addr: &str, fingerprint: &str, saved: bool) -> Result<TrustAnswer> {
    let kept = if saved { "from now on" } else { "for this run" };
    eprintln!(
        "The server at {addr} is not known yet. Its certificate fingerprint is:\n\n    {fingerprint}\n\n\
         Compare it with the fingerprint the server printed when it started, or that \
         `ferry-server --data DIR fingerprint` shows on the server's machine. If they are the same, \
         you are talking to that server and no one else can read the connection.",
    );
    let question = format!("Trust {addr} {kept}? Type yes, no, or paste the fingerprint: ");
    loop {
        let Some(answer) = ask(&question)? else {
            return Ok(TrustAnswer::Refuse);
        };
        if let Some(choice) = parse_trust_answer(&answer, fingerprint) {
            return Ok(choice);
        }
        eprintln!("Please type yes, no, or the fingerprint itself.");
    }
}

/// Understands `yes` and `no`/`n` in any case, or a pasted fingerprint (in
/// any of the forms people copy), compared with the server's. Only the whole
/// word `yes` accepts, as in SSH: trusting a server deserves a full word.
pub fn parse_trust_answer(answer: &str, fingerprint: &str) -> Option<TrustAnswer> {
    match answer.trim().to_lowercase().as_str() {
        "yes" => return Some(TrustAnswer::Accept),
        "no" | "n" => return Some(TrustAnswer::Refuse),
        _ => {}
    }
    let pasted = normalize_fingerprint(answer)?;
    Some(if Some(pasted) == normalize_fingerprint(fingerprint) {
        TrustAnswer::Accept
    } else {
        TrustAnswer::Mismatch
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_answers() {
        use TrustAnswer::*;
        let hex = "3f1c".repeat(16);
        let fp = format!("SHA256:{hex}");
        let other = format!("SHA256:{}", "beef".repeat(16));
        for (answer, want) in [
            ("yes", Some(Accept)),
            (" YES \n", Some(Accept)),
            ("no", Some(Refuse)),
            ("N", Some(Refuse)),
            (fp.as_str(), Some(Accept)),
            (hex.as_str(), Some(Accept)),
            (&fp.to_uppercase(), Some(Accept)),
            (other.as_str(), Some(Mismatch)),
            ("y", None),
            ("", None),
            ("SHA256:3f1c", None),
            ("maybe", None),
        ] {
            assert_eq!(parse_trust_answer(answer, &fp), want, "{answer:?}");
        }
    }

    #[test]
    fn conflict_answers() {
        use ConflictChoice::*;
        for (answer, want) in [
            ("o", Some(Overwrite)),
            (" Overwrite \n", Some(Overwrite)),
            ("R", Some(Rename)),
            ("rename", Some(Rename)),
            ("s", Some(Skip)),
            ("SKIP", Some(Skip)),
            ("", None),
            ("yes", None),
            ("over", None),
        ] {
            assert_eq!(parse_conflict_choice(answer), want, "{answer:?}");
        }
    }
}
