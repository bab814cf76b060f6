//! Restarts and re-imports: stable certificate, stable bytes for unchanged
//! data, changed bytes for changed data, clean errors for busy ports.

use std::path::Path;

use crate::support::cli::{autoprov, import, imported, run_ok};
use crate::support::fixtures::{ALICE_MAC, UA, users_csv};
use crate::support::formats::yealink_settings;
use crate::support::server::{Server, curl, port, serving};
use crate::support::timed;
use crate::support::tls::make_self_signed;

/// The HTTPS bodies of Alice's and Hans's files (Hans has a BLF key on Alice).
fn fetch_both(server: &Server) -> (Vec<u8>, Vec<u8>) {
    let alice = server.get_https("/805ec0123456.cfg", Some(UA));
    let hans = server.get_https("/805ec0abcdef.cfg", None);
    assert_eq!((alice.status, hans.status), (200, 200), "{}", server.log());
    (alice.body, hans.body)
}

fn restart_and_fetch(data: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let server = Server::start(data, &[], &[]);
    let (a, h) = fetch_both(&server);
    // The CA and the server certificate (with the chain it serves).
    let mut cert = std::fs::read(server.cert()).unwrap();
    cert.extend(std::fs::read(data.join("certs/server.pem")).unwrap());
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    (a, h, cert)
}

#[test]
fn reimport_keeps_bytes_and_changes_show_up() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = users_csv();
    import(&data, &csv);
    let (alice1, hans1, cert1) = restart_and_fetch(&data);
    let hans = yealink_settings(&hans1, false);
    assert_eq!(hans["linekey.2.value"], "1001");
    assert_eq!(hans["linekey.2.label"], "Alice Martin");

    // Same file again: nothing changes, byte for byte, certificate included.
    import(&data, &csv);
    let (alice2, hans2, cert2) = restart_and_fetch(&data);
    assert_eq!(alice1, alice2);
    assert_eq!(hans1, hans2);
    assert_eq!(
        cert1, cert2,
        "the certificate must be reused, not regenerated"
    );

    // Alice gets a display name: her file and Hans's BLF label follow.
    let text = std::fs::read_to_string(&csv).unwrap();
    let changed = text.replace(
        "alice.martin,Alice,Martin,,",
        "alice.martin,Alice,Martin,Alice M. (Sales),",
    );
    assert_ne!(text, changed, "fixture row not found");
    let csv2 = tmp.path().join("users2.csv");
    std::fs::write(&csv2, changed).unwrap();
    import(&data, &csv2);
    let (alice3, hans3, _) = restart_and_fetch(&data);
    assert_ne!(alice3, alice1);
    let a = yealink_settings(&alice3, false);
    assert_eq!(a["account.1.display_name"], "Alice M. (Sales)");
    let h = yealink_settings(&hans3, false);
    assert_eq!(h["linekey.2.label"], "Alice M. (Sales)");
    // Only the display name moved.
    let mut before = yealink_settings(&alice1, false);
    before.insert("account.1.display_name".into(), "Alice M. (Sales)".into());
    assert_eq!(before, a);
}

#[test]
fn busy_port_and_locked_store_are_runtime_errors() {
    let (_tmp, data, server) = serving(&users_csv());
    // The running server holds the store: a second process is told so.
    let other = tempfile::tempdir().unwrap();
    let taken = server.https.trim_start_matches("https://").to_string();
    let out = autoprov(
        other.path(),
        &[
            "serve",
            "--http",
            "127.0.0.1:0",
            "--https",
            &taken,
            "--admin",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));
    // A locked store whose holder offers no admin socket (another CLI run,
    // or a server whose socket is gone) is a runtime error. With the socket,
    // the command goes through the server (tests/it/admin/cli.rs).
    std::fs::remove_file(data.join("admin.sock")).unwrap();
    let out = autoprov(&data, &["render", ALICE_MAC]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another autoprov process"));
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn configured_certificate_is_used() {
    let (tmp, data) = imported(&users_csv());
    // Make a certificate with openssl, a real outside peer.
    let (cert, key) = (tmp.path().join("c.pem"), tmp.path().join("k.pem"));
    make_self_signed(
        tmp.path(),
        "k.pem",
        "c.pem",
        "30",
        "/CN=prov.test",
        &["subjectAltName=IP:127.0.0.1"],
    );
    let cfg = tmp.path().join("tls.toml");
    std::fs::write(
        &cfg,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            cert.to_str().unwrap(),
            key.to_str().unwrap()
        ),
    )
    .unwrap();
    let server = Server::start(&data, &["--config", cfg.to_str().unwrap()], &[]);
    let r = curl(
        &format!("{}/805ec0123456.cfg", server.https),
        &["--cacert", cert.to_str().unwrap(), "-A", UA],
    );
    assert_eq!(r.status, 200);
    assert!(
        !data.join("certs").exists(),
        "no self-signed certificate when one is configured"
    );
    server.stop();

    // A key that is not PEM is a usage error naming the file.
    std::fs::write(&key, "garbage").unwrap();
    let out = autoprov(
        &data,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "serve",
            "--http",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("k.pem"));
}

#[test]
fn sigterm_closes_idle_keepalive_connections_and_exits_cleanly() {
    use std::io::{Read, Write};
    // Asserts on how long the shutdown takes.
    let _timed = timed();
    let (_tmp, _data, server) = serving(&users_csv());
    let addr = server.http.trim_start_matches("http://").to_string();
    // A keep-alive connection that got its answer and then sits idle.
    let mut idle = std::net::TcpStream::connect(&addr).unwrap();
    idle.write_all(b"GET /y000000000096.cfg HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = idle.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = std::time::Instant::now();
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    // Well inside the 10 s drain limit: idle connections are closed at once.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!log.contains("drain limit reached"), "{log}");
}

/// A boot storm opens ~1,000 connections at once: both listeners ask the
/// kernel for a deep accept queue (`ss` shows it as Send-Q of a listening
/// socket), not tokio's default 128, which dropped SYNs in the storm.
#[test]
fn listeners_have_a_deep_accept_queue() {
    let (_tmp, _data, server) = serving(&users_csv());
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for url in [&server.http, &server.https] {
        let port = port(url);
        let out = run_ok(
            std::process::Command::new("ss").args(["-ltnH", &format!("sport = :{port}")]),
            "ss",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let send_q: u32 = text
            .split_whitespace()
            .nth(2)
            .unwrap_or_else(|| panic!("ss output: {text:?}"))
            .parse()
            .unwrap();
        assert_eq!(send_q, somaxconn.min(4096), "{url}: {text}");
    }
}
