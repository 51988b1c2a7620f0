//! TLS on the listeners, through real handshakes on loopback: the greeting
//! and the whole protocol inside TLS, what SNI and ALPN do, the fingerprint
//! the server prints (beside a first start's admin password), the warning
//! of a plaintext start, and a clear refusal, on both sides, when plaintext
//! and TLS meet.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_client::{Client, Security, Trust};
use ferry_proto::hash::md5_bytes;
use ferry_server::tls::{self, TlsSource};
use ferry_server::{Server, testing};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use support::ADMIN_PASSWORD;

/// Accepts any certificate and remembers it, as a client meeting a server
/// for the first time does before it compares the fingerprint.
#[derive(Debug)]
struct FirstSight {
    seen: Mutex<Option<Vec<u8>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for FirstSight {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap() = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS connection to `addr` offering `ferry/1`, and the certificate the
/// server showed.
fn tls_connect(addr: &str) -> Result<(StreamOwned<ClientConnection, TcpStream>, Vec<u8>), String> {
    tls_handshake(TcpStream::connect(addr).unwrap(), "localhost", &[tls::ALPN])
}

/// A TLS handshake over `tcp` naming `server` (a DNS name is sent as SNI,
/// an IP address is not) and offering the ALPN protocols `alpn` (none at
/// all when empty).
fn tls_handshake(
    tcp: TcpStream,
    server: &str,
    alpn: &[&[u8]],
) -> Result<(StreamOwned<ClientConnection, TcpStream>, Vec<u8>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(FirstSight {
        seen: Mutex::new(None),
        provider: Arc::clone(&provider),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name = ServerName::try_from(server.to_owned()).unwrap();
    let conn = ClientConnection::new(Arc::new(config), name).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| e.to_string())?;
    }
    let seen = verifier
        .seen
        .lock()
        .unwrap()
        .clone()
        .expect("a certificate");
    Ok((tls, seen))
}

fn tls_server() -> (Server, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = testing::config(dir.path().join("data"), dir.path().join("logs"));
    config.tls = TlsSource::Generated;
    let server = Server::start(config).unwrap();
    let addr = server.local_addrs()[0].to_string();
    (server, addr, dir)
}

#[test]
fn the_whole_protocol_runs_inside_tls_with_the_printed_fingerprint() {
    let (server, addr, _dir) = tls_server();
    let (tls, cert) = tls_connect(&addr).expect("handshake");
    assert_eq!(tls.conn.alpn_protocol(), Some(tls::ALPN));
    assert_eq!(Some(tls::fingerprint(&cert).as_str()), server.fingerprint());
    let mut reader = BufReader::new(tls);
    let mut line = String::new();
    let mut next = |reader: &mut BufReader<StreamOwned<ClientConnection, TcpStream>>| {
        line.clear();
        reader.read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    };
    assert!(next(&mut reader).starts_with("FERRY 1 "));
    let send = |reader: &mut BufReader<StreamOwned<ClientConnection, TcpStream>>, bytes: &[u8]| {
        let stream = reader.get_mut();
        stream.write_all(bytes).unwrap();
        stream.flush().unwrap();
    };
    send(
        &mut reader,
        format!("LOGIN admin {ADMIN_PASSWORD}\n").as_bytes(),
    );
    assert_eq!(next(&mut reader), "OK LOGIN admin");
    let md5 = md5_bytes(b"hello");
    send(
        &mut reader,
        format!("UPLOAD hi.txt 5 fail\nDATA 5\nhelloDONE {md5}\n").as_bytes(),
    );
    assert!(next(&mut reader).starts_with("OK READY "));
    assert!(next(&mut reader).starts_with("OK STORED hi.txt 1 5 "));
    send(&mut reader, b"DOWNLOAD hi.txt\n");
    assert!(next(&mut reader).starts_with("OK DOWNLOAD 1 5 "));
    assert_eq!(next(&mut reader), "DATA 5");
    let mut body = [0u8; 5];
    reader.read_exact(&mut body).unwrap();
    assert_eq!(&body, b"hello");
    assert_eq!(next(&mut reader), "END");
    send(&mut reader, b"QUIT\n");
    assert_eq!(next(&mut reader), "OK BYE");
}

#[test]
fn a_plaintext_client_on_a_tls_listener_hears_tls_required() {
    let (_server, addr, _dir) = tls_server();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut said = String::new();
    tcp.read_to_string(&mut said).unwrap();
    assert!(said.starts_with("ERR TLS_REQUIRED "), "{said}");
    assert!(said.contains("speaks only TLS"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(8));
    // One that speaks first, in clear, is told the same at once.
    let mut tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(format!("LOGIN admin {ADMIN_PASSWORD}\n").as_bytes())
        .unwrap();
    let mut said = String::new();
    tcp.read_to_string(&mut said).unwrap();
    assert!(said.starts_with("ERR TLS_REQUIRED "), "{said}");
}

#[test]
fn a_tls_client_on_a_plaintext_listener_fails_its_handshake_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = testing::config(dir.path().join("data"), dir.path().join("logs"));
    let server = Server::start(config).unwrap();
    let addr = server.local_addrs()[0].to_string();
    assert_eq!(server.fingerprint(), None);
    let started = Instant::now();
    let Err(e) = tls_connect(&addr) else {
        panic!("no handshake with a plaintext server")
    };
    assert!(started.elapsed() < Duration::from_secs(5), "{e}");
    // Everyone else is served.
    let (mut c, _) =
        Client::connect_and_login(&addr, &Security::Plaintext, "admin", ADMIN_PASSWORD).unwrap();
    assert!(c.list().unwrap().is_empty());
}

#[test]
fn the_binary_prints_its_fingerprint_and_the_subcommand_repeats_it() {
    let dir = tempfile::tempdir().unwrap();
    let spawned = support::spawn_binary_with_tls(dir.path());
    let lines = support::lines_until(&spawned.stdout, Duration::from_secs(20), |l| {
        l.iter().any(|l| l.starts_with("Data in "))
    });
    let printed = lines
        .iter()
        .find_map(|l| l.strip_prefix("TLS certificate fingerprint "))
        .unwrap_or_else(|| panic!("no fingerprint in {lines:?}"))
        .to_owned();
    assert!(
        printed.starts_with("SHA256:") && printed.len() == 71,
        "{printed}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("fingerprint")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), printed);
    let log = std::fs::read_to_string(dir.path().join("logs/server.log")).unwrap();
    assert!(log.contains(&printed), "the log names the fingerprint");
}

#[test]
fn a_missing_certificate_stops_the_start_before_any_listener_opens() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(dir.path().join("none.pem"))
        .arg("--tls-key")
        .arg(dir.path().join("none.key"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--logs")
        .arg(dir.path().join("logs"))
        .env("FERRY_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("listening"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read the certificate"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
}

/// The first line of what a connection says, without its line break.
fn first_line(stream: impl Read) -> String {
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}

#[test]
fn the_server_needs_no_sni_and_speaks_only_ferry_1_when_a_client_names_a_protocol() {
    let (server, addr, _dir) = tls_server();
    let shown = server.fingerprint().unwrap();
    let connect = || TcpStream::connect(&addr).unwrap();
    // SNI: whatever name the client sends, or none (rustls sends none for
    // an IP address), it gets the one certificate.
    for name in ["localhost", "any-name.example", "127.0.0.1"] {
        let (tls, cert) = tls_handshake(connect(), name, &[tls::ALPN]).expect(name);
        assert_eq!(tls::fingerprint(&cert), shown, "{name}");
        assert!(first_line(tls).starts_with("FERRY 1 "), "{name}");
    }
    // ALPN: ferry/1 is chosen among others; a client that offers none is
    // served all the same ...
    let (tls, _) = tls_handshake(connect(), "localhost", &[b"h2", tls::ALPN]).unwrap();
    assert_eq!(tls.conn.alpn_protocol(), Some(tls::ALPN));
    let (tls, _) = tls_handshake(connect(), "localhost", &[]).unwrap();
    assert_eq!(tls.conn.alpn_protocol(), None);
    assert!(first_line(tls).starts_with("FERRY 1 "));
    // ... and one that offers only other protocols is refused by the
    // handshake, with the alert RFC 7301 names.
    let Err(e) = tls_handshake(connect(), "localhost", &[b"http/1.1"]) else {
        panic!("a handshake for http/1.1")
    };
    assert!(e.contains("NoApplicationProtocol"), "{e}");
}

#[test]
fn a_first_start_prints_the_admin_password_and_the_fingerprint_together() {
    let dir = tempfile::tempdir().unwrap();
    // No FERRY_ADMIN_PASSWORD: the server makes the password up.
    let (_server, addr, lines) = support::start_binary_with_tls(dir.path(), None);
    let at = lines
        .iter()
        .position(|l| l.starts_with("Created user \"admin\" with password "))
        .unwrap_or_else(|| panic!("no password in {lines:?}"));
    let block = &lines[at..];
    assert!(block.len() >= 5, "{lines:?}");
    assert!(
        block[1].starts_with("It is shown only this once"),
        "{lines:?}"
    );
    // Right after the password's two lines, before anything else.
    let fingerprint = block[2]
        .strip_prefix("TLS certificate fingerprint ")
        .unwrap_or_else(|| panic!("the fingerprint does not follow the password: {lines:?}"));
    assert!(
        fingerprint.starts_with("SHA256:") && fingerprint.len() == 71,
        "{fingerprint}"
    );
    assert!(block[3].starts_with("Clients are shown this"), "{lines:?}");
    assert!(
        block[4..]
            .iter()
            .any(|l| l.starts_with("Ferry server listening on ")),
        "{lines:?}"
    );
    // The block is all a user needs: the password logs in to the server
    // that shows that fingerprint.
    let password = block[0]
        .strip_prefix("Created user \"admin\" with password ")
        .unwrap();
    let trust = Trust::nothing().vouch(fingerprint).unwrap();
    Client::connect_and_login(&addr, &Security::Tls(trust), "admin", password)
        .expect("the printed password, at the printed fingerprint");
}

#[test]
fn a_plaintext_start_warns_once_that_passwords_travel_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let spawned = support::spawn_binary(dir.path(), &["--listen", "127.0.0.1:0"], &[]);
    let mut stdout = support::lines_until(&spawned.stdout, Duration::from_secs(20), |l| {
        l.iter().any(|l| l.starts_with("Data in "))
    });
    assert!(
        stdout.iter().any(|l| l.starts_with("Data in ")),
        "{stdout:?}"
    );
    // Gone, its pipes end: everything it printed is in.
    spawned.running.kill();
    let all = |_: &[String]| false;
    stdout.extend(support::lines_until(
        &spawned.stdout,
        Duration::from_secs(20),
        all,
    ));
    let stderr = support::lines_until(&spawned.stderr, Duration::from_secs(20), all);
    let warnings: Vec<&String> = stdout
        .iter()
        .chain(&stderr)
        .filter(|l| l.contains("in clear"))
        .collect();
    assert_eq!(warnings.len(), 1, "stdout: {stdout:?}\nstderr: {stderr:?}");
    assert!(
        stderr.contains(warnings[0])
            && warnings[0].contains("--plaintext")
            && warnings[0].contains("passwords and files travel in clear"),
        "{warnings:?}"
    );
    assert!(
        !stdout.iter().any(|l| l.contains("fingerprint")),
        "{stdout:?}"
    );
}

/// The line of `dir/logs/server.log` that holds `text`, once the server
/// has written it.
fn logged(dir: &Path, text: &str) -> String {
    let path = dir.join("logs/server.log");
    let mut found = None;
    support::transfers::wait_until(|| {
        found = std::fs::read_to_string(&path)
            .ok()
            .and_then(|log| log.lines().find(|l| l.contains(text)).map(str::to_owned));
        found.is_some()
    });
    found.unwrap()
}

#[test]
fn the_server_log_names_a_plaintext_client_on_its_tls_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, _) = support::start_binary_with_tls(dir.path(), Some(ADMIN_PASSWORD));
    // One that waits for the greeting, and one that sends its password in
    // clear at once.
    let mut waits = TcpStream::connect(&addr).unwrap();
    let mut talks = TcpStream::connect(&addr).unwrap();
    talks
        .write_all(format!("LOGIN admin {ADMIN_PASSWORD}\n").as_bytes())
        .unwrap();
    for tcp in [&mut waits, &mut talks] {
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut said = String::new();
        tcp.read_to_string(&mut said).unwrap();
        assert!(said.starts_with("ERR TLS_REQUIRED "), "{said}");
    }
    for tcp in [&waits, &talks] {
        let peer = tcp.local_addr().unwrap();
        logged(
            dir.path(),
            &format!("peer={peer} disconnect (a plaintext client reached this TLS listener)"),
        );
    }
    let log = std::fs::read_to_string(dir.path().join("logs/server.log")).unwrap();
    assert!(
        !log.contains(ADMIN_PASSWORD),
        "the password reached the log"
    );
}

#[test]
fn the_server_log_names_a_tls_client_on_its_plaintext_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, _) = support::start_binary(dir.path(), Some(ADMIN_PASSWORD));
    let tcp = TcpStream::connect(&addr).unwrap();
    let peer = tcp.local_addr().unwrap();
    let Err(_) = tls_handshake(tcp, "localhost", &[tls::ALPN]) else {
        panic!("a handshake with a plaintext server")
    };
    logged(
        dir.path(),
        &format!("peer={peer} disconnect (a TLS client reached this plaintext listener)"),
    );
}
