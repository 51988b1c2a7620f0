//! `download --mirror`: one file from `--server` and every mirror at once,
//! with one bar over all of them and a note for each mirror left out.
//!
//! Each mirror is verified on its own, with the same trust as the server.
//! On a terminal, a mirror never met before is asked about first (as the
//! server is), so the person decides before any byte moves; in a script an
//! unknown mirror is refused, named with its fingerprint, and the download
//! goes on with the others if enough agree.

use std::io::Write;

use anyhow::{Context as _, Result};
use ferry_client::mirror::{self, MirrorOptions};
use ferry_client::partial::sidecar_path;
use ferry_client::transfer::Connector;

use super::Terminal;
use super::download::Destination;
use crate::args::DownloadArgs;
use crate::output::{self, quoted};
use crate::progress::TransferBar;
use crate::security;

/// Downloads from `--server` and every `--mirror` at once.
pub fn download(
    connector: &Connector,
    args: &DownloadArgs,
    target: &Destination,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    let dest = target.path.as_path();
    if term.interactive {
        for addr in args.mirror.iter().filter(|m| **m != connector.addr) {
            security::vet_mirror(addr, &connector.security);
        }
    }
    let mut mirrors = vec![connector.clone()];
    mirrors.extend(args.mirror.iter().map(|m| connector.for_server(m)));
    let options = MirrorOptions {
        version: args.version,
        restart: args.restart,
        ..MirrorOptions::default()
    };
    let mut bar = TransferBar::new(
        format!(
            "↓ {} ({} mirrors)",
            output::safe(args.name()),
            mirrors.len()
        ),
        term.bars,
    );
    let result = mirror::download(&mirrors, args.name(), dest, &options, &mut |p| {
        bar.report_mirrors(p)
    });
    drop(bar);
    let report = result.with_context(|| {
        let again = if sidecar_path(dest).exists() {
            " (what arrived is kept; run the same command again to continue)"
        } else {
            ""
        };
        format!("could not download {}{again}", quoted(args.name()))
    })?;
    for note in output::mirror_notes(&report)
        .into_iter()
        .chain(target.renamed.clone())
    {
        eprintln!("{note}");
    }
    writeln!(out, "{}", output::mirrored_line(args.name(), dest, &report))?;
    out.flush()?;
    Ok(())
}
