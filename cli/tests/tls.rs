//! How the real `ferry-cli` binary verifies servers, run the way a script
//! runs it (no terminal): trust on first use through `--trust` /
//! `FERRY_TRUST`, the known-hosts file, changed fingerprints, plaintext on
//! either side, `trust list/remove`, and mirrors verified one by one.
//! (The terminal's question is unit-tested in `prompt.rs`.)

mod support;

use std::fs;
use std::path::Path;

use ferry_server::tls::TlsSource;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use support::{Cli, TestServer, trust_all};

/// A fingerprint no test server has.
const STRANGER: &str = "SHA256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn known_hosts_text(server: &TestServer) -> String {
    fs::read_to_string(server.known_hosts()).unwrap_or_default()
}

#[test]
fn an_unknown_server_in_a_script_is_refused_with_its_fingerprint() {
    let server = TestServer::start();
    let fingerprint = server.fingerprint();
    let run = server.admin_untrusting().run(&["list"]).failure(10);
    assert!(run.stderr.contains(server.addr()), "{run:#?}");
    assert!(
        run.stderr.contains(&format!("--trust {fingerprint}")),
        "{run:#?}"
    );
    assert!(run.stderr.contains("FERRY_TRUST"), "{run:#?}");
    assert!(
        run.stderr.contains("ferry-server --data DIR fingerprint"),
        "{run:#?}"
    );
    assert!(!known_hosts_text(&server).contains(&fingerprint));
    // The password never left: the server saw no login at all.
    let log = fs::read_to_string(server.client_logs().join("client.log")).unwrap();
    assert!(
        !log.contains("login ok") && !log.contains("login failed"),
        "{log}"
    );
}

#[test]
fn trust_pins_to_the_file_and_later_runs_need_no_flag() {
    let server = TestServer::start();
    let fingerprint = server.fingerprint();
    server.write_file("a.txt", b"over TLS");
    server
        .admin_untrusting()
        .run(&["--trust", &fingerprint, "upload", "a.txt"])
        .success();
    let file = known_hosts_text(&server);
    assert!(
        file.lines()
            .any(|l| l == format!("{} {fingerprint}", server.addr())),
        "{file}"
    );

    // No flag now: the pin is enough.
    let listed = server.admin_untrusting().run(&["list", "--json"]).success();
    assert_eq!(listed.json()[0]["name"], "a.txt");
    let log = fs::read_to_string(server.client_logs().join("client.log")).unwrap();
    assert!(log.contains("verified by its trusted fingerprint"), "{log}");

    // FERRY_TRUST takes a list; an unrelated fingerprint beside it is harmless.
    let other = TestServer::start();
    other
        .admin_untrusting()
        .env(
            "FERRY_TRUST",
            format!("{STRANGER}, {}", other.fingerprint()),
        )
        .run(&["list"])
        .success();
}

#[test]
fn a_changed_fingerprint_is_refused_loudly() {
    let server = TestServer::start();
    fs::write(
        server.known_hosts(),
        format!("{} {STRANGER}\n", server.addr()),
    )
    .unwrap();
    let run = server.admin_untrusting().run(&["list"]).failure(10);
    assert!(run.stderr.contains("WARNING"), "{run:#?}");
    assert!(run.stderr.contains(&server.fingerprint()), "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("ferry-cli trust remove {}", server.addr())),
        "{run:#?}"
    );
    // Nothing was changed in the file.
    assert!(known_hosts_text(&server).contains(STRANGER));

    // After `trust remove`, the server is merely unknown again.
    server
        .admin_untrusting()
        .run(&["trust", "remove", server.addr()])
        .success();
    server.admin_untrusting().run(&["list"]).failure(10);
}

#[test]
fn trust_list_and_remove_need_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_hosts");
    // Nothing listens on port 1: these commands never connect.
    let cli = || Cli::new("127.0.0.1:1", dir.path(), dir.path()).env("FERRY_KNOWN_HOSTS", &file);

    let run = cli().run(&["trust", "list"]).success();
    assert!(
        run.stdout.starts_with("No trusted servers yet in "),
        "{run:#?}"
    );
    assert!(run.stdout.contains(&file.display().to_string()), "{run:#?}");

    fs::write(
        &file,
        format!("# mine\nfiles.lan:7878 {STRANGER}\n127.0.0.1:40001 {STRANGER}\n"),
    )
    .unwrap();
    let run = cli().run(&["trust", "list"]).success();
    assert!(run.stdout.contains(&file.display().to_string()), "{run:#?}");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("files.lan:7878") && l.ends_with(STRANGER)),
        "{run:#?}"
    );
    let json = cli().run(&["trust", "list", "--json"]).success().json();
    assert_eq!(json["servers"][1]["server"], "127.0.0.1:40001");
    assert_eq!(json["servers"][1]["fingerprint"], STRANGER);

    let run = cli().run(&["trust", "remove", "FILES.lan:7878"]).success();
    assert!(run.stdout.starts_with("removed FILES.lan:7878"), "{run:#?}");
    // The same certificate is trusted at the other address, so it is
    // still accepted here: said, not a promise of a question.
    assert!(
        run.stdout
            .contains("its certificate is still trusted at 127.0.0.1:40001"),
        "{run:#?}"
    );
    let left = fs::read_to_string(&file).unwrap();
    assert!(
        !left.contains("files.lan") && left.contains("127.0.0.1:40001"),
        "{left}"
    );

    let run = cli().run(&["trust", "remove", "files.lan:7878"]).failure(6);
    assert!(
        run.stderr.contains("is not among the trusted servers"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("trust list"), "{run:#?}");

    // A damaged file is named, not overwritten.
    fs::write(&file, "garbage\n").unwrap();
    let run = cli().run(&["trust", "list"]).failure(9);
    assert!(run.stderr.contains("is damaged: line 1"), "{run:#?}");
}

