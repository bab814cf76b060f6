//! The provisioning listeners: plain HTTP and HTTPS on hyper 1 with the
//! hyper-util auto builder (HTTP/1.1 and h2), tokio-rustls for TLS.
//!
//! Every slow or hostile client is bounded: TLS handshakes and request
//! headers time out, headers are size-limited, request bodies are only read
//! for bounded uploads (Polycom logs of known phones, everything else gets a
//! 405), and shutdown drains for a limited time.

pub mod admin;
pub mod auth;
pub mod client_cert;
pub mod guard;
pub mod policy;
pub mod record;
pub mod settings;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue,
    USER_AGENT, WWW_AUTHENTICATE,
};
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::net;
use crate::provision::{self, Channel, NOT_FOUND_BODY, Provisioner, Refusal};
use auth::{Presented, Verdict};
use client_cert::ClientCert;
pub use guard::GuardSettings;
use guard::{Gate, MissGuard};
pub use policy::AccessPolicy;
pub use tls::{CertSource, ClientCa, TlsError};

/// A client must finish the TLS handshake within this time (then has
/// [`net::HEADER_TIMEOUT`] for its request head).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body read (and discarded) before a 405; larger uploads
/// are cut off.
const MAX_DISCARDED_BODY: usize = 64 * 1024;
/// Largest upload (a Polycom log) stored; larger ones get a 413.
const MAX_UPLOAD: usize = 1024 * 1024;
/// An upload must arrive within this time.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// What `serve` needs besides the provisioner.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub cert: CertSource,
    pub policy: AccessPolicy,
    pub allow_secrets_over_http: bool,
    /// Fixed HTTPS base URL for the plain-HTTP bootstrap.
    pub https_url: Option<String>,
    /// Where phones' uploads (Polycom logs) go, as `<dir>/<mac>/<file>`;
    /// `None` refuses every upload.
    pub uploads: Option<PathBuf>,
    /// How long shutdown waits for requests in flight.
    pub drain: Duration,
    /// Mutual TLS, when configured.
    pub client_ca: Option<ClientCa>,
    /// Miss throttling and bans.
    pub misses: GuardSettings,
    /// Fetch and ban counters for `/metrics`.
    pub metrics: Arc<crate::app::metrics::Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Both listeners, bound and ready.
pub struct Server {
    http: TcpListener,
    https: TcpListener,
    acceptor: TlsAcceptor,
    opts: ServeOptions,
    http_addr: SocketAddr,
    https_addr: SocketAddr,
}

impl Server {
    /// Loads (or creates) the certificate and binds both ports.
    pub async fn bind(opts: ServeOptions) -> Result<Server, ServeError> {
        let tls = tls::server_config_with(&opts.cert, &[opts.https.ip()], opts.client_ca.as_ref())?;
        let http = net::listen(opts.http).map_err(|source| ServeError::Bind {
            addr: opts.http,
            source,
        })?;
        let https = net::listen(opts.https).map_err(|source| ServeError::Bind {
            addr: opts.https,
            source,
        })?;
        let http_addr = http.local_addr().unwrap_or(opts.http);
        let https_addr = https.local_addr().unwrap_or(opts.https);
        Ok(Server {
            http,
            https,
            acceptor: TlsAcceptor::from(tls),
            opts,
            http_addr,
            https_addr,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// Serves until `shutdown` completes, then stops accepting and waits up
    /// to the drain limit for open requests.
    pub async fn run(self, provisioner: Arc<Provisioner>, shutdown: impl Future<Output = ()>) {
        let app = Arc::new(App {
            provisioner,
            policy: self.opts.policy.clone(),
            secrets_over_http: self.opts.allow_secrets_over_http,
            https_url: self.opts.https_url.clone(),
            https_port: self.https_addr.port(),
            http_port: self.http_addr.port(),
            uploads: self.opts.uploads.clone(),
            guard: MissGuard::new(self.opts.misses.clone()),
            cert_optional: self.opts.client_ca.as_ref().is_some_and(|c| !c.required),
            metrics: self.opts.metrics.clone(),
        });
        let builder = Arc::new(net::builder());
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                r = self.http.accept() => match r {
                    Ok((tcp, peer)) => {
                        let conn = conn_info(&tcp, peer, false);
                        serve_conn(tcp, conn, &app, &builder, graceful.watcher());
                    }
                    Err(e) => net::accept_failed(e).await,
                },
                r = self.https.accept() => match r {
                    Ok((tcp, peer)) => {
                        let conn = conn_info(&tcp, peer, true);
                        let (app, builder, acceptor) = (app.clone(), builder.clone(), self.acceptor.clone());
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                                Ok(Ok(tls)) => {
                                    // The verifier checked any certificate sent; with
                                    // client_auth optional, none may have been.
                                    let client_cert = tls.get_ref().1.peer_certificates()
                                        .and_then(|certs| certs.first())
                                        .map(|der| ClientCert::from_der(der));
                                    let conn = ConnInfo { client_cert, ..conn };
                                    serve_conn(tls, conn, &app, &builder, watcher)
                                }
                                Ok(Err(e)) => tracing::debug!(peer = %conn.peer, error = %e, "TLS handshake failed"),
                                Err(_) => tracing::debug!(peer = %conn.peer, "TLS handshake timed out"),
                            }
                        });
                    }
                    Err(e) => net::accept_failed(e).await,
                },
                _ = &mut shutdown => break,
            }
        }
        drop(self.http);
        drop(self.https);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(self.opts.drain) => {
                tracing::warn!("drain limit reached; closing the remaining connections");
            }
        }
    }
}

