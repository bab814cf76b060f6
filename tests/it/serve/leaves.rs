//! The local CA's two server certificates as real clients see them
//! (`openssl s_client`): RSA for a client that offers only RSA signature
//! schemes, ECDSA for everyone else, both verifying against `ca.pem`; and
//! renewal while serving, forced by a short `[tls] leaf_lifetime_seconds`
//! or by a new address on the machine (in a network namespace), with the
//! connections already open left alone.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::cli::imported;
use crate::support::fixtures::users_csv;
use crate::support::netns::Netns;
use crate::support::server::Server;
use crate::support::timed;
use crate::support::tls::{openssl_text, openssl_x509, pem_blocks};

/// What an RSA-only TLS stack offers (older phone firmware).
const RSA_SIGALGS: &str = "RSA-PSS+SHA256:RSA+SHA256:RSA-PSS+SHA384:RSA+SHA384";
const ECDSA_SIGALGS: &str = "ECDSA+SHA256:ECDSA+SHA384";

/// A request that closes the connection after its answer.
const GET_CA: &str = "GET /ca.pem HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

/// One finished `openssl s_client` run.
struct Handshake {
    /// The arguments after `s_client`, for messages.
    args: Vec<String>,
    out: String,
}

impl Handshake {
    /// The certificate the server sent first.
    fn leaf(&self) -> String {
        pem_blocks(&self.out).into_iter().next().unwrap_or_else(|| {
            panic!(
                "no certificate from s_client {:?}:\n{}",
                self.args, self.out
            )
        })
    }

    /// `Verify return code: 0 (ok)` (with `-verify_return_error` a failure
    /// aborts the handshake, and this is not printed).
    fn assert_verified(&self) {
        assert!(
            self.out.contains("Verify return code: 0 (ok)"),
            "s_client {:?} did not verify:\n{}",
            self.args,
            self.out
        );
    }

    /// The negotiated protocol, from s_client's `New, TLSv1.3, Cipher is
    /// ...` line.
    fn protocol(&self) -> String {
        self.out
            .lines()
            .find_map(|l| l.strip_prefix("New, ")?.split(',').next())
            .unwrap_or_else(|| panic!("no protocol in {}", self.out))
            .to_string()
    }
}

/// `openssl s_client -connect AUTHORITY -CAfile CA -verify_return_error
/// EXTRA...` (run by `wrap` when given), `input` on stdin, then EOF.
fn s_client(
    wrap: Option<Command>,
    authority: &str,
    ca: &Path,
    extra: &[&str],
    input: &str,
) -> Handshake {
    let mut cmd = wrap.unwrap_or_else(|| Command::new("openssl"));
    if cmd.get_program() != "openssl" {
        cmd.arg("openssl");
    }
    let mut args: Vec<String> = ["s_client", "-connect", authority, "-CAfile"]
        .map(String::from)
        .to_vec();
    args.push(ca.to_str().expect("utf-8 path").to_string());
    args.push("-verify_return_error".into());
    args.extend(extra.iter().map(|s| s.to_string()));
    if !input.is_empty() {
        // Keep reading after stdin's EOF until the server closes.
        args.push("-ign_eof".into());
    }
    let mut child = cmd
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to s_client");
    let out = child.wait_with_output().expect("s_client ran");
    Handshake {
        args,
        out: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    }
}

/// `openssl x509 -noout -serial -enddate` of a PEM certificate.
fn serial_and_end(pem: &str) -> String {
    openssl_x509(pem.as_bytes(), &["-noout", "-serial", "-enddate"])
}

/// The public key algorithm and size line of a certificate's text.
fn key_kind(pem: &str) -> &'static str {
    let text = openssl_text(pem);
    if text.contains("Public Key Algorithm: rsaEncryption") {
        assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
        "RSA"
    } else if text.contains("Public Key Algorithm: id-ecPublicKey") {
        assert!(text.contains("NIST CURVE: P-256"), "{text}");
        "ECDSA"
    } else {
        panic!("neither RSA nor ECDSA:\n{text}")
    }
}

fn authority(server: &Server) -> String {
    server.https.trim_start_matches("https://").to_string()
}

