//! Two network namespaces joined by a veth pair, made and removed by the
//! test (as docs/reference/test-peers.md §1 does), with autoprov's DHCP on the server
//! side and real clients on the phone side. Needs root: where namespaces
//! can't be made the tests skip with a message, except under CI=true.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLockWriteGuard, mpsc};
use std::time::Duration;

use super::cli::command_in;
use super::fixtures::{repo, scapy_phone_script};
use super::heavy;
use super::tools::unavailable;

pub fn ip(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("ip").args(args).output()
}

/// Two namespaces joined by a veth pair; removed on drop, whatever happens.
///
/// Holds [`heavy`] for its whole life: namespace tests run one at a time
/// and never beside a timed test (scapy's Python start-up is a second of
/// CPU, and the DHCP tests have timeouts of their own). A test that makes
/// a `Netns` must not take `heavy` itself.
pub struct Netns {
    pub srv: String,
    pub phone: String,
    pub srv_if: String,
    pub phone_if: String,
    _heavy: RwLockWriteGuard<'static, ()>,
}

/// Numbers the namespaces of this process.
static NEXT: AtomicU32 = AtomicU32::new(0);

impl Netns {
    /// Namespaces named after this process and a counter, so no two tests
    /// (nor two test runs) share a name. The phone side gets `phone_addr`
    /// (with /24), or none for clients that lease one.
    pub fn up(phone_addr: Option<&str>) -> Option<Netns> {
        let alone = heavy();
        let id = std::process::id();
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let n = Netns {
            srv: format!("apdhcp{id}n{k}s"),
            phone: format!("apdhcp{id}n{k}p"),
            // Interface names: at most 15 bytes, unique per run and test.
            srv_if: format!("aps{k}n{}", id % 1_000_000),
            phone_if: format!("app{k}n{}", id % 1_000_000),
            _heavy: alone,
        };
        assert!(n.srv_if.len() <= 15, "{}", n.srv_if);
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
        let steps: [&[&str]; 7] = [
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
        if let Some(addr) = phone_addr {
            n.phone_ip(&["addr", "add", &format!("{addr}/24"), "dev", &n.phone_if]);
        }
        Some(n)
    }

    /// `ip -n <phone ns> ARGS`, which must succeed.
    pub fn phone_ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.phone.as_str()];
        all.extend_from_slice(args);
        let o = ip(&all).expect("run ip");
        assert!(
            o.status.success(),
            "ip {all:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Gives the phone side's interface another MAC: each real DHCP
    /// client sends its interface's address.
    pub fn set_phone_mac(&self, mac: &str) {
        self.phone_ip(&["link", "set", "dev", &self.phone_if, "address", mac]);
    }

    pub fn exec(&self, ns: &str) -> Command {
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
/// here on first use and kept, like .ci/run does; one test at a time makes
/// it).
pub fn scapy_python() -> Option<PathBuf> {
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Ok(p) = std::env::var("AUTOPROV_SCAPY_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let _making = MAKING.lock().unwrap_or_else(|p| p.into_inner());
    let venv = repo("target/scapy-venv");
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
pub struct Serve(pub Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `autoprov serve --dhcp <server side> EXTRA…` in the server
/// namespace and waits until its DHCP socket is bound. The HTTP and HTTPS
/// ports are fixed, but inside the test's own namespace.
pub fn start_server(n: &Netns, data: &Path, extra: &[&str]) -> Serve {
    let mut child = command_in(n.exec(&n.srv), data)
        .args(["serve", "--http", "0.0.0.0:8080", "--https", "0.0.0.0:8443"])
        .args(["--admin", "127.0.0.1:0"])
        .args(["--dhcp", &n.srv_if])
        .args(extra)
        .env("RUST_LOG", "autoprov=info")
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

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs tests/dhcp/scapy_phone.py in the phone namespace with `args` after
/// the interface and `env` set; its one JSON line (the reply, or null).
pub fn scapy(n: &Netns, python: &Path, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut c = n.exec(&n.phone);
    c.arg(python)
        .arg(scapy_phone_script())
        .arg(&n.phone_if)
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run scapy");
    assert!(
        out.status.success(),
        "scapy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"))
}
