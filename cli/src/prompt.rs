//! Questions for a person at the terminal (user name, what to do about a
//! name that exists). Callers only ask when standard input is a terminal;
//! scripts never see a prompt. Questions go to stderr so stdout stays clean.

use std::io::{self, BufRead, Write};

use anyhow::{Context as _, Result};

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

#[cfg(test)]
mod tests {
    use super::*;

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
