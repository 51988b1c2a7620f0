//! Idle connections: opened, greeted, and then left alone, as a desktop
//! app that sits at its login screen would. They are raw sockets rather
//! than [`ferry_client::Client`]s so that holding ten thousand of them
//! costs the benchmark little; they do not log in, because a bcrypt check
//! per connection would turn "open 10,000 connections" into minutes of
//! hashing without telling anything more about memory.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, bail};

/// One open, greeted connection.
pub struct Idle(BufReader<TcpStream>);

impl Idle {
    /// Connects and reads the greeting (`FERRY <version> …`).
    pub fn open(addr: &str) -> anyhow::Result<Idle> {
        let stream =
            TcpStream::connect(addr).with_context(|| format!("while connecting to {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let mut conn = Idle(BufReader::with_capacity(256, stream));
        let greeting = conn.line().context("while reading the greeting")?;
        if !greeting.starts_with("FERRY ") {
            bail!("the server greeted with {greeting:?} (busy or not a Ferry server)");
        }
        Ok(conn)
    }

    /// Whether the connection still answers: `PING` → `OK`.
    pub fn ping(&mut self) -> bool {
        self.0.get_mut().write_all(b"PING\n").is_ok() && matches!(self.line(), Ok(l) if l == "OK")
    }

    fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        if self.0.read_line(&mut line)? == 0 {
            bail!("the server closed the connection");
        }
        Ok(line.trim_end().to_owned())
    }
}

/// Opens `n` idle connections one after another (each greeted before the
/// next, so the listen backlog never overflows).
pub fn open_many(addr: &str, n: usize) -> anyhow::Result<Vec<Idle>> {
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        all.push(
            Idle::open(addr).with_context(|| format!("while opening idle connection {}", i + 1))?,
        );
    }
    Ok(all)
}
