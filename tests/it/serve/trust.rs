//! Phones are told to trust the certificate behind our HTTPS: it is served
//! at /ca.pem (both listeners, no credentials), and the bootstrap files
//! point at it (Yealink, Cisco) or carry it inline (Polycom, Snom; see their
//! own tests).

use crate::support::cli::{import, imported};
use crate::support::fixtures::{UA, users_csv};
use crate::support::formats::{assert_settings, yealink_settings};
use crate::support::server::{Server, curl, serving};
use crate::support::tls::{make_ca, make_cert, openssl_fingerprint};

#[test]
fn yealink_bootstrap_loads_our_certificate_from_ca_pem() {
    let (_tmp, _data, server) = serving(&users_csv());
    let fingerprint = server.cert_fingerprint();

    // The bootstrap over plain HTTP names the CA URL on the HTTP listener.
    let boot = server.get_http("/805ec0123456.cfg", Some(UA));
    assert_eq!(boot.status, 200, "{}", server.log());
    let b = yealink_settings(&boot.body, false);
    let url = format!("{}/ca.pem", server.http);
    assert_settings(
        &b,
        &[
            ("static.trusted_certificates.url", url.as_str()),
            ("static.security.ca_cert", "2"),
            ("static.security.trust_certificates", "1"),
        ],
    );
    // What that URL returns is the certificate HTTPS is served with.
    let ca = curl(&url, &["-A", UA]);
    assert_eq!(ca.status, 200);
    assert_eq!(ca.content_type, "application/x-pem-file");
    assert_eq!(openssl_fingerprint(&ca.body), fingerprint);
    // The same bytes over HTTPS, and without any User-Agent.
    assert_eq!(server.get_https("/ca.pem", None).body, ca.body);

    // Over HTTPS the phone trusts us already: the full file has none of it.
    let full = server.get_https("/805ec0123456.cfg", Some(UA));
    let f = yealink_settings(&full.body, false);
    assert!(
        !f.keys()
            .any(|k| k.contains("trusted_certificates") || k.contains("security.")),
        "{f:?}"
    );
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
}

#[test]
fn ca_pem_needs_no_credentials_but_the_allow_list_still_applies() {
    let (tmp, data) = imported(&users_csv());
    let config = tmp.path().join("autoprov.toml");
    std::fs::write(
        &config,
        "[[policy.credentials]]\nuser = \"prov\"\npassword = \"s3cret-pass\"\n",
    )
    .unwrap();
    let server = Server::start(&data, &["--config", config.to_str().unwrap()], &[]);
    // Per-MAC files want credentials; the CA does not.
    assert_eq!(server.get_http("/805ec0123456.cfg", Some(UA)).status, 401);
    let ca = server.get_http("/ca.pem", Some(UA));
    assert_eq!(ca.status, 200);
    assert_eq!(openssl_fingerprint(&ca.body), server.cert_fingerprint());
    drop(server);

    // A source outside the allow-list gets the usual 404, even for the CA.
    std::fs::write(&config, "[policy]\nallow = [\"10.0.0.0/8\"]\n").unwrap();
    let server = Server::start(&data, &["--config", config.to_str().unwrap()], &[]);
    let refused = server.get_http("/ca.pem", Some(UA));
    assert_eq!(refused.status, 404);
    assert_eq!(refused.body, b"not found\n");
}

#[test]
fn a_configured_chain_hands_out_its_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_ca(&pki);
    make_cert(
        &pki,
        "srv",
        "/CN=localhost",
        &[
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "extendedKeyUsage=serverAuth",
        ],
    );
    // The served chain: the server certificate, then its CA.
    let chain = [
        std::fs::read_to_string(pki.join("srv.crt")).unwrap(),
        std::fs::read_to_string(pki.join("ca.crt")).unwrap(),
    ]
    .concat();
    std::fs::write(pki.join("chain.pem"), chain).unwrap();
    let data = tmp.path().join("data");
    import(&data, &users_csv());
    let config = tmp.path().join("autoprov.toml");
    let tls_config = |extra: &str| {
        let text = format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n{extra}",
            pki.join("chain.pem").display(),
            pki.join("srv.key").display()
        );
        std::fs::write(&config, text).unwrap();
    };
    tls_config("");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()], &[]);
    let ca_fingerprint = openssl_fingerprint(&std::fs::read(pki.join("ca.crt")).unwrap());
    // The top of the chain, which is what a phone must trust.
    let ca = server.get_http("/ca.pem", None);
    assert_eq!(ca.status, 200);
    assert_eq!(openssl_fingerprint(&ca.body), ca_fingerprint);
    // And HTTPS verifies against it.
    let full = curl(
        &format!("{}/805ec0123456.cfg", server.https),
        &["--cacert", pki.join("ca.crt").to_str().unwrap(), "-A", UA],
    );
    assert_eq!(full.status, 200);
    drop(server);

    // `phone_ca` overrides the choice.
    tls_config(&format!(
        "phone_ca = \"{}\"\n",
        pki.join("srv.crt").display()
    ));
    let server = Server::start(&data, &["--config", config.to_str().unwrap()], &[]);
    let srv_fingerprint = openssl_fingerprint(&std::fs::read(pki.join("srv.crt")).unwrap());
    let ca = server.get_http("/ca.pem", None);
    assert_eq!(openssl_fingerprint(&ca.body), srv_fingerprint);
}
