//! Mutual TLS after the handshake: a verified client certificate stands
//! in for credentials, for its own MAC's files when it names one. (The
//! handshake itself, refusing a missing or foreign certificate, stays in
//! `tests/serve_auth.rs` with real openssl certificates.)

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

use super::*;

/// A certificate with this subject CN (and DNS names), as the verifier
/// hands it over.
fn client_cert(cn: &str, dns: &[&str]) -> ClientCert {
    let mut params =
        CertificateParams::new(dns.iter().map(|d| d.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    ClientCert::from_der(cert.der())
}

fn client_ca(required: bool) -> String {
    let mode = if required { "required" } else { "optional" };
    format!("[tls]\nclient_ca = \"/etc/phone-ca.pem\"\nclient_auth = \"{mode}\"\n")
}

#[tokio::test]
async fn a_client_certificate_is_bound_to_the_mac_it_names() {
    // Alice's Yealink (MAC in the CN), Bob's Polycom (MAC in a SAN), and a
    // certificate naming no MAC at all.
    let yealink = client_cert("805ec0123456", &[]);
    let polycom = client_cert("Polycom device", &["0004f2aabbcc.phones.example"]);
    let admin = client_cert("provisioning admin", &[]);
    for required in [true, false] {
        let fx = Fixture::new(&client_ca(required));
        let logs = capture_logs();
        let get = |cert: ClientCert, path: &str| fx.send(https(path).cert(cert));
        // Its own files.
        let own = get(yealink, ALICE).await;
        assert_eq!(own.status, 200, "required={required}");
        assert!(own.body.contains(SIP_PASSWORD));
        let bob = get(polycom, "/0004f2aabbcc-phone.cfg").await;
        assert_eq!(bob.status, 200, "required={required}");
        // Another phone's file: the same 404 as a MAC nobody has.
        let unknown = get(yealink, NOBODY).await;
        assert_eq!(unknown.short(), (404, "not found\n"));
        for (cert, path) in [
            (yealink, "/0004f2aabbcc-phone.cfg"),
            (yealink, "/805ec0abcdef.cfg"),
            (polycom, ALICE),
        ] {
            assert_eq!(get(cert, path).await, unknown, "{path}");
        }
        // Common files are no one's.
        assert_eq!(get(polycom, COMMON).await.status, 200);
        // A certificate naming no MAC is not bound.
        assert_eq!(get(admin, ALICE).await.status, 200, "required={required}");
        let text = logs.text();
        assert!(
            text.contains("client certificate names another MAC"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn an_optional_certificate_guards_per_mac_files() {
    let phone = client_cert("805ec0123456", &[]);
    // Optional: per-MAC files need the certificate; common files don't.
    let fx = Fixture::new(&client_ca(false));
    assert_eq!(fx.send(https(ALICE).cert(phone)).await.status, 200);
    let without = fx.send(https(ALICE).ua(UA)).await;
    assert_eq!(without, fx.send(https(NOBODY).ua(UA)).await);
    assert_eq!(without.short(), (404, "not found\n"));
    assert_eq!(fx.send(https(COMMON).ua(UA)).await.status, 200);
    // Plain HTTP is unaffected (the bootstrap has no secrets).
    let boot = fx.send(http(ALICE).ua(UA)).await;
    assert_eq!(boot.status, 200);
    assert!(!boot.body.contains(SIP_PASSWORD));

    // Optional with credentials: either one will do.
    let fx = Fixture::new(&format!(
        "{}[[policy.credentials]]\nuser = \"prov\"\npassword = \"{NEW}\"\n",
        client_ca(false)
    ));
    assert_eq!(fx.send(https(ALICE).cert(phone)).await.status, 200);
    assert_eq!(fx.send(https(ALICE)).await.status, 401);
    let up = format!("prov:{NEW}");
    assert_eq!(fx.with_digest(https(ALICE), &up).await.status, 200);
}
