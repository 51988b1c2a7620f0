//! Idle connections: opened, greeted, and then left alone, as a desktop
//! app that sits at its login screen would. They are raw sockets rather
//! than [`ferry_client::Client`]s so that holding ten thousand of them
//! costs the benchmark little; they do not log in, because a bcrypt check
//! per connection would turn "open 10,000 connections" into minutes of
//! hashing without telling anything more about memory. Over TLS they are
//! [`Client`]s (connected and verified, not logged in): the handshake is
//! the part whose memory the server keeps.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, bail};
use ferry_client::{Client, Security};

/// One open, greeted connection.
pub enum Idle {
    /// A plaintext socket, greeted.
    Plain(BufReader<TcpStream>),
    /// A verified TLS connection, greeted.
    Tls(Box<Client>),
}

impl Idle {
    /// Connects (over TLS: and verifies) and reads the greeting
    /// (`FERRY <version> …`).
    pub fn open(addr: &str, security: &Security) -> anyhow::Result<Idle> {
        if let Security::Tls(_) = security {
            let client = Client::connect_with_timeout(addr, security, Duration::from_secs(30))
                .with_context(|| format!("while connecting to {addr}"))?;
            return Ok(Idle::Tls(Box::new(client)));
        }
        let stream =
            TcpStream::connect(addr).with_context(|| format!("while connecting to {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let mut reader = BufReader::with_capacity(256, stream);
        let greeting = line(&mut reader).context("while reading the greeting")?;
        if !greeting.starts_with("FERRY ") {
            bail!("the server greeted with {greeting:?} (busy or not a Ferry server)");
        }
        Ok(Idle::Plain(reader))
    }

    /// Whether the connection still answers: `PING` → `OK`.
    pub fn ping(&mut self) -> bool {
        match self {
            Idle::Plain(reader) => {
                reader.get_mut().write_all(b"PING\n").is_ok()
                    && matches!(line(reader), Ok(l) if l == "OK")
            }
            Idle::Tls(client) => client.ping().is_ok(),
        }
    }
}

fn line(reader: &mut BufReader<TcpStream>) -> anyhow::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        bail!("the server closed the connection");
    }
    Ok(line.trim_end().to_owned())
}

/// Opens `n` idle connections one after another (each greeted before the
/// next, so the listen backlog never overflows).
pub fn open_many(addr: &str, security: &Security, n: usize) -> anyhow::Result<Vec<Idle>> {
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        all.push(
            Idle::open(addr, security)
                .with_context(|| format!("while opening idle connection {}", i + 1))?,
        );
    }
    Ok(all)
}
