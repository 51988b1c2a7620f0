//! Step one of a mirrored download: ask every mirror what the file is and
//! keep only those that agree with the strict majority ([`vote`]); later,
//! if the assembled file fails its check, the same rule decides each
//! chunk's MD5 ([`majority_chunks`]).

use std::collections::HashMap;
use std::thread;

use log::{info, warn};

use crate::transfer::Connector;
use crate::{Client, ClientError};
use ferry_proto::hash::Md5Digest;
use ferry_proto::names::escaped;
use ferry_proto::protocol::CHUNK_SIZE;

/// What a mirror said about the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Claim {
    pub(super) size: u64,
    pub(super) md5: Md5Digest,
}

/// Picks the claim that a strict majority of the answers make.
pub(super) fn majority(answers: &[Option<Claim>]) -> Option<Claim> {
    let given: Vec<Claim> = answers.iter().flatten().copied().collect();
    let mut counts: HashMap<Claim, usize> = HashMap::new();
    for c in &given {
        *counts.entry(*c).or_default() += 1;
    }
    counts
        .into_iter()
        .find(|(_, n)| *n * 2 > given.len())
        .map(|(c, _)| c)
}

/// The outcome of the vote.
pub(super) struct Vote {
    /// What the majority says the file is.
    pub(super) agreed: Claim,
    /// The agreeing mirrors, by index, with the version number each gave.
    pub(super) usable: Vec<(usize, u32)>,
    /// Per mirror, the logged-in connection of an agreeing one, which its
    /// worker goes on to use.
    pub(super) clients: Vec<Option<Client>>,
    /// Mirrors left out, with the reason.
    pub(super) excluded: Vec<(String, String)>,
}

/// Asks every mirror for the file's size and MD5 and keeps the majority.
pub(super) fn vote(
    mirrors: &[Connector],
    name: &str,
    version: Option<u32>,
) -> Result<Vote, ClientError> {
    let answers = ask_all(mirrors, name, version);
    let claims: Vec<Option<Claim>> = answers
        .iter()
        .map(|a| a.as_ref().ok().map(|(c, _, _)| *c))
        .collect();
    let Some(agreed) = majority(&claims) else {
        let said: Vec<String> = mirrors
            .iter()
            .zip(&answers)
            .map(|(m, a)| match a {
                Ok((c, _, _)) => format!("{} has {} bytes with MD5 {}", m.addr, c.size, c.md5),
                Err(e) => format!("{}: {e}", m.addr),
            })
            .collect();
        return Err(ClientError::NoMajority(said.join("; ")));
    };
    let mut excluded = Vec::new();
    let mut usable = Vec::new();
    let mut clients: Vec<Option<Client>> = Vec::new();
    for (i, (m, a)) in mirrors.iter().zip(answers).enumerate() {
        match a {
            Ok((c, version, client)) if c == agreed => {
                usable.push((i, version));
                clients.push(Some(client));
            }
            Ok((c, _, _)) => {
                let why = format!("disagrees (md5 {}, {} bytes)", c.md5, c.size);
                warn!("mirror {} {why} — excluded", m.addr);
                excluded.push((m.addr.clone(), why));
                clients.push(None);
            }
            Err(e) => {
                let why = if e.is_untrusted() {
                    format!("refused, not verified ({e})")
                } else {
                    format!("unreachable ({e})")
                };
                warn!("mirror {} {why} — excluded", m.addr);
                excluded.push((m.addr.clone(), why));
                clients.push(None);
            }
        }
    }
    info!(
        "mirrored download of {}: {} bytes, md5 {}, from {} of {} mirrors",
        escaped(name),
        agreed.size,
        agreed.md5,
        usable.len(),
        mirrors.len()
    );
    Ok(Vote {
        agreed,
        usable,
        clients,
        excluded,
    })
}

/// What one mirror answered: its claim, its version number, and the
/// logged-in connection, which its worker goes on to use.
type Answer = Result<(Claim, u32, Client), ClientError>;

/// STATs every mirror in parallel.
fn ask_all(mirrors: &[Connector], name: &str, version: Option<u32>) -> Vec<Answer> {
    thread::scope(|scope| {
        let handles: Vec<_> = mirrors
            .iter()
            .map(|m| {
                thread::Builder::new()
                    .name(format!("stat-{}", m.addr))
                    .spawn_scoped(scope, move || {
                        let mut client = m.connect()?;
                        let info = client.stat(name, version)?;
                        let claim = Claim {
                            size: info.size,
                            md5: info.md5,
                        };
                        Ok((claim, info.version, client))
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    Err(ClientError::Protocol("asking the mirror failed".into()))
                }),
                Err(e) => Err(ClientError::Io(e)),
            })
            .collect()
    })
}

/// Per chunk, the MD5 that most of the given mirrors report.
pub(super) fn majority_chunks(
    mirrors: &[Connector],
    good: &[(usize, u32)],
    name: &str,
    size: u64,
) -> Result<Vec<Md5Digest>, ClientError> {
    let count = size.div_ceil(CHUNK_SIZE) as usize;
    let lists: Vec<Vec<Md5Digest>> = good
        .iter()
        .filter_map(|&(i, version)| {
            let mut client = mirrors[i].connect().ok()?;
            let (chunk, sums) = client.chunks(name, Some(version)).ok()?;
            (chunk == CHUNK_SIZE && sums.len() == count).then_some(sums)
        })
        .collect();
    if lists.is_empty() {
        return Err(ClientError::Protocol(
            "no agreeing mirror could list the file's chunk checksums".into(),
        ));
    }
    (0..count)
        .map(|c| {
            let votes: Vec<Option<Claim>> = lists
                .iter()
                .map(|l| Some(Claim { size: 0, md5: l[c] }))
                .collect();
            majority(&votes).map(|claim| claim.md5).ok_or_else(|| {
                ClientError::NoMajority(format!("the mirrors disagree about chunk {c}"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(n: u8) -> Option<Claim> {
        Some(Claim {
            size: 10,
            md5: Md5Digest([n; 16]),
        })
    }

    #[test]
    fn strict_majority_of_those_who_answered() {
        assert_eq!(
            majority(&[claim(1), claim(1), claim(1), claim(2)]),
            claim(1)
        );
        assert_eq!(
            majority(&[claim(1), claim(2)]),
            None,
            "a tie is no majority"
        );
        assert_eq!(majority(&[claim(1), claim(1), claim(2), claim(2)]), None);
        assert_eq!(
            majority(&[claim(1), None, None]),
            claim(1),
            "the silent do not vote"
        );
        assert_eq!(majority(&[None, None]), None);
        assert_eq!(majority(&[claim(1), claim(2), claim(3)]), None);
    }
}
