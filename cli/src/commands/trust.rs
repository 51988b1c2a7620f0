//! `trust list` and `trust remove`: the servers this user trusts by
//! fingerprint, kept in the known-hosts file. Neither needs a server or a
//! login. The layout is pure ([`list_text`]) so it is unit-tested.

use std::path::Path;

use anyhow::Result;
use ferry_client::tls::known_hosts::KnownHosts;

use crate::exit::{Exit, Failure};
use crate::output::{self, Align};
use crate::security;

/// `trust list`: every pinned server, where the list is kept, and the
/// fingerprints `--trust`/`FERRY_TRUST` add at any address.
pub fn list(vouched: &[&str], json: bool) -> Result<String> {
    let trust = security::known_hosts_trust()?;
    let known = trust.known()?;
    let path = trust.known_hosts.as_deref().expect("checked above");
    Ok(if json {
        list_json(&known, path, vouched)
    } else {
        list_text(&known, path, vouched)
    })
}

/// `trust remove HOST:PORT`: forgets the server, or says it was not there.
pub fn remove(server: &str) -> Result<String> {
    let trust = security::known_hosts_trust()?;
    let path = trust
        .known_hosts
        .as_deref()
        .expect("checked above")
        .display()
        .to_string();
    let fingerprint = trust.known()?.get(server).map(str::to_owned);
    if trust.forget(server)? {
        log::info!("forgot the trusted server {server}");
        // A certificate trusted at another address is trusted here too
        // (the same server by another name): say so rather than promise a
        // question that will not come.
        let known = trust.known()?;
        let elsewhere: Vec<&str> = known
            .entries()
            .filter(|(_, f)| Some(*f) == fingerprint.as_deref())
            .map(|(addr, _)| addr)
            .collect();
        let next = if elsewhere.is_empty() {
            "the next connection will show its fingerprint again".to_owned()
        } else {
            format!(
                "its certificate is still trusted at {}, so connections to it are still accepted; remove {} too to be asked again",
                elsewhere.join(", "),
                if elsewhere.len() == 1 {
                    "that entry"
                } else {
                    "those entries"
                }
            )
        };
        return Ok(format!(
            "removed {server} from the trusted servers in {path}; {next}\n"
        ));
    }
    Err(Failure::new(
        Exit::NotFound,
        format!(
            "{server} is not among the trusted servers in {path}, so nothing was removed; `ferry-cli trust list` shows them"
        ),
    )
    .into())
}

/// The table of trusted servers, with the file's place first.
pub fn list_text(known: &KnownHosts, path: &Path, vouched: &[&str]) -> String {
    let rows: Vec<Vec<String>> = known
        .entries()
        .map(|(server, fingerprint)| {
            vec![output::safe(server).into_owned(), fingerprint.to_owned()]
        })
        .collect();
    let mut text = if rows.is_empty() {
        format!(
            "No trusted servers yet in {}; a server is added when you accept its fingerprint or pass --trust.\n",
            path.display()
        )
    } else {
        format!("Trusted servers, kept in {}:\n", path.display())
            + &output::table(
                &[("SERVER", Align::Left), ("FINGERPRINT", Align::Left)],
                &rows,
            )
    };
    if !vouched.is_empty() {
        text.push_str("Also trusted at any address, from --trust or FERRY_TRUST:\n");
        for fingerprint in vouched {
            text.push_str(&format!("  {}\n", output::safe(fingerprint)));
        }
    }
    text
}

/// The same as JSON: `{"file", "servers": [{"server", "fingerprint"}], "also_trusted"}`.
fn list_json(known: &KnownHosts, path: &Path, vouched: &[&str]) -> String {
    let servers: Vec<serde_json::Value> = known
        .entries()
        .map(|(server, fingerprint)| serde_json::json!({"server": server, "fingerprint": fingerprint}))
        .collect();
    let value = serde_json::json!({
        "file": path.display().to_string(),
        "servers": servers,
        "also_trusted": vouched,
    });
    serde_json::to_string_pretty(&value).expect("JSON of strings") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "SHA256:3f1c000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn the_list_names_its_file_and_lines_up() {
        let mut known = KnownHosts::default();
        known.pin("files.lan:7878", A);
        known.pin("127.0.0.1:40001", A);
        let text = list_text(
            &known,
            Path::new("/home/ann/.config/ferry/known_hosts"),
            &[],
        );
        assert_eq!(
            text,
            format!(
                "Trusted servers, kept in /home/ann/.config/ferry/known_hosts:\n\
                 SERVER           FINGERPRINT\n\
                 files.lan:7878   {A}\n\
                 127.0.0.1:40001  {A}\n"
            )
        );
    }

    #[test]
    fn an_empty_list_says_how_servers_get_in() {
        let text = list_text(&KnownHosts::default(), Path::new("kh"), &[A]);
        assert!(text.starts_with("No trusted servers yet in kh;"), "{text}");
        assert!(text.contains("--trust"), "{text}");
        assert!(text.ends_with(&format!("FERRY_TRUST:\n  {A}\n")), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&list_json(&KnownHosts::default(), Path::new("kh"), &[])).unwrap();
        assert_eq!(json["servers"], serde_json::json!([]));
        assert_eq!(json["file"], "kh");
    }
}
