//! Downloading one file from several real servers at once, with liars,
//! failures, corruption in transit and interruptions.

mod support;

use std::fs;
use std::io::Cursor;
use std::ops::ControlFlow;
use std::path::Path;

use ferry_client::ClientError;
use ferry_client::UploadOptions;
use ferry_client::mirror::{self, MirrorOptions, MirrorProgress};
use ferry_client::partial::{part_path, sidecar_path};
use ferry_client::transfer::Connector;
use support::proxy::{Fault, Proxy};
use support::{ADMIN_PASSWORD, TestServer, payload};

const MIB: usize = 1 << 20;

fn holding(name: &str, data: &[u8]) -> TestServer {
    let srv = TestServer::start();
    srv.admin()
        .upload(Cursor::new(data), name, UploadOptions::default())
        .unwrap();
    srv
}

fn connector(addr: &str) -> Connector {
    Connector::new(
        addr,
        ferry_client::Security::Plaintext,
        "admin",
        ADMIN_PASSWORD,
    )
}

fn fetch(addrs: &[&str], name: &str, dest: &Path) -> Result<mirror::MirrorReport, ClientError> {
    let mirrors: Vec<Connector> = addrs.iter().map(|a| connector(a)).collect();
    mirror::download(&mirrors, name, dest, &MirrorOptions::default(), &mut |_| {
        ControlFlow::Continue(())
    })
}

#[test]
fn three_agreeing_mirrors_outvote_a_liar() {
    let data = payload(24 * MIB, 1);
    let honest: Vec<TestServer> = (0..3).map(|_| holding("shared.iso", &data)).collect();
    let liar = holding("shared.iso", &payload(24 * MIB, 2));
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("shared.iso");
    let addrs = [
        honest[0].addr.as_str(),
        liar.addr.as_str(),
        honest[1].addr.as_str(),
        honest[2].addr.as_str(),
    ];
    let report = fetch(&addrs, "shared.iso", &dest).unwrap();
    assert!(fs::read(&dest).unwrap() == data, "byte-exact");
    assert_eq!(report.excluded.len(), 1, "{:?}", report.excluded);
    assert_eq!(report.excluded[0].0, liar.addr);
    assert!(
        report.excluded[0].1.contains("disagrees"),
        "{:?}",
        report.excluded
    );
    let liar_bytes = report
        .bytes_per_mirror
        .iter()
        .find(|(a, _)| *a == liar.addr)
        .unwrap()
        .1;
    assert_eq!(liar_bytes, 0, "the liar served nothing");
    let served: u64 = report.bytes_per_mirror.iter().map(|(_, b)| b).sum();
    assert_eq!(served, data.len() as u64);
    assert!(!part_path(&dest).exists() && !sidecar_path(&dest).exists());
}

#[test]
fn no_majority_is_a_clear_error_and_writes_nothing() {
    let a = holding("x.bin", &payload(MIB, 3));
    let b = holding("x.bin", &payload(MIB, 4));
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("x.bin");
    let err = fetch(&[&a.addr, &b.addr], "x.bin", &dest).unwrap_err();
    assert!(matches!(err, ClientError::NoMajority(_)), "{err}");
    assert!(err.to_string().contains("do not agree"), "{err}");
    assert!(!dest.exists() && !part_path(&dest).exists());
}

