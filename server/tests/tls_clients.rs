//! Ferry's own client over TLS, through real handshakes on loopback: trust
//! on first use, pins that refuse a changed server (a man in the middle),
//! certificates from an authority (host name, expiry), plaintext and TLS
//! mixed up, and the transfers, resumes and mirrors of the other tests,
//! encrypted.

mod support;

use std::fs;
use std::io::{Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ferry_client::mirror::{self, MirrorOptions};
use ferry_client::transfer::{self, Connector, ResumableUploadOptions, partial_download};
use ferry_client::{
    Client, ClientError, Progress, Security, Stage, Trust, UploadOptions, Verified, no_progress,
};
use ferry_proto::protocol::{ConflictPolicy, Role};
use ferry_server::tls::TlsSource;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};
use support::proxy::{Fault, Proxy};
use support::transfers::{MIB, download, put, quick};
use support::{ADMIN_PASSWORD, TestServer, payload};

/// Trust that pins to a known-hosts file in `dir`, and nothing else.
fn first_use(dir: &Path) -> Trust {
    Trust::nothing().with_known_hosts(dir.join("known_hosts"))
}

fn login(addr: &str, trust: &Trust) -> Result<Client, ClientError> {
    Client::connect_and_login(addr, &Security::Tls(trust.clone()), "admin", ADMIN_PASSWORD)
        .map(|(c, _)| c)
}

#[test]
fn a_new_server_is_refused_with_its_fingerprint_until_the_user_trusts_it() {
    let srv = TestServer::start_tls();
    let trust = first_use(srv.dir.path());
    let e = login(&srv.addr, &trust).err().expect("an unknown server");
    let ClientError::UnknownServer { addr, fingerprint } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (addr.as_str(), fingerprint.clone()),
        (srv.addr.as_str(), srv.fingerprint())
    );
    assert!(e.to_string().contains(&srv.fingerprint()), "{e}");
    assert!(
        !srv.dir.path().join("known_hosts").exists(),
        "nothing pinned yet"
    );

    trust.pin(&srv.addr, fingerprint).unwrap();
    let client = login(&srv.addr, &trust).expect("a trusted server");
    assert_eq!(client.verified(), Verified::Pinned);
    assert_eq!(client.fingerprint(), Some(srv.fingerprint().as_str()));
    let file = fs::read_to_string(srv.dir.path().join("known_hosts")).unwrap();
    assert!(
        file.lines()
            .any(|l| l == format!("{} {}", srv.addr, srv.fingerprint())),
        "{file}"
    );
}

#[test]
fn a_vouched_fingerprint_is_trusted_and_remembered_and_a_wrong_one_is_not() {
    let srv = TestServer::start_tls();
    let wrong = format!("SHA256:{}", "0".repeat(64));
    let e = login(&srv.addr, &first_use(srv.dir.path()).vouch(&wrong).unwrap())
        .err()
        .unwrap();
    assert!(matches!(e, ClientError::UnknownServer { .. }), "{e:?}");
    let vouched = first_use(srv.dir.path()).vouch(&srv.fingerprint()).unwrap();
    login(&srv.addr, &vouched).expect("the fingerprint given");
    let later = login(&srv.addr, &first_use(srv.dir.path())).expect("pinned by then");
    assert_eq!(later.verified(), Verified::Pinned);
}

#[test]
fn the_same_server_by_another_address_is_recognised_by_its_fingerprint() {
    let srv = TestServer::start_tls();
    let trust = first_use(srv.dir.path());
    trust.pin(&srv.addr, &srv.fingerprint()).unwrap();
    let port = srv.addr.rsplit_once(':').unwrap().1;
    let other = format!("localhost:{port}");
    let client = login(&other, &trust).expect("the same certificate");
    assert_eq!(client.verified(), Verified::Pinned);
    let known = trust.known().unwrap();
    assert_eq!(known.get(&other), Some(srv.fingerprint().as_str()));
}

