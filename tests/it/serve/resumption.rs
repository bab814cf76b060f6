//! TLS session resumption on the phone listener, with openssl s_client
//! saving a session (`-sess_out`) and offering it again (`-sess_in`):
//! TLS 1.3 and TLS 1.2 resume by default and not when switched off, and a
//! resumed mutual-TLS session keeps the identity it was made with — it
//! fetches its own phone's file and still cannot fetch another phone's.
//! And the handshake limiter: clients that stall cannot hold it for long.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::cli::{create_token, imported};
use crate::support::fixtures::{UA, users_csv};
use crate::support::server::{Server, api};
use crate::support::tls::{make_ca, make_cert};

/// Alice's Yealink (the phone certificate names it) and Bob's Polycom.
const ALICE: &str = "/805ec0123456.cfg";
const BOB: &str = "/0004f2aabbcc.cfg";

/// What one s_client connection saw: whether the session was resumed, and
/// the HTTP status of the one request it sent.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    reused: bool,
    status: u16,
}

/// One connection: `GET path`, saving the session to `sess` (and offering
/// it first when `resume`), with a client certificate when `cert` names one.
fn s_client(
    server: &Server,
    version: &str,
    sess: &Path,
    resume: bool,
    cert: Option<(&Path, &str)>,
    path: &str,
) -> Seen {
    let port = server
        .https
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/');
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .arg(version)
        .arg("-CAfile")
        .arg(server.cert())
        .arg("-sess_out")
        .arg(sess)
        .arg("-ign_eof");
    if resume {
        cmd.arg("-sess_in").arg(sess);
    }
    if let Some((dir, name)) = cert {
        cmd.arg("-cert")
            .arg(dir.join(format!("{name}.crt")))
            .arg("-key")
            .arg(dir.join(format!("{name}.key")));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: prov\r\nUser-Agent: {UA}\r\nConnection: close\r\n\r\n"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let reused = text.lines().any(|l| l.starts_with("Reused,"));
    assert!(
        reused || text.lines().any(|l| l.starts_with("New,")),
        "no handshake line from s_client: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // s_client prints the session tickets that arrive after the handshake
    // in the middle of the response, so the status line is searched for.
    let status = text
        .find("HTTP/1.1 ")
        .and_then(|i| text.get(i + 9..i + 12))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in: {text}"));
    Seen { reused, status }
}

fn write_config(dir: &Path, text: &str) -> String {
    let p = dir.join("resumption.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn tls13_and_tls12_sessions_resume_unless_switched_off() {
    let (tmp, data) = imported(&users_csv());
    let server = Server::start(&data, &[], &[]);
    for version in ["-tls1_3", "-tls1_2"] {
        let sess = tmp.path().join(format!("sess{version}.pem"));
        let first = s_client(&server, version, &sess, false, None, "/y000000000096.cfg");
        assert_eq!(
            first,
            Seen {
                reused: false,
                status: 200
            },
            "{version}"
        );
        let again = s_client(&server, version, &sess, true, None, "/y000000000096.cfg");
        assert_eq!(
            again,
            Seen {
                reused: true,
                status: 200
            },
            "{version} resumes"
        );
    }
    let token = create_token(&data, "metrics");
    let metrics = api(&server, "GET", "/metrics", Some(&token), &[]).text();
    assert!(
        metrics.contains("autoprov_tls_handshakes_total{kind=\"resumed\"} 2"),
        "{metrics}"
    );
    server.stop();

    let cfg = write_config(tmp.path(), "[tls]\nsession_resumption = false\n");
    let server = Server::start(&data, &["--config", &cfg], &[]);
    for version in ["-tls1_3", "-tls1_2"] {
        let sess = tmp.path().join(format!("off{version}.pem"));
        s_client(&server, version, &sess, false, None, "/y000000000096.cfg");
        if !sess.exists() {
            // No ticket and no session ID: nothing a client could offer.
            continue;
        }
        let again = s_client(&server, version, &sess, true, None, "/y000000000096.cfg");
        assert_eq!(
            again,
            Seen {
                reused: false,
                status: 200
            },
            "{version} off"
        );
    }
    server.stop();
}

#[test]
fn a_resumed_mutual_tls_session_keeps_its_phone_and_only_its_phone() {
    let (tmp, data) = imported(&users_csv());
    let pki = tmp.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_ca(&pki);
    make_cert(
        &pki,
        "phone",
        "/O=Yealink/CN=805ec0123456",
        &["extendedKeyUsage=clientAuth"],
    );
    let cfg = write_config(
        tmp.path(),
        &format!(
            "[tls]\nclient_ca = {:?}\n",
            pki.join("ca.crt").to_str().unwrap()
        ),
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let phone = Some((pki.as_path(), "phone"));
    for version in ["-tls1_3", "-tls1_2"] {
        let sess = tmp.path().join(format!("mtls{version}.pem"));
        // Full handshakes first: what the certificate may and may not fetch.
        let own = s_client(&server, version, &sess, false, phone, ALICE);
        assert_eq!(
            own,
            Seen {
                reused: false,
                status: 200
            },
            "{version}"
        );
        let other = s_client(
            &server,
            version,
            &tmp.path().join("x.pem"),
            false,
            phone,
            BOB,
        );
        assert!(!other.reused && other.status != 200, "{version}: {other:?}");
        // Resumed without sending the certificate again: the session's
        // identity is the one it was made with, no more.
        let again = s_client(&server, version, &sess, true, None, ALICE);
        assert_eq!(
            again,
            Seen {
                reused: true,
                status: 200
            },
            "{version}"
        );
        let resumed_other = s_client(&server, version, &sess, true, None, BOB);
        assert_eq!(
            resumed_other,
            Seen {
                reused: true,
                status: other.status
            },
            "{version}: a resumed session fetched another phone's file"
        );
        // A session made without a certificate gains nothing by resuming.
        let anon = tmp.path().join(format!("anon{version}.pem"));
        let first = s_client(&server, version, &anon, false, None, ALICE);
        assert_ne!(first.status, 200, "{version}");
        let resumed = s_client(&server, version, &anon, true, None, ALICE);
        assert_eq!(
            resumed,
            Seen {
                reused: true,
                status: first.status
            },
            "{version}"
        );
    }
    server.stop();
}

/// The first flight openssl sends (its ClientHello), caught by a listener
/// of our own, to replay from a client that then goes silent.
fn client_hello() -> Vec<u8> {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-tls1_3",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client");
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut hello = vec![0u8; 4096];
    let n = conn.read(&mut hello).unwrap();
    hello.truncate(n);
    let _ = child.kill();
    let _ = child.wait();
    hello
}

#[test]
fn stalled_handshakes_do_not_hold_the_listener() {
    let (tmp, data) = imported(&users_csv());
    let cfg = write_config(tmp.path(), "[tls]\nhandshake_concurrency = 1\n");
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let addr = server
        .https
        .trim_start_matches("https://")
        .trim_end_matches('/');
    // Connections that never say hello take no place at all; one that
    // says hello and then nothing holds the only place for a few seconds
    // at most.
    let silent: Vec<_> = (0..20)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let mut stalled = std::net::TcpStream::connect(addr).unwrap();
    stalled.write_all(&client_hello()).unwrap();
    let start = std::time::Instant::now();
    let got = server.get_https("/y000000000096.cfg", Some(UA));
    let took = start.elapsed();
    assert_eq!(got.status, 200);
    assert!(
        took < std::time::Duration::from_secs(6),
        "a stalled handshake held the listener for {took:?}"
    );
    drop((silent, stalled));
    server.stop();
}
