//! Authentication and abuse resistance with real curl: Digest (MD5 and
//! SHA-256, stale and forged nonces), Basic, credential rotation, mutual
//! TLS, miss throttling and bans, slow clients, and no secret in any log.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::support::cli::{autoprov, imported};
use crate::support::fixtures::{UA, users_csv};
use crate::support::server::{Answer, Server, curl, curl_headers};
use crate::support::timed;
use crate::support::tls::{make_ca, make_cert, make_self_signed};

const SIP_PASSWORD: &str = "Alice-Sip-2024-xyz";
const OLD: &str = "Prov-Old-Secret-1";
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

/// `param="value"` out of a challenge.
fn challenge_param(challenge: &str, name: &str) -> String {
    let start = challenge
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("{name} in {challenge}"))
        + name.len()
        + 2;
    let len = challenge[start..].find('"').unwrap();
    challenge[start..start + len].to_string()
}

fn hash(alg: &str, s: &str) -> String {
    match alg {
        "MD5" => hex::encode(Md5::digest(s.as_bytes())),
        _ => hex::encode(Sha256::digest(s.as_bytes())),
    }
}

/// A Digest Authorization header computed by hand (RFC 7616 §3.4.1).
fn digest_header(alg: &str, nonce: &str, user: &str, password: &str, uri: &str) -> String {
    digest_header_nc(alg, nonce, user, password, uri, "00000001")
}

/// The same with a given nonce count.
fn digest_header_nc(
    alg: &str,
    nonce: &str,
    user: &str,
    password: &str,
    uri: &str,
    nc: &str,
) -> String {
    let ha1 = hash(alg, &format!("{user}:autoprov:{password}"));
    let ha2 = hash(alg, &format!("GET:{uri}"));
    let cnonce = "0a4f113b";
    let response = hash(alg, &format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"autoprov\", nonce=\"{nonce}\", \
         uri=\"{uri}\", algorithm={alg}, qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\""
    )
}

const AUTH_CONFIG: &str = r#"
[policy]
auth = "any"
nonce_seconds = 2
[[policy.credentials]]
user = "prov"
password = "Prov-Old-Secret-1"
[[policy.credentials]]
user = "prov"
password = "Prov-New-Secret-2"
[[policy.credentials]]
user = "fleet2"
password = "Prov-New-Secret-2"
"#;

