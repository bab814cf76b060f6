//! Without configured certificates `serve` makes a local CA and a server
//! certificate it signs (`<data>/certs/`): checked with openssl and curl,
//! across restarts, when the names change, and for a data dir an earlier
//! autoprov left with a lone self-signed certificate.

use std::path::Path;
use std::process::Command;

use crate::support::cli::imported;
use crate::support::fixtures::{UA, users_csv};
use crate::support::server::{Fetched, Server, curl, port};
use crate::support::tls::{make_self_signed, openssl_fingerprint, openssl_text};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// curl over HTTPS to `name` (resolved to loopback), trusting only `ca`.
fn fetch_as(server: &Server, name: &str, ca: &Path) -> Fetched {
    let p = port(&server.https);
    curl(
        &format!("https://{name}:{p}/805ec0123456.cfg"),
        &[
            "--cacert",
            ca.to_str().unwrap(),
            "--resolve",
            &format!("{name}:{p}:127.0.0.1"),
            "-A",
            UA,
        ],
    )
}

#[test]
fn first_start_makes_a_ca_and_serves_a_chain_that_verifies() {
    let (tmp, data) = imported(&users_csv());
    let config = tmp.path().join("autoprov.toml");
    std::fs::write(&config, "[tls]\nnames = [\"prov.example.test\"]\n").unwrap();
    let server = Server::start(&data, &["--config", config.to_str().unwrap()], &[]);
    let certs = data.join("certs");
    let ca = read(&certs.join("ca.pem"));

    // The CA: CA:TRUE (critical), may sign certificates.
    let ca_text = openssl_text(&ca);
    assert!(
        ca_text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"),
        "{ca_text}"
    );
    assert!(
        ca_text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"),
        "{ca_text}"
    );
    assert!(ca_text.contains("CN = autoprov local CA"), "{ca_text}");

    // The listener sends the server certificate, then the CA.
    let chain = server.served_chain();
    assert_eq!(chain.len(), 2, "{chain:?}");
    assert_eq!(
        openssl_fingerprint(chain[1].as_bytes()),
        openssl_fingerprint(ca.as_bytes())
    );
    let leaf_text = openssl_text(&chain[0]);
    assert!(
        leaf_text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"),
        "{leaf_text}"
    );
    assert!(
        leaf_text.contains("TLS Web Server Authentication"),
        "{leaf_text}"
    );
    for san in [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
        "DNS:prov.example.test",
    ] {
        assert!(leaf_text.contains(san), "{san} in {leaf_text}");
    }

    // openssl verifies the chain against the CA alone.
    let leaf_file = tmp.path().join("leaf.pem");
    std::fs::write(&leaf_file, &chain[0]).unwrap();
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(certs.join("ca.pem"))
        .arg(&leaf_file)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout).trim(),
        format!("{}: OK", leaf_file.display())
    );

    // curl trusting only the CA, by address and by the configured name.
    for name in ["127.0.0.1", "localhost", "prov.example.test"] {
        let f = fetch_as(&server, name, &certs.join("ca.pem"));
        assert_eq!(f.status, 200, "{name}: {}", server.log());
        assert!(f.text().contains("account.1.password"), "{name}");
    }
    // ... and not a name the certificate does not carry.
    let p = port(&server.https);
    let other = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "--cacert"])
        .arg(certs.join("ca.pem"))
        .arg("--resolve")
        .arg(format!("elsewhere.example.test:{p}:127.0.0.1"))
        .arg(format!("https://elsewhere.example.test:{p}/ca.pem"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(!other.status.success());
    assert!(err.contains("subject name"), "{err}");

    // /ca.pem is the CA, byte for byte.
    let served = server.get_http("/ca.pem", None);
    assert_eq!(served.status, 200);
    assert_eq!(served.text(), ca);

    // Private keys: owner only, and never in the log.
    #[cfg(unix)]
    for k in ["ca.key", "server.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(certs.join(k)).unwrap().permissions();
        assert_eq!(mode.mode() & 0o777, 0o600, "{k}");
    }
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("created a local CA"), "{log}");
    assert!(!log.contains("PRIVATE KEY"), "{log}");
}

