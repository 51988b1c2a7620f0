//! Connecting, from outside the crate, to peers that are not a Ferry
//! server: nobody listening, something else listening, a peer that hangs
//! up. (Everything a real server answers is tested where the server can be
//! started: server/tests, cli/tests and gui_client/tests.)

use std::io::Write;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use ferry_client::{Client, ClientError};
use ferry_proto::protocol::{PROTOCOL_VERSION, Reply};

/// A listener on a free port that answers each of `connections` with
/// `greeting` and hangs up.
fn peer(greeting: &'static [u8], connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::Builder::new()
        .name("peer".into())
        .spawn(move || {
            for stream in listener.incoming().take(connections) {
                let _ = stream.unwrap().write_all(greeting);
            }
        })
        .unwrap();
    addr
}

#[test]
fn nobody_listening_is_a_connect_error_that_says_what_to_check() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let err = Client::connect(&addr, &ferry_client::Security::Plaintext)
        .err()
        .expect("nobody is listening");
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with(&format!("could not connect to {addr}: ")));
    assert!(text.ends_with("check the address and that a Ferry server is running there"));
}

#[test]
fn an_address_without_a_port_is_a_connect_error() {
    let err = Client::connect("missing-port", &ferry_client::Security::Plaintext)
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
}

#[test]
fn another_kind_of_server_is_named_as_such() {
    let addr = peer(b"SSH-2.0-OpenSSH_9.6\r\n", 1);
    let err = Client::connect(&addr, &ferry_client::Security::Plaintext)
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("make sure it is a Ferry server of the same version"),
        "{err}"
    );
}

#[test]
fn a_peer_that_hangs_up_at_once_is_a_lost_connection() {
    let addr = peer(b"", 1);
    let err = Client::connect(&addr, &ferry_client::Security::Plaintext)
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Io(_)), "{err:?}");
    assert!(
        err.to_string().contains("the server closed the connection"),
        "{err}"
    );
}

/// A listener that accepts every connection and never says a word; the
/// connections stay open as long as the test runs.
fn silent_peer() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::Builder::new()
        .name("silent-peer".into())
        .spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                held.push(stream);
            }
        })
        .unwrap();
    addr
}

fn gives_up_on_silence(security: &ferry_client::Security) {
    let addr = silent_peer();
    let started = Instant::now();
    let err = Client::connect_with_deadlines(
        &addr,
        security,
        Duration::from_secs(60),
        Duration::from_millis(300),
    )
    .err()
    .expect("the peer never greets");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "gave up after {waited:?}");
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "could not connect to {addr}: it accepted the connection but did not answer within \
             0.3 s; check the address and that a Ferry server is running there"
        )
    );
    assert!(ferry_client::transfer::is_retryable(&err));
}

#[test]
fn a_server_that_never_greets_is_given_up_on_at_the_greeting_deadline() {
    assert!(ferry_client::GREETING_TIMEOUT <= Duration::from_secs(15));
    assert!(ferry_client::GREETING_TIMEOUT < ferry_client::DEFAULT_IO_TIMEOUT);
    gives_up_on_silence(&ferry_client::Security::Plaintext);
}

#[test]
fn a_server_that_never_answers_the_tls_handshake_is_given_up_on_too() {
    let trust = ferry_client::Trust::nothing().with_known_hosts("/nowhere/known_hosts");
    gives_up_on_silence(&ferry_client::Security::Tls(trust));
}

#[test]
fn after_the_greeting_the_normal_timeout_applies_again() {
    // Greets at once, then never answers a request.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hello = format!(
        "{}\n",
        Reply::Hello {
            version: PROTOCOL_VERSION,
            text: "test".into(),
        }
    );
    thread::Builder::new()
        .name("greeting-peer".into())
        .spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(hello.as_bytes()).unwrap();
            thread::sleep(Duration::from_secs(10));
        })
        .unwrap();
    let mut client = Client::connect_with_deadlines(
        &addr,
        &ferry_client::Security::Plaintext,
        Duration::from_millis(1500),
        Duration::from_millis(200),
    )
    .expect("the peer greets");
    let started = Instant::now();
    let err = client.ping().expect_err("the peer never answers");
    let waited = started.elapsed();
    assert!(matches!(err, ClientError::Io(_)), "{err:?}");
    assert!(
        waited >= Duration::from_millis(1200),
        "the request waited only the greeting's deadline: {waited:?}"
    );
}
