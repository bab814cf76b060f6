//! The TFTP listener (`serve --tftp`, docs/tftp.md) against real clients on
//! loopback: tftp-hpa's `tftp`, `atftp`, busybox `tftp` and `curl tftp://`
//! (docs/reference/test-peers.md §3 for their exit codes and traps). Each
//! gets the same bootstrap bytes `curl http://` gets; block sizes 512, 1428
//! and 8192; a firmware image past the block-number rollover; an ACK
//! dropped by a relay in the test and recovered by the server's
//! retransmission; writes, unknown files and sources outside the
//! allow-list refused; SIP passwords only with the opt-in; each fetch
//! recorded as `tftp` in the phone's history (the admin API's view); and
//! `[tftp] tries` taken from the config.
//!
//! Skips with a message where a client is missing, except under CI=true,
//! where that is a failure (.ci/run installs them).

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use serde_json::{Value, json};

use crate::support::cli::{create_token, imported};
use crate::support::fixtures::{UA, users_csv};
use crate::support::heavy;
use crate::support::server::{Server, api, curl};
use crate::support::tools::{find_in, unavailable};

/// Alice's Yealink in examples/users.csv: its per-MAC file is the bootstrap
/// over a plain transport.
const MAC_FILE: &str = "805ec0123456.cfg";
const ALICE_SIP_PASSWORD: &str = "Alice-Sip-2024-xyz";

/// The four clients, or `None` (skip) when one is missing outside CI.
fn clients() -> Option<()> {
    for name in ["tftp", "atftp", "busybox", "curl"] {
        if find_in(&["/usr/bin", "/bin", "/usr/sbin"], name).is_none() {
            return unavailable(&format!(
                "{name} is not installed (apt-get install tftp-hpa atftp busybox curl)"
            ));
        }
    }
    Some(())
}

/// The TFTP address from the server's `listening on tftp://` line.
fn tftp_addr(server: &Server) -> SocketAddr {
    let log = server.log();
    let line = log
        .lines()
        .find_map(|l| l.strip_prefix("autoprov: listening on tftp://"))
        .unwrap_or_else(|| panic!("no TFTP listener in the log:\n{log}"));
    line.trim().parse().expect("TFTP address")
}

