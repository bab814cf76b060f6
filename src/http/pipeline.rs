//! The per-request pipeline of the phone listener, without sockets: a
//! request head ([`Parts`]) and what is known of its connection
//! ([`ConnInfo`]) in, a response out. The transport hands the body over as
//! a [`RequestBody`] that is read only when the pipeline asks (an
//! authorised upload, or a refused one drained so the client sees the
//! answer), so tests drive the whole pipeline with a [`Bytes`].
//!
//! A GET or HEAD goes: throttle/ban gate → allow-list → `/ca.pem` →
//! credentials or client certificate → provisioner → fetch record.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Either;
use hyper::header::{HOST, USER_AGENT};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};

use super::access::{self, Access, Gatekeeper};
use super::auth::Presented;
use super::client_cert::ClientCert;
use super::firmware::{self, PhoneBody};
use super::options::ServeOptions;
use super::record::{self, Outcome};
use super::{respond, upload};
use crate::app::metrics::Metrics;
use crate::net::{self, Resp};
use crate::provision::{self, Channel, Provisioner, Refusal};

/// Largest request body read (and discarded) before a refusal; larger
/// uploads are cut off.
const MAX_DISCARDED_BODY: usize = 64 * 1024;

/// What is known of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// The address the phone connected to (the fallback host of the URLs
    /// it is sent to).
    pub local: SocketAddr,
    /// TLS: per-MAC main files are delivered in full, not as bootstraps.
    pub secure: bool,
    /// A client certificate verified against `[tls] client_ca`, and the
    /// MACs it names.
    pub client_cert: Option<ClientCert>,
}

/// Why a request body was not read: longer than the limit, slower than
/// the time allowed, or broken off.
#[derive(Debug, thiserror::Error)]
#[error("request body too large, too slow or broken off")]
pub struct BodyError;

/// A request body, read only when the pipeline asks for it.
pub trait RequestBody: Send {
    /// The whole body if it is at most `limit` bytes and arrives within
    /// `within`.
    fn read(
        self,
        limit: usize,
        within: Duration,
    ) -> impl Future<Output = Result<Bytes, BodyError>> + Send;
}

/// A body already in memory: only the size limit applies.
impl RequestBody for Bytes {
    async fn read(self, limit: usize, _within: Duration) -> Result<Bytes, BodyError> {
        if self.len() <= limit {
            Ok(self)
        } else {
            Err(BodyError)
        }
    }
}

/// The phone listener's shared state: everything a request is answered
/// from.
pub struct Pipeline {
    provisioner: Arc<Provisioner>,
    access: Gatekeeper,
    secrets_over_http: bool,
    https_url: Option<String>,
    https_port: u16,
    http_port: u16,
    uploads: Option<PathBuf>,
    metrics: Arc<Metrics>,
}

/// What becomes of a request other than GET or HEAD.
enum Other {
    /// An authorised upload: read the body, then store it.
    Upload(upload::Target),
    /// Refused (405, or 401 for credentials); the body is drained.
    Refuse(Resp),
}

impl Pipeline {
    /// The pipeline for `opts`, binding nothing. `opts.http` and
    /// `opts.https` give the ports phones are sent to (the bound ones).
    pub fn new(provisioner: Arc<Provisioner>, opts: &ServeOptions) -> Pipeline {
        Pipeline {
            provisioner,
            access: Gatekeeper::new(opts),
            secrets_over_http: opts.allow_secrets_over_http,
            https_url: opts.https_url.clone(),
            https_port: opts.https.port(),
            http_port: opts.http.port(),
            uploads: opts.uploads.clone(),
            metrics: opts.metrics.clone(),
        }
    }

    /// Answers one request.
    pub async fn serve(&self, conn: ConnInfo, parts: &Parts, body: impl RequestBody) -> Resp {
        // Held (for a throttled source) until the answer is made.
        let Some(_turn) = self.access.wait_turn(conn.peer).await else {
            return respond::not_found();
        };
        if parts.method == Method::GET || parts.method == Method::HEAD {
            return self.fetch(conn, parts);
        }
        match self.other_method(conn, parts) {
            Other::Upload(target) => {
                let body = body.read(upload::MAX_UPLOAD, upload::UPLOAD_TIMEOUT).await;
                self.upload(conn, parts, target, body).await
            }
            Other::Refuse(refusal) => {
                tracing::info!(peer = %conn.peer, method = %parts.method, status = %refusal.status(), "not accepted");
                // Read (and drop) a small upload before refusing, so the
                // client sees the answer instead of a reset while it is
                // still sending.
                let _ = body.read(MAX_DISCARDED_BODY, net::HEADER_TIMEOUT).await;
                refusal
            }
        }
    }