#[test]
fn digest_basic_rotation_stale_and_forged_nonces() {
    // The first nonce must outlive a dozen curl runs (nonce_seconds = 2).
    let _timed = timed();
    let (tmp, data) = imported(&users_csv());
    let cfg = config(tmp.path(), "auth.toml", AUTH_CONFIG);
    let server = Server::start_logging(&data, &["--config", &cfg], &[], "autoprov=debug");

    // Without credentials: the same 401 for a known and an unknown MAC.
    let known = https(&server, "/805ec0123456.cfg", &["-A", UA]);
    let unknown = https(&server, "/805ec0000001.cfg", &["-A", UA]);
    assert_eq!(known.status, 401);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let challenges = known.header_values("www-authenticate");
    assert_eq!(challenges.len(), 3, "{challenges:?}");
    assert!(challenges[0].contains("algorithm=SHA-256") && challenges[0].contains("qop=\"auth\""));
    assert!(challenges[1].contains("algorithm=MD5"));
    assert!(challenges[2].starts_with("Basic realm=\"autoprov\""));

    // curl --digest, both credentials of the rotation, HTTPS and HTTP.
    for pw in [OLD, NEW] {
        let up = format!("prov:{pw}");
        let r = https(
            &server,
            "/805ec0123456.cfg",
            &["-A", UA, "--digest", "-u", &up],
        );
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.text().contains(SIP_PASSWORD));
        let b = curl_full(
            &format!("{}/805ec0123456.cfg", server.http),
            &["-A", UA, "--digest", "-u", &up],
        );
        assert_eq!(b.status, 200);
        assert!(!b.text().contains(SIP_PASSWORD));
    }
    let other_user = format!("fleet2:{NEW}");
    assert_eq!(
        https(
            &server,
            "/805ec0123456.cfg",
            &["--digest", "-u", &other_user]
        )
        .status,
        200
    );
    // Authenticated, unknown MAC: the usual 404.
    let up = format!("prov:{NEW}");
    let miss = https(&server, "/805ec0000001.cfg", &["--digest", "-u", &up]);
    assert_eq!((miss.status, miss.text().as_str()), (404, "not found\n"));

    // Wrong password, unknown user: challenged again.
    for bad in ["prov:wrong-password", "nobody:Prov-New-Secret-2"] {
        let r = https(&server, "/805ec0123456.cfg", &["--digest", "-u", bad]);
        assert_eq!(r.status, 401);
        let r = https(&server, "/805ec0123456.cfg", &["--basic", "-u", bad]);
        assert_eq!(r.status, 401);
    }

    // Basic (curl's default for -u), both passwords.
    for pw in [OLD, NEW] {
        let r = https(&server, "/805ec0123456.cfg", &["-u", &format!("prov:{pw}")]);
        assert_eq!(r.status, 200);
    }

    // Hand-made Digest responses: fresh nonce accepted for both algorithms...
    let nonce = challenge_param(challenges[0], "nonce");
    for alg in ["MD5", "SHA-256"] {
        let h = digest_header(alg, &nonce, "prov", NEW, "/805ec0123456.cfg");
        let r = https(&server, "/805ec0123456.cfg", &["-H", &h]);
        assert_eq!(r.status, 200, "{alg}");
        // ... but not for another file than the one it was computed for.
        let r = https(&server, "/805ec0123457.cfg", &["-H", &h]);
        assert_eq!(r.status, 401);
    }
    // A forged nonce (right shape, wrong HMAC): 401 without stale.
    let forged = format!("{}{}", &nonce[..16], "ab".repeat(16));
    let h = digest_header("MD5", &forged, "prov", NEW, "/805ec0123456.cfg");
    let r = https(&server, "/805ec0123456.cfg", &["-H", &h]);
    assert_eq!(r.status, 401);
    assert!(!r.header_values("www-authenticate")[0].contains("stale"));
    // Garbage parameters: a clean 401, no panic.
    for junk in [
        "Authorization: Digest",
        "Authorization: Digest username=\"prov, realm=",
        "Authorization: Digest nonce=\"\u{00e9}\"",
        "Authorization: Basic %%%",
        "Authorization: Basic cHJvdg==",
    ] {
        assert_eq!(
            https(&server, "/805ec0123456.cfg", &["-H", junk]).status,
            401
        );
    }
    // The nonce expires (nonce_seconds = 2): stale=true, and a new nonce.
    std::thread::sleep(Duration::from_millis(3100));
    let h = digest_header("MD5", &nonce, "prov", NEW, "/805ec0123456.cfg");
    let r = https(&server, "/805ec0123456.cfg", &["-H", &h]);
    assert_eq!(r.status, 401);
    let fresh = r.header_values("www-authenticate");
    assert!(fresh[0].contains("stale=true"), "{fresh:?}");
    assert_ne!(challenge_param(fresh[0], "nonce"), nonce);
    let h = digest_header(
        "SHA-256",
        &challenge_param(fresh[0], "nonce"),
        "prov",
        NEW,
        "/805ec0123456.cfg",
    );
    assert_eq!(https(&server, "/805ec0123456.cfg", &["-H", &h]).status, 200);

    let (status, log) = server.stop();
    assert!(status.success());
    assert!(log.contains("refused: bad credentials"), "{log}");
    assert!(log.contains("authentication challenge"), "{log}");
    for secret in [
        SIP_PASSWORD,
        OLD,
        NEW,
        "cHJvdjpQcm92",
        "response=",
        "Digest username",
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn replayed_digest_header_is_refused_and_a_fresh_count_accepted() {
    let (tmp, data) = imported(&users_csv());
    let cfg = config(
        tmp.path(),
        "replay.toml",
        &format!("[[policy.credentials]]\nuser = \"prov\"\npassword = \"{NEW}\"\n"),
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let path = "/805ec0123456.cfg";
    let challenge = https(&server, path, &["-A", UA]);
    assert_eq!(challenge.status, 401);
    let nonce = challenge_param(challenge.header_values("www-authenticate")[0], "nonce");

    let first = digest_header_nc("SHA-256", &nonce, "prov", NEW, path, "00000001");
    let ok = https(&server, path, &["-A", UA, "-H", &first]);
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains(SIP_PASSWORD));
    // The captured header, sent again within the nonce lifetime: refused
    // with a plain challenge (not stale), on either listener.
    for r in [
        https(&server, path, &["-A", UA, "-H", &first]),
        curl_full(&format!("{}{path}", server.http), &["-A", UA, "-H", &first]),
    ] {
        assert_eq!(r.status, 401);
        assert!(!r.text().contains(SIP_PASSWORD));
        assert!(!r.header_values("www-authenticate")[0].contains("stale"));
    }
    // The client's next count on the same nonce is accepted, once.
    let second = digest_header_nc("SHA-256", &nonce, "prov", NEW, path, "00000002");
    assert_eq!(https(&server, path, &["-A", UA, "-H", &second]).status, 200);
    assert_eq!(https(&server, path, &["-A", UA, "-H", &second]).status, 401);
    // curl --digest (a fresh nonce and count each time) keeps working.
    let up = format!("prov:{NEW}");
    for _ in 0..2 {
        assert_eq!(
            https(&server, path, &["-A", UA, "--digest", "-u", &up]).status,
            200
        );
    }
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(log.contains("digest nonce count replayed"), "{log}");
    assert!(!log.contains(SIP_PASSWORD) && !log.contains(NEW));
}

#[test]
fn site_credentials_open_only_their_sites_phones() {
    let (tmp, data) = imported(&users_csv());
    let cfg = config(
        tmp.path(),
        "sites.toml",
        &format!(
            "[[policy.credentials]]\nuser = \"prov\"\npassword = \"{NEW}\"\n\
             [sites.berlin]\nsip_server = \"pbx-ber.example.com\"\n\
             [[sites.berlin.credentials]]\nuser = \"ber\"\npassword = \"Berlin-Secret-1\"\n"
        ),
    );
    let csv = tmp.path().join("berlin.csv");
    std::fs::write(
        &csv,
        "username,first_name,extension,sip_password,mac,phone_model,site\n\
         bert,Bert,2001,Bert-Sip-2001-xyz,805ec0b0b0b0,yealink-t54w,berlin\n",
    )
    .unwrap();
    let out = autoprov(&data, &["--config", &cfg, "import", csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let server = Server::start_logging(&data, &["--config", &cfg], &[], "autoprov=debug");
    let global = format!("prov:{NEW}");
    let berlin = "ber:Berlin-Secret-1";
    // curl's own User-Agent: no phone's MAC in it.
    let get = |path: &str, up: &str| https(&server, path, &["--digest", "-u", up]);

    // Each site's phones open with their own credentials.
    let bert = get("/805ec0b0b0b0.cfg", berlin);
    assert_eq!(bert.status, 200);
    assert!(
        bert.text().contains("Bert-Sip-2001-xyz") && bert.text().contains("pbx-ber.example.com")
    );
    assert_eq!(get("/805ec0123456.cfg", &global).status, 200);
    // The other site's credentials: the same 404 as a MAC nobody has.
    let unknown = get("/805ec0000001.cfg", &global);
    assert_eq!(
        (unknown.status, unknown.text().as_str()),
        (404, "not found\n")
    );
    for r in [
        get("/805ec0b0b0b0.cfg", &global),
        get("/805ec0123456.cfg", berlin),
        get("/805ec0000001.cfg", berlin),
    ] {
        assert_eq!((r.status, r.text().as_str()), (404, "not found\n"));
    }
    // No or wrong credentials: the usual 401, whoever's phone it is.
    assert_eq!(https(&server, "/805ec0b0b0b0.cfg", &[]).status, 401);
    assert_eq!(get("/805ec0b0b0b0.cfg", "ber:wrong").status, 401);
    assert_eq!(get("/805ec0123456.cfg", "ber:wrong").status, 401);
    // Common files take any valid credential.
    for up in [global.as_str(), berlin] {
        assert_eq!(get("/y000000000096.cfg", up).status, 200);
    }
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(log.contains("credentials of another site"), "{log}");
    assert!(!log.contains("Berlin-Secret-1") && !log.contains("Bert-Sip-2001-xyz"));
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

#[test]
fn client_certificate_is_bound_to_the_mac_it_names() {
    let (tmp, data) = imported(&users_csv());
    let dir = tmp.path().join("pki");
    std::fs::create_dir_all(&dir).unwrap();
    make_ca(&dir);
    let client = ["extendedKeyUsage=clientAuth"];
    // Alice's Yealink (MAC in the CN), Bob's Polycom (MAC in a SAN), and a
    // certificate naming no MAC at all.
    make_cert(&dir, "yealink", "/O=Yealink/CN=805ec0123456", &client);
    make_cert(
        &dir,
        "polycom",
        "/O=Polycom/CN=Polycom device",
        &[
            "extendedKeyUsage=clientAuth",
            "subjectAltName=DNS:0004f2aabbcc.phones.example",
        ],
    );
    make_cert(&dir, "admin", "/CN=provisioning admin", &client);
    for mode in ["required", "optional"] {
        let cfg = config(
            tmp.path(),
            &format!("{mode}.toml"),
            &format!(
                "[tls]\nclient_ca = {:?}\nclient_auth = \"{mode}\"\n",
                dir.join("ca.crt").to_str().unwrap()
            ),
        );
        let server = Server::start(&data, &["--config", &cfg], &[]);
        let get = |cert: &str, path: &str| {
            let cacert = server.cert();
            let (crt, key) = (
                dir.join(format!("{cert}.crt")),
                dir.join(format!("{cert}.key")),
            );
            curl(
                &format!("{}{path}", server.https),
                &[
                    "--cacert",
                    cacert.to_str().unwrap(),
                    "--cert",
                    crt.to_str().unwrap(),
                    "--key",
                    key.to_str().unwrap(),
                ],
            )
        };
        // Its own files.
        let own = get("yealink", "/805ec0123456.cfg");
        assert_eq!(own.status, 200, "{mode}: {}", server.log());
        assert!(own.text().contains(SIP_PASSWORD));
        assert_eq!(
            get("polycom", "/0004f2aabbcc-phone.cfg").status,
            200,
            "{mode}"
        );
        // Another phone's file: the same 404 as a MAC nobody has.
        let unknown = get("yealink", "/805ec0000001.cfg");
        assert_eq!(unknown.status, 404);
        for r in [
            get("yealink", "/0004f2aabbcc-phone.cfg"),
            get("yealink", "/805ec0abcdef.cfg"),
            get("polycom", "/805ec0123456.cfg"),
        ] {
            assert_eq!(r, unknown, "{mode}");
        }
        // Common files are no one's.
        assert_eq!(get("polycom", "/y000000000096.cfg").status, 200);
        // A certificate naming no MAC is not bound.
        assert_eq!(get("admin", "/805ec0123456.cfg").status, 200, "{mode}");
        let (status, log) = server.stop();
        assert!(status.success());
        assert!(
            log.contains("client certificate names another MAC"),
            "{log}"
        );
    }
}

fn timed_get(server: &Server, path: &str, extra: &[&str]) -> (u16, Duration) {
    let t = Instant::now();
    let r = curl_full(&format!("{}{path}", server.http), extra);
    (r.status, t.elapsed())
}

#[test]
fn miss_flood_is_throttled_then_banned_then_recovers() {
    // Asserts on answer times (throttle delay, ban length).
    let _timed = timed();
    let (tmp, data) = imported(&users_csv());
    let cfg = config(
        tmp.path(),
        "misses.toml",
        "[policy.misses]\nwindow_seconds = 60\nthrottle_after = 3\nthrottle_delay_ms = 400\nban_after = 6\nban_seconds = 3\n",
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    // Files no vendor uses are not misses (phones ask for optional ones).
    for _ in 0..5 {
        assert_eq!(timed_get(&server, "/nothing-here.txt", &[]).0, 404);
    }
    for i in 0..3 {
        let (status, took) = timed_get(&server, &format!("/805ec00000{i:02}.cfg"), &[]);
        assert_eq!(status, 404);
        assert!(took < Duration::from_millis(350), "{took:?}");
    }
    // Throttled: still answered, late.
    for i in 3..6 {
        let (status, took) = timed_get(&server, &format!("/805ec00000{i:02}.cfg"), &[]);
        assert_eq!(status, 404);
        assert!(took >= Duration::from_millis(400), "{took:?}");
    }
    // Banned: even the real phone's file is the same 404, answered at once.
    let (status, took) = timed_get(&server, "/805ec0123456.cfg", &["-A", UA]);
    assert_eq!(status, 404);
    assert!(took < Duration::from_millis(350), "{took:?}");
    assert_eq!(
        server.get_https("/805ec0123456.cfg", Some(UA)),
        server.get_https("/805ec0000001.cfg", None)
    );
    // Another source is not affected.
    let other = curl_full(
        &format!("{}/805ec0123456.cfg", server.http),
        &["--interface", "127.0.0.2", "-A", UA],
    );
    assert_eq!(other.status, 200);
    // The ban ends.
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(timed_get(&server, "/805ec0123456.cfg", &["-A", UA]).0, 200);
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(log.contains("source banned after too many misses"), "{log}");
}

#[test]
fn bad_credentials_count_as_misses() {
    let (tmp, data) = imported(&users_csv());
    let cfg = config(
        tmp.path(),
        "authmiss.toml",
        "[policy]\nauth = \"basic\"\n[[policy.credentials]]\nuser = \"prov\"\npassword = \"Prov-New-Secret-2\"\n\
         [policy.misses]\nthrottle_after = 100\nban_after = 4\nban_seconds = 60\n",
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    // Plain challenges (no credentials) are the normal first step: no miss.
    for _ in 0..6 {
        assert_eq!(timed_get(&server, "/805ec0123456.cfg", &[]).0, 401);
    }
    for _ in 0..4 {
        assert_eq!(
            timed_get(&server, "/805ec0123456.cfg", &["-u", "prov:guess"]).0,
            401
        );
    }
    let up = format!("prov:{NEW}");
    assert_eq!(timed_get(&server, "/805ec0123456.cfg", &["-u", &up]).0, 404);
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

/// `key = value` out of a Yealink file.
fn yealink_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.split_once(" = "))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

#[test]
fn per_device_credentials_from_the_bootstrap() {
    let (tmp, data) = imported(&users_csv());
    let cfg = config(
        tmp.path(),
        "device.toml",
        "[provision]\nrequire_device_auth = true\n",
    );
    let server = Server::start_logging(&data, &["--config", &cfg], &[], "autoprov=debug");
    // The plain-HTTP bootstrap hands the phone its own credentials.
    let boot = server.get_http("/805ec0123456.cfg", Some(UA));
    assert_eq!(boot.status, 200);
    let text = boot.text();
    assert!(!text.contains(SIP_PASSWORD));
    let user = yealink_value(&text, "static.auto_provision.server.username").unwrap();
    let password = yealink_value(&text, "static.auto_provision.server.password").unwrap();
    assert_eq!(user, "805ec0123456");
    assert!(password.len() == 20 && password.bytes().all(|b| b.is_ascii_hexdigit()));
    // Stable across requests (derived, not random per fetch).
    assert_eq!(
        server.get_http("/805ec0123456.cfg", Some(UA)).body,
        boot.body
    );

    // Over HTTPS the per-MAC file needs them; the challenge is the same for
    // an unknown MAC; common files don't.
    let bare = https(&server, "/805ec0123456.cfg", &["-A", UA]);
    let unknown = https(&server, "/805ec0000001.cfg", &["-A", UA]);
    assert_eq!(bare.status, 401);
    assert_eq!((bare.status, &bare.body), (unknown.status, &unknown.body));
    assert_eq!(
        https(&server, "/y000000000096.cfg", &["-A", UA]).status,
        200
    );
    let own = format!("{user}:{password}");
    let full = https(
        &server,
        "/805ec0123456.cfg",
        &["-A", UA, "--digest", "-u", &own],
    );
    assert_eq!(full.status, 200);
    assert!(full.text().contains(SIP_PASSWORD));
    // The full file keeps the same credentials.
    assert_eq!(
        yealink_value(&full.text(), "static.auto_provision.server.password").as_deref(),
        Some(password.as_str())
    );
    // One phone's credentials don't open another phone's file.
    let other = https(&server, "/805ec0abcdef.cfg", &["--digest", "-u", &own]);
    assert_eq!(other.status, 401);

    // Polycom and Snom bootstraps carry their vendors' keys.
    let poly = server.get_http("/0004f2aabbcc-phone.cfg", None).text();
    assert!(poly.contains("device.prov.user=\"0004f2aabbcc\""), "{poly}");
    assert!(poly.contains("device.prov.password=\""), "{poly}");
    let snom = server.get_http("/snomD785-000413AABBCC.htm", None).text();
    assert!(
        snom.contains("<http_client_user perm=\"R\">000413aabbcc</http_client_user>"),
        "{snom}"
    );
    assert!(snom.contains("<http_client_pass perm=\"R\">"), "{snom}");

    let (status, log) = server.stop();
    assert!(status.success());
    assert!(
        !log.contains(&password),
        "device password in the log:\n{log}"
    );
    assert!(!log.contains(SIP_PASSWORD));
}

/// The text of the first `<tag>…</tag>` in a body.
fn element_text(body: &str, tag: &str) -> String {
    let open = format!("<{tag}");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in:\n{body}"));
    let start = start + body[start..].find('>').expect("tag closes") + 1;
    let end = start + body[start..].find(&format!("</{tag}>")).expect("end tag");
    body[start..end].to_string()
}

#[test]
fn device_credentials_for_cisco_grandstream_and_fanvil() {
    let (tmp, data) = imported(&users_csv());
    let cfg = config(
        tmp.path(),
        "device.toml",
        "[provision]\nrequire_device_auth = true\n",
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let mut issued = Vec::new();
    // Cisco: the bootstrap's Profile_Rule carries them as --uid/--pwd.
    let boot = server.get_http("/002699aabb01.xml", None);
    assert_eq!(boot.status, 200);
    let rule = element_text(&boot.text(), "Profile_Rule");
    let (opts, url) = rule
        .strip_prefix('[')
        .and_then(|r| r.split_once("] "))
        .unwrap_or_else(|| panic!("{rule}"));
    assert_eq!(url, format!("{}/$MA.xml", server.https));
    let words: Vec<&str> = opts.split(' ').collect();
    assert_eq!(words[..3], ["--uid", "002699aabb01", "--pwd"]);
    issued.push((
        "/002699aabb01.xml",
        words[1].to_string(),
        words[3].to_string(),
    ));
    // Grandstream: P1360/P1361.
    let gs = server.get_http("/cfg000b82aabbcc.xml", None).text();
    issued.push((
        "/cfg000b82aabbcc.xml",
        element_text(&gs, "P1360"),
        element_text(&gs, "P1361"),
    ));
    // Fanvil: Download_Username/Download_Password.
    let fv = server.get_http("/0c383e07e16c.cfg", None).text();
    issued.push((
        "/0c383e07e16c.cfg",
        element_text(&fv, "Download_Username"),
        element_text(&fv, "Download_Password"),
    ));
    for ((path, user, password), mac) in
        issued
            .iter()
            .zip(["002699aabb01", "000b82aabbcc", "0c383e07e16c"])
    {
        // User name = the MAC.
        assert_eq!(user, mac);
        assert!(password.len() == 20 && password.bytes().all(|b| b.is_ascii_hexdigit()));
        // Over HTTPS the file needs them, and they open it.
        assert_eq!(https(&server, path, &[]).status, 401, "{path}");
        let own = format!("{user}:{password}");
        let full = https(&server, path, &["--digest", "-u", &own]);
        assert_eq!(full.status, 200, "{path}");
        // The full file hands out the same ones.
        assert!(full.text().contains(password.as_str()), "{path}");
    }
    // One phone's credentials don't open another's file.
    let (_, user, password) = &issued[0];
    let own = format!("{user}:{password}");
    assert_eq!(
        https(&server, "/cfg000b82aabbcc.xml", &["--digest", "-u", &own]).status,
        401
    );
    let (status, log) = server.stop();
    assert!(status.success());
    for (_, _, password) in &issued {
        assert!(
            !log.contains(password.as_str()),
            "device password in the log"
        );
    }
}

#[test]
fn uploads_are_challenged_like_fetches() {
    let (tmp, data) = imported(&users_csv());
    let cfg = config(tmp.path(), "upload.toml", AUTH_CONFIG);
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let url = format!("{}/0004f2aabbcc-app.log", server.https);
    let cacert = server.cert();
    let put = |extra: &[&str]| {
        let mut args = vec![
            "--cacert",
            cacert.to_str().unwrap(),
            "-X",
            "PUT",
            "--data-binary",
            "boot log line",
        ];
        args.extend_from_slice(extra);
        curl(&url, &args).status
    };
    assert_eq!(put(&[]), 401);
    assert_eq!(put(&["--digest", "-u", "prov:wrong"]), 401);
    let up = format!("prov:{NEW}");
    assert_eq!(put(&["--digest", "-u", &up]), 204);
    let stored = data.join("uploads/0004f2aabbcc/0004f2aabbcc-app.log");
    assert_eq!(std::fs::read_to_string(stored).unwrap(), "boot log line");
    // Authenticated, but not an upload name: still a 405.
    let cfg_put = curl(
        &format!("{}/0004f2aabbcc-phone.cfg", server.https),
        &[
            "--cacert",
            cacert.to_str().unwrap(),
            "-X",
            "PUT",
            "--data-binary",
            "x",
            "--digest",
            "-u",
            &up,
        ],
    );
    assert_eq!(cfg_put.status, 405);
    server.stop();
}

#[test]
fn throttled_source_cannot_parallelise_past_the_delay() {
    // Asserts on answer times of parallel requests.
    let _timed = timed();
    let (tmp, data) = imported(&users_csv());
    let cfg = config(
        tmp.path(),
        "parallel.toml",
        "[policy.misses]\nthrottle_after = 2\nthrottle_delay_ms = 1500\nban_after = 100\n",
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    for i in 0..2 {
        assert_eq!(
            timed_get(&server, &format!("/805ec00000{i:02}.cfg"), &[]).0,
            404
        );
    }
    let url = format!("{}/805ec0123456.cfg", server.http);
    let answers: Vec<(u16, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let t = Instant::now();
                    (curl_full(&url, &["-A", UA]).status, t.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let served: Vec<_> = answers.iter().filter(|(s, _)| *s == 200).collect();
    let turned_away: Vec<_> = answers.iter().filter(|(s, _)| *s == 404).collect();
    assert_eq!(served.len(), 2, "{answers:?}");
    assert!(
        served
            .iter()
            .all(|(_, d)| *d >= Duration::from_millis(1500))
    );
    assert_eq!(turned_away.len(), 4, "{answers:?}");
    assert!(
        turned_away
            .iter()
            .all(|(_, d)| *d < Duration::from_millis(1000))
    );
    server.stop();
}
