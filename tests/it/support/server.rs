//! A running `autoprov serve` on ephemeral loopback ports, and real curl
//! against it: the provisioning listeners (HTTP and HTTPS, verified against
//! the server's own CA) and the admin API.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cli::{command, command_in, imported, run_ok};

/// A fresh store with `csv` imported, served with no options: (the
/// temporary directory, its data directory, the server).
pub fn serving(csv: &Path) -> (tempfile::TempDir, PathBuf, Server) {
    let (tmp, data) = imported(csv);
    let server = Server::start(&data, &[], &[]);
    (tmp, data, server)
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
        Server::spawn(command(data), data, global, extra, filter)
    }

    /// As `start`, run by another program (`ip netns exec NS`): the URLs
    /// are then reachable from inside it only.
    pub fn start_in(outer: Command, data: &Path, global: &[&str], extra: &[&str]) -> Server {
        Server::spawn(
            command_in(outer, data),
            data,
            global,
            extra,
            "autoprov=info",
        )
    }

    fn spawn(
        mut cmd: Command,
        data: &Path,
        global: &[&str],
        extra: &[&str],
        filter: &str,
    ) -> Server {
        let mut child = cmd
            .args(global)
            .args(["serve", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0"])
            .args(["--admin", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", filter)
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
                // `--tftp`: read from the log (tftp::tftp_addr).
                Ok(url) if url.starts_with("tftp://") => {}
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

    /// The server's process id (to read its memory in /proc).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
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

    /// GET a whole URL (one a phone was handed, say), verifying HTTPS
    /// against the local CA.
    pub fn get_url(&self, url: &str, ua: Option<&str>) -> Fetched {
        let cacert = self.cert();
        let mut args = vec!["--cacert", cacert.to_str().expect("utf-8 path")];
        ua_args(ua, &mut args);
        curl(url, &args)
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

/// The port of a listener's URL (`https://127.0.0.1:PORT`).
pub fn port(url: &str) -> &str {
    url.rsplit(':').next().expect("a port")
}

/// One response with its headers, as curl saw it.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    /// The last header block (with `--digest` curl shows both responses'
    /// headers), names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The body as text, so failure messages are readable.
impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl Answer {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_values(name).first().map(|v| v.to_string())
    }

    /// Every value of a header, in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Real curl with the response headers kept (`-D`), giving up after
/// `max_time` seconds; `extra` adds curl arguments (method, body, headers).
pub fn curl_headers(url: &str, max_time: u32, extra: &[&str]) -> Answer {
    let dir = tempfile::tempdir().expect("tempdir");
    let (body, headers) = (dir.path().join("body"), dir.path().join("headers"));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", &max_time.to_string(), "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(["-w", "%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl is installed");
    assert!(
        out.status.success(),
        "curl {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = std::fs::read_to_string(&headers).unwrap_or_default();
    let last = raw
        .split("\r\n\r\n")
        .filter(|b| !b.trim().is_empty())
        .last()
        .unwrap_or("");
    Answer {
        status: String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("status code"),
        headers: last
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect(),
        body: std::fs::read(&body).unwrap_or_default(),
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
) -> Answer {
    let bearer = token.map(|t| format!("Authorization: Bearer {t}"));
    let mut args = vec!["-X", method];
    if let Some(b) = &bearer {
        args.extend(["-H", b.as_str()]);
    }
    args.extend_from_slice(extra);
    curl_headers(&format!("{}{path}", server.admin), 60, &args)
}