/// Addresses of one accepted connection.
#[derive(Debug, Clone, Copy)]
struct ConnInfo {
    peer: SocketAddr,
    local: SocketAddr,
    secure: bool,
    /// A client certificate verified against `[tls] client_ca`, and the
    /// MACs it names.
    client_cert: Option<ClientCert>,
}

fn conn_info(tcp: &tokio::net::TcpStream, peer: SocketAddr, secure: bool) -> ConnInfo {
    let _ = tcp.set_nodelay(true);
    ConnInfo {
        peer,
        local: tcp.local_addr().unwrap_or(peer),
        secure,
        client_cert: None,
    }
}

fn serve_conn<IO>(
    io: IO,
    conn: ConnInfo,
    app: &Arc<App>,
    builder: &Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = app.clone();
    net::spawn_connection(io, conn.peer, builder, watcher, move |req| {
        let app = app.clone();
        async move { app.serve(conn, req).await }
    });
}

/// Shared per-server state.
struct App {
    provisioner: Arc<Provisioner>,
    policy: AccessPolicy,
    secrets_over_http: bool,
    https_url: Option<String>,
    https_port: u16,
    http_port: u16,
    uploads: Option<PathBuf>,
    guard: MissGuard,
    /// Mutual TLS is optional: per-MAC files over HTTPS need a client
    /// certificate unless credentials are configured.
    cert_optional: bool,
    metrics: Arc<crate::app::metrics::Metrics>,
}

/// The access decision for one request, before the provisioner is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Granted,
    /// 401 with a challenge; `bad` when wrong credentials were presented.
    Challenge {
        stale: bool,
        bad: Option<&'static str>,
    },
    /// The same 404 as an unknown MAC.
    Refused(&'static str),
}

use crate::net::Resp;

impl App {
    async fn serve(&self, conn: ConnInfo, req: hyper::Request<Incoming>) -> Resp {
        // Held (for a throttled source) until the answer is made.
        let _slot = match self.guard.gate(conn.peer.ip()) {
            Gate::Pass => None,
            Gate::Throttle(delay, slot) => {
                tokio::time::sleep(delay).await;
                Some(slot)
            }
            Gate::Busy => {
                tracing::debug!(peer = %conn.peer, "refused: throttled source at its parallel limit");
                return not_found();
            }
            Gate::Banned => {
                tracing::debug!(peer = %conn.peer, "refused: source banned for misses");
                return not_found();
            }
        };
        if req.method() == Method::GET || req.method() == Method::HEAD {
            return self.handle(conn, req);
        }
        let mut refusal = method_not_allowed();
        // A PUT from an allowed source that needs credentials first gets
        // the same 401 as a GET (phones authenticate only when challenged),
        // before anything about the name is looked up. Checked once: a
        // Digest nonce count may only be used once.
        if req.method() == Method::PUT
            && self.uploads.is_some()
            && self.policy.allows(conn.peer.ip())
        {
            match self.authorize(conn, &presented(&req), req.uri().path()) {
                Access::Challenge { stale, bad } => {
                    if let Some(why) = bad {
                        tracing::info!(peer = %conn.peer, reason = why, "refused upload: bad credentials");
                        self.miss(conn);
                    }
                    refusal = self.challenge(stale);
                }
                Access::Granted => {
                    if let Some((dir, file)) = self.upload_target(&req) {
                        return self.upload(conn, req, dir, file).await;
                    }
                }
                Access::Refused(_) => {}
            }
        }
        tracing::info!(peer = %conn.peer, method = %req.method(), status = %refusal.status(), "not accepted");
        // Read (and drop) a small upload before refusing, so the client sees
        // the answer instead of a reset while it is still sending.
        let limited = http_body_util::Limited::new(req.into_body(), MAX_DISCARDED_BODY);
        let _ = tokio::time::timeout(net::HEADER_TIMEOUT, limited.collect()).await;
        refusal
    }

