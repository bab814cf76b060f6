//! In-process tests of the phone pipeline: the users of
//! `examples/users.csv` in a sled store, the pipeline assembled as
//! `autoprov serve` assembles it (through `http::settings`, from the same
//! config text the end-to-end tests in `tests/it/serve/auth.rs` use), and requests made as
//! `http::request::Parts` plus a [`ConnInfo`], so every access rule runs
//! without a socket, a certificate file or a child process.

mod auth;
mod cache;
mod delivery;
mod device;
mod misses;
mod mtls;
mod uploads;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use hyper::header::{AUTHORIZATION, HOST, HeaderName, HeaderValue, USER_AGENT};
use md5::Md5;
use sha2::{Digest, Sha256};

use super::client_cert::ClientCert;
use super::settings::{self, ServeFlags};
use super::{AccessPolicy, CertSource, ConnInfo, GuardSettings, Pipeline, ServeOptions};
use crate::app::metrics::Metrics;
use crate::config::Config;
use crate::import::ImportOptions;
use crate::provision::{Provisioner, Templates};
use crate::store::{SledStore, Store};

/// Alice's Yealink, as the phone introduces itself.
pub(super) const UA: &str = "Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56";
/// Alice's SIP password: in her full file only.
pub(super) const SIP_PASSWORD: &str = "Alice-Sip-2024-xyz";
/// Alice's main file.
pub(super) const ALICE: &str = "/805ec0123456.cfg";
/// A MAC nobody has.
pub(super) const NOBODY: &str = "/805ec0000001.cfg";
/// A Yealink common file.
pub(super) const COMMON: &str = "/y000000000096.cfg";
pub(super) const OLD: &str = "Prov-Old-Secret-1";
pub(super) const NEW: &str = "Prov-New-Secret-2";

/// The ports the listeners are taken to have bound.
const HTTP: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);
const HTTPS: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8443);

/// Digest and Basic with a credential rotation, the e2e tests' config.
pub(super) const AUTH_CONFIG: &str = r#"
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

/// A pipeline over its own data directory.
pub(super) struct Fixture {
    pub pipeline: Arc<Pipeline>,
    /// The policy the pipeline enforces (shares its nonce key and replay
    /// memory), for minting nonces.
    pub policy: AccessPolicy,
    pub store: Arc<SledStore>,
    pub metrics: Arc<Metrics>,
    pub data: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// The example users under config `toml`.
    pub fn new(toml: &str) -> Fixture {
        Fixture::build(toml, &[], |_| {})
    }

    /// The example users plus `csvs` under config `toml`, with `tweak`
    /// applied to the options the config gives.
    pub fn build(toml: &str, csvs: &[&str], tweak: impl FnOnce(&mut ServeOptions)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let config = Config::parse(toml).unwrap();
        let store = Arc::new(SledStore::open(&data).unwrap());
        store.put_sites(&config.sites).unwrap();
        let users = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/users.csv");
        import(
            store.as_ref(),
            &config,
            &std::fs::read_to_string(users).unwrap(),
        );
        for csv in csvs {
            import(store.as_ref(), &config, csv);
        }
        let metrics = Arc::new(Metrics::default());
        // Assembled as `autoprov serve` assembles it, with the listeners
        // taken to have bound HTTP and HTTPS.
        let flags = ServeFlags {
            http: Some(HTTP),
            https: Some(HTTPS),
            allow_secrets_over_http: false,
        };
        let mut opts = settings::serve_options(&data, &config, &flags, metrics.clone()).unwrap();
        tweak(&mut opts);
        crate::pki::prepare(&opts.cert, &[HTTPS.ip()]).unwrap();
        let provisioner = Provisioner::new(
            store.clone(),
            Templates::new(None).unwrap(),
            crate::app::settings::provision(&data, &config).unwrap(),
        )
        .unwrap();
        Fixture {
            pipeline: Arc::new(Pipeline::new(Arc::new(provisioner), &opts)),
            policy: opts.policy,
            store,
            metrics,
            data,
            _dir: dir,
        }
    }

