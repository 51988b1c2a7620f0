//! The read-and-manage commands on files: history, delete, and the server
//! log (`list` is `folders`'). Each returns the text to print.

use anyhow::{Context as _, Result};

use crate::output;
use crate::session::Connection;

/// `history NAME`: every version, oldest first.
pub fn history(session: &mut Connection, name: &str, json: bool) -> Result<String> {
    let versions = session
        .client()
        .history(name)
        .with_context(|| format!("could not read the history of {}", output::quoted(name)))?;
    if json {
        return Ok(serde_json::to_string_pretty(&versions)? + "\n");
    }
    Ok(output::history_table(&versions))
}

/// `delete NAME [--version N]`.
pub fn delete(session: &mut Connection, name: &str, version: Option<u32>) -> Result<String> {
    let what = match version {
        Some(v) => format!("version {v} of {}", output::quoted(name)),
        None => output::quoted(name),
    };
    let removed = session
        .client()
        .delete(name, version)
        .with_context(|| format!("could not delete {what}"))?;
    Ok(output::deleted_line(name, version, removed) + "\n")
}

/// `logs [--lines N]`: the server's lines, as they are.
pub fn logs(session: &mut Connection, lines: u32) -> Result<String> {
    let lines = session
        .client()
        .logs(lines)
        .context("could not read the server log")?;
    let mut text = String::new();
    for line in &lines {
        text.push_str(&output::safe(line));
        text.push('\n');
    }
    Ok(text)
}