    fn handle(&self, conn: ConnInfo, req: hyper::Request<Incoming>) -> Resp {
        let ua = req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok());
        let https_url = self.bootstrap_url(&req, conn.local);
        let http_url = self.base_url("http", self.http_port, &req, conn.local);
        let channel = if conn.secure || self.secrets_over_http {
            Channel::Secure
        } else {
            Channel::Bootstrap {
                https_url: https_url.clone(),
            }
        };
        let preq = provision::Request {
            path: req.uri().path(),
            user_agent: ua,
            channel,
            https_url: Some(&https_url),
            http_url: Some(&http_url),
        };
        let (status, mut resp) = self.answer(conn, &presented(&req), &preq);
        if status != StatusCode::OK {
            // Served files are counted by vendor in `answer`.
            self.metrics.fetch("unknown", status.as_u16());
        }
        if req.method() == Method::HEAD {
            head_only(&mut resp);
        }
        let id = self.provisioner.identify(&preq);
        if let Err(e) = record::record(
            self.provisioner.store(),
            &id,
            conn.peer.ip(),
            ua,
            status.as_u16(),
        ) {
            tracing::warn!(error = %e, "cannot record the fetch");
        }
        resp
    }

    /// Where an authorised PUT may be stored: an upload name of the vendor
    /// of a known phone, with no contradicting User-Agent MAC. `None` for
    /// anything else, which gets the same 405 as any other PUT.
    fn upload_target(&self, req: &hyper::Request<Incoming>) -> Option<(PathBuf, String)> {
        let root = self.uploads.as_ref()?;
        let name = provision::path::file_name(req.uri().path())?;
        let m = provision::path::matches(&name)
            .into_iter()
            .find(|m| m.rule.kind == crate::vendors::FileKind::Upload)?;
        let mac = m.mac?;
        let ua = req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok());
        if let Some((_, info)) = ua.and_then(crate::vendors::parse_user_agent)
            && info.mac.is_some_and(|u| u != mac)
        {
            return None;
        }
        let store = self.provisioner.store();
        let user = store.user_by_mac(mac).ok().flatten()?;
        user.phones
            .iter()
            .any(|p| p.mac == mac && p.vendor == m.vendor.id)
            .then(|| (root.join(mac.plain()), name))
    }

    /// Stores one bounded upload as `<dir>/<file>` (replacing an older one).
    async fn upload(
        &self,
        conn: ConnInfo,
        req: hyper::Request<Incoming>,
        dir: PathBuf,
        file: String,
    ) -> Resp {
        let ua = req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let path = req.uri().path().to_string();
        let limited = http_body_util::Limited::new(req.into_body(), MAX_UPLOAD);
        let (status, resp) = match tokio::time::timeout(UPLOAD_TIMEOUT, limited.collect()).await {
            Ok(Ok(body)) => {
                let bytes = body.to_bytes();
                let (d, f) = (dir.clone(), file.clone());
                match tokio::task::spawn_blocking(move || store_upload(&d, &f, &bytes)).await {
                    Ok(Ok(())) => {
                        tracing::info!(peer = %conn.peer, file = %file, "upload stored");
                        (StatusCode::NO_CONTENT, empty(StatusCode::NO_CONTENT))
                    }
                    Ok(Err(e)) => {
                        tracing::error!(peer = %conn.peer, file = %file, error = %e, "cannot store upload");
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            plain(StatusCode::INTERNAL_SERVER_ERROR, b"internal error\n"),
                        )
                    }
                    Err(_) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        plain(StatusCode::INTERNAL_SERVER_ERROR, b"internal error\n"),
                    ),
                }
            }
            Ok(Err(_)) | Err(_) => {
                tracing::info!(peer = %conn.peer, file = %file, "upload too large or too slow");
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    plain(StatusCode::PAYLOAD_TOO_LARGE, b"upload too large\n"),
                )
            }
        };
        let preq = provision::Request {
            path: &path,
            user_agent: ua.as_deref(),
            channel: Channel::Secure,
            https_url: None,
            http_url: None,
        };
        let id = self.provisioner.identify(&preq);
        if let Err(e) = record::record(
            self.provisioner.store(),
            &id,
            conn.peer.ip(),
            ua.as_deref(),
            status.as_u16(),
        ) {
            tracing::warn!(error = %e, "cannot record the upload");
        }
        resp
    }

    /// The response, after the access policy and the provisioner had their say.
    fn answer(
        &self,
        conn: ConnInfo,
        presented: &Presented<'_>,
        preq: &provision::Request<'_>,
    ) -> (StatusCode, Resp) {
        let scheme = if conn.secure { "https" } else { "http" };
        if !self.policy.allows(conn.peer.ip()) {
            tracing::info!(peer = %conn.peer, scheme, path = ?preq.path, "refused: source not in policy.allow");
            self.miss(conn);
            return (StatusCode::NOT_FOUND, not_found());
        }
        // The CA is public and needed before a phone can check anything
        // (or hold credentials): no authentication, allow-list only.
        if preq.path == provision::CA_PATH
            && let Some(ca) = self.provisioner.phone_ca()
        {
            tracing::info!(peer = %conn.peer, scheme, file = "ca.pem", "served");
            return (StatusCode::OK, pem(ca.pem().to_string()));
        }
        match self.authorize(conn, presented, preq.path) {
            Access::Granted => {}
            Access::Challenge { stale, bad } => {
                match bad {
                    Some(why) => {
                        tracing::info!(peer = %conn.peer, scheme, path = ?preq.path, reason = why, "refused: bad credentials");
                        self.miss(conn);
                    }
                    None => {
                        tracing::debug!(peer = %conn.peer, scheme, path = ?preq.path, stale, "authentication challenge")
                    }
                }
                return (StatusCode::UNAUTHORIZED, self.challenge(stale));
            }
            Access::Refused(why) => {
                tracing::info!(peer = %conn.peer, scheme, path = ?preq.path, reason = why, "refused");
                self.miss(conn);
                return (StatusCode::NOT_FOUND, not_found());
            }
        }
        match self.provisioner.respond(preq) {
            Ok(served) => {
                tracing::info!(
                    peer = %conn.peer, scheme, file = %served.file, vendor = served.vendor,
                    staged = served.staged, "served"
                );
                self.metrics.fetch(served.vendor, 200);
                (StatusCode::OK, ok(served))
            }
            Err(r) if r.is_server_error() => {
                tracing::error!(peer = %conn.peer, scheme, path = ?preq.path, error = %r, "cannot answer");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    plain(StatusCode::INTERNAL_SERVER_ERROR, b"internal error\n"),
                )
            }
            Err(r) => {
                tracing::info!(peer = %conn.peer, scheme, path = ?preq.path, reason = %r, "not found");
                if is_miss(&r) {
                    self.miss(conn);
                }
                (StatusCode::NOT_FOUND, not_found())
            }
        }
    }

    /// Credentials first, before anything about the MAC is looked up, so
    /// the 401 is the same for every name. A verified client certificate
    /// stands in for credentials, for its own MAC's files when it names one.
    fn authorize(&self, conn: ConnInfo, presented: &Presented<'_>, path: &str) -> Access {
        if let Some(cert) = conn.client_cert {
            // A device certificate opens its own phone's files only.
            if let Some(mac) = path_mac(path)
                && !cert.allows(mac)
            {
                return Access::Refused("client certificate names another MAC");
            }
            return Access::Granted;
        }
        if conn.secure
            && let Some(dev) = self.policy.device_auth()
            && let Some(mac) = path_mac(path)
            && self.device_auth_applies(mac)
        {
            let own = dev.key().device_credential(&mac);
            return access(dev.check_as(presented, std::slice::from_ref(&own)));
        }
        if let Some(auth) = self.policy.auth() {
            return self.http_auth(auth, presented, path);
        }
        if self.cert_optional && conn.secure && names_a_mac(path) {
            return Access::Refused("per-MAC file without a client certificate");
        }
        Access::Granted
    }

    /// Digest/Basic. A phone's files want its site's own credentials when
    /// the site has some (`[sites.NAME] credentials`), else the global ones;
    /// common files take any valid credential. Credentials that are valid
    /// only for another site get the same 404 as an unknown MAC rather than
    /// a 401, so a credential holder learns nothing about which MACs exist
    /// elsewhere.
    fn http_auth(
        &self,
        auth: &auth::Authenticator,
        presented: &Presented<'_>,
        path: &str,
    ) -> Access {
        if !self.policy.has_site_credentials() {
            return access(auth.check(presented));
        }
        let Some(mac) = path_mac(path) else {
            return access(auth.check_as(presented, self.policy.all_credentials()));
        };
        let site = match self.provisioner.store().user_by_mac(mac) {
            Ok(Some(user)) => Some(user.site),
            Ok(None) | Err(_) => None,
        };
        let verdict = match site
            .as_deref()
            .and_then(|s| self.policy.site_credentials(s))
        {
            Some(own) => auth.check_as(presented, own),
            None => auth.check(presented),
        };
        match verdict {
            Verdict::Bad(_)
                if auth.check_as(presented, self.policy.all_credentials()) == Verdict::Ok =>
            {
                Access::Refused("credentials of another site")
            }
            v => access(v),
        }
    }

    /// Whether `mac`'s per-MAC files need its own credentials: not for a
    /// phone whose vendor's templates don't hand them out (it could never
    /// present them). An unknown MAC is challenged like a real one.
    fn device_auth_applies(&self, mac: crate::domain::mac::Mac) -> bool {
        match self.provisioner.store().user_by_mac(mac) {
            Ok(Some(user)) => user.phones.iter().find(|p| p.mac == mac).is_none_or(|p| {
                crate::vendors::by_id(&p.vendor).is_some_and(|v| v.provisioning.device_credentials)
            }),
            Ok(None) | Err(_) => true,
        }
    }

    /// A 401 with one `WWW-Authenticate` per accepted scheme.
    fn challenge(&self, stale: bool) -> Resp {
        let mut r = plain(StatusCode::UNAUTHORIZED, b"authentication required\n");
        for c in self
            .policy
            .auth()
            .or(self.policy.device_auth())
            .map(|a| a.challenges(stale))
            .unwrap_or_default()
        {
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().append(WWW_AUTHENTICATE, v);
            }
        }
        r
    }

    /// Counts a miss against the source; says so when it starts a ban.
    fn miss(&self, conn: ConnInfo) {
        if self.guard.miss(conn.peer.ip()) {
            self.metrics.ban();
            tracing::warn!(peer = %conn.peer, "source banned after too many misses");
        }
    }

    /// `https://<host>:<https port>/`: the configured URL, else the host the
    /// phone used to reach us, else the address it connected to.
    fn bootstrap_url(&self, req: &hyper::Request<Incoming>, local: SocketAddr) -> String {
        if let Some(u) = &self.https_url {
            return u.clone();
        }
        self.base_url("https", self.https_port, req, local)
    }

    /// `<scheme>://<host>:<port>/` for the host the phone used to reach us,
    /// else the address it connected to.
    fn base_url(
        &self,
        scheme: &str,
        port: u16,
        req: &hyper::Request<Incoming>,
        local: SocketAddr,
    ) -> String {
        let from_header = req.uri().host().map(str::to_string).or_else(|| {
            req.headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(host_part)
        });
        let host = from_header.unwrap_or_else(|| match local.ip().to_canonical() {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        });
        format!("{scheme}://{host}:{port}/")
    }
}