/// A served store of examples/users.csv with TFTP on an ephemeral port.
fn start(global: &[&str], extra: &[&str]) -> (tempfile::TempDir, Server, SocketAddr) {
    let (tmp, data) = imported(&users_csv());
    let mut args = vec!["--tftp", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let server = Server::start(&data, global, &args);
    let addr = tftp_addr(&server);
    (tmp, server, addr)
}

/// How a client fetches a file: the program and its arguments, given the
/// remote name, local file, host and port.
#[derive(Debug, Clone, Copy)]
enum Client {
    /// tftp-hpa: no RFC 2347 options; `-m binary` (its default is netascii).
    Hpa,
    /// tftp-hpa in netascii, its default mode.
    HpaNetascii,
    Atftp(Option<u32>),
    Busybox(Option<u32>),
    Curl(Option<u32>),
}

impl Client {
    fn get(self, name: &str, out: &Path, addr: SocketAddr) -> Output {
        let (host, port) = (addr.ip().to_string(), addr.port().to_string());
        let out = out.to_str().expect("utf-8");
        let mut c;
        match self {
            Client::Hpa | Client::HpaNetascii => {
                let mode = if matches!(self, Client::Hpa) {
                    "binary"
                } else {
                    "ascii"
                };
                c = Command::new("tftp");
                c.args(["-m", mode, &host, &port, "-c", "get", name, out]);
            }
            Client::Atftp(blk) => {
                c = Command::new("atftp");
                if let Some(b) = blk {
                    c.args(["--option", &format!("blksize {b}"), "--option", "tsize 0"]);
                }
                c.args(["--get", "-r", name, "-l", out, &host, &port]);
            }
            Client::Busybox(blk) => {
                c = Command::new("busybox");
                c.arg("tftp");
                if let Some(b) = blk {
                    c.args(["-b", &b.to_string()]);
                }
                c.args(["-g", "-r", name, "-l", out, &host, &port]);
            }
            Client::Curl(blk) => {
                c = Command::new("curl");
                c.args(["-sS", "--max-time", "120", "-o", out]);
                if let Some(b) = blk {
                    c.args(["--tftp-blksize", &b.to_string()]);
                }
                c.arg(format!("tftp://{host}:{port}/{name}"));
            }
        }
        c.output().expect("run the TFTP client")
    }

    fn put(self, file: &Path, addr: SocketAddr) -> Output {
        let (host, port) = (addr.ip().to_string(), addr.port().to_string());
        let local = file.to_str().expect("utf-8");
        let mut c;
        match self {
            Client::Hpa | Client::HpaNetascii => {
                c = Command::new("tftp");
                c.args(["-m", "binary", &host, &port, "-c", "put", local, "up.cfg"]);
            }
            Client::Atftp(_) => {
                c = Command::new("atftp");
                c.args(["--put", "-r", "up.cfg", "-l", local, &host, &port]);
            }
            Client::Busybox(_) => {
                c = Command::new("busybox");
                c.args(["tftp", "-p", "-r", "up.cfg", "-l", local, &host, &port]);
            }
            Client::Curl(_) => {
                c = Command::new("curl");
                c.args(["-sS", "--max-time", "20", "-T", local]);
                c.arg(format!("tftp://{host}:{port}/up.cfg"));
            }
        }
        c.output().expect("run the TFTP client")
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The exit code each client gives on a TFTP error (test-peers.md §3):
/// tftp-hpa exits 0 and says so on stderr; curl's code names the error.
fn refused(client: Client, o: &Output, message: &str) {
    // curl maps the TFTP error code: 1 → 68, 2 → 69.
    let curl_code = if message == "File not found" { 68 } else { 69 };
    let all = text(o);
    let code = o.status.code();
    match client {
        Client::Hpa | Client::HpaNetascii => {
            assert_eq!(code, Some(0), "{all}");
            assert!(
                all.contains(message),
                "tftp-hpa should print {message:?}: {all}"
            );
        }
        Client::Atftp(_) => {
            assert_eq!(code, Some(255), "{all}");
            assert!(
                all.contains(message),
                "atftp should print {message:?}: {all}"
            );
        }
        Client::Busybox(_) => {
            assert_eq!(code, Some(1), "{all}");
            assert!(
                all.contains(message),
                "busybox should print {message:?}: {all}"
            );
        }
        Client::Curl(_) => assert_eq!(code, Some(curl_code), "{all}"),
    }
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read");
    hex::encode(Sha256::digest(&bytes))
}

#[test]
fn every_client_gets_the_http_bootstrap_bytes() {
    let Some(()) = clients() else { return };
    let (_tmp, server, addr) = start(&[], &[]);
    let http = curl(&format!("{}/{MAC_FILE}", server.http), &[]);
    assert_eq!(http.status, 200);
    let want = http.body;
    assert!(!want.is_empty());
    assert!(
        !String::from_utf8_lossy(&want).contains(ALICE_SIP_PASSWORD),
        "the plain bootstrap carries no SIP password"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        Client::Hpa,
        Client::HpaNetascii,
        Client::Atftp(None),
        Client::Atftp(Some(512)),
        Client::Atftp(Some(1428)),
        Client::Atftp(Some(8192)),
        Client::Busybox(None),
        Client::Busybox(Some(1428)),
        Client::Busybox(Some(8192)),
        Client::Curl(None),
        Client::Curl(Some(1428)),
        Client::Curl(Some(8192)),
    ];
    for (i, client) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("got{i}"));
        let o = client.get(MAC_FILE, &out, addr);
        assert!(o.status.success(), "{client:?}: {}", text(&o));
        let got = std::fs::read(&out).unwrap_or_default();
        assert!(
            got == want,
            "{client:?}: {} bytes, not the {} HTTP serves",
            got.len(),
            want.len()
        );
    }
    // Negotiated as asked (atftp's trace shows the OACK), and a window of
    // blocks (RFC 7440) arrives whole.
    let trace = |opts: &[&str], out: &Path| {
        let mut c = Command::new("atftp");
        c.arg("--trace");
        for o in opts {
            c.args(["--option", o]);
        }
        c.args(["--get", "-r", MAC_FILE, "-l", out.to_str().expect("utf-8")])
            .args([&addr.ip().to_string(), &addr.port().to_string()]);
        let o = c.output().expect("atftp");
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let out = dir.path().join("traced");
    let t = trace(&["blksize 1428", "tsize 0"], &out);
    let oack = t
        .lines()
        .find(|l| l.contains("received OACK"))
        .unwrap_or_else(|| panic!("no OACK: {t}"));
    assert!(oack.contains("blksize: 1428"), "{oack}");
    assert!(oack.contains(&format!("tsize: {}", want.len())), "{oack}");
    let t = trace(&["windowsize 4", "blksize 256"], &out);
    assert!(t.contains("windowsize: 4"), "{t}");
    assert_eq!(std::fs::read(&out).unwrap_or_default(), want, "windowed");
    // No options asked, no OACK (RFC 2347).
    let t = trace(&[], &out);
    assert!(!t.contains("OACK"), "{t}");

    // Transfers are counted by transport (read through the admin socket,
    // whose file permissions are the authentication there).
    let sock = server.data.join("admin.sock");
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--unix-socket"])
        .arg(&sock)
        .arg("http://localhost/metrics")
        .output()
        .expect("curl");
    let m = String::from_utf8_lossy(&o.stdout);
    assert!(
        m.contains("autoprov_tftp_transfers_total{result=\"sent\",mode=\"octet\"} 14\n"),
        "{m}"
    );
    assert!(
        m.contains("autoprov_tftp_transfers_total{result=\"sent\",mode=\"netascii\"} 1\n"),
        "{m}"
    );
}

#[test]
fn writes_unknown_files_and_outside_sources_are_refused() {
    let Some(()) = clients() else { return };
    let (_tmp, server, addr) = start(&[], &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let up = dir.path().join("up.cfg");
    std::fs::write(&up, "account.1.password = x\n").expect("write");
    let all = [
        Client::Hpa,
        Client::Atftp(None),
        Client::Busybox(None),
        Client::Curl(None),
    ];
    for client in all {
        let o = client.put(&up, addr);
        refused(client, &o, "read-only server");
        let out = dir.path().join("nothing");
        let o = client.get("nothere.cfg", &out, addr);
        refused(client, &o, "File not found");
    }
    assert!(!server.data.join("up.cfg").exists());
    let log = server.log();
    assert!(log.contains("TFTP write refused"), "{log}");

    // A source outside policy.allow: the same "File not found" an unknown
    // name gets (no oracle), logged as the HTTP refusal is.
    let (tmp, data) = imported(&users_csv());
    let cfg = tmp.path().join("autoprov.toml");
    std::fs::write(&cfg, "[policy]\nallow = [\"10.0.0.0/8\"]\n").expect("config");
    let server = Server::start(
        &data,
        &["--config", cfg.to_str().expect("utf-8")],
        &["--tftp", "127.0.0.1:0"],
    );
    let addr = tftp_addr(&server);
    for client in [Client::Atftp(Some(1428)), Client::Curl(None)] {
        let out = dir.path().join("outside");
        let _ = std::fs::remove_file(&out);
        let o = client.get(MAC_FILE, &out, addr);
        refused(client, &o, "File not found");
        let got = std::fs::read(&out).unwrap_or_default();
        assert!(got.is_empty(), "{client:?} got {} bytes", got.len());
    }
    let log = server.log();
    assert!(log.contains("source not in policy.allow"), "{log}");
}

#[test]
fn sip_passwords_only_with_the_plain_transport_opt_in() {
    let Some(()) = clients() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("f");
    let (_tmp, _server, addr) = start(&[], &[]);
    let o = Client::Atftp(Some(1428)).get(MAC_FILE, &out, addr);
    assert!(o.status.success(), "{}", text(&o));
    let body = std::fs::read_to_string(&out).expect("read");
    assert!(!body.contains(ALICE_SIP_PASSWORD), "{body}");
    assert!(
        body.contains("https://"),
        "a bootstrap points at HTTPS: {body}"
    );

    let (_tmp, server, addr) = start(&[], &["--allow-secrets-over-http"]);
    let o = Client::Atftp(Some(1428)).get(MAC_FILE, &out, addr);
    assert!(o.status.success(), "{}", text(&o));
    let body = std::fs::read_to_string(&out).expect("read");
    assert!(body.contains(ALICE_SIP_PASSWORD), "opted in: the full file");
    let http = curl(&format!("{}/{MAC_FILE}", server.http), &[]);
    assert_eq!(
        http.body,
        body.as_bytes(),
        "the same file plain HTTP serves"
    );
}

/// Alice's phone as the admin API shows it: the phone (with its fetch
/// history) and its row in the Phones view's list.
fn alice_phone(server: &Server, token: &str) -> (Value, Value) {
    let mac = MAC_FILE.trim_end_matches(".cfg");
    let one = api(
        server,
        "GET",
        &format!("/api/v1/phones/{mac}?format=json"),
        Some(token),
        &[],
    );
    assert_eq!(one.status, 200, "{}", one.text());
    let list = api(
        server,
        "GET",
        &format!("/api/v1/phones?page=1&q={mac}"),
        Some(token),
        &[],
    );
    assert_eq!(list.status, 200, "{}", list.text());
    let row = list.json()["items"][0].clone();
    assert_eq!(row["mac"], mac, "{}", list.text());
    (one.json(), row)
}

/// A fetch over TFTP is recorded as `tftp` (not plain HTTP) in the phone's
/// fetch history and last fetch, and leaves the phone "bootstrap only" as
/// plain HTTP does; HTTPS and HTTP fetches keep their own names; with the
/// plain-transport opt-in the TFTP fetch provisions the phone.
#[test]
fn fetches_over_tftp_are_recorded_as_tftp() {
    let Some(()) = clients() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("f");
    let (tmp, server, addr) = start(&[], &[]);
    let token = create_token(&tmp.path().join("data"), "tftp");
    let o = Client::Hpa.get(MAC_FILE, &out, addr);
    assert!(o.status.success(), "{}", text(&o));
    let (phone, row) = alice_phone(&server, &token);
    let last = phone["fetches"].as_array().and_then(|f| f.last()).cloned();
    let last = last.unwrap_or_else(|| panic!("no fetch recorded: {phone}"));
    assert_eq!(
        (
            last["channel"].as_str(),
            last["kind"].as_str(),
            last["file"].as_str()
        ),
        (Some("tftp"), Some("bootstrap"), Some(MAC_FILE)),
        "{phone}"
    );
    assert_eq!(phone["last_fetch"]["channel"], "tftp", "{phone}");
    assert_eq!(phone["provisioning"], "bootstrap_only", "{phone}");
    assert_eq!(
        (row["state"].as_str(), row["last_channel"].as_str()),
        (Some("bootstrap_only"), Some("tftp")),
        "{row}"
    );

    // The same file over plain HTTP, then HTTPS: each named as it came.
    assert_eq!(
        server.get_http(&format!("/{MAC_FILE}"), Some(UA)).status,
        200
    );
    let (phone, row) = alice_phone(&server, &token);
    assert_eq!(
        phone["fetches"]
            .as_array()
            .and_then(|f| f.last())
            .map(|f| f["channel"].clone()),
        Some(json!("http"))
    );
    assert_eq!(row["last_channel"], "http", "{row}");
    assert_eq!(
        server.get_https(&format!("/{MAC_FILE}"), Some(UA)).status,
        200
    );
    let (phone, row) = alice_phone(&server, &token);
    let channels: Vec<&str> = phone["fetches"]
        .as_array()
        .map(|f| f.iter().filter_map(|e| e["channel"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(channels, ["tftp", "http", "https"], "{phone}");
    assert_eq!(
        (row["state"].as_str(), row["last_channel"].as_str()),
        (Some("provisioned"), Some("https")),
        "{row}"
    );
    server.stop_ok();

    // Opted in to secrets over plain transports: TFTP provisions.
    let (tmp, server, addr) = start(&[], &["--allow-secrets-over-http"]);
    let token = create_token(&tmp.path().join("data"), "tftp");
    let o = Client::Atftp(Some(1428)).get(MAC_FILE, &out, addr);
    assert!(o.status.success(), "{}", text(&o));
    let (phone, row) = alice_phone(&server, &token);
    let last = phone["fetches"]
        .as_array()
        .and_then(|f| f.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (last["channel"].as_str(), last["kind"].as_str()),
        (Some("tftp"), Some("full")),
        "{phone}"
    );
    assert_eq!(
        (row["state"].as_str(), row["last_channel"].as_str()),
        (Some("provisioned"), Some("tftp")),
        "{row}"
    );
    server.stop_ok();
}

/// `len` bytes of a fixed pseudo-random sequence (xorshift64).
fn write_image(path: &Path, len: usize) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = Vec::with_capacity(len + 8);
    while buf.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf.extend_from_slice(&x.to_le_bytes());
    }
    buf.truncate(len);
    std::fs::write(path, buf).expect("write image");
}

/// A served store whose Yealink T54W firmware image is `len` bytes.
fn with_firmware(len: usize) -> (tempfile::TempDir, Server, SocketAddr, PathBuf, String) {
    with_firmware_and(len, "")
}

/// As [`with_firmware`], with `more` appended to the config file.
fn with_firmware_and(
    len: usize,
    more: &str,
) -> (tempfile::TempDir, Server, SocketAddr, PathBuf, String) {
    let (tmp, data) = imported(&users_csv());
    let name = "T54W-96.86.0.120.rom";
    std::fs::create_dir_all(data.join("firmware")).expect("mkdir");
    let image = data.join("firmware").join(name);
    write_image(&image, len);
    let cfg = tmp.path().join("autoprov.toml");
    let config = format!(
        "[firmware.\"yealink-t54w\"]\nversion = \"96.86.0.120\"\nfile = \"{name}\"\n{more}"
    );
    std::fs::write(&cfg, config).expect("config");
    let server = Server::start(
        &data,
        &["--config", cfg.to_str().expect("utf-8")],
        &["--tftp", "127.0.0.1:0"],
    );
    let addr = tftp_addr(&server);
    (tmp, server, addr, image, format!("firmware/{name}"))
}

#[test]
fn a_firmware_image_past_the_block_number_rollover() {
    let Some(()) = clients() else { return };
    let _alone = heavy();
    // 65,535 blocks of 512 bytes and some: block numbers wrap to 0.
    let len = 65_535 * 512 + 70_000;
    let (_tmp, _server, addr, image, name) = with_firmware(len);
    let want = sha256(&image);
    let dir = tempfile::tempdir().expect("tempdir");
    for client in [Client::Hpa, Client::Curl(None), Client::Atftp(Some(1428))] {
        let out = dir.path().join("image");
        let _ = std::fs::remove_file(&out);
        let o = client.get(&name, &out, addr);
        assert!(o.status.success(), "{client:?}: {}", text(&o));
        let got = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        assert_eq!(got, len as u64, "{client:?}");
        assert_eq!(sha256(&out), want, "{client:?}: the image intact");
    }
}

/// A UDP relay between a client and the server that drops the first ACK
/// of `drop_block`, and counts the DATA packets of that block the server
/// sends: more than one means the server retransmitted.
struct Relay {
    addr: SocketAddr,
    data_seen: Arc<AtomicU32>,
    dropped: Arc<AtomicBool>,
}

impl Relay {
    fn start(server: SocketAddr, drop_block: u16) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").expect("relay front");
        let back = UdpSocket::bind("127.0.0.1:0").expect("relay back");
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .expect("timeout");
        }
        let addr = front.local_addr().expect("relay address");
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let transfer: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let data_seen = Arc::new(AtomicU32::new(0));
        let dropped = Arc::new(AtomicBool::new(false));
        {
            // Client → server: the request to the listener, ACKs to the
            // transfer port, one ACK of `drop_block` lost.
            let (front, back) = (
                front.try_clone().expect("clone"),
                back.try_clone().expect("clone"),
            );
            let (client, transfer, dropped) = (client.clone(), transfer.clone(), dropped.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while let Ok((n, from)) = front.recv_from(&mut buf) {
                    *client.lock().expect("lock") = Some(from);
                    let p = &buf[..n];
                    let is_ack = p.len() >= 4 && p[1] == 4;
                    if is_ack
                        && u16::from_be_bytes([p[2], p[3]]) == drop_block
                        && !dropped.swap(true, Ordering::SeqCst)
                    {
                        continue;
                    }
                    let to = if p.get(1) == Some(&1) {
                        Some(server)
                    } else {
                        *transfer.lock().expect("lock")
                    };
                    if let Some(to) = to {
                        let _ = back.send_to(p, to);
                    }
                }
            });
        }
        {
            // Server → client, from the relay's one port.
            let data_seen = data_seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 70_000];
                while let Ok((n, from)) = back.recv_from(&mut buf) {
                    *transfer.lock().expect("lock") = Some(from);
                    let p = &buf[..n];
                    if p.len() >= 4 && p[1] == 3 && u16::from_be_bytes([p[2], p[3]]) == drop_block {
                        data_seen.fetch_add(1, Ordering::SeqCst);
                    }
                    if let Some(c) = *client.lock().expect("lock") {
                        let _ = front.send_to(p, c);
                    }
                }
            });
        }
        Relay {
            addr,
            data_seen,
            dropped,
        }
    }
}