    /// [`Pipeline::serve`], plus the firmware images under
    /// `/firmware/`, streamed from their files: what the listeners call.
    /// A firmware file is public (a vendor image, no secrets), so like
    /// `/ca.pem` it takes the throttle and allow-list but no credentials
    /// (docs/firmware.md); it is recorded and counted as any fetch.
    pub async fn serve_phone(
        &self,
        conn: ConnInfo,
        parts: &Parts,
        body: impl RequestBody,
    ) -> hyper::Response<PhoneBody> {
        let get = parts.method == Method::GET || parts.method == Method::HEAD;
        if !(get
            && parts
                .uri
                .path()
                .starts_with(provision::firmware::URL_PREFIX))
        {
            return self.serve(conn, parts, body).await.map(Either::Left);
        }
        let Some(_turn) = self.access.wait_turn(conn.peer).await else {
            return respond::not_found().map(Either::Left);
        };
        let path = parts.uri.path();
        let scheme = if conn.secure { "https" } else { "http" };
        let allowed = self.access.allows(conn.peer.ip());
        let file = if allowed {
            self.provisioner.firmware().file_for(path)
        } else {
            tracing::info!(peer = %conn.peer, scheme, path, "refused: source not in policy.allow");
            self.access.miss(conn.peer);
            None
        };
        let resp = match file {
            Some(file) => {
                firmware::answer(&file, &parts.headers, parts.method == Method::HEAD).await
            }
            None => respond::not_found().map(Either::Left),
        };
        let ua = user_agent(parts);
        let parsed = ua.and_then(crate::vendors::parse_user_agent);
        let vendor = parsed.as_ref().map_or("unknown", |(v, _)| v.id);
        let status = resp.status();
        tracing::info!(peer = %conn.peer, scheme, path, vendor, status = status.as_u16(), "firmware");
        self.metrics.fetch(vendor, status.as_u16());
        let id = provision::Identity {
            file: Some(path.trim_start_matches('/').to_string()),
            mac: parsed.as_ref().and_then(|(_, i)| i.mac),
            mac_in_path: false,
            ua: parsed.map(|(_, i)| i),
        };
        let outcome = if !allowed {
            Outcome::Refused("source not in policy.allow".into())
        } else if status == StatusCode::NOT_FOUND {
            Outcome::NotFound
        } else {
            Outcome::Done(crate::store::FetchKind::Other)
        };
        let facts = record::Facts {
            ip: conn.peer.ip(),
            user_agent: ua,
            status: status.as_u16(),
            secure: conn.secure,
            outcome: &outcome,
        };
        if let Err(e) = record::record(self.provisioner.store(), &id, facts) {
            tracing::warn!(error = %e, "cannot record the firmware fetch");
        }
        resp
    }

    /// What becomes of a request other than GET/HEAD: an upload, or a 405,
    /// or for a PUT from an allowed source that needs credentials first the
    /// same 401 as a GET (phones authenticate only when challenged), before
    /// anything about the name is looked up. Checked once: a Digest nonce
    /// count may only be used once.
    fn other_method(&self, conn: ConnInfo, parts: &Parts) -> Other {
        let Some(root) = self.uploads.as_deref() else {
            return Other::Refuse(respond::method_not_allowed());
        };
        if parts.method != Method::PUT || !self.access.allows(conn.peer.ip()) {
            return Other::Refuse(respond::method_not_allowed());
        }
        let store = self.provisioner.store();
        match self
            .access
            .authorize(conn, &access::presented(parts), parts.uri.path(), store)
        {
            Access::Challenge { stale, bad } => {
                if let Some(why) = bad {
                    tracing::info!(peer = %conn.peer, reason = why, "refused upload: bad credentials");
                    self.access.miss(conn.peer);
                }
                Other::Refuse(self.access.challenge(stale))
            }
            Access::Granted => match upload::target(root, parts, store) {
                Some(target) => Other::Upload(target),
                None => Other::Refuse(respond::method_not_allowed()),
            },
            Access::Refused(_) => Other::Refuse(respond::method_not_allowed()),
        }
    }