/// Refusals that name a MAC, which a prober would be after; a file name no
/// vendor uses is not a miss (phones ask for many optional files).
fn is_miss(r: &Refusal) -> bool {
    matches!(
        r,
        Refusal::UnknownMac(_) | Refusal::UaMismatch { .. } | Refusal::WrongVendor { .. }
    )
}

/// The access decision for a credential check.
fn access(v: Verdict) -> Access {
    match v {
        Verdict::Ok => Access::Granted,
        Verdict::Missing => Access::Challenge {
            stale: false,
            bad: None,
        },
        Verdict::Stale => Access::Challenge {
            stale: true,
            bad: None,
        },
        Verdict::Bad(why) => Access::Challenge {
            stale: false,
            bad: Some(why),
        },
    }
}

/// The MAC of a per-MAC file name of some vendor.
fn path_mac(path: &str) -> Option<crate::domain::mac::Mac> {
    let name = provision::path::file_name(path)?;
    provision::path::matches(&name).iter().find_map(|m| m.mac)
}

/// Whether the path is a per-MAC file name of some vendor.
fn names_a_mac(path: &str) -> bool {
    provision::path::file_name(path)
        .is_some_and(|n| provision::path::matches(&n).iter().any(|m| m.mac.is_some()))
}

/// What a request offers for authentication.
fn presented<B>(req: &hyper::Request<B>) -> Presented<'_> {
    Presented {
        method: req.method().as_str(),
        uri: request_target(req),
        authorization: req.headers().get(AUTHORIZATION).map(|v| v.as_bytes()),
    }
}

