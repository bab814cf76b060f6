//! Authentication and abuse resistance through the real transport (curl,
//! openssl): curl --digest, the mutual-TLS handshake with real client
//! certificates, slow clients, oversized heads and bodies. The access rules
//! themselves (Digest and Basic, rotation, stale and replayed nonces, site
//! credentials, MAC binding, misses and bans, device credentials, uploads)
//! are tested in-process in `src/http/tests/`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::cli::imported;
use crate::support::fixtures::{UA, users_csv};
use crate::support::server::{Answer, Server, curl, curl_headers};
use crate::support::timed;
use crate::support::tls::{make_ca, make_cert, make_self_signed};

const NEW: &str = "Prov-New-Secret-2";

fn config(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// curl with the response headers kept, as a phone would wait for them.
fn curl_full(url: &str, extra: &[&str]) -> Answer {
    curl_headers(url, 20, extra)
}

fn https(server: &Server, path: &str, extra: &[&str]) -> Answer {
    let cacert = server.cert();
    let mut args = vec!["--cacert", cacert.to_str().unwrap()];
    args.extend_from_slice(extra);
    curl_full(&format!("{}{path}", server.https), &args)
}

#[test]
fn digest_only_refuses_basic() {
    let (tmp, data) = imported(&users_csv());
    let cfg = config(
        tmp.path(),
        "digest.toml",
        "[[policy.credentials]]\nuser = \"prov\"\npassword = \"Prov-New-Secret-2\"\n",
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let r = https(&server, "/805ec0123456.cfg", &[]);
    assert_eq!(r.header_values("www-authenticate").len(), 2);
    let up = format!("prov:{NEW}");
    assert_eq!(
        https(&server, "/805ec0123456.cfg", &["-u", &up]).status,
        401
    );
    assert_eq!(
        https(&server, "/805ec0123456.cfg", &["--digest", "-u", &up]).status,
        200
    );
    // Common files need credentials too (the challenge never depends on the name).
    assert_eq!(
        https(&server, "/y000000000096.cfg", &["-A", UA]).status,
        401
    );
    server.stop();
}

/// A test CA and a phone certificate it signed, plus one it did not.
fn pki(dir: &Path) {
    make_ca(dir);
    make_cert(
        dir,
        "phone",
        "/O=Yealink/CN=805ec0123456",
        &["extendedKeyUsage=clientAuth"],
    );
    make_self_signed(dir, "rogue.key", "rogue.crt", "30", "/CN=805ec0123456", &[]);
}

/// curl's exit code and status for an HTTPS GET (a failed handshake is a
/// non-zero exit).
fn mtls_get(server: &Server, path: &str, cert: Option<(&Path, &str)>) -> (i32, String) {
    let cacert = server.cert();
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "20",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ])
    .arg("--cacert")
    .arg(&cacert);
    if let Some((dir, name)) = cert {
        cmd.arg("--cert")
            .arg(dir.join(format!("{name}.crt")))
            .arg("--key")
            .arg(dir.join(format!("{name}.key")));
    }
    let out = cmd.arg(format!("{}{path}", server.https)).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn mutual_tls_required_and_optional() {
    let (tmp, data) = imported(&users_csv());
    let pki_dir = tmp.path().join("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    pki(&pki_dir);
    let ca = pki_dir.join("ca.crt");

    let cfg = config(
        tmp.path(),
        "required.toml",
        &format!(
            "[tls]\nclient_ca = {:?}\nclient_auth = \"required\"\n",
            ca.to_str().unwrap()
        ),
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    assert_eq!(
        mtls_get(&server, "/805ec0123456.cfg", Some((&pki_dir, "phone"))),
        (0, "200".to_string())
    );
    let (code, _) = mtls_get(&server, "/805ec0123456.cfg", None);
    assert_ne!(code, 0, "handshake without a client certificate must fail");
    let (code, _) = mtls_get(&server, "/805ec0123456.cfg", Some((&pki_dir, "rogue")));
    assert_ne!(code, 0, "a certificate from another CA must fail");
    // Plain HTTP is unaffected (the bootstrap has no secrets).
    assert_eq!(server.get_http("/805ec0123456.cfg", Some(UA)).status, 200);
    server.stop();

    // Optional: per-MAC files need the certificate; common files don't.
    let cfg = config(
        tmp.path(),
        "optional.toml",
        &format!("[tls]\nclient_ca = {:?}\n", ca.to_str().unwrap()),
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    assert_eq!(
        mtls_get(&server, "/805ec0123456.cfg", Some((&pki_dir, "phone"))),
        (0, "200".to_string())
    );
    let without = server.get_https("/805ec0123456.cfg", Some(UA));
    assert_eq!(without, server.get_https("/805ec0000001.cfg", Some(UA)));
    assert_eq!(without.status, 404);
    assert_eq!(server.get_https("/y000000000096.cfg", Some(UA)).status, 200);
    server.stop();

    // Optional with credentials: either one will do.
    let cfg = config(
        tmp.path(),
        "optional-creds.toml",
        &format!(
            "[tls]\nclient_ca = {:?}\n[[policy.credentials]]\nuser = \"prov\"\npassword = \"{NEW}\"\n",
            ca.to_str().unwrap()
        ),
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    assert_eq!(
        mtls_get(&server, "/805ec0123456.cfg", Some((&pki_dir, "phone"))),
        (0, "200".to_string())
    );
    assert_eq!(mtls_get(&server, "/805ec0123456.cfg", None).1, "401");
    let up = format!("prov:{NEW}");
    assert_eq!(
        https(&server, "/805ec0123456.cfg", &["--digest", "-u", &up]).status,
        200
    );
    server.stop();
}

/// Reads until the peer closes (or `limit`); true when it closed.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn slow_clients_do_not_block_others() {
    // Asserts on answer times while 120 connections sit idle (the wait
    // for the server to drop them, below, needs no such care).
    let timed_part = timed();
    let (_tmp, data) = imported(&users_csv());
    let server = Server::start(&data, &[], &[]);
    let http_addr = server.http.trim_start_matches("http://").to_string();
    let https_addr = server.https.trim_start_matches("https://").to_string();
    // Many connections that say nothing, on both ports...
    let mut silent: Vec<TcpStream> = (0..50)
        .flat_map(|_| {
            [
                TcpStream::connect(&http_addr).unwrap(),
                TcpStream::connect(&https_addr).unwrap(),
            ]
        })
        .collect();
    // ... and some that send half a request head.
    let mut half: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(&http_addr).unwrap();
            s.write_all(b"GET /805ec0123456.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: Yea")
                .unwrap();
            s
        })
        .collect();
    let t = Instant::now();
    for _ in 0..5 {
        assert_eq!(server.get_http("/805ec0123456.cfg", Some(UA)).status, 200);
        assert_eq!(server.get_https("/805ec0123456.cfg", Some(UA)).status, 200);
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    drop(timed_part);
    // The server drops them after its header/handshake timeout (10 s).
    assert!(closed_within(&mut half[0], Duration::from_secs(15)));
    assert!(closed_within(&mut silent[0], Duration::from_secs(5)));
    assert!(closed_within(&mut silent[1], Duration::from_secs(5)));
    drop(half);
    drop(silent);
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn oversized_header_and_body_are_refused_cleanly() {
    let (_tmp, data) = imported(&users_csv());
    let server = Server::start(&data, &[], &[]);
    let addr = server.http.trim_start_matches("http://").to_string();
    // One header line over the 16 KiB head limit, and many small ones.
    for head in [
        format!(
            "GET /805ec0123456.cfg HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n\r\n",
            "A".repeat(20 * 1024)
        ),
        format!(
            "GET /805ec0123456.cfg HTTP/1.1\r\nHost: x\r\n{}\r\n",
            "X-Pad: 0123456789abcdef\r\n".repeat(1000)
        ),
    ] {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let _ = s.write_all(head.as_bytes());
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 431"),
            "{text}"
        );
    }
    // A log upload over 1 MiB for a known Polycom phone: 413, not stored.
    let upload = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(upload.path(), vec![b'x'; 2 * 1024 * 1024]).unwrap();
    let put = curl(
        &format!("{}/0004f2aabbcc-app.log", server.http),
        &[
            "-X",
            "PUT",
            "--data-binary",
            &format!("@{}", upload.path().display()),
        ],
    );
    assert_eq!(put.status, 413);
    assert!(
        !data
            .join("uploads/0004f2aabbcc/0004f2aabbcc-app.log")
            .exists()
    );
    // A GET with a large body is answered without reading it into memory.
    let get = curl(
        &format!("{}/805ec0123456.cfg", server.http),
        &[
            "-X",
            "GET",
            "--data-binary",
            &format!("@{}", upload.path().display()),
        ],
    );
    assert_eq!(get.status, 200);
    assert_eq!(server.get_https("/805ec0123456.cfg", Some(UA)).status, 200);
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(!log.contains("panicked"), "{log}");
}
