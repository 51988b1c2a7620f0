//! Connecting, from outside the crate, to peers that are not a Ferry
//! server: nobody listening, something else listening, a peer that hangs
//! up. (Everything a real server answers is tested where the server can be
//! started: server/tests, cli/tests and gui_client/tests.)

use std::io::Write;
use std::net::TcpListener;
use std::thread;

use ferry_client::{Client, ClientError};

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