#[test]
fn a_lost_ack_is_recovered_by_retransmission() {
    let Some(()) = clients() else { return };
    let len = 10 * 512 + 100;
    let (_tmp, _server, addr, image, name) = with_firmware(len);
    let dir = tempfile::tempdir().expect("tempdir");
    for client in [Client::Atftp(None), Client::Hpa] {
        let relay = Relay::start(addr, 3);
        let out = dir.path().join("image");
        let _ = std::fs::remove_file(&out);
        let o = client.get(&name, &out, relay.addr);
        assert!(o.status.success(), "{client:?}: {}", text(&o));
        assert!(
            relay.dropped.load(Ordering::SeqCst),
            "the relay dropped an ACK"
        );
        assert!(
            relay.data_seen.load(Ordering::SeqCst) >= 2,
            "{client:?}: block 3 sent again after its ACK was lost"
        );
        assert_eq!(sha256(&out), sha256(&image), "{client:?}: the file intact");
    }
}

/// `[tftp] tries = 1` (docs/tftp.md#limits): the lost ACK the default
/// recovers from (above) ends the transfer instead, block 3 never sent
/// again. tftp-hpa sends its ACK again only after 5 s, long after the
/// server's 1 s timeout, so the server gives up first.
#[test]
fn the_configured_tries_bound_retransmission() {
    let Some(()) = clients() else { return };
    let len = 10 * 512 + 100;
    let (_tmp, server, addr, _image, name) = with_firmware_and(len, "[tftp]\ntries = 1\n");
    let relay = Relay::start(addr, 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("image");
    let (host, port) = (relay.addr.ip().to_string(), relay.addr.port().to_string());
    let local = out.to_str().expect("utf-8");
    // Bounded: the client would go on asking a transfer port that is gone.
    let _ = Command::new("timeout")
        .args([
            "8", "tftp", "-m", "binary", &host, &port, "-c", "get", &name, local,
        ])
        .output()
        .expect("run tftp");
    assert!(
        relay.dropped.load(Ordering::SeqCst),
        "the relay dropped an ACK"
    );
    assert_eq!(
        relay.data_seen.load(Ordering::SeqCst),
        1,
        "block 3 was sent again with tries = 1"
    );
    let got = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    assert!(got < len as u64, "the whole file arrived ({got} bytes)");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.log().contains("no acknowledgement after 1 tries") {
        assert!(
            std::time::Instant::now() < deadline,
            "no give-up in the log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