    /// Waits until the fetch records of the requests answered so far are
    /// in the store (the pipeline writes them in the background).
    pub fn settle(&self) {
        assert!(self.pipeline.flush_records(Duration::from_secs(5)));
    }

    /// One request through the pipeline.
    pub async fn send(&self, req: Req) -> Answer {
        send(&self.pipeline, req).await
    }

    /// As `curl --digest -u USER:PASS`: the request, then (when
    /// challenged) again answering the first (SHA-256) challenge with a
    /// fresh client nonce.
    pub async fn with_digest(&self, req: Req, user_pass: &str) -> Answer {
        let first = self.send(req.clone()).await;
        if first.status != 401 {
            return first;
        }
        let nonce = challenge_param(first.challenges()[0], "nonce");
        let (user, password) = user_pass.split_once(':').unwrap();
        let header = digest(&DigestInput {
            alg: "SHA-256",
            nonce: &nonce,
            user,
            password,
            method: req.method.as_str(),
            uri: &req.target,
            nc: "00000001",
            cnonce: &fresh_cnonce(),
        });
        self.send(req.authorization(&header)).await
    }

    /// The phone CA the pipeline serves at `/ca.pem`.
    pub fn phone_ca_pem(&self) -> String {
        let cert = CertSource::Local {
            dir: self.data.join("certs"),
            names: Vec::new(),
            lifetime: Default::default(),
        };
        crate::pki::phone_ca(&cert, None)
            .unwrap()
            .unwrap()
            .pem()
            .to_string()
    }
}

/// One request through `pipeline` (shared with spawned tasks).
pub(super) async fn send(pipeline: &Pipeline, req: Req) -> Answer {
    let (conn, parts, body) = req.into_parts();
    let resp = pipeline.serve(conn, &parts, body).await;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// Upserts a CSV as `autoprov import` does, and insists it was applied.
fn import(store: &dyn Store, config: &Config, csv: &str) {
    let opts = ImportOptions::upsert("test.csv");
    let outcome = crate::import::run(store, config, csv.as_bytes().to_vec(), &opts, None).unwrap();
    assert_eq!(outcome.exit_code, 0, "{}", outcome.report.to_text());
}

/// A request as a phone (or curl) would send it.
#[derive(Debug, Clone)]
pub(super) struct Req {
    method: Method,
    target: String,
    secure: bool,
    peer: IpAddr,
    headers: Vec<(HeaderName, String)>,
    cert: Option<ClientCert>,
    body: Bytes,
}

/// A GET on the HTTPS listener from 127.0.0.1.
pub(super) fn https(target: &str) -> Req {
    Req::get(target, true)
}

/// A GET on the plain-HTTP listener from 127.0.0.1.
pub(super) fn http(target: &str) -> Req {
    Req::get(target, false)
}

impl Req {
    fn get(target: &str, secure: bool) -> Req {
        let listener = if secure { HTTPS } else { HTTP };
        Req {
            method: Method::GET,
            target: target.to_string(),
            secure,
            peer: HTTP.ip(),
            headers: vec![(HOST, listener.to_string())],
            cert: None,
            body: Bytes::new(),
        }
    }

    pub fn method(mut self, method: &str) -> Req {
        self.method = Method::from_bytes(method.as_bytes()).unwrap();
        self
    }

    /// A PUT of `body`.
    pub fn put(mut self, body: impl Into<Bytes>) -> Req {
        self.method = Method::PUT;
        self.body = body.into();
        self
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> Req {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn ua(self, ua: &str) -> Req {
        self.header(USER_AGENT, ua)
    }

    pub fn host(self, host: &str) -> Req {
        self.header(HOST, host)
    }

    pub fn authorization(self, value: &str) -> Req {
        self.header(AUTHORIZATION, value)
    }

    /// Basic credentials (`curl -u USER:PASS`).
    pub fn basic(self, user_pass: &str) -> Req {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(user_pass);
        self.authorization(&format!("Basic {b64}"))
    }

    /// From another source address.
    pub fn from(mut self, ip: &str) -> Req {
        self.peer = ip.parse().unwrap();
        self
    }

    /// With a verified client certificate.
    pub fn cert(mut self, cert: ClientCert) -> Req {
        self.cert = Some(cert);
        self
    }

    fn into_parts(self) -> (ConnInfo, hyper::http::request::Parts, Bytes) {
        let mut builder = hyper::Request::builder()
            .method(self.method)
            .uri(self.target.as_str());
        for (name, value) in &self.headers {
            builder = builder.header(name, HeaderValue::from_str(value).unwrap());
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        let local = if self.secure { HTTPS } else { HTTP };
        let conn = ConnInfo {
            peer: SocketAddr::new(self.peer, 40000),
            local,
            secure: self.secure,
            client_cert: self.cert,
            tftp: false,
        };
        (conn, parts, self.body)
    }
}

/// A response: status, headers (lower-case names, in order) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).first().copied()
    }

    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `WWW-Authenticate` values.
    pub fn challenges(&self) -> Vec<&str> {
        self.header_values("www-authenticate")
    }

    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The status and body, for compact assertions.
    pub fn short(&self) -> (u16, &str) {
        (self.status, self.body.as_str())
    }
}

/// `param="value"` out of a challenge.
pub(super) fn challenge_param(challenge: &str, name: &str) -> String {
    let start = challenge
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("{name} in {challenge}"))
        + name.len()
        + 2;
    let len = challenge[start..].find('"').unwrap();
    challenge[start..start + len].to_string()
}

/// What a Digest response is computed from (RFC 7616 §3.4.1).
pub(super) struct DigestInput<'a> {
    pub alg: &'a str,
    pub nonce: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub nc: &'a str,
    pub cnonce: &'a str,
}

