//! Helpers for the `serve_*` integration tests: run the real binary, talk to
//! it with real curl, and check Yealink files by the rules of vendors.md §9.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_autoprov");
pub const UA: &str = "Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56";
pub const ALICE_MAC: &str = "805ec0123456";

/// `examples/users.csv` of this repository.
pub fn users_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/users.csv")
}

/// Runs a one-shot `autoprov` command against `data`.
pub fn autoprov(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run autoprov")
}

/// Imports a CSV and insists it was applied.
pub fn import(data: &Path, csv: &Path) {
    let out = autoprov(data, &["import", csv.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "import failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `autoprov serve` on ephemeral loopback ports.
pub struct Server {
    child: Option<Child>,
    pub http: String,
    pub https: String,
    /// The admin API's base URL (`http://127.0.0.1:PORT`).
    pub admin: String,
    pub data: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `autoprov --data DATA [global...] serve --http 127.0.0.1:0
    /// --https 127.0.0.1:0 [extra...]` and waits for both `listening on` lines.
    pub fn start(data: &Path, global: &[&str], extra: &[&str]) -> Server {
        Server::start_logging(data, global, extra, "autoprov=info")
    }

    /// As `start`, with this `RUST_LOG` filter.
    pub fn start_logging(data: &Path, global: &[&str], extra: &[&str], filter: &str) -> Server {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(data)
            .args(global)
            .args(["serve", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0"])
            .args(["--admin", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn autoprov serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let sink = log.clone();
        // Drain stderr for the whole life of the process so it never blocks.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("autoprov: listening on ") {
                    let _ = tx.send(url.to_string());
                }
                if let Some(url) = line.strip_prefix("autoprov: admin API on ") {
                    let _ = tx.send(format!("admin {url}"));
                }
                sink.lock().expect("log").push_str(&(line + "\n"));
            }
        });
        let mut server = Server {
            child: Some(child),
            http: String::new(),
            https: String::new(),
            admin: String::new(),
            data: data.to_path_buf(),
            stderr: log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.http.is_empty() || server.https.is_empty() || server.admin.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(url) if url.starts_with("https://") => server.https = url,
                Ok(url) if url.starts_with("admin ") => server.admin = url[6..].to_string(),
                Ok(url) => server.http = url,
                Err(_) => {
                    let exited = server
                        .child
                        .as_mut()
                        .and_then(|c| c.try_wait().ok().flatten());
                    if exited.is_some() || left.is_zero() {
                        panic!(
                            "server did not start ({exited:?}); stderr:\n{}",
                            server.log()
                        );
                    }
                }
            }
        }
        server
    }

    pub fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The local CA (`<data>/certs/ca.pem`): what phones are told to trust
    /// and what curl verifies HTTPS against.
    pub fn cert(&self) -> PathBuf {
        self.data.join("certs/ca.pem")
    }

    /// GET over HTTPS, verifying the server against the local CA.
    pub fn get_https(&self, path: &str, ua: Option<&str>) -> Fetched {
        let cacert = self.cert();
        let mut args = vec!["--cacert", cacert.to_str().expect("utf-8 path")];
        ua_args(ua, &mut args);
        curl(&format!("{}{path}", self.https), &args)
    }

    pub fn get_http(&self, path: &str, ua: Option<&str>) -> Fetched {
        let mut args = Vec::new();
        ua_args(ua, &mut args);
        curl(&format!("{}{path}", self.http), &args)
    }

    /// SIGTERM, then wait (polling) for a clean exit.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                // Let the reader thread take the last lines.
                let t = Instant::now();
                while !self.log().contains("autoprov: stopped")
                    && t.elapsed() < Duration::from_secs(2)
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return (status, self.log());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server ignored SIGTERM; stderr:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Server {
    /// `stop`, insisting on a clean exit; returns the log.
    pub fn stop_ok(self) -> String {
        let (status, log) = self.stop();
        assert!(status.success(), "{log}");
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn ua_args<'a>(ua: Option<&'a str>, args: &mut Vec<&'a str>) {
    match ua {
        Some(u) => args.extend(["-A", u]),
        // An empty -H removes curl's own User-Agent header.
        None => args.extend(["-H", "User-Agent:"]),
    }
}

/// One response as curl saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
}

impl Fetched {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

/// Real curl, path sent as written (`--path-as-is`), body kept byte-exact.
pub fn curl(url: &str, extra: &[&str]) -> Fetched {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = dir.path().join("body");
    let out = run_ok(
        Command::new("curl")
            .args(["-sS", "--path-as-is", "--max-time", "20", "-o"])
            .arg(&body)
            .args(["-w", "%{http_code} %{content_type}"])
            .args(extra)
            .arg(url),
        &format!("curl {url}"),
    );
    let w = String::from_utf8_lossy(&out.stdout).to_string();
    let (code, ctype) = w.split_once(' ').unwrap_or((&w, ""));
    Fetched {
        status: code.parse().expect("status code"),
        body: std::fs::read(&body).unwrap_or_default(),
        content_type: ctype.to_string(),
    }
}

/// Checks a Yealink file against vendors.md §9.1/§9.2 and returns its
/// settings. `boot` allows the extra boot-file line forms; include lines are
/// returned under `include:config` joined by `|`.
pub fn yealink_settings(body: &[u8], boot: bool) -> BTreeMap<String, String> {
    assert!(!body.starts_with(&[0xef, 0xbb, 0xbf]), "BOM");
    let text = std::str::from_utf8(body).expect("UTF-8");
    for residue in ["{{", "{%", "{#", "None", "undefined"] {
        assert!(
            !text.contains(residue),
            "template residue {residue:?} in:\n{text}"
        );
    }
    assert!(!text.contains('\r'), "CR in output");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#!version:1.0.0.1"), "first line");
    let mut map = BTreeMap::new();
    let mut includes = Vec::new();
    for line in lines {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if boot {
            if let Some(rest) = line.strip_prefix("include:config ") {
                assert!(
                    rest.starts_with('"') && rest.ends_with('"') && rest.len() > 2,
                    "{line}"
                );
                includes.push(rest.trim_matches('"').to_string());
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') {
                continue;
            }
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key = value: {line:?}"));
        let key = key.trim_end();
        assert!(
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
                && !key.starts_with('.')
                && !key.ends_with('.')
                && !key.contains(".."),
            "bad key {key:?}"
        );
        let value = value.trim_start().to_string();
        if boot && key == "overwrite_mode" {
            assert!(value == "0" || value == "1");
        }
        if key != "static.security.user_password" {
            assert!(
                map.insert(key.to_string(), value).is_none(),
                "duplicate key {key}"
            );
        }
    }
    if !includes.is_empty() {
        map.insert("include:config".into(), includes.join("|"));
    }
    check_yealink_values(&map);
    map
}

/// Per-key value rules of vendors.md §9.2.
fn check_yealink_values(map: &BTreeMap<String, String>) {
    for (k, v) in map {
        if k.ends_with(".transport_type") {
            assert!(["0", "1", "2", "3"].contains(&v.as_str()), "{k} = {v}");
        }
        if k.starts_with("linekey.") && k.ends_with(".type") {
            assert!(v.parse::<u32>().is_ok(), "{k} = {v}");
        }
    }
    if map.keys().any(|k| k.starts_with("account.1.")) {
        for required in [
            "account.1.enable",
            "account.1.user_name",
            "account.1.sip_server.1.address",
        ] {
            assert!(map.contains_key(required), "missing {required}");
        }
    }
}

/// Parses a golden `key = value` file the same way.
pub fn golden(name: &str) -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yealink_settings(&bytes, false)
}

/// `autoprov phones --format json`, as JSON.
pub fn phones_json(data: &Path) -> serde_json::Value {
    let out = autoprov(data, &["phones", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("phones JSON")
}

/// The phone with this MAC in `phones --format json`.
pub fn phone(data: &Path, mac: &str) -> serde_json::Value {
    phones_json(data)
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["mac"] == mac)
        .cloned()
        .unwrap_or_else(|| panic!("no phone {mac}"))
}

/// Runs each `autoprov render ...` and checks it prints exactly `body` (the
/// bytes the HTTPS listener sent), so the admin's preview is the truth.
pub fn assert_render_equals(data: &Path, cases: &[Vec<&str>], body: &[u8]) {
    for args in cases {
        let out = autoprov(data, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, body, "{args:?}");
    }
}

/// Checks each expected `key = value` of a parsed config, naming the key
/// that differs.
pub fn assert_settings(settings: &BTreeMap<String, String>, expect: &[(&str, &str)]) {
    for (k, v) in expect {
        assert_eq!(settings.get(*k).map(String::as_str), Some(*v), "{k}");
    }
}

/// One admin API answer as curl saw it, headers included.
#[derive(Debug, Clone)]
pub struct ApiAnswer {
    pub status: u16,
    /// The raw header block, lower-cased names.
    pub headers: String,
    pub body: Vec<u8>,
}

impl ApiAnswer {
    pub fn header(&self, name: &str) -> Option<String> {
        let want = format!("{}:", name.to_ascii_lowercase());
        self.headers.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with(&want)
                .then(|| l[want.len()..].trim().to_string())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// `METHOD <admin>/<path>` with real curl, as `Bearer token` when given;
/// `extra` adds curl arguments (a body, headers).
pub fn api(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    extra: &[&str],
) -> ApiAnswer {
    let dir = tempfile::tempdir().expect("tempdir");
    let (body, headers) = (dir.path().join("body"), dir.path().join("headers"));
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "60", "-X", method, "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(["-w", "%{http_code}"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd
        .args(extra)
        .arg(format!("{}{path}", server.admin))
        .output()
        .expect("curl is installed");
    assert!(
        out.status.success(),
        "curl {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ApiAnswer {
        status: String::from_utf8_lossy(&out.stdout)
            .parse()
            .expect("status code"),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

/// `autoprov admin token create --name NAME`: the printed token.
pub fn create_token(data: &Path, name: &str) -> String {
    let out = autoprov(data, &["admin", "token", "create", "--name", name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string()
}

/// Placeholder for the server's own certificate in golden files: it is
/// generated per test run.
pub const CA_PLACEHOLDER: &str = "@CA@";

/// SHA-256 fingerprint of a PEM certificate as `openssl x509` reads it (the
/// test fails if openssl cannot parse it).
pub fn openssl_fingerprint(pem: &[u8]) -> String {
    openssl_x509(pem, &["-noout", "-fingerprint", "-sha256"])
        .trim()
        .to_string()
}

/// `openssl x509 -noout -text` of a PEM certificate.
pub fn openssl_text(pem: &str) -> String {
    openssl_x509(pem.as_bytes(), &["-noout", "-text"])
}

/// `openssl x509 ARGS` with `pem` on stdin; panics unless it succeeds.
fn openssl_x509(pem: &[u8], args: &[&str]) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .arg("x509")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pem)
        .expect("write to openssl");
    let out = child.wait_with_output().expect("openssl ran");
    assert!(
        out.status.success(),
        "openssl x509 cannot parse:\n{}\n{}",
        String::from_utf8_lossy(pem),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A PEM for one-line base64 DER (Snom's inline form), 64 columns wide.
pub fn pem_of_base64(b64: &str) -> String {
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem + "-----END CERTIFICATE-----\n"
}

impl Server {
    /// Fingerprint of the local CA HTTPS is served under.
    pub fn cert_fingerprint(&self) -> String {
        openssl_fingerprint(&std::fs::read(self.cert()).expect("ca.pem"))
    }
}

/// Checks that `map[key]` is the server's certificate (by fingerprint,
/// after `to_pem`), then replaces it by [`CA_PLACEHOLDER`] so the map can be
/// compared with a golden file.
pub fn mask_ca(
    map: &mut BTreeMap<String, String>,
    key: &str,
    server_fingerprint: &str,
    to_pem: fn(&str) -> String,
) {
    let keys: Vec<String> = map.keys().cloned().collect();
    let value = map
        .get_mut(key)
        .unwrap_or_else(|| panic!("no {key} among {keys:?}"));
    assert_eq!(
        openssl_fingerprint(to_pem(value).as_bytes()),
        server_fingerprint,
        "{key}"
    );
    *value = CA_PLACEHOLDER.to_string();
}

/// Runs a command to completion, insisting it starts and succeeds.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs openssl with these arguments in `dir`, insisting it succeeds.
pub fn openssl(dir: &Path, args: &[&str]) {
    run_ok(
        Command::new("openssl").args(args).current_dir(dir),
        &format!("openssl {args:?}"),
    );
}

/// openssl arguments for a new P-256 key (test-peers.md §4).
pub const NEW_P256_KEY: [&str; 6] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
];

/// A test CA (`ca.crt`, `ca.key`) in `dir`, made the test-peers.md §4 way
/// (with keyUsage and basicConstraints).
pub fn make_ca(dir: &Path) {
    let args = [
        &["req", "-x509"][..],
        &NEW_P256_KEY,
        &[
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "30",
            "-subj",
            "/CN=Test Phone CA",
        ],
        &["-addext", "basicConstraints=critical,CA:TRUE"],
        &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ]
    .concat();
    openssl(dir, &args);
}

/// `<name>.crt`/`<name>.key` signed by the CA in `dir`, with this subject
/// and extension lines (`extendedKeyUsage=...`, `subjectAltName=...`).
pub fn make_cert(dir: &Path, name: &str, subject: &str, extensions: &[&str]) {
    let [key, csr, crt, ext] = ["key", "csr", "crt", "ext"].map(|e| format!("{name}.{e}"));
    let args = [
        &["req"][..],
        &NEW_P256_KEY,
        &[&key, "-out", &csr, "-subj", subject],
    ]
    .concat();
    openssl(dir, &args);
    let mut lines = vec![
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
    ];
    lines.extend_from_slice(extensions);
    std::fs::write(dir.join(&ext), lines.join("\n") + "\n").expect("write extensions");
    let signing = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"];
    let args = [
        &["x509", "-req", "-in", &csr][..],
        &signing,
        &["-out", &crt, "-days", "30", "-extfile", &ext],
    ]
    .concat();
    openssl(dir, &args);
}

/// PEM blocks in `text`, in order, each ending with a newline.
pub fn pem_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if line == "-----BEGIN CERTIFICATE-----" {
            cur = Some(String::new());
        }
        if let Some(block) = cur.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
        if line == "-----END CERTIFICATE-----" {
            out.extend(cur.take());
        }
    }
    out
}

impl Server {
    /// The certificates the HTTPS listener sends in its handshake, as PEM
    /// (`openssl s_client -showcerts`), leaf first.
    pub fn served_chain(&self) -> Vec<String> {
        let authority = self.https.trim_start_matches("https://");
        let out = Command::new("openssl")
            .args(["s_client", "-connect", authority, "-showcerts"])
            .stdin(Stdio::null())
            .output()
            .expect("openssl s_client ran");
        let chain = pem_blocks(&String::from_utf8_lossy(&out.stdout));
        assert!(
            !chain.is_empty(),
            "no certificate from {authority}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        chain
    }
}
