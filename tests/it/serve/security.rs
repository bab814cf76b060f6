//! Who gets what: plain HTTP never carries SIP passwords unless asked,
//! refused and unknown look identical, names cannot traverse, bad requests
//! never take the server down.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::cli::{imported, phone};
use crate::support::fixtures::{ALICE_MAC, UA, users_csv};
use crate::support::formats::yealink_settings;
use crate::support::server::{Server, curl, port, serving};

fn https_port(server: &Server) -> &str {
    port(&server.https)
}

#[test]
fn plain_http_gets_the_staged_bootstrap() {
    let (_tmp, _data, server) = serving(&users_csv());
    let full = server.get_https("/805ec0123456.cfg", Some(UA));
    let staged = server.get_http("/805ec0123456.cfg", Some(UA));
    assert_eq!(staged.status, 200);
    let s = yealink_settings(&staged.body, false);
    assert!(!s.keys().any(|k| k.ends_with(".password")), "{s:?}");
    assert!(!staged.text().contains("Alice-Sip-2024-xyz"));
    assert_eq!(
        s["static.auto_provision.server.url"],
        format!("https://127.0.0.1:{}/", https_port(&server))
    );
    assert_eq!(s["static.auto_provision.repeat.minutes"], "5");
    // Everything else is the same file.
    let mut f = yealink_settings(&full.body, false);
    f.remove("account.1.password");
    let mut s2 = s.clone();
    for k in [
        "static.auto_provision.server.url",
        "static.auto_provision.dhcp_option.enable",
        "static.auto_provision.repeat.minutes",
        // Our certificate (tests/it/serve/trust.rs).
        "static.trusted_certificates.url",
        "static.security.ca_cert",
        "static.security.trust_certificates",
    ] {
        s2.remove(k);
    }
    f.remove("static.auto_provision.repeat.minutes");
    assert_eq!(f, s2);
    // The Host the phone used becomes the HTTPS host.
    let port = port(&server.http);
    let by_name = curl(
        &format!("http://localhost:{port}/805ec0123456.cfg"),
        &[
            "-A",
            UA,
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
        ],
    );
    assert!(
        by_name.text().contains(&format!(
            "static.auto_provision.server.url = https://localhost:{}/",
            https_port(&server)
        )),
        "{}",
        by_name.text()
    );
    // ... and the host the CA is fetched from.
    assert!(
        by_name.text().contains(&format!(
            "static.trusted_certificates.url = http://localhost:{port}/ca.pem"
        )),
        "{}",
        by_name.text()
    );
    // Files without secrets are the same on both listeners.
    assert_eq!(
        server.get_http("/805ec0123456.boot", Some(UA)).body,
        server.get_https("/805ec0123456.boot", Some(UA)).body
    );
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(!log.contains("Alice-Sip-2024-xyz"));
}

#[test]
fn secrets_over_http_only_when_asked() {
    let (tmp, data) = imported(&users_csv());
    let server = Server::start(&data, &[], &["--allow-secrets-over-http"]);
    let http = server.get_http("/805ec0123456.cfg", Some(UA));
    let https = server.get_https("/805ec0123456.cfg", Some(UA));
    assert_eq!(http.status, 200);
    assert_eq!(http.body, https.body);
    assert!(
        http.text()
            .contains("account.1.password = Alice-Sip-2024-xyz")
    );
    server.stop();

    let cfg = tmp.path().join("autoprov.toml");
    std::fs::write(&cfg, "[provision]\nallow_secrets_over_http = true\n").unwrap();
    let server = Server::start(&data, &["--config", cfg.to_str().unwrap()], &[]);
    let http = server.get_http("/805ec0123456.cfg", Some(UA));
    assert!(
        http.text()
            .contains("account.1.password = Alice-Sip-2024-xyz")
    );
    server.stop();
}