#[test]
fn a_mirror_that_dies_mid_download_is_replaced_by_the_others() {
    let data = payload(32 * MIB, 5);
    let a = holding("f.bin", &data);
    let b = holding("f.bin", &data);
    let dir = tempfile::tempdir().unwrap();
    let (dying, addr, _) = support::start_binary(dir.path(), Some(ADMIN_PASSWORD));
    ferry_client::Client::connect_and_login(
        &addr,
        &ferry_client::Security::Plaintext,
        "admin",
        ADMIN_PASSWORD,
    )
    .unwrap()
    .0
    .upload(Cursor::new(&data), "f.bin", UploadOptions::default())
    .unwrap();
    // The dying mirror stalls after 6 MiB of its download, then is killed.
    // (A mirror's worker goes on with the connection that answered the vote.)
    let proxy = Proxy::start(&addr);
    proxy.plan(&[Fault::StallDown(6 * MIB as u64)]);
    let mut dying = Some(dying);
    let dest = dir.path().join("out.bin");
    let mirrors = [
        connector(&a.addr),
        connector(&proxy.addr),
        connector(&b.addr),
    ];
    let options = MirrorOptions {
        stall_timeout: std::time::Duration::from_secs(2),
        ..MirrorOptions::default()
    };
    let report = mirror::download(
        &mirrors,
        "f.bin",
        &dest,
        &options,
        &mut |p: &MirrorProgress| {
            if p.done >= 8 * MIB as u64
                && let Some(server) = dying.take()
            {
                server.kill();
                proxy.cut_all();
            }
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert!(fs::read(&dest).unwrap() == data);
    // It stalled inside its second piece, so it placed at most one; the
    // others did the rest.
    let dying_bytes = report
        .bytes_per_mirror
        .iter()
        .find(|(a, _)| *a == proxy.addr)
        .unwrap()
        .1;
    assert!(dying_bytes <= mirror::MIRROR_RANGE_BYTES, "{dying_bytes}");
}

#[test]
fn corruption_in_transit_is_found_repaired_and_the_mirror_excluded() {
    let data = payload(8 * MIB, 6);
    let a = holding("c.bin", &data);
    let b = holding("c.bin", &data);
    // A flips one byte of its stream, inside chunk 1 of the first piece; B's
    // connection is cut just after it voted, so A serves every piece. (A
    // worker goes on with the connection that answered the vote; the repair
    // connects again, and then B is fine.)
    let corrupt = Proxy::start(&a.addr);
    corrupt.plan(&[Fault::FlipDown(MIB as u64 + 500)]);
    let flaky = Proxy::start(&b.addr);
    flaky.plan(&[Fault::CutDown(400)]);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("c.bin");
    let report = fetch(&[&corrupt.addr, &flaky.addr], "c.bin", &dest).unwrap();
    assert!(fs::read(&dest).unwrap() == data, "repaired byte-exact");
    // The flipped byte sits 1 MiB into whichever 4 MiB piece A fetched first.
    assert_eq!(
        report.repaired_chunks.len(),
        1,
        "{:?}",
        report.repaired_chunks
    );
    assert_eq!(
        report.repaired_chunks[0] % 4,
        1,
        "{:?}",
        report.repaired_chunks
    );
    assert!(
        report
            .excluded
            .iter()
            .any(|(a, why)| *a == corrupt.addr && why.contains("corrupt")),
        "{:?}",
        report.excluded
    );
}

#[test]
fn an_interrupted_mirrored_download_resumes() {
    let data = payload(20 * MIB, 7);
    let servers: Vec<TestServer> = (0..3).map(|_| holding("r.bin", &data)).collect();
    let mirrors: Vec<Connector> = servers.iter().map(|s| connector(&s.addr)).collect();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("r.bin");
    let err = mirror::download(
        &mirrors,
        "r.bin",
        &dest,
        &MirrorOptions::default(),
        &mut |p| {
            if p.done >= 8 * MIB as u64 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .unwrap_err();
    assert!(matches!(err, ClientError::Cancelled));
    assert!(sidecar_path(&dest).exists() && !dest.exists());
    let report = mirror::download(
        &mirrors,
        "r.bin",
        &dest,
        &MirrorOptions::default(),
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap();
    assert!(
        report.resumed_from >= 8 * MIB as u64,
        "{}",
        report.resumed_from
    );
    let fetched: u64 = report.bytes_per_mirror.iter().map(|(_, b)| b).sum();
    assert_eq!(
        fetched + report.resumed_from,
        data.len() as u64,
        "only the rest was fetched"
    );
    assert!(fs::read(&dest).unwrap() == data);
}