#[test]
fn plaintext_works_against_a_plaintext_server_with_a_warning() {
    let server = TestServer::start_plaintext();
    server.write_file("clear.txt", b"in clear");
    let run = server
        .admin()
        .run(&["--plaintext", "upload", "clear.txt"])
        .success();
    assert!(run.stdout.starts_with("stored \"clear.txt\""), "{run:#?}");
    assert!(
        run.stderr.starts_with("ferry-cli: warning: ") && run.stderr.contains("not encrypted"),
        "{run:#?}"
    );
    let run = server
        .admin()
        .run(&["download", "clear.txt", "-o", "back.txt", "--plaintext"])
        .success();
    assert!(run.stdout.starts_with("saved "), "{run:#?}");
    assert_eq!(
        fs::read(server.work_dir().join("back.txt")).unwrap(),
        b"in clear"
    );
}

#[test]
fn tls_and_plaintext_on_one_side_only_get_a_clear_error() {
    let plain = TestServer::start_plaintext();
    let run = plain.admin().run(&["list"]).failure(10);
    assert!(run.stderr.contains("answered without TLS"), "{run:#?}");
    assert!(run.stderr.contains("--plaintext"), "{run:#?}");

    let tls = TestServer::start();
    let run = tls.admin().run(&["--plaintext", "list"]).failure(10);
    assert!(run.stderr.contains("speaks TLS only"), "{run:#?}");
}

#[test]
fn bad_trust_options_are_refused_before_connecting() {
    let server = TestServer::start();
    let run = server
        .admin_untrusting()
        .run(&["--trust", "SHA256:12", "list"])
        .failure(2);
    assert!(
        run.stderr.contains("not a certificate fingerprint"),
        "{run:#?}"
    );
    let run = server
        .admin()
        .run(&["--ca", "no-such-ca.pem", "list"])
        .failure(9);
    assert!(run.stderr.contains("no-such-ca.pem"), "{run:#?}");
}

#[test]
fn a_mirror_that_is_not_trusted_is_named_and_the_others_finish() {
    let main = TestServer::start();
    let second = TestServer::start();
    let stranger = TestServer::start();
    let content = support_payload();
    for server in [&main, &second, &stranger] {
        server.write_file("shared.bin", &content);
        server.admin_ok(&["upload", "shared.bin"]);
    }
    let run = main
        .admin()
        .env("FERRY_TRUST", trust_all(&[&main, &second]))
        .run(&[
            "download",
            "shared.bin",
            "-o",
            "copy.bin",
            "--mirror",
            second.addr(),
            "--mirror",
            stranger.addr(),
        ])
        .success();
    assert_eq!(fs::read(main.work_dir().join("copy.bin")).unwrap(), content);
    let named = format!("mirror {} refused, not verified", stranger.addr());
    assert!(run.stderr.contains(&named), "{run:#?}");
    assert!(run.stderr.contains(&stranger.fingerprint()), "{run:#?}");
    assert!(run.stderr.contains("--trust"), "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("{} delivered 0 B", stranger.addr())),
        "{run:#?}"
    );
    // The refused mirror was not pinned behind the user's back.
    assert!(!known_hosts_text(&main).contains(&stranger.fingerprint()));
}

/// A test certificate authority's PEM file, and a server certificate it
/// signed for `localhost`.
fn authority_and_server(dir: &Path) -> (std::path::PathBuf, TlsSource) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Ferry CLI test authority");
    let ca_pem = dir.join("authority.pem");
    fs::write(&ca_pem, ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server.key"));
    fs::write(&cert_file, cert.pem()).unwrap();
    fs::write(&key_file, key.serialize_pem()).unwrap();
    let source = TlsSource::Files {
        cert: cert_file,
        key: key_file,
    };
    (ca_pem, source)
}

#[test]
fn ca_adds_an_authority_whose_certificates_need_no_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, source) = authority_and_server(dir.path());
    let server = TestServer::start_with_tls(source);
    let port = server.addr().rsplit_once(':').unwrap().1.to_owned();
    let by_name = format!("localhost:{port}");
    let ca = ca.to_str().unwrap();
    server
        .admin_untrusting()
        .run(&["--server", &by_name, "--ca", ca, "list"])
        .success();
    server
        .admin_untrusting()
        .env("FERRY_CA", ca)
        .run(&["--server", &by_name, "list"])
        .success();
    let log = fs::read_to_string(server.client_logs().join("client.log")).unwrap();
    assert!(log.contains("verified by a certificate authority"), "{log}");
    assert!(known_hosts_text(&server).is_empty(), "nothing to pin");

    // The certificate is for localhost, not for the IP address.
    let run = server
        .admin_untrusting()
        .run(&["--ca", ca, "list"])
        .failure(10);
    assert!(run.stderr.contains("another host name"), "{run:#?}");
    // Without the authority, it is merely a server met for the first time.
    server
        .admin_untrusting()
        .run(&["--server", &by_name, "list"])
        .failure(10);
}

/// A few MiB, so that the mirrors share the work.
fn support_payload() -> Vec<u8> {
    ferry_server::testing::payload(5 * 1024 * 1024 + 3, 15)
}