/// A man in the middle: terminates TLS with its own certificate and relays
/// what it decrypts to a plaintext Ferry server, keeping every byte it
/// could read from the client.
struct Interceptor {
    addr: String,
    heard: Arc<Mutex<Vec<u8>>>,
}

impl Interceptor {
    fn start(backend: &str) -> Interceptor {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let (backend, kept) = (backend.to_owned(), Arc::clone(&heard));
        thread::Builder::new()
            .name("interceptor".into())
            .spawn(move || {
                // Bounded: the tests make at most a few connections.
                for tcp in listener.incoming().take(4).flatten() {
                    relay(&config, tcp, &backend, &kept);
                }
            })
            .unwrap();
        Interceptor { addr, heard }
    }

    fn heard(&self) -> Vec<u8> {
        self.heard.lock().unwrap().clone()
    }
}

/// One intercepted connection, until either side stops (or 10 s pass).
fn relay(
    config: &Arc<rustls::ServerConfig>,
    tcp: TcpStream,
    backend: &str,
    heard: &Mutex<Vec<u8>>,
) {
    let conn = rustls::ServerConnection::new(Arc::clone(config)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let Ok(mut server) = TcpStream::connect(backend) else {
        return;
    };
    let tick = Some(Duration::from_millis(20));
    tls.sock.set_read_timeout(tick).unwrap();
    server.set_read_timeout(tick).unwrap();
    let mut buf = [0u8; 16 * 1024];
    for _ in 0..500 {
        match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                heard.lock().unwrap().extend_from_slice(&buf[..n]);
                if server.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
        match server.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tls.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

#[test]
fn a_man_in_the_middle_is_refused_before_any_credential_is_sent() {
    let real = TestServer::start_tls();
    let backend = TestServer::start();
    let mitm = Interceptor::start(&backend.addr);
    // The user trusted the real server at this address; now someone else
    // answers there.
    let trust = first_use(real.dir.path());
    trust.pin(&mitm.addr, &real.fingerprint()).unwrap();
    let e = login(&mitm.addr, &trust).err().expect("refused");
    let ClientError::ServerChanged {
        pinned, presented, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(*pinned, real.fingerprint());
    assert_ne!(*presented, real.fingerprint());
    let text = e.to_string();
    assert!(text.starts_with("WARNING: "), "{text}");
    assert!(
        text.contains("intercepting") && text.contains("trust remove"),
        "{text}"
    );
    assert!(
        mitm.heard().is_empty(),
        "the client sent nothing: {:?}",
        mitm.heard()
    );
    // A client that had never met the server is not fooled either.
    let e = login(&mitm.addr, &first_use(backend.dir.path()))
        .err()
        .unwrap();
    assert!(matches!(e, ClientError::UnknownServer { .. }), "{e:?}");
    assert!(mitm.heard().is_empty());

    // The interceptor would have read everything from a client that
    // trusted it: the recording works.
    let fooled = Trust::nothing().vouch(presented).unwrap();
    login(&mitm.addr, &fooled).expect("through the interceptor");
    let heard = String::from_utf8_lossy(&mitm.heard()).into_owned();
    assert!(heard.contains(ADMIN_PASSWORD), "{heard}");
}

/// A certificate authority, and certificates it signs, as PEM files.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: PathBuf,
}

impl Authority {
    fn new(dir: &Path) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Ferry test authority");
        let cert = params.self_signed(&key).unwrap();
        let pem = dir.join("authority.pem");
        fs::write(&pem, cert.pem()).unwrap();
        Authority {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate for `name`, valid from `from` to `until`
    /// (years), as the server's TLS source.
    fn issue(&self, dir: &Path, name: &str, from: i32, until: i32) -> TlsSource {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.not_before = date_time_ymd(from, 1, 1);
        params.not_after = date_time_ymd(until, 1, 1);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server.key"));
        fs::write(&cert_file, cert.pem()).unwrap();
        fs::write(&key_file, key.serialize_pem()).unwrap();
        TlsSource::Files {
            cert: cert_file,
            key: key_file,
        }
    }

    fn trust(&self) -> Trust {
        Trust::nothing().with_authorities_from(&self.pem).unwrap()
    }
}

fn port(addr: &str) -> &str {
    addr.rsplit_once(':').unwrap().1
}

#[test]
fn a_certificate_from_an_authority_is_verified_with_its_host_name() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new(dir.path());
    let source = authority.issue(dir.path(), "localhost", 2020, 4000);
    let srv = TestServer::start_with(|c| c.tls = source);
    let by_name = format!("localhost:{}", port(&srv.addr));
    let client = login(&by_name, &authority.trust()).expect("the name it was made for");
    assert_eq!(client.verified(), Verified::Authority);

    let e = login(&srv.addr, &authority.trust())
        .err()
        .expect("another name");
    let ClientError::BadCertificate { reason, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(reason.contains("another host name"), "{e}");
    let e = login(&by_name, &Trust::nothing()).err().unwrap();
    assert!(
        matches!(e, ClientError::UnknownServer { .. }),
        "without the authority it is a stranger: {e:?}"
    );
}

#[test]
fn an_expired_certificate_from_an_authority_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new(dir.path());
    let source = authority.issue(dir.path(), "localhost", 2019, 2020);
    let srv = TestServer::start_with(|c| c.tls = source);
    let by_name = format!("localhost:{}", port(&srv.addr));
    let e = login(&by_name, &authority.trust()).err().expect("expired");
    assert!(
        matches!(&e, ClientError::BadCertificate { reason, .. } if reason.contains("expired")),
        "{e:?}"
    );
    assert!(e.to_string().contains("nothing was sent"), "{e}");
}

#[test]
fn plaintext_and_tls_mixed_up_are_named_on_the_client() {
    let plain = TestServer::start();
    let e = login(&plain.addr, &Trust::nothing())
        .err()
        .expect("not TLS");
    assert!(matches!(e, ClientError::NotTls { .. }), "{e:?}");
    assert!(e.to_string().contains("--plaintext"), "{e}");

    let tls = TestServer::start_tls();
    let e = Client::connect(&tls.addr, &Security::Plaintext)
        .err()
        .expect("TLS only");
    assert!(matches!(e, ClientError::NeedsTls { .. }), "{e:?}");
    assert!(e.to_string().contains("without --plaintext"), "{e}");
}

#[test]
fn files_versions_and_admin_work_over_tls() {
    let srv = TestServer::start_tls();
    let mut admin = srv.admin();
    assert_eq!(admin.verified(), Verified::Pinned);
    let data = payload(3 * MIB as usize + 17, 1);
    for round in 0..2u8 {
        let mut body = data.clone();
        body[0] = round;
        admin
            .upload(
                Cursor::new(&body),
                "report.bin",
                UploadOptions {
                    policy: ConflictPolicy::Overwrite,
                    ..UploadOptions::default()
                },
            )
            .unwrap();
    }
    assert_eq!(admin.history("report.bin").unwrap().len(), 2);
    let mut got = Vec::new();
    admin
        .download("report.bin", &mut got, Default::default())
        .unwrap();
    assert_eq!((got.len(), got[0]), (data.len(), 1));
    let mut ann = srv.user("ann", Role::User);
    assert_eq!(ann.list().unwrap().len(), 1);
    assert!(admin.users().unwrap().iter().any(|(u, _)| u == "ann"));
    admin.set_role("ann", Role::Admin).unwrap();
    assert!(
        admin
            .users()
            .unwrap()
            .contains(&("ann".to_owned(), Role::Admin))
    );
    admin.quit().unwrap();
}

#[test]
fn a_cut_download_over_tls_resumes_by_another_address_and_never_from_another_server() {
    let srv = TestServer::start_tls();
    let data = payload(12 * MIB as usize, 2);
    put(&srv, "big.bin", &data, ConflictPolicy::Fail);
    let proxy = Proxy::start(&srv.addr);
    proxy.plan(&[Fault::CutDown(5 * MIB)]);
    let dest = srv.dir.path().join("big.bin");
    let via_proxy = Connector::new(&proxy.addr, srv.security.clone(), "admin", ADMIN_PASSWORD);
    let e = download(&via_proxy, "big.bin", &dest, 0).unwrap_err();
    assert!(matches!(e, ClientError::Io(_)), "{e}");
    assert!(
        !e.to_string().contains("close_notify"),
        "in our words, not the TLS library's: {e}"
    );
    let saved = partial_download(&dest).expect("a partial download");
    assert_eq!(saved.server, srv.fingerprint(), "keyed on the identity");

    // The same server at its own address: resumed.
    let report = download(&srv.connector(), "big.bin", &dest, 0).unwrap();
    assert_eq!(report.resumed_from, saved.received);
    assert_eq!(fs::read(&dest).unwrap(), data);

    // Another server at the proxy's address, with another file of that name.
    let other = TestServer::start_tls();
    let theirs = payload(12 * MIB as usize, 3);
    put(&other, "big.bin", &theirs, ConflictPolicy::Fail);
    fs::remove_file(&dest).unwrap();
    proxy.plan(&[Fault::CutDown(5 * MIB)]);
    let _ = download(&via_proxy, "big.bin", &dest, 0).unwrap_err();
    proxy.retarget(&other.addr);
    let both = Trust::nothing()
        .vouch(&srv.fingerprint())
        .unwrap()
        .vouch(&other.fingerprint())
        .unwrap();
    let via_proxy = Connector::new(&proxy.addr, Security::Tls(both), "admin", ADMIN_PASSWORD);
    let report = download(&via_proxy, "big.bin", &dest, 0).unwrap();
    assert_eq!(report.resumed_from, 0);
    let why = report.restarted.expect("it says why it started again");
    assert!(why.contains("another server"), "{why}");
    assert!(
        fs::read(&dest).unwrap() == theirs,
        "never a splice of the two"
    );
}

#[test]
fn a_cut_upload_over_tls_resumes_from_the_byte_the_server_confirms() {
    let srv = TestServer::start_tls();
    let data = payload(10 * MIB as usize, 4);
    let source = srv.folder("up").join("up.bin");
    fs::write(&source, &data).unwrap();
    let proxy = Proxy::start(&srv.addr);
    proxy.plan(&[Fault::CutUp(4 * MIB)]);
    let via_proxy = Connector::new(&proxy.addr, srv.security.clone(), "admin", ADMIN_PASSWORD);
    let options = ResumableUploadOptions {
        policy: ConflictPolicy::Fail,
        retry: quick(2),
        state_dir: Some(srv.folder("state")),
    };
    let report = transfer::upload(&via_proxy, &source, "up.bin", &options, &mut no_progress)
        .expect("resumed after the cut");
    assert!(report.retries >= 1 && report.resumed_from > 0, "{report:?}");
    let mut got = Vec::new();
    srv.admin()
        .download("up.bin", &mut got, Default::default())
        .unwrap();
    assert!(got == data);
}

/// The upload states in `dir`, as (server, upload id).
fn upload_states(dir: &Path) -> Vec<(String, String)> {
    let mut states: Vec<(String, String)> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let json: serde_json::Value =
                serde_json::from_slice(&fs::read(entry.unwrap().path()).unwrap()).unwrap();
            let field = |key: &str| json[key].as_str().unwrap().to_owned();
            (field("server"), field("upload_id"))
        })
        .collect();
    states.sort();
    states
}

#[test]
fn a_cut_upload_resumes_only_on_the_server_that_holds_it_whatever_its_address() {
    let first = TestServer::start_tls();
    let second = TestServer::start_tls();
    let data = payload(10 * MIB as usize, 6);
    let source = first.folder("up").join("up.bin");
    fs::write(&source, &data).unwrap();
    let state_dir = first.folder("state");
    let options = |retries| ResumableUploadOptions {
        policy: ConflictPolicy::Fail,
        retry: quick(retries),
        state_dir: Some(state_dir.clone()),
    };
    let both = Security::Tls(
        Trust::nothing()
            .vouch(&first.fingerprint())
            .unwrap()
            .vouch(&second.fingerprint())
            .unwrap(),
    );
    // The proxy's address leads to the first server until the upload is
    // cut there; while the upload waits to retry, it is pointed at the
    // second, where the retry is cut too.
    let proxy = Proxy::start(&first.addr);
    proxy.plan(&[Fault::CutUp(4 * MIB), Fault::CutUp(4 * MIB)]);
    let via_proxy = Connector::new(&proxy.addr, both.clone(), "admin", ADMIN_PASSWORD);
    let mut retarget = |p: Progress| {
        if matches!(p.stage, Stage::Reconnecting { .. }) {
            proxy.retarget(&second.addr);
        }
        ControlFlow::Continue(())
    };
    let e = transfer::upload(&via_proxy, &source, "up.bin", &options(1), &mut retarget)
        .expect_err("both attempts were cut");
    assert!(transfer::is_retryable(&e), "{e}");
    // Each server has a state file of its own, keyed by its fingerprint:
    // the retry that reached the second server started afresh there
    // instead of continuing the first's upload id.
    let states = upload_states(&state_dir);
    let servers: Vec<&str> = states.iter().map(|(server, _)| server.as_str()).collect();
    let mut expected = [first.fingerprint(), second.fingerprint()];
    expected.sort();
    assert_eq!(servers, expected, "{states:?}");

    // The second server, still behind the proxy's address: resumed.
    let report = transfer::upload(&via_proxy, &source, "up.bin", &options(2), &mut no_progress)
        .expect("resumed at the second server");
    assert!(report.resumed_from > 0, "{report:?}");
    assert!(support::transfers::get(&second, "up.bin") == data);
    // The first server, now by its own address: resumed too.
    let direct = Connector::new(&first.addr, both, "admin", ADMIN_PASSWORD);
    let report = transfer::upload(&direct, &source, "up.bin", &options(2), &mut no_progress)
        .expect("resumed at the first server");
    assert!(report.resumed_from > 0, "{report:?}");
    assert!(support::transfers::get(&first, "up.bin") == data);
    assert!(upload_states(&state_dir).is_empty(), "both finished");
}

#[test]
fn each_mirror_is_verified_on_its_own_and_a_stranger_is_left_out() {
    let data = payload(6 * MIB as usize, 5);
    let mirrors: Vec<TestServer> = (0..3)
        .map(|_| {
            let srv = TestServer::start_tls();
            put(&srv, "shared.iso", &data, ConflictPolicy::Fail);
            srv
        })
        .collect();
    // The user trusts the first two; the third is a stranger.
    let trust = Trust::nothing()
        .vouch(&mirrors[0].fingerprint())
        .unwrap()
        .vouch(&mirrors[1].fingerprint())
        .unwrap();
    let connectors: Vec<Connector> = mirrors
        .iter()
        .map(|m| {
            Connector::new(
                &m.addr,
                Security::Tls(trust.clone()),
                "admin",
                ADMIN_PASSWORD,
            )
        })
        .collect();
    let dest = mirrors[0].dir.path().join("shared.iso");
    let report = mirror::download(
        &connectors,
        "shared.iso",
        &dest,
        &MirrorOptions::default(),
        &mut |_| ControlFlow::Continue(()),
    )
    .expect("two verified mirrors are enough");
    assert!(fs::read(&dest).unwrap() == data);
    assert_eq!(report.excluded.len(), 1, "{:?}", report.excluded);
    let (addr, why) = &report.excluded[0];
    assert_eq!(*addr, mirrors[2].addr);
    assert!(
        why.contains("not verified") && why.contains(&mirrors[2].fingerprint()),
        "{why}"
    );
}