#[test]
fn rsa_only_clients_get_the_rsa_leaf_everyone_else_the_ecdsa_one() {
    let (_tmp, data) = imported(&users_csv());
    let server = Server::start(&data, &[], &[]);
    let (at, ca) = (authority(&server), server.cert());
    // (s_client options, leaf expected, protocol expected)
    let cases: [(&[&str], &str, &str); 7] = [
        (&["-sigalgs", RSA_SIGALGS], "RSA", "TLSv1.3"),
        (&["-tls1_2", "-sigalgs", RSA_SIGALGS], "RSA", "TLSv1.2"),
        // Only ECDHE-RSA suites (default signature schemes): TLS 1.2 ties
        // the certificate to the suite.
        (
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
            "RSA",
            "TLSv1.2",
        ),
        (&["-sigalgs", ECDSA_SIGALGS], "ECDSA", "TLSv1.3"),
        (&["-tls1_2", "-sigalgs", ECDSA_SIGALGS], "ECDSA", "TLSv1.2"),
        (&[], "ECDSA", "TLSv1.3"),
        (&["-tls1_2"], "ECDSA", "TLSv1.2"),
    ];
    let mut leaves = Vec::new();
    for (extra, kind, protocol) in cases {
        let h = s_client(None, &at, &ca, extra, "");
        h.assert_verified();
        assert_eq!(key_kind(&h.leaf()), kind, "{extra:?}:\n{}", h.out);
        assert_eq!(h.protocol(), protocol, "{extra:?}");
        if kind == "RSA" {
            assert!(h.out.contains("Peer signature type: RSA"), "{}", h.out);
        } else {
            assert!(h.out.contains("Peer signature type: ECDSA"), "{}", h.out);
        }
        leaves.push((kind, h.leaf()));
    }
    // Two leaves only, each the one in <data>/certs, both under ca.pem.
    let file_leaf = |f: &str| {
        pem_blocks(&std::fs::read_to_string(data.join("certs").join(f)).unwrap())[0].clone()
    };
    for (kind, leaf) in &leaves {
        let want = if *kind == "RSA" {
            "server-rsa.pem"
        } else {
            "server.pem"
        };
        assert_eq!(leaf, &file_leaf(want), "{kind}");
    }
    // A whole request over an RSA-only TLS 1.2 session.
    let h = s_client(
        None,
        &at,
        &ca,
        &["-tls1_2", "-sigalgs", RSA_SIGALGS],
        GET_CA,
    );
    h.assert_verified();
    assert!(h.out.contains("HTTP/1.1 200 OK"), "{}", h.out);
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    assert!(h.out.contains(ca_pem.trim()), "{}", h.out);
    let log = server.stop_ok();
    assert!(!log.contains("PRIVATE KEY"), "{log}");
}

/// An `openssl s_client` kept open: HTTP/1.1 requests written to it one by
/// one, its output read as it comes.
struct OpenConnection {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: String,
}