    /// Stores an authorised upload and records it.
    async fn upload(
        &self,
        conn: ConnInfo,
        parts: &Parts,
        target: upload::Target,
        body: Result<Bytes, BodyError>,
    ) -> Resp {
        let (status, resp) = upload::receive(conn.peer, target, body).await;
        let preq = provision::Request {
            path: parts.uri.path(),
            user_agent: user_agent(parts),
            channel: Channel::Secure,
            https_url: None,
            http_url: None,
        };
        let outcome = if status.is_success() {
            Outcome::Done(crate::store::FetchKind::Other)
        } else {
            Outcome::Refused(format!("upload not taken ({status})"))
        };
        if let Err(e) = self.record(conn, &preq, status, &outcome) {
            tracing::warn!(error = %e, "cannot record the upload");
        }
        resp
    }

    /// A GET or HEAD: the file, or the refusal, recorded and counted.
    fn fetch(&self, conn: ConnInfo, parts: &Parts) -> Resp {
        let https_url = self.bootstrap_url(parts, conn.local);
        let http_url = self.base_url("http", self.http_port, parts, conn.local);
        let channel = if conn.secure || self.secrets_over_http {
            Channel::Secure
        } else {
            Channel::Bootstrap {
                https_url: https_url.clone(),
            }
        };
        let preq = provision::Request {
            path: parts.uri.path(),
            user_agent: user_agent(parts),
            channel,
            https_url: Some(&https_url),
            http_url: Some(&http_url),
        };
        let mut outcome = Outcome::NotFound;
        let (status, mut resp) = self.answer(conn, &access::presented(parts), &preq, &mut outcome);
        if status != StatusCode::OK {
            // Served files are counted by vendor in `answer`.
            self.metrics.fetch("unknown", status.as_u16());
        }
        if parts.method == Method::HEAD {
            respond::head_only(&mut resp);
        }
        if let Err(e) = self.record(conn, &preq, status, &outcome) {
            tracing::warn!(error = %e, "cannot record the fetch");
        }
        resp
    }

    /// Updates the phone's fetch record (known phones only).
    fn record(
        &self,
        conn: ConnInfo,
        preq: &provision::Request<'_>,
        status: StatusCode,
        outcome: &Outcome,
    ) -> Result<(), crate::store::StoreError> {
        let id = self.provisioner.identify(preq);
        let facts = record::Facts {
            ip: conn.peer.ip(),
            user_agent: preq.user_agent,
            status: status.as_u16(),
            secure: conn.secure,
            outcome,
        };
        record::record(self.provisioner.store(), &id, facts)
    }

    /// The response, after the access policy and the provisioner had their
    /// say; `outcome` is what the fetch history keeps of it.
    fn answer(
        &self,
        conn: ConnInfo,
        presented: &Presented<'_>,
        preq: &provision::Request<'_>,
        outcome: &mut Outcome,
    ) -> (StatusCode, Resp) {
        let scheme = if conn.secure { "https" } else { "http" };
        if !self.access.allows(conn.peer.ip()) {
            tracing::info!(peer = %conn.peer, scheme, path = ?preq.path, "refused: source not in policy.allow");
            self.access.miss(conn.peer);
            *outcome = Outcome::Refused("source not in policy.allow".into());
            return (StatusCode::NOT_FOUND, respond::not_found());
        }
        // The CA is public and needed before a phone can check anything
        // (or hold credentials): no authentication, allow-list only.
        if preq.path == provision::CA_PATH
            && let Some(ca) = self.provisioner.phone_ca()
        {
            tracing::info!(peer = %conn.peer, scheme, file = "ca.pem", "served");
            *outcome = Outcome::Done(crate::store::FetchKind::Other);
            return (StatusCode::OK, respond::pem(ca.pem().to_string()));
        }
        let store = self.provisioner.store();
        match self.access.authorize(conn, presented, preq.path, store) {
            Access::Granted => {}
            Access::Challenge { stale, bad } => {
                match bad {
                    Some(why) => {
                        tracing::info!(peer = %conn.peer, scheme, path = ?preq.path, reason = why, "refused: bad credentials");
                        self.access.miss(conn.peer);
                        *outcome = Outcome::Refused(format!("bad credentials: {why}"));
                    }
                    None => {
                        *outcome = Outcome::Challenge;
                        tracing::debug!(peer = %conn.peer, scheme, path = ?preq.path, stale, "authentication challenge")
                    }
                }
                return (StatusCode::UNAUTHORIZED, self.access.challenge(stale));
            }
            Access::Refused(why) => {
                tracing::info!(peer = %conn.peer, scheme, path = ?preq.path, reason = why, "refused");
                self.access.miss(conn.peer);
                *outcome = Outcome::Refused(why.to_string());
                return (StatusCode::NOT_FOUND, respond::not_found());
            }
        }
        self.provide(conn, scheme, preq, outcome)
    }

