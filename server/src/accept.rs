//! The door: listening sockets with a deep backlog, the accept loops, and
//! what happens to each new connection before its session starts (the
//! connection cap, the per-address cap on connections not logged in, a
//! named thread of its own with a panic caught). What a session does is
//! [`crate::session`]'s.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferry_proto::protocol::{ErrorCode, Reply};
use log::{error, warn};
use socket2::{Domain, Socket, Type};

use crate::Shared;
use crate::log_budget::held_back_note;
use crate::meter::ListenerStats;
use crate::session;

/// Connections the kernel may hold for the accept thread (capped by the
/// system's `net.core.somaxconn`). The standard library's 128 overflows when
/// hundreds of clients connect at once while the cores are busy (with
/// their logins, say): the kernel then drops the handshake's last step, and
/// those clients wait for a greeting that never comes.
const LISTEN_BACKLOG: i32 = 4096;

/// Listens on the first address `addr` resolves to that can be bound, as
/// [`TcpListener::bind`] does, but with [`LISTEN_BACKLOG`].
pub(crate) fn listen(addr: &str) -> io::Result<TcpListener> {
    let mut failed = None;
    for addr in addr.to_socket_addrs()? {
        let bound = Socket::new(Domain::for_address(addr), Type::STREAM, None).and_then(|socket| {
            // As the standard library does: a restarted server binds at once.
            socket.set_reuse_address(true)?;
            socket.bind(&addr.into())?;
            socket.listen(LISTEN_BACKLOG)?;
            Ok(socket)
        });
        match bound {
            Ok(socket) => return Ok(socket.into()),
            Err(e) => failed = Some(e),
        }
    }
    Err(failed.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

/// The sentence for a listener that could not be bound, with what to do.
pub(crate) fn bind_failure(addr: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let reason = match e.kind() {
        ErrorKind::AddrInUse => {
            "the port is already in use (by another program, or given twice); choose another port"
                .to_owned()
        }
        ErrorKind::AddrNotAvailable => {
            "this machine has no such address; use one of its own addresses, or 0.0.0.0 for all"
                .to_owned()
        }
        ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need special rights); choose a port above 1023"
                .to_owned()
        }
        ErrorKind::InvalidInput => {
            format!("{e}; write the address as host:port, such as 0.0.0.0:7878")
        }
        _ => e.to_string(),
    };
    format!("cannot listen on {addr}: {reason}")
}

pub(crate) fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    stats: &Arc<ListenerStats>,
) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        match stream {
            Ok(stream) => admit(stream, shared, stats),
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                warn!("accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Holds one slot of the connection cap; gives it back on drop, whatever
/// way the connection ends.
struct CapSlot(Arc<Shared>);

impl Drop for CapSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

fn admit(mut stream: TcpStream, shared: &Arc<Shared>, stats: &Arc<ListenerStats>) {
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(_) => return, // already gone
    };
    let open = shared.connections.fetch_add(1, Ordering::SeqCst);
    let slot = CapSlot(Arc::clone(shared));
    let cap = shared.config.max_connections;
    if open >= cap {
        log_at_the_door(shared, || {
            format!("peer={peer} refused: {open} connections open (the cap is {cap})")
        });
        refuse_busy(&mut stream, "the server is busy");
        return;
    }
    let cap = shared.config.max_unauthenticated;
    let Some(stranger) = shared.anonymous.enter(peer.ip(), cap) else {
        log_at_the_door(shared, || {
            format!("peer={peer} refused: {cap} connections from this address have not logged in")
        });
        refuse_busy(
            &mut stream,
            "too many connections from your address have not logged in; log in on those or close them",
        );
        return;
    };
    let thread_shared = Arc::clone(shared);
    let stats = Arc::clone(stats);
    let spawned = spawn_connection(peer, slot, move || {
        let _open = stats.connection();
        session::serve(&thread_shared, &stats, stream, peer, stranger);
    });
    if let Err(e) = spawned {
        // The closure (with the stream and slot) was dropped: the client sees a closed connection.
        error!("peer={peer} could not start a connection thread: {e}");
    }
}

/// Runs one connection's `work` on its own named thread, holding its slot of
/// the connection cap. A panic in it is logged and ends only this
/// connection; the slot is given back either way. (Shared locks are taken
/// with `PoisonError::into_inner`, so a panic while holding one does not
/// take the others down.)
fn spawn_connection(
    peer: SocketAddr,
    slot: CapSlot,
    work: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("conn-{peer}"))
        // Connection threads keep their big buffers on the heap.
        .stack_size(256 * 1024)
        .spawn(move || {
            let _slot = slot;
            if catch_unwind(AssertUnwindSafe(work)).is_err() {
                error!("peer={peer} connection thread panicked; only this connection was closed");
            }
        })
}

/// Logs a refusal at the door within the server's budget for them: a flood
/// of connections cannot flood the log.
fn log_at_the_door(shared: &Shared, line: impl FnOnce() -> String) {
    let allowed = shared
        .door_log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .allow(Instant::now());
    if let Some(held_back) = allowed {
        warn!("{}{}", line(), held_back_note(held_back));
    }
}

fn refuse_busy(stream: &mut TcpStream, what: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let reply = Reply::error(ErrorCode::Busy, format!("{what}; try again in a moment"));
    let _ = writeln!(stream, "{reply}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Server;

    /// Hundreds of clients connecting at once all get through the handshake
    /// before a single one is accepted (the standard library's backlog of
    /// 128 would leave the rest waiting for the kernel to retry).
    #[test]
    fn a_burst_of_connections_waits_in_the_backlog() {
        let listener = listen("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The system caps every backlog (at 4096 on current Linux).
        let cap: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(128);
        let burst: Vec<TcpStream> = (0..cap.min(400))
            .map(|i| {
                TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                    .unwrap_or_else(|e| panic!("connection {i}: {e}"))
            })
            .collect();
        listener.set_nonblocking(true).unwrap();
        let accepted = std::iter::from_fn(|| listener.accept().ok()).count();
        assert_eq!(accepted, burst.len());
    }

    #[test]
    fn a_panicking_connection_ends_alone_and_gives_its_slot_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::testing::config(dir.path().join("data"), dir.path().join("logs"));
        let server = Server::start(config).unwrap();
        let shared = Arc::clone(&server.shared);
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let peer = server.local_addrs()[0];
        let handle = spawn_connection(peer, CapSlot(Arc::clone(&shared)), || {
            panic!("a bug in one connection");
        })
        .unwrap();
        assert!(
            handle.join().is_ok(),
            "the panic is caught in the connection thread"
        );
        assert_eq!(server.connection_count(), 0, "the slot is given back");
        // Everyone else is served as before.
        let addr = peer.to_string();
        let (mut client, _) = ferry_client::Client::connect_and_login(
            &addr,
            &ferry_client::Security::Plaintext,
            "admin",
            "admin-secret-1",
        )
        .unwrap();
        assert!(client.list().unwrap().is_empty());
    }
}