/// The request target as the client sent it, which Digest's `uri` covers.
fn request_target<B>(req: &hyper::Request<B>) -> &str {
    req.uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
}

/// The host of a `Host` header (without port), if it is a plain DNS name,
/// IPv4 address or bracketed IPv6 address. Anything else is ignored.
fn host_part(h: &str) -> Option<String> {
    let h = h.trim();
    if let Some(rest) = h.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        let ip: std::net::Ipv6Addr = inside.parse().ok()?;
        return Some(format!("[{ip}]"));
    }
    let host = h.split(':').next()?;
    let ok = !host.is_empty()
        && host.len() <= 253
        && h.matches(':').count() <= 1
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    ok.then(|| host.to_ascii_lowercase())
}

fn plain(status: StatusCode, body: &'static [u8]) -> Resp {
    let mut r = typed("text/plain; charset=utf-8", Bytes::from_static(body));
    *r.status_mut() = status;
    r
}

/// A 200 with this body and type, never cached (phones must see changes).
fn typed(content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Writes `dir/file` through a temporary file and a rename, so a reader
/// never sees half an upload. `file` is a checked vendor file name.
fn store_upload(dir: &Path, file: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{file}.part"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(file))
}

fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// The single "no" every refusal shares.
fn not_found() -> Resp {
    plain(StatusCode::NOT_FOUND, NOT_FOUND_BODY)
}

fn method_not_allowed() -> Resp {
    let mut r = plain(
        StatusCode::METHOD_NOT_ALLOWED,
        b"only GET and HEAD are served\n",
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

/// A certificate for phones to load.
fn pem(body: String) -> Resp {
    typed("application/x-pem-file", Bytes::from(body))
}

fn ok(served: provision::Served) -> Resp {
    typed(served.content_type, Bytes::from(served.body))
}

/// A HEAD answer: the GET headers with the length stated, no body (h2
/// rejects a HEAD response that carries data).
fn head_only(resp: &mut Resp) {
    use hyper::body::Body;
    let len = resp.body().size_hint().exact().unwrap_or(0);
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    *resp.body_mut() = Full::new(Bytes::new());
}

#[cfg(test)]
mod tests {
    use super::host_part;

    #[test]
    fn hosts() {
        assert_eq!(
            host_part("prov.example.com:8080").as_deref(),
            Some("prov.example.com")
        );
        assert_eq!(host_part("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(host_part("[fd00::1]:80").as_deref(), Some("[fd00::1]"));
        assert_eq!(host_part("evil/path"), None);
        assert_eq!(host_part("a b"), None);
        assert_eq!(host_part("[zz]"), None);
        assert_eq!(host_part("fd00::1"), None);
    }
}