    /// What the provisioner makes of an authorised request.
    fn provide(
        &self,
        conn: ConnInfo,
        scheme: &str,
        preq: &provision::Request<'_>,
        outcome: &mut Outcome,
    ) -> (StatusCode, Resp) {
        match self.provisioner.respond(preq) {
            Ok(served) => {
                *outcome = Outcome::Done(delivered(&served));
                tracing::info!(
                    peer = %conn.peer, scheme, file = %served.file, vendor = served.vendor,
                    staged = served.staged, "served"
                );
                if !served.warnings.is_empty() {
                    let mac = self.provisioner.identify(preq).mac.map(|m| m.colon());
                    for w in &served.warnings {
                        // Every clock warning starts with its zone.
                        let (zone, what) = w.split_once(": ").unwrap_or(("-", w));
                        tracing::warn!(
                            peer = %conn.peer, mac = mac.as_deref().unwrap_or("-"),
                            vendor = served.vendor, zone, file = %served.file,
                            "cannot express the zone: {what}"
                        );
                    }
                }
                self.metrics.fetch(served.vendor, 200);
                (StatusCode::OK, respond::served(served))
            }
            Err(r) if r.is_server_error() => {
                tracing::error!(peer = %conn.peer, scheme, path = ?preq.path, error = %r, "cannot answer");
                *outcome = Outcome::Refused(r.to_string());
                (StatusCode::INTERNAL_SERVER_ERROR, respond::internal_error())
            }
            Err(r) => {
                tracing::info!(peer = %conn.peer, scheme, path = ?preq.path, reason = %r, "not found");
                if is_miss(&r) {
                    self.access.miss(conn.peer);
                }
                *outcome = match r {
                    Refusal::NoSuchFile | Refusal::Ambiguous => Outcome::NotFound,
                    other => Outcome::Refused(other.to_string()),
                };
                (StatusCode::NOT_FOUND, respond::not_found())
            }
        }
    }

    /// `https://<host>:<https port>/`: the configured URL, else the host the
    /// phone used to reach us, else the address it connected to.
    fn bootstrap_url(&self, parts: &Parts, local: SocketAddr) -> String {
        if let Some(u) = &self.https_url {
            return u.clone();
        }
        self.base_url("https", self.https_port, parts, local)
    }

    /// `<scheme>://<host>:<port>/` for the host the phone used to reach us,
    /// else the address it connected to.
    fn base_url(&self, scheme: &str, port: u16, parts: &Parts, local: SocketAddr) -> String {
        let from_header = parts.uri.host().map(str::to_string).or_else(|| {
            parts
                .headers
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

/// What a served file was, for the fetch history.
fn delivered(served: &provision::Served) -> crate::store::FetchKind {
    use crate::store::FetchKind;
    match (served.main, served.staged) {
        (true, true) => FetchKind::Bootstrap,
        (true, false) => FetchKind::Full,
        (false, _) => FetchKind::Other,
    }
}

/// The User-Agent, when it is text.
fn user_agent(parts: &Parts) -> Option<&str> {
    parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok())
}

/// Refusals that name a MAC, which a prober would be after; a file name no
/// vendor uses is not a miss (phones ask for many optional files).
fn is_miss(r: &Refusal) -> bool {
    matches!(
        r,
        Refusal::UnknownMac(_) | Refusal::UaMismatch { .. } | Refusal::WrongVendor { .. }
    )
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
