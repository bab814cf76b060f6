//! The per-request pipeline of the phone listener, without sockets: a
//! request head ([`Parts`]) and what is known of its connection
//! ([`ConnInfo`]) in, a response out. The transport hands the body over as
//! a [`RequestBody`] that is read only when the pipeline asks (an
//! authorised upload, or a refused one drained so the client sees the
//! answer), so tests drive the whole pipeline with a [`Bytes`].
//!
//! A GET or HEAD goes: throttle/ban gate → allow-list → `/ca.pem` →
//! credentials or client certificate → render cache, else provisioner →
//! fetch record (queued for the background writer).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Either;
use hyper::header::{HOST, HeaderMap, USER_AGENT};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};

use super::access::{self, Access, Gatekeeper};
use super::auth::Presented;
use super::cache::{Entry, Key, RenderCache};
use super::client_cert::ClientCert;
use super::firmware::{self, PhoneBody};
use super::options::ServeOptions;
use super::record::{self, Outcome};
use super::{respond, upload};
use crate::app::fetch_log::{self, FetchLog};
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
    /// Came over TFTP (plain like HTTP, so `secure` is false).
    pub tftp: bool,
}

impl ConnInfo {
    /// The transport the fetch history names: `http`, `https` or `tftp`.
    pub fn channel(&self) -> &'static str {
        match (self.tftp, self.secure) {
            (true, _) => "tftp",
            (false, true) => "https",
            (false, false) => "http",
        }
    }
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
    /// Where fetch records go (written in the background).
    fetch_log: Arc<FetchLog>,
    /// Rendered files between requests; `None` when configured off.
    cache: Option<RenderCache>,
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
        let fetch_log = opts.fetch_log.clone().unwrap_or_else(|| {
            Arc::new(FetchLog::start(
                provisioner.shared_store(),
                fetch_log::DEFAULT_CAPACITY,
            ))
        });
        opts.metrics.attach_fetch_log(fetch_log.stats());
        let cache = RenderCache::new(opts.render_cache_bytes);
        if let Some(c) = &cache {
            opts.metrics.attach_render_cache(c.stats());
        }
        Pipeline {
            provisioner,
            access: Gatekeeper::new(opts),
            secrets_over_http: opts.allow_secrets_over_http,
            https_url: opts.https_url.clone(),
            https_port: opts.https.port(),
            http_port: opts.http.port(),
            uploads: opts.uploads.clone(),
            metrics: opts.metrics.clone(),
            fetch_log,
            cache,
        }
    }

    /// Waits (blocking) until the fetch records queued so far are written,
    /// or `within` passed; true if they were.
    pub fn flush_records(&self, within: Duration) -> bool {
        self.fetch_log.flush(within)
    }

    /// Writes the queued fetch records and stops the writer (shutdown).
    /// Blocking.
    pub fn close_records(&self) {
        self.fetch_log.close();
    }

    /// Forgets every rendered file (templates or config reloaded).
    pub fn invalidate_cache(&self) {
        if let Some(c) = &self.cache {
            c.invalidate();
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
            channel: conn.channel(),
            outcome: &outcome,
        };
        record::record(&self.fetch_log, &id, facts);
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
        self.record(conn, &preq, status, &outcome);
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
        let presented = access::presented(parts);
        let (status, mut resp) = self.answer(conn, &presented, &preq, &parts.headers, &mut outcome);
        if !matches!(status, StatusCode::OK | StatusCode::NOT_MODIFIED) {
            // Served files are counted by vendor in `answer`.
            self.metrics.fetch("unknown", status.as_u16());
        }
        if parts.method == Method::HEAD && status != StatusCode::NOT_MODIFIED {
            respond::head_only(&mut resp);
        }
        self.record(conn, &preq, status, &outcome);
        resp
    }

    /// Queues the phone's fetch record (known phones only; a full queue
    /// drops it and counts the drop).
    fn record(
        &self,
        conn: ConnInfo,
        preq: &provision::Request<'_>,
        status: StatusCode,
        outcome: &Outcome,
    ) {
        let id = self.provisioner.identify(preq);
        let facts = record::Facts {
            ip: conn.peer.ip(),
            user_agent: preq.user_agent,
            status: status.as_u16(),
            channel: conn.channel(),
            outcome,
        };
        record::record(&self.fetch_log, &id, facts);
    }

    /// The response, after the access policy and the provisioner had their
    /// say; `outcome` is what the fetch history keeps of it.
    fn answer(
        &self,
        conn: ConnInfo,
        presented: &Presented<'_>,
        preq: &provision::Request<'_>,
        headers: &HeaderMap,
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
        self.provide(conn, scheme, preq, headers, outcome)
    }

    /// What the provisioner makes of an authorised request: the file (from
    /// the cache when current), a 304 when the client has it, or the
    /// refusal.
    fn provide(
        &self,
        conn: ConnInfo,
        scheme: &str,
        preq: &provision::Request<'_>,
        headers: &HeaderMap,
        outcome: &mut Outcome,
    ) -> (StatusCode, Resp) {
        let (entry, cached) = match self.file(preq) {
            Ok(found) => found,
            Err(r) => return self.refused(conn, scheme, preq, r, outcome),
        };
        *outcome = Outcome::Done(delivered(entry.main, entry.staged));
        tracing::info!(
            peer = %conn.peer, scheme, file = %entry.file, vendor = entry.vendor,
            staged = entry.staged, cached, "served"
        );
        if !entry.warnings.is_empty() {
            let mac = self.provisioner.identify(preq).mac.map(|m| m.colon());
            for w in &entry.warnings {
                // Every clock warning starts with its zone.
                let (zone, what) = w.split_once(": ").unwrap_or(("-", w));
                tracing::warn!(
                    peer = %conn.peer, mac = mac.as_deref().unwrap_or("-"),
                    vendor = entry.vendor, zone, file = %entry.file,
                    "cannot express the zone: {what}"
                );
            }
        }
        if entry.not_modified(headers) {
            self.metrics.fetch(entry.vendor, 304);
            if let Some(c) = &self.cache {
                c.stats()
                    .not_modified
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            return (StatusCode::NOT_MODIFIED, respond::not_modified(&entry));
        }
        self.metrics.fetch(entry.vendor, 200);
        (StatusCode::OK, respond::rendered(&entry))
    }

    /// The file for `preq` and whether it came from the cache: the cache's
    /// current copy, else rendered now (and kept, if nothing it depends on
    /// moved meanwhile).
    fn file(&self, preq: &provision::Request<'_>) -> Result<(Arc<Entry>, bool), Refusal> {
        let Some(cache) = &self.cache else {
            let served = self.provisioner.respond(preq)?;
            return Ok((Arc::new(Entry::uncached(served)), false));
        };
        let epoch = |cache: &RenderCache| -> Result<_, Refusal> {
            let generation = self.provisioner.store().generation()?;
            Ok(cache.epoch(generation, self.provisioner.refreshes()))
        };
        let before = epoch(cache)?;
        let key = Key::of(preq);
        if let Some(entry) = cache.get(&key, before) {
            return Ok((entry, true));
        }
        let served = self.provisioner.respond(preq)?;
        let keep = epoch(cache).is_ok_and(|after| after == before);
        Ok((cache.put(key, before, served, keep), false))
    }

    /// A refusal from the provisioner: 500 for our failures, else the one
    /// 404 (a miss when it named a MAC).
    fn refused(
        &self,
        conn: ConnInfo,
        scheme: &str,
        preq: &provision::Request<'_>,
        r: Refusal,
        outcome: &mut Outcome,
    ) -> (StatusCode, Resp) {
        if r.is_server_error() {
            tracing::error!(peer = %conn.peer, scheme, path = ?preq.path, error = %r, "cannot answer");
            *outcome = Outcome::Refused(r.to_string());
            return (StatusCode::INTERNAL_SERVER_ERROR, respond::internal_error());
        }
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
fn delivered(main: bool, staged: bool) -> crate::store::FetchKind {
    use crate::store::FetchKind;
    match (main, staged) {
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