/// A Digest Authorization value computed by hand.
pub(super) fn digest(d: &DigestInput<'_>) -> String {
    let hash = |s: &str| match d.alg {
        "MD5" => hex::encode(Md5::digest(s.as_bytes())),
        _ => hex::encode(Sha256::digest(s.as_bytes())),
    };
    let ha1 = hash(&format!("{}:autoprov:{}", d.user, d.password));
    let ha2 = hash(&format!("{}:{}", d.method, d.uri));
    let response = hash(&format!(
        "{ha1}:{}:{}:{}:auth:{ha2}",
        d.nonce, d.nc, d.cnonce
    ));
    format!(
        "Digest username=\"{}\", realm=\"autoprov\", nonce=\"{}\", uri=\"{}\", algorithm={}, \
         qop=auth, nc={}, cnonce=\"{}\", response=\"{response}\"",
        d.user, d.nonce, d.uri, d.alg, d.nc, d.cnonce
    )
}

/// A GET's first Digest use (nc 1) of `nonce` with a fixed client nonce,
/// as the e2e tests computed it.
pub(super) fn digest_get(alg: &str, nonce: &str, user_pass: &str, uri: &str) -> String {
    let (user, password) = user_pass.split_once(':').unwrap();
    digest(&DigestInput {
        alg,
        nonce,
        user,
        password,
        method: "GET",
        uri,
        nc: "00000001",
        cnonce: "0a4f113b",
    })
}

/// A client nonce no other request in this process used.
fn fresh_cnonce() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("c{:08x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The log lines written while this is alive (on this thread; the tests
/// run on a current-thread runtime).
pub(super) struct Logs {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

/// Starts collecting `autoprov=debug` logs.
pub(super) fn capture_logs() -> Logs {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("autoprov=debug")
        .with_ansi(false)
        .with_writer(move || LogSink(sink.clone()))
        .finish();
    Logs {
        buf,
        _guard: tracing::subscriber::set_default(subscriber),
    }
}

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).to_string()
    }
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `key = value` out of a Yealink file.
pub(super) fn yealink_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.split_once(" = "))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

/// The text of the first `<tag>…</tag>` in a body.
pub(super) fn element_text(body: &str, tag: &str) -> String {
    let open = format!("<{tag}");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in:\n{body}"));
    let start = start + body[start..].find('>').unwrap() + 1;
    let end = start + body[start..].find(&format!("</{tag}>")).unwrap();
    body[start..end].to_string()
}