impl OpenConnection {
    fn open(authority: &str, ca: &Path) -> OpenConnection {
        let mut child = Command::new("openssl")
            .args(["s_client", "-connect", authority, "-CAfile"])
            .arg(ca)
            .args(["-verify_return_error", "-ign_eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_client runs");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut c = OpenConnection {
            child,
            stdin,
            lines,
            seen: String::new(),
        };
        c.wait_for("Verify return code: 0 (ok)", 1);
        c
    }

    /// Reads until `needle` has been seen `count` times in all.
    fn wait_for(&mut self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.seen.matches(needle).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                Err(_) => panic!("waited for {needle:?} x{count}:\n{}", self.seen),
            }
        }
    }

    /// Sends the `n`th request (1-based) and waits for its answer.
    fn request(&mut self, n: usize) {
        let req = "GET /ca.pem HTTP/1.1\r\nHost: localhost\r\n\r\n";
        self.stdin.write_all(req.as_bytes()).expect("write request");
        self.stdin.flush().expect("flush");
        self.wait_for("HTTP/1.1 200 OK", n);
        self.wait_for("-----END CERTIFICATE-----", n + 1);
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn leaves_are_renewed_while_serving_and_open_connections_keep_theirs() {
    let _timed = timed();
    let (tmp, data) = imported(&users_csv());
    let config = tmp.path().join("autoprov.toml");
    // Renewed 16 s into a 24 s life: checked every 2 s.
    std::fs::write(&config, "[tls]\nleaf_lifetime_seconds = 24\n").unwrap();
    let server = Server::start(&data, &["--config", config.to_str().unwrap()], &[]);
    let (at, ca) = (authority(&server), server.cert());
    let ca_before = std::fs::read_to_string(&ca).unwrap();

    let first = s_client(None, &at, &ca, &[], "");
    first.assert_verified();
    let first_rsa = s_client(None, &at, &ca, &["-sigalgs", RSA_SIGALGS], "");
    first_rsa.assert_verified();
    assert_eq!(key_kind(&first_rsa.leaf()), "RSA");

    // A keep-alive connection, opened on the first leaves.
    let mut open = OpenConnection::open(&at, &ca);
    assert_eq!(pem_blocks(&open.seen)[0], first.leaf());
    open.request(1);
    assert!(
        !server.log().contains("issued a new server certificate"),
        "renewed before the test got its first leaves (machine too slow for a 24 s life):\n{}",
        server.log()
    );

    // Requests on it every 3 s (under the idle limit) until the renewal.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut n = 1;
    while !server
        .log()
        .contains("serving the renewed server certificates")
    {
        assert!(Instant::now() < deadline, "no renewal:\n{}", server.log());
        std::thread::sleep(Duration::from_secs(3));
        n += 1;
        open.request(n);
    }
    let log = server.log();
    assert!(log.contains("issued a new server certificate"), "{log}");
    assert!(
        log.contains("ECDSA P-256") && log.contains("RSA-2048"),
        "{log}"
    );
    assert!(log.contains("it expires in"), "{log}");

    // New handshakes get new leaves, from the same CA.
    let second = s_client(None, &at, &ca, &[], "");
    second.assert_verified();
    let second_rsa = s_client(None, &at, &ca, &["-sigalgs", RSA_SIGALGS], "");
    second_rsa.assert_verified();
    assert_eq!(key_kind(&second.leaf()), "ECDSA");
    assert_eq!(key_kind(&second_rsa.leaf()), "RSA");
    for (old, new) in [(&first, &second), (&first_rsa, &second_rsa)] {
        let (old, new) = (serial_and_end(&old.leaf()), serial_and_end(&new.leaf()));
        let serial = |s: &str| s.lines().next().unwrap_or_default().to_string();
        let end = |s: &str| s.lines().nth(1).unwrap_or_default().to_string();
        assert_ne!(serial(&old), serial(&new), "{old} / {new}");
        assert_ne!(end(&old), end(&new), "{old} / {new}");
    }
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), ca_before);
    assert_eq!(server.get_http("/ca.pem", None).text(), ca_before);

    // The connection opened before still answers, on its old session.
    open.request(n + 1);
    assert_eq!(pem_blocks(&open.seen)[0], first.leaf());
    drop(open);
    let log = server.stop_ok();
    assert!(!log.contains("PRIVATE KEY"), "{log}");
}

/// The machine gains an address while serving: within a check (10 s at
/// this lifetime) both leaves are re-issued to name it. In a network
/// namespace of the test's own (needs root; skipped without, except
/// under CI=true).
#[test]
fn a_new_address_on_the_machine_reissues_the_leaves() {
    let Some(ns) = Netns::up(None) else {
        return;
    };
    let (tmp, data) = imported(&users_csv());
    let config = tmp.path().join("autoprov.toml");
    std::fs::write(&config, "[tls]\nleaf_lifetime_seconds = 3600\n").unwrap();
    let server = Server::start_in(
        ns.exec(&ns.srv),
        &data,
        &["--config", config.to_str().unwrap()],
        &[],
    );
    let (at, ca) = (authority(&server), server.cert());
    let inside = || Some(ns.exec(&ns.srv));
    let before = s_client(inside(), &at, &ca, &[], "");
    before.assert_verified();
    let text = openssl_text(&before.leaf());
    assert!(text.contains("IP Address:10.99.0.1"), "{text}");
    assert!(!text.contains("192.0.2.55"), "{text}");

    // TEST-NET-1, on the namespace's own interface only.
    let added = crate::support::netns::ip(&[
        "-n",
        &ns.srv,
        "addr",
        "add",
        "192.0.2.55/24",
        "dev",
        &ns.srv_if,
    ])
    .expect("run ip");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    while !server
        .log()
        .contains("serving the renewed server certificates")
    {
        assert!(Instant::now() < deadline, "no renewal:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(250));
    }
    let log = server.log();
    assert_eq!(
        log.matches("it does not name 192.0.2.55").count(),
        2,
        "{log}"
    );

    // Each leaf now verifies for the new address (the listener is on
    // loopback; -verify_ip checks the certificate's IP SANs).
    for (extra, kind) in [(&[][..], "ECDSA"), (&["-sigalgs", RSA_SIGALGS][..], "RSA")] {
        let args = [&["-verify_ip", "192.0.2.55"][..], extra].concat();
        let h = s_client(inside(), &at, &ca, &args, GET_CA);
        h.assert_verified();
        assert_eq!(key_kind(&h.leaf()), kind);
        assert!(h.out.contains("HTTP/1.1 200 OK"), "{}", h.out);
    }
    drop(server);
    drop(ns);
}