#[test]
fn refusals_all_look_like_an_unknown_mac() {
    let (tmp, data, server) = serving(&users_csv());
    let unknown = server.get_https("/805ec0000001.cfg", None);
    assert_eq!(unknown.status, 404);
    assert!(!unknown.body.is_empty());

    let other_ua = "Yealink SIP-T54W 96.86.0.100 80:5e:c0:ab:cd:ef";
    let refused = [
        server.get_https("/805ec0123456.cfg", Some(other_ua)),
        server.get_http("/805ec0123456.cfg", Some(other_ua)),
        server.get_https("/805ec0123456.boot", Some(other_ua)),
        server.get_https("/../etc/passwd", None),
        server.get_https("/%2e%2e%2fetc%2fpasswd", None),
        server.get_https("/%2e%2e%2f805ec0123456.cfg", None),
        server.get_https("/..%2f..%2fetc%2fpasswd", None),
        server.get_https("/certs/ca.key", None),
        server.get_https("/certs/server.key", None),
        server.get_https("/ca.key", None),
        server.get_https("/", None),
        server.get_http("/805ec0123456.cfg.bak", None),
        server.get_http("/y00000000096.cfg", None),
        server.get_http("/0004f2aabbcc.boot", None), // a Polycom phone: no such Polycom file
    ];
    for r in &refused {
        assert_eq!(r, &unknown);
    }
    // The right MAC with a matching UA, and with no UA at all, is served.
    assert_eq!(server.get_https("/805ec0123456.cfg", Some(UA)).status, 200);
    assert_eq!(server.get_https("/805ec0123456.cfg", None).status, 200);
    // Upper-case MAC in the name is the same phone (docs/reference/vendors.md §0).
    assert_eq!(server.get_https("/805EC0123456.cfg", Some(UA)).status, 200);

    // Only GET and HEAD.
    let cacert = server.cert();
    let put = curl(
        &format!("{}/805ec0123456.cfg", server.https),
        &[
            "--cacert",
            cacert.to_str().unwrap(),
            "-X",
            "PUT",
            "--data-binary",
            "x=1",
        ],
    );
    assert_eq!(put.status, 405);
    let head = curl(
        &format!("{}/805ec0123456.cfg", server.https),
        &["--cacert", cacert.to_str().unwrap(), "-I"],
    );
    assert_eq!(head.status, 200);
    server.stop();

    // A source outside policy.allow: the same status, type and body.
    let cfg = tmp.path().join("closed.toml");
    std::fs::write(&cfg, "[policy]\nallow = [\"10.0.0.0/8\", \"fc00::/7\"]\n").unwrap();
    let closed = Server::start(&data, &["--config", cfg.to_str().unwrap()], &[]);
    for r in [
        closed.get_https("/805ec0123456.cfg", Some(UA)),
        closed.get_http("/805ec0123456.cfg", Some(UA)),
        closed.get_https("/y000000000096.cfg", Some(UA)),
    ] {
        assert_eq!(r, unknown);
    }
    let (status, log) = closed.stop();
    assert!(status.success());
    assert!(log.contains("source not in policy.allow"), "{log}");
    // ... and the refused fetch is in the phone's record.
    let p = phone(&data, ALICE_MAC);
    assert_eq!(p["last_fetch"]["status"], 404);
}

/// Sends raw bytes to the HTTP port and returns what came back.
fn raw(addr: &str, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

#[test]
fn malformed_and_oversized_requests_are_refused_without_harm() {
    let (tmp, data, server) = serving(&users_csv());
    let addr = server.http.trim_start_matches("http://").to_string();

    let garbage = raw(&addr, b"\x00\x01\x02 not http at all\r\n\r\n");
    assert!(
        garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
        "{garbage}"
    );

    let big = format!(
        "GET /805ec0123456.cfg HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let r = raw(&addr, big.as_bytes());
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 431"), "{r}");

    let bad_utf8 = raw(
        &addr,
        b"GET /%ff%fe.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\xfe\r\nConnection: close\r\n\r\n",
    );
    assert!(bad_utf8.starts_with("HTTP/1.1 404"), "{bad_utf8}");

    let evil_host = raw(
        &addr,
        b"GET /805ec0123456.cfg HTTP/1.1\r\nHost: evil.example/x?\r\nConnection: close\r\n\r\n",
    );
    assert!(evil_host.starts_with("HTTP/1.1 200"), "{evil_host}");
    assert!(!evil_host.contains("evil"), "{evil_host}");

    // A large upload (Polycom-style PUT of a log) is refused, not stored.
    let upload = tmp.path().join("upload");
    std::fs::write(&upload, vec![b'x'; 1024 * 1024]).unwrap();
    let put = curl(
        &format!("{}/805ec0123456-app.log", server.http),
        &[
            "-X",
            "PUT",
            "--data-binary",
            &format!("@{}", upload.display()),
        ],
    );
    let _ = std::fs::remove_file(&upload);
    assert_eq!(put.status, 405);
    assert!(!data.join("805ec0123456-app.log").exists());

    // Plain text on the TLS port is a failed handshake, nothing more.
    let https_addr = server.https.trim_start_matches("https://").to_string();
    let _ = raw(&https_addr, b"GET / HTTP/1.1\r\n\r\n");

    // Still serving.
    assert_eq!(server.get_https("/805ec0123456.cfg", Some(UA)).status, 200);
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(!log.contains("panicked"), "{log}");
}