#[test]
fn restart_keeps_both_certificates_and_new_names_reissue_only_the_leaf() {
    let (tmp, data) = imported(&users_csv());
    let config = tmp.path().join("autoprov.toml");
    let start = |names: &str| {
        std::fs::write(&config, format!("[tls]\nnames = [{names}]\n")).unwrap();
        Server::start(&data, &["--config", config.to_str().unwrap()], &[])
    };
    let fingerprints = |server: &Server| -> Vec<String> {
        server
            .served_chain()
            .iter()
            .map(|c| openssl_fingerprint(c.as_bytes()))
            .collect()
    };

    let server = start("\"a.example.test\"");
    let first = fingerprints(&server);
    let ca_first = server.cert_fingerprint();
    assert_eq!(first[1], ca_first);
    drop(server);

    // Same names: nothing changes (phones pin or trust these).
    let server = start("\"a.example.test\"");
    assert_eq!(fingerprints(&server), first);
    assert!(
        !server.log().contains("issued a new server certificate"),
        "{}",
        server.log()
    );
    drop(server);

    // A name the certificate lacks: a new server certificate, same CA.
    let server = start("\"a.example.test\", \"b.example.test\"");
    let second = fingerprints(&server);
    assert_ne!(second[0], first[0]);
    assert_eq!(second[1], ca_first);
    assert_eq!(server.cert_fingerprint(), ca_first);
    let log = server.log();
    assert!(
        log.contains("issued a new server certificate") && log.contains("b.example.test"),
        "{log}"
    );
    let f = fetch_as(&server, "b.example.test", &data.join("certs/ca.pem"));
    assert_eq!(f.status, 200, "{}", server.log());
}

#[test]
fn an_earlier_self_signed_certificate_keeps_being_served() {
    let (tmp, data) = imported(&users_csv());
    // What earlier versions left: a lone self-signed P-256 certificate
    // (not a CA) as certs/cert.pem + key.pem.
    let certs = data.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_self_signed(
        &certs,
        "key.pem",
        "cert.pem",
        "3650",
        "/CN=autoprov provisioning server",
        &["subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"],
    );
    let old = read(&certs.join("cert.pem"));
    let old_fp = openssl_fingerprint(old.as_bytes());

    for _ in 0..2 {
        let server = Server::start(&data, &[], &[]);
        let chain = server.served_chain();
        assert_eq!(chain.len(), 1);
        assert_eq!(openssl_fingerprint(chain[0].as_bytes()), old_fp);
        assert_eq!(server.get_http("/ca.pem", None).text(), old);
        let f = fetch_as(&server, "127.0.0.1", &certs.join("cert.pem"));
        assert_eq!(f.status, 200, "{}", server.log());
        let (status, log) = server.stop();
        assert!(status.success(), "{log}");
        // Said once per start, with the way out.
        assert_eq!(
            log.matches("self-signed certificate an earlier autoprov made")
                .count(),
            1,
            "{log}"
        );
        assert!(log.contains("delete cert.pem and key.pem"), "{log}");
    }
    // Nothing new was generated beside it, and it is unchanged.
    assert!(!certs.join("ca.pem").exists());
    assert!(!certs.join("server.pem").exists());
    assert_eq!(read(&certs.join("cert.pem")), old);

    // Deleting it switches to a local CA.
    std::fs::remove_file(certs.join("cert.pem")).unwrap();
    std::fs::remove_file(certs.join("key.pem")).unwrap();
    let server = Server::start(&data, &[], &[]);
    assert_eq!(server.served_chain().len(), 2);
    assert_eq!(server.get_https("/805ec0123456.cfg", Some(UA)).status, 200);
    drop(tmp);
}
