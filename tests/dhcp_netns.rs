//! `serve --dhcp` in options-only mode against a real client, in two network
//! namespaces this test creates (test-peers.md §1–2): scapy impersonates
//! phones of each vendor and reads the options from the raw reply frame.
//!
//! Skips with a message where namespaces or scapy are unavailable, except
//! under CI=true, where that is a failure (.ci/run installs what it needs).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_autoprov");
const URL: &str = "http://10.99.0.1:8080/";

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skips (returns `None` after saying why), or fails under CI.
fn unavailable<T>(why: &str) -> Option<T> {
    assert!(!ci(), "CI=true but {why}");
    eprintln!("SKIP dhcp_netns: {why}");
    None
}

fn ip(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("ip").args(args).output()
}

/// Two namespaces joined by a veth pair; removed on drop, whatever happens.
struct Netns {
    srv: String,
    phone: String,
    srv_if: String,
    phone_if: String,
}

impl Netns {
    fn up() -> Option<Netns> {
        let id = std::process::id();
        let n = Netns {
            srv: format!("apdhcp{id}s"),
            phone: format!("apdhcp{id}p"),
            // Interface names: at most 15 bytes, unique per run.
            srv_if: format!("aps{}", id % 1_000_000),
            phone_if: format!("app{}", id % 1_000_000),
        };
        match ip(&["netns", "add", &n.srv]) {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return unavailable(&format!(
                    "`ip netns add` failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => return unavailable(&format!("cannot run `ip`: {e}")),
        }
        // From here on, drop cleans up.
        let steps: [&[&str]; 8] = [
            &["netns", "add", &n.phone],
            &[
                "link",
                "add",
                &n.srv_if,
                "netns",
                &n.srv,
                "type",
                "veth",
                "peer",
                "name",
                &n.phone_if,
                "netns",
                &n.phone,
            ],
            &["-n", &n.srv, "link", "set", "lo", "up"],
            &["-n", &n.phone, "link", "set", "lo", "up"],
            &[
                "-n",
                &n.srv,
                "addr",
                "add",
                "10.99.0.1/24",
                "dev",
                &n.srv_if,
            ],
            &["-n", &n.srv, "link", "set", &n.srv_if, "up"],
            &[
                "-n",
                &n.phone,
                "addr",
                "add",
                "10.99.0.50/24",
                "dev",
                &n.phone_if,
            ],
            &["-n", &n.phone, "link", "set", &n.phone_if, "up"],
        ];
        for step in steps {
            let o = ip(step).expect("run ip");
            assert!(
                o.status.success(),
                "ip {step:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        Some(n)
    }

    fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.srv, &self.phone] {
            // Only processes inside our own namespaces, by pid.
            if let Ok(o) = ip(&["netns", "pids", ns]) {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// The scapy venv: $AUTOPROV_SCAPY_PYTHON, else target/scapy-venv (made
/// here on first use and kept, like .ci/run does).
fn scapy_python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("AUTOPROV_SCAPY_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scapy-venv");
    let python = venv.join("bin/python");
    let has_scapy = |p: &Path| {
        Command::new(p)
            .args(["-c", "import scapy.all"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has_scapy(&python) {
        return Some(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(&python)
            .args(["-m", "pip", "install", "-q", "scapy"])
            .status()
            .is_ok_and(|s| s.success());
    if made && has_scapy(&python) {
        Some(python)
    } else {
        unavailable("no scapy venv (python3 -m venv + pip install scapy failed)")
    }
}

/// `autoprov serve --dhcp` inside the server namespace; killed on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(n: &Netns, data: &Path) -> Serve {
    let mut child = n
        .exec(&n.srv)
        .arg(BIN)
        .arg("--data")
        .arg(data)
        .args(["serve", "--http", "0.0.0.0:8080", "--https", "0.0.0.0:8443"])
        .args(["--admin", "127.0.0.1:0"])
        .args(["--dhcp", &n.srv_if])
        .env("RUST_LOG", "autoprov=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn autoprov serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[serve] {line}");
            let _ = tx.send(line);
        }
    });
    let server = Serve(child);
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) if l.contains("DHCP listening on") => break,
            Ok(l) => assert!(!l.starts_with("autoprov: ") || !l.contains("cannot"), "{l}"),
            Err(_) => panic!("autoprov serve --dhcp did not start"),
        }
    }
    server
}

/// One impersonated phone; the reply's options by code, as hex.
fn phone(
    n: &Netns,
    python: &Path,
    mac: &str,
    kind: &str,
    class: &[u8],
    ciaddr: &str,
    wait: &str,
) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dhcp/scapy_phone.py");
    let out = n
        .exec(&n.phone)
        .arg(python)
        .arg(script)
        .args([&n.phone_if, mac, kind, &hex(class), ciaddr, wait])
        .output()
        .expect("run scapy");
    assert!(
        out.status.success(),
        "scapy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Asserts an ACK carrying exactly these provisioning options.
fn assert_ack(reply: &Value, expect: &[(&str, Vec<u8>)], dst: &str) {
    let r = &reply["reply"];
    assert_eq!(r["type"], 5, "a DHCPACK: {reply}");
    assert_eq!(r["dst"], dst, "{reply}");
    assert_eq!(r["yiaddr"], "0.0.0.0", "INFORM answers give no address");
    let opts = &r["options"];
    assert_eq!(opts["54"], hex(&[10, 99, 0, 1]), "server id: {reply}");
    assert!(opts.get("51").is_none(), "no lease time: {reply}");
    for code in ["66", "67", "150", "160", "43"] {
        let want = expect.iter().find(|(c, _)| *c == code).map(|(_, v)| hex(v));
        assert_eq!(
            opts.get(code).and_then(Value::as_str),
            want.as_deref(),
            "option {code}: {reply}"
        );
    }
}

#[test]
fn options_only_answers_informs_per_vendor_and_never_offers() {
    let Some(n) = Netns::up() else { return };
    let Some(python) = scapy_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let _server = start_server(&n, &dir.path().join("data"));
    let url = URL.as_bytes().to_vec();
    let bcast = "255.255.255.255";

    // Locally administered MACs: no OUI, so only option 60 decides.
    let y = phone(
        &n,
        &python,
        "02:00:00:00:00:01",
        "inform",
        b"yealink",
        "0.0.0.0",
        "4",
    );
    assert_ack(&y, &[("66", url.clone())], bcast);

    // Polycom's binary RFC 3925 class: enterprise 13885, sub-options.
    let mut poly = vec![0, 0, 0x36, 0x3d];
    let mut body = vec![1, 7];
    body.extend_from_slice(b"Polycom");
    body.extend_from_slice(&[2, 11]);
    body.extend_from_slice(b"VVX-VVX_411");
    body.push(0xff);
    poly.push(body.len() as u8);
    poly.extend_from_slice(&body);
    let p = phone(
        &n,
        &python,
        "02:00:00:00:00:02",
        "inform",
        &poly,
        "0.0.0.0",
        "4",
    );
    assert_ack(&p, &[("66", url.clone()), ("160", url.clone())], bcast);

    let c = phone(
        &n,
        &python,
        "02:00:00:00:00:03",
        "inform",
        b"Cisco Systems, Inc. IP Phone CP-8841-3PCC\0",
        "0.0.0.0",
        "4",
    );
    assert_ack(
        &c,
        &[
            ("66", url.clone()),
            ("150", vec![10, 99, 0, 1]),
            ("160", url.clone()),
        ],
        bcast,
    );

    let g = phone(
        &n,
        &python,
        "02:00:00:00:00:04",
        "inform",
        b"Grandstream GXP2170",
        "0.0.0.0",
        "4",
    );
    assert_ack(&g, &[("66", url.clone()), ("43", url.clone())], bcast);

    // No option 60: the Snom OUI decides; the client has an address, so
    // the answer is unicast to it (RFC 2131 §4.3.5).
    let s = phone(
        &n,
        &python,
        "00:04:13:aa:bb:cc",
        "inform",
        b"",
        "10.99.0.50",
        "4",
    );
    assert_ack(
        &s,
        &[("66", url.clone()), ("67", b"{phone_type}.htm".to_vec())],
        "10.99.0.50",
    );

    // Options-only never offers an address.
    let d = phone(
        &n,
        &python,
        "80:5e:c0:12:34:56",
        "discover",
        b"yealink",
        "0.0.0.0",
        "3",
    );
    assert!(d["reply"].is_null(), "DISCOVER got an answer: {d}");
}
