//! A TCP fault-injection proxy on loopback: forwards bytes between a client
//! and a server, counts them per connection, and on request cuts a
//! connection after N bytes, stalls it, or flips a byte. Each new connection
//! takes the next planned fault; once the plan is used up, connections pass
//! through untouched. Everything stops when the proxy is dropped.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::Duration;

/// What to do to one connection. Byte counts are server → client ("down")
/// unless named "up".
#[derive(Clone, Copy, Debug, Default)]
pub enum Fault {
    /// Forward everything.
    #[default]
    None,
    /// Close both sides after this many bytes went down.
    CutDown(u64),
    /// Close both sides after this many bytes went up.
    CutUp(u64),
    /// Stop forwarding (in both directions) after this many bytes went
    /// down, keeping the connection open.
    StallDown(u64),
    /// Stop forwarding after this many bytes went up.
    StallUp(u64),
    /// Invert the byte at this position of the down stream.
    FlipDown(u64),
}

struct Shared {
    target: Mutex<SocketAddr>,
    plan: Mutex<VecDeque<Fault>>,
    /// Bytes sent down, per connection in order of arrival.
    down: Mutex<Vec<Arc<AtomicU64>>>,
    up: Mutex<Vec<Arc<AtomicU64>>>,
    /// Open connections; a connection's sockets close when both its pumps end.
    pairs: Mutex<Vec<Weak<Pair>>>,
    stop: AtomicBool,
}

/// A running proxy; dropped, it cuts every connection and stops.
pub struct Proxy {
    /// Where clients connect, `127.0.0.1:port`.
    pub addr: String,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port that forwards to `target`.
    pub fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            target: Mutex::new(target.parse().unwrap()),
            plan: Mutex::new(VecDeque::new()),
            down: Mutex::default(),
            up: Mutex::default(),
            pairs: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept(listener, s))
            .unwrap();
        Proxy { addr, shared }
    }

    /// Plans faults for the next connections, in order.
    pub fn plan(&self, faults: &[Fault]) {
        self.shared.plan.lock().unwrap().extend(faults);
    }

    /// Points the proxy at another server (for a restarted one).
    pub fn retarget(&self, target: &str) {
        *self.shared.target.lock().unwrap() = target.parse().unwrap();
    }

    /// Bytes sent server → client on each connection so far.
    pub fn down_bytes(&self) -> Vec<u64> {
        counts(&self.shared.down)
    }

    /// Bytes sent client → server on each connection so far.
    pub fn up_bytes(&self) -> Vec<u64> {
        counts(&self.shared.up)
    }

    /// Cuts every open connection now.
    pub fn cut_all(&self) {
        for pair in self.shared.pairs.lock().unwrap().drain(..) {
            if let Some(pair) = pair.upgrade() {
                pair.close();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.cut_all();
        let _ = TcpStream::connect(&self.addr); // wakes the accept loop
    }
}

fn counts(list: &Mutex<Vec<Arc<AtomicU64>>>) -> Vec<u64> {
    list.lock()
        .unwrap()
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .collect()
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let target = *shared.target.lock().unwrap();
        let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
            continue;
        };
        let fault = shared.plan.lock().unwrap().pop_front().unwrap_or_default();
        let down = Arc::new(AtomicU64::new(0));
        let up = Arc::new(AtomicU64::new(0));
        shared.down.lock().unwrap().push(Arc::clone(&down));
        shared.up.lock().unwrap().push(Arc::clone(&up));
        let (cut_down, cut_up, stall_down, stall_up, flip) = match fault {
            Fault::None => (None, None, None, None, None),
            Fault::CutDown(n) => (Some(n), None, None, None, None),
            Fault::CutUp(n) => (None, Some(n), None, None, None),
            Fault::StallDown(n) => (None, None, Some(n), None, None),
            Fault::StallUp(n) => (None, None, None, Some(n), None),
            Fault::FlipDown(n) => (None, None, None, None, Some(n)),
        };
        let pair = Arc::new(Pair {
            client: client.try_clone().unwrap(),
            server: server.try_clone().unwrap(),
        });
        shared.pairs.lock().unwrap().push(Arc::downgrade(&pair));
        let s = Arc::clone(&shared);
        let p = Arc::clone(&pair);
        thread::Builder::new()
            .name("proxy-down".into())
            .spawn(move || pump(server, client, &down, cut_down, stall_down, flip, &p, &s))
            .unwrap();
        let s = Arc::clone(&shared);
        thread::Builder::new()
            .name("proxy-up".into())
            .spawn(move || {
                pump(
                    pair.client.try_clone().unwrap(),
                    pair.server.try_clone().unwrap(),
                    &up,
                    cut_up,
                    stall_up,
                    None,
                    &pair,
                    &s,
                )
            })
            .unwrap();
    }
}

struct Pair {
    client: TcpStream,
    server: TcpStream,
}

impl Pair {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

#[allow(clippy::too_many_arguments)]
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    count: &AtomicU64,
    cut: Option<u64>,
    stall: Option<u64>,
    flip: Option<u64>,
    pair: &Pair,
    shared: &Shared,
) {
    let limit = cut.or(stall);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let done = count.load(Ordering::SeqCst);
        let room = limit.map_or(buf.len() as u64, |l| {
            l.saturating_sub(done).min(buf.len() as u64)
        });
        if room == 0 {
            if cut.is_some() {
                pair.close();
                return;
            }
            // Stalled: hold the connection open without moving a byte.
            while !shared.stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            pair.close();
            return;
        }
        let n = match from.read(&mut buf[..room as usize]) {
            Ok(0) | Err(_) => {
                pair.close();
                return;
            }
            Ok(n) => n,
        };
        if let Some(at) = flip
            && at >= done
            && at < done + n as u64
        {
            buf[(at - done) as usize] ^= 0xff;
        }
        if to.write_all(&buf[..n]).is_err() {
            pair.close();
            return;
        }
        count.fetch_add(n as u64, Ordering::SeqCst);
    }
}
