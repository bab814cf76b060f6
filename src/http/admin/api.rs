//! The admin API's routes (`/api/v1/...`, `/metrics`), the same for the TCP
//! listener and the Unix socket; only who the caller is differs.
//!
//! Every answer is an [`Answer`] from [`ops`], sent with its exit code in
//! the `Autoprov-Exit-Code` header (and the CLI's stderr sentence,
//! percent-encoded, in `Autoprov-Message`). An answer without output gets an
//! RFC 9457 `application/problem+json` body instead.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::app::explain;
use crate::app::fleet;
use crate::app::ops::{
    self, Answer, Format, ImportRequest, PhoneFilter, RenderRequest, RotateTarget, UserFilter,
};
use crate::app::tokens::TokenSet;
use crate::import::ImportOptions;
use crate::import::mapping::Mapping;
use crate::import::read::ReadOptions;
use crate::store::StoreError;

mod manage;
use manage::OpKind;

pub use crate::app::client::{EXIT_CODE_HEADER, MESSAGE_HEADER, PROBLEM_TYPE};
/// Bytes escaped in [`MESSAGE_HEADER`]: controls, `%` and everything non-ASCII.
const MESSAGE_ESCAPE: &AsciiSet = &CONTROLS.add(b'%');
/// The request body (the CSV) must arrive within this time.
const BODY_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest body read for a request that takes none, before answering.
const MAX_IGNORED_BODY: usize = 64 * 1024;

pub type Resp = Response<Full<Bytes>>;

/// Tunables of `[admin]`.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Largest import body (a 100,000-user CSV is ~15 MB).
    pub max_body_bytes: usize,
    /// Requests from loopback peers need no token.
    pub anonymous_loopback: bool,
    /// Secrets (export `include_secrets`, `users/{name}?secrets`,
    /// `show_secrets`) over TCP; the Unix socket always may.
    pub expose_secrets: bool,
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub enum Caller {
    /// The Unix socket in the data directory; its owner, checked at accept.
    Socket,
    Tcp(SocketAddr),
}

/// Everything the routes need; shared by both listeners.
pub struct Api {
    pub serving: Arc<crate::app::Serving>,
    pub tokens: TokenSet,
    pub settings: ApiSettings,
    /// The scheduled import sources.
    pub sources: Arc<crate::app::sources::Runner>,
}

/// A refusal before any route runs.
struct Problem {
    status: StatusCode,
    exit_code: u8,
    detail: String,
}

impl Problem {
    fn new(status: StatusCode, exit_code: u8, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            exit_code,
            detail: detail.into(),
        }
    }

    fn usage(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, 2, detail)
    }
}

impl From<Problem> for Answer {
    fn from(p: Problem) -> Answer {
        Answer::fail(p.exit_code, p.status.as_u16(), p.detail)
    }
}

impl From<ops::OpError> for Problem {
    fn from(e: ops::OpError) -> Problem {
        tracing::error!(error = %e, "admin API request failed");
        match e {
            ops::OpError::Store(StoreError::Conflict)
            | ops::OpError::Import(crate::import::ImportError::Store(StoreError::Conflict)) => {
                Problem::new(StatusCode::CONFLICT, 3, e.to_string())
            }
            _ => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, 3, e.to_string()),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        ops::OpError::from(e).into()
    }
}

/// Decoded query parameters; a name given twice keeps the last value.
struct Query(HashMap<String, String>);

impl Query {
    fn parse(q: Option<&str>) -> Query {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(q.unwrap_or("").as_bytes()).into_owned() {
            insert_param(&mut map, k, v);
        }
        Query(map)
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// `?flag`, `?flag=true|1|yes` or `false|0|no`.
    fn flag(&self, k: &str) -> Result<bool, Problem> {
        Ok(self.opt_flag(k)?.unwrap_or(false))
    }

    fn opt_flag(&self, k: &str) -> Result<Option<bool>, Problem> {
        match self.get(k) {
            None => Ok(None),
            Some("" | "true" | "1" | "yes") => Ok(Some(true)),
            Some("false" | "0" | "no") => Ok(Some(false)),
            Some(v) => Err(Problem::usage(format!(
                "query parameter {k}={v:?} must be true or false"
            ))),
        }
    }

    /// `?format=json|text`, JSON unless asked.
    fn format(&self) -> Result<Format, Problem> {
        match self.get("format") {
            None | Some("json") => Ok(Format::Json),
            Some("text") => Ok(Format::Text),
            Some(v) => Err(Problem::usage(format!(
                "format {v:?} is not supported; use json or text"
            ))),
        }
    }
}

/// A dry run of an uploaded file (`app::preview`).
type DryRun = fn(
    &dyn crate::store::Store,
    &crate::config::Config,
    Vec<u8>,
    &crate::app::ops::ImportRequest,
) -> Result<Answer, crate::import::ImportError>;
impl Api {
    /// Answers one request.
    pub async fn handle(self: Arc<Self>, caller: Caller, req: Request<Incoming>) -> Resp {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        let get = method == Method::GET || method == Method::HEAD;
        if get && let Some(page) = super::web::asset(&path) {
            return page;
        }
        if get && path == "/favicon.ico" {
            return manage::favicon();
        }
        let disposition = manage::attachment(&path, req.uri().query());
        if let Some(resp) = super::health::answer(&path, &method, &self.serving).await {
            return resp;
        }
        if let Some(resp) = self.refusal(caller, &req) {
            tracing::info!(?caller, %method, path = %path, "admin API: refused, no valid token");
            drain(req).await;
            return resp;
        }
        let answer = match self.clone().route(caller, req).await {
            Ok(a) => a,
            Err(p) => p.into(),
        };
        tracing::info!(?caller, %method, path = %path, status = answer.status, "admin API");
        let ok = answer.status == 200;
        let mut resp = to_response(answer);
        if let Some(d) = disposition.filter(|_| ok) {
            resp.headers_mut().insert(
                hyper::header::CONTENT_DISPOSITION,
                HeaderValue::from_static(d),
            );
        }
        resp
    }

    /// The bearer token check (constant time, in [`TokenSet::verify`]):
    /// the 401 to send, or `None` to go on. Tokens are never logged.
    fn refusal(&self, caller: Caller, req: &Request<Incoming>) -> Option<Resp> {
        let peer = match caller {
            Caller::Socket => return None,
            Caller::Tcp(peer) => peer,
        };
        if anonymous(&self.settings, peer, req.headers()) {
            return None;
        }
        let token = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            });
        let (challenge, code, detail) = match token {
            Some(t) if self.tokens.verify(t) => return None,
            Some(_) => (
                "Bearer realm=\"autoprov-admin\", error=\"invalid_token\"",
                manage::TOKEN_INVALID,
                "the bearer token is not valid (revoked, or never created)",
            ),
            None => (
                "Bearer realm=\"autoprov-admin\"",
                manage::TOKEN_MISSING,
                "a bearer token is required; create one with `autoprov admin token create`",
            ),
        };
        let mut r = to_response(manage::unauthorized(code, detail));
        r.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        Some(r)
    }

    fn secrets_allowed(&self, caller: Caller) -> bool {
        matches!(caller, Caller::Socket) || self.settings.expose_secrets
    }

    fn check_secrets(&self, caller: Caller, asked: bool) -> Result<(), Problem> {
        if asked && !self.secrets_allowed(caller) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                2,
                "secrets are not sent over the admin listener unless [admin] expose_secrets = true",
            ));
        }
        Ok(())
    }

    async fn route(
        self: Arc<Self>,
        caller: Caller,
        req: Request<Incoming>,
    ) -> Result<Answer, Problem> {
        let q = Query::parse(req.uri().query());
        let path = req.uri().path().to_string();
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = req.method().clone();
        let get = method == Method::GET || method == Method::HEAD;
        match (seg.as_slice(), get, method == Method::POST) {
            (["metrics"], true, _) => {
                let this = self.clone();
                blocking(move || {
                    this.serving.settle();
                    this.metrics()
                })
                .await
            }
            (["api", "v1", "import"], _, true) => self.import(caller, &q, req).await,
            (["api", "v1", "import", "preview"], _, true) if q.get("report") == Some("csv") => {
                self.dry_run(caller, &q, req, crate::app::preview::report_csv)
                    .await
            }
            (["api", "v1", "import", "preview"], _, true) => {
                self.dry_run(caller, &q, req, crate::app::preview::preview)
                    .await
            }
            (["api", "v1", "users", name, "settings"], _, true) => {
                let name = name.to_string();
                self.user_settings(caller, &q, req, name).await
            }
            (["api", "v1", "phones", "rotate-admin-password"], _, true) => {
                drain(req).await;
                self.rotate(caller, RotateTarget::All).await
            }
            (["api", "v1", "phones", mac, "rotate-admin-password"], _, true) => {
                drain(req).await;
                self.rotate(caller, RotateTarget::Mac(mac.to_string()))
                    .await
            }
            (["api", "v1", "sources"], true, _) => Ok(self.sources.list()),
            (["api", "v1", "sources", name, "preview"], _, true) => {
                drain(req).await;
                Ok(self.sources.preview(name).await)
            }
            (["api", "v1", "sources", name, "run"], _, true) => {
                drain(req).await;
                // A test run unless the caller says otherwise.
                let dry_run = q.opt_flag("dry_run")?.unwrap_or(true);
                let format = q.format()?;
                Ok(self.sources.run(name, dry_run, format).await)
            }
            (["api", "v1", "users"], _, true) => {
                self.user_op(caller, &q, req, OpKind::Create).await
            }
            (["api", "v1", "users", name], _, _) if method == Method::PATCH => {
                let kind = OpKind::Edit(name.to_string());
                self.user_op(caller, &q, req, kind).await
            }
            (["api", "v1", "users", name], _, _) if method == Method::DELETE => {
                let name = name.to_string();
                self.delete_user(caller, &q, req, name).await
            }
            (["api", "v1", "users", name, "phones"], _, true) => {
                let kind = OpKind::AddPhone(name.to_string());
                self.user_op(caller, &q, req, kind).await
            }
            (["api", "v1", "users", name, "phones", mac], _, _) if method == Method::DELETE => {
                let kind = OpKind::RemovePhone(name.to_string(), mac.to_string());
                self.user_op(caller, &q, req, kind).await
            }
            (["api", "v1", "users", name, "rotate-sip-password"], _, true) => {
                let kind = OpKind::RotateSipPassword(name.to_string());
                self.user_op(caller, &q, req, kind).await
            }
            (["api", "v1", rest @ ..], true, _) => {
                drain(req).await;
                let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
                let this = self.clone();
                blocking(move || {
                    // Fleet views show every fetch answered before them.
                    this.serving.settle();
                    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
                    this.get(caller, &rest, &q)
                })
                .await
            }
            (["api", "v1", ..], false, _) | (["metrics"], false, _) => Err(Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                2,
                format!("{method} is not allowed on {path}"),
            )),
            _ => Err(Problem::new(
                StatusCode::NOT_FOUND,
                2,
                format!("no such endpoint: {path}"),
            )),
        }
    }

    /// `/metrics`: the counters, then the fleet's gauges from the store.
    fn metrics(&self) -> Result<Answer, Problem> {
        let mut body = self.serving.metrics.render();
        body.push_str(&fleet::gauges(self.serving.store.as_ref())?);
        Ok(Answer {
            body: body.into_bytes(),
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            exit_code: 0,
            message: None,
            status: 200,
        })
    }

    /// The read-only endpoints.
    fn get(&self, caller: Caller, rest: &[&str], q: &Query) -> Result<Answer, Problem> {
        let store = self.serving.store.as_ref();
        let format = q.format();
        match rest {
            ["users" | "phones"] if let Some(page) = self.page(rest[0], q)? => Ok(page),
            ["template.csv"] => Ok(Answer::ok(
                crate::app::preview::TEMPLATE_CSV,
                "text/csv; charset=utf-8",
            )),
            ["phones", mac, "preview"] => self.phone_preview(mac),
            ["users"] => {
                let filter = UserFilter {
                    site: q.get("site").map(str::to_string),
                    source: q.get("source").map(str::to_string),
                    enabled: q.opt_flag("enabled")?,
                    q: q.get("q").map(str::to_string),
                };
                Ok(ops::users(store, format?, &filter)?)
            }
            ["users", name] => {
                let secrets = q.flag("secrets")?;
                self.check_secrets(caller, secrets)?;
                Ok(ops::user(store, name, secrets, format?)?)
            }
            ["phones"] if q.flag("outdated")? => {
                let fw = &self.serving.config.firmware;
                Ok(crate::app::outdated::outdated(store, fw, format?)?)
            }
            ["phones"] => {
                let filter = PhoneFilter {
                    vendor: q.get("vendor").map(str::to_string),
                    username: q.get("username").map(str::to_string),
                    fetched: q.opt_flag("fetched")?,
                };
                let firmware = &self.serving.config.firmware;
                Ok(ops::phones(store, firmware, format?, &filter)?)
            }
            ["phones", mac] => {
                let secrets = q.flag("secrets")?;
                self.check_secrets(caller, secrets)?;
                let sites = &self.serving.config.site_phone_passwords;
                let format = format?;
                let firmware = &self.serving.config.firmware;
                let answer = ops::phone(store, sites, firmware, mac, secrets, format)?;
                let vendor_settings = &self.serving.config.settings;
                let answer = explain::phone_settings(answer, store, vendor_settings, mac, format)?;
                if secrets && answer.exit_code == 0 {
                    // The audit line: who saw which phone's passwords, never the values.
                    tracing::warn!(?caller, mac = %mac, "admin API: phone web passwords revealed");
                }
                Ok(answer)
            }
            ["history"] => Ok(ops::history(store, format?)?),
            ["export"] => {
                let secrets = q.flag("include_secrets")?;
                self.check_secrets(caller, secrets)?;
                let Some(export_format) =
                    crate::export::Format::parse(q.get("format").unwrap_or("csv"))
                else {
                    return Ok(Answer::fail(
                        2,
                        400,
                        "format: csv, kamailio, kamailio-dbtext, asterisk or freeswitch",
                    ));
                };
                let sites = &self.serving.config.sites;
                Ok(ops::export(store, sites, export_format, secrets)?)
            }
            ["render", mac] => {
                // The main file carries the phone's SIP and web passwords, so
                // a render is a reveal: same opt-in as `?secrets=1`.
                self.check_secrets(caller, true)?;
                let req = RenderRequest {
                    mac: mac.to_string(),
                    file: q.get("file").map(str::to_string),
                    user_agent: q.get("user_agent").map(str::to_string),
                    explain: q.flag("explain")?,
                };
                let https_url = self.serving.config.provision.https_url.as_deref();
                let answer = ops::render(&self.serving.provisioner, https_url, &req)?;
                if answer.exit_code == 0 {
                    // A main file carries the phone's SIP and web passwords:
                    // audited like a reveal (never the values).
                    tracing::warn!(?caller, mac = %mac, file = ?req.file, "admin API: phone file rendered, with its passwords if it is the main file");
                }
                Ok(answer)
            }
            _ => Err(Problem::new(
                StatusCode::NOT_FOUND,
                2,
                format!("no such endpoint: /api/v1/{}", rest.join("/")),
            )),
        }
    }

    /// `POST /api/v1/phones/{mac}/rotate-admin-password` and
    /// `POST /api/v1/phones/rotate-admin-password` (every phone).
    async fn rotate(
        self: Arc<Self>,
        caller: Caller,
        target: RotateTarget,
    ) -> Result<Answer, Problem> {
        let this = self.clone();
        let answer = blocking(move || {
            let sites = &this.serving.config.site_phone_passwords;
            Ok(ops::rotate_phone_passwords(
                this.serving.store.as_ref(),
                sites,
                &target,
            )?)
        })
        .await?;
        tracing::info!(
            ?caller,
            status = answer.status,
            "admin API: phone web passwords rotated"
        );
        Ok(answer)
    }

    /// `POST /api/v1/import`: raw CSV or `multipart/form-data` with a
    /// `file` part; options from the query string or from form fields.
    async fn import(
        self: Arc<Self>,
        caller: Caller,
        q: &Query,
        req: Request<Incoming>,
    ) -> Result<Answer, Problem> {
        let (bytes, mut request) = self.upload(caller, q, req).await?;
        if let Some(refusal) = self.deletions_unconfirmed(&bytes, &mut request).await? {
            return Ok(refusal);
        }
        self.import_bytes(bytes, request).await
    }

    /// `POST /api/v1/users/NAME/settings`: the user's phone-level vendor
    /// settings (docs/settings.md), the body a JSON object or
    /// `key=value;...`, an empty body clearing them. Run as a one-row
    /// upsert import, so the checks, the report and the rule that an
    /// unchanged value bumps no version are the import's.
    async fn user_settings(
        self: Arc<Self>,
        caller: Caller,
        q: &Query,
        req: Request<Incoming>,
        name: String,
    ) -> Result<Answer, Problem> {
        let (bytes, mut request) = self.upload(caller, q, req).await?;
        let cell = String::from_utf8_lossy(&bytes).trim().replace('"', "\"\"");
        let name = name.replace('"', "\"\"");
        let csv = format!("username,settings\n\"{name}\",\"{cell}\"\n").into_bytes();
        request.options.mode = crate::import::Mode::Upsert;
        request.options.file_name = "api:settings".into();
        self.import_bytes(csv, request).await
    }

    /// Runs an import of `bytes` and counts it in the metrics.
    async fn import_bytes(
        self: &Arc<Self>,
        bytes: Vec<u8>,
        request: ImportRequest,
    ) -> Result<Answer, Problem> {
        let this = self.clone();
        let mode = request.options.mode.as_str();
        let dry_run = request.options.dry_run;
        let result = blocking(move || {
            this.serving
                .import(bytes, &request)
                .map_err(|e| ops::OpError::from(e).into())
        })
        .await;
        let outcome = match &result {
            Ok(a) => ops::result_label(a, dry_run),
            Err(_) => "failed",
        };
        self.serving.metrics.import(mode, outcome);
        result
    }

    /// `POST /api/v1/import/preview`: the web page's dry run, answered by
    /// `op` — the preview with the column mapping and the rows
    /// ([`crate::app::preview::preview`]), or its error report as CSV
    /// (`?report=csv`, [`crate::app::preview::report_csv`]).
    async fn dry_run(
        self: Arc<Self>,
        caller: Caller,
        q: &Query,
        req: Request<Incoming>,
        op: DryRun,
    ) -> Result<Answer, Problem> {
        let (bytes, request) = self.upload(caller, q, req).await?;
        let this = self.clone();
        blocking(move || {
            op(
                this.serving.store.as_ref(),
                &this.serving.config,
                bytes,
                &request,
            )
            .map_err(|e| ops::OpError::from(e).into())
        })
        .await
    }

    /// Reads an import's body (bounded, timed) and its options from the
    /// query string and any multipart form fields.
    async fn upload(
        &self,
        caller: Caller,
        q: &Query,
        req: Request<Incoming>,
    ) -> Result<(Vec<u8>, ImportRequest), Problem> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let limit = self.settings.max_body_bytes;
        let limited = http_body_util::Limited::new(req.into_body(), limit);
        let body = match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
            Ok(Ok(b)) => b.to_bytes(),
            Ok(Err(_)) => {
                return Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    2,
                    format!("the upload is larger than {limit} bytes ([admin] max_body_bytes)"),
                ));
            }
            Err(_) => {
                return Err(Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    2,
                    "the upload did not arrive in time",
                ));
            }
        };
        let mut params = q.0.clone();
        let (bytes, part_name) = if content_type
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
        {
            let (file, name, fields) = multipart(&content_type, body).await?;
            for (k, v) in fields {
                insert_param(&mut params, k, v);
            }
            (file, name)
        } else {
            // Without a copy: the body is the only owner of its bytes.
            (Vec::from(body), None)
        };
        let params = Query(params);
        let request = import_request(&params, part_name)?;
        self.check_secrets(caller, request.options.show_secrets)?;
        Ok((bytes, request))
    }
}

/// Whether `peer` may skip the token: only with the opt-in, and only from
/// a loopback address (an IPv4-mapped one included).
///
/// A browser on the same machine is a loopback peer too, so a tokenless
/// request must also look like one a local tool made, not one a web page
/// sent: its `Host` names the loopback (no DNS-rebound name), and any
/// `Origin` is that same host. Otherwise any site the admin visits could
/// POST an import here.
fn anonymous(settings: &ApiSettings, peer: SocketAddr, headers: &hyper::HeaderMap) -> bool {
    if !(settings.anonymous_loopback && peer.ip().to_canonical().is_loopback()) {
        return false;
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(host) = header(hyper::header::HOST) else {
        return true; // HTTP/1.0 or h2 without :authority: not a browser
    };
    if !loopback_host(host) {
        return false;
    }
    header(hyper::header::ORIGIN).is_none_or(|origin| {
        origin
            .strip_prefix("http://")
            .is_some_and(|o| o.eq_ignore_ascii_case(host))
    })
}

/// `localhost`, `127.x.y.z` or `[::1]`, with an optional port.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// The import options of a request, as `autoprov import` takes them.
fn import_request(q: &Query, part_name: Option<String>) -> Result<ImportRequest, Problem> {
    let mode = ops::parse_mode(q.get("mode").unwrap_or("upsert")).map_err(Problem::usage)?;
    let delimiter =
        ops::parse_delimiter(q.get("delimiter").unwrap_or("auto")).map_err(Problem::usage)?;
    let encoding =
        ops::parse_encoding(q.get("encoding").unwrap_or("auto")).map_err(Problem::usage)?;
    let file_name = q
        .get("file_name")
        .map(str::to_string)
        .or(part_name)
        .unwrap_or_else(|| "<upload>".to_string());
    let file_name: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .take(256)
        .collect();
    Ok(ImportRequest {
        options: ImportOptions {
            mode,
            dry_run: q.flag("dry_run")?,
            partial: q.flag("partial")?,
            source: q
                .get("source")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            read: ReadOptions {
                delimiter,
                encoding,
            },
            show_secrets: q.flag("show_secrets")?,
            reassign_macs: q.flag("reassign_macs")?,
            file_name,
            mapping: import_mapping(q)?,
            label_column: q
                .get("label_column")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            notes: import_notes(q)?,
            max_delete_percent: q
                .get("max_delete_percent")
                .map(|p| {
                    p.parse::<u8>()
                        .ok()
                        .filter(|p| *p <= 100)
                        .ok_or_else(|| Problem::usage("max_delete_percent must be 0 to 100"))
                })
                .transpose()?,
            ignore_columns: q
                .get("ignore_column")
                .map(|v| {
                    v.lines()
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            operation: None,
        },
        yes: q.flag("yes")?,
        format: q.format()?,
    })
}

/// An import's `map` (query parameter or form field): a mapping file's
/// TOML text, refused (400, exit 2) before the upload is read any further.
fn import_mapping(q: &Query) -> Result<Option<Mapping>, Problem> {
    match q.get("map").map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => Mapping::from_file_text(text, "map")
            .map(Some)
            .map_err(|e| Problem::usage(e.to_string())),
    }
}

/// An import's `notes` (what an LDAP search found worth a warning, as
/// the CLI ran it): `[{code, column, message}]`; unknown codes are dropped.
fn import_notes(q: &Query) -> Result<Vec<crate::import::report::Issue>, Problem> {
    let Some(text) = q.get("notes").filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let list: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| Problem::usage(format!("notes: {e}")))?;
    Ok(list
        .iter()
        .filter_map(|n| {
            let code = crate::app::sources::ldap::note_code(n["code"].as_str()?)?;
            Some(crate::import::report::Issue {
                row: None,
                line: None,
                entry: None,
                column: n["column"].as_str().map(str::to_string),
                code,
                message: n["message"].as_str()?.to_string(),
            })
        })
        .collect())
}

/// Splits a `multipart/form-data` body into the file (the `file` part, or
/// the first part with a file name), its name, and the other fields.
async fn multipart(
    content_type: &str,
    body: Bytes,
) -> Result<(Vec<u8>, Option<String>, HashMap<String, String>), Problem> {
    let bad = |e: multer::Error| Problem::usage(format!("malformed multipart body: {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(bad)?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut file: Option<(Vec<u8>, Option<String>)> = None;
    let mut fields = HashMap::new();
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(bad)?;
        if file.is_none() && (name == "file" || file_name.is_some()) {
            file = Some((data.to_vec(), file_name));
        } else if !name.is_empty() {
            insert_param(
                &mut fields,
                name,
                String::from_utf8_lossy(&data).into_owned(),
            );
        }
    }
    let (bytes, name) =
        file.ok_or_else(|| Problem::usage("the multipart body has no `file` part"))?;
    Ok((bytes, name, fields))
}

/// Parameters that may be given more than once: their values, one a line.
const REPEATABLE: [&str; 1] = ["ignore_column"];

/// Adds a query parameter or form field: a repeatable one collects its
/// values, any other keeps the last.
fn insert_param(map: &mut HashMap<String, String>, k: String, v: String) {
    match map.get_mut(&k) {
        Some(old) if REPEATABLE.contains(&k.as_str()) => {
            old.push('\n');
            old.push_str(&v);
        }
        _ => {
            map.insert(k, v);
        }
    }
}

/// Runs store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "admin API task failed");
        Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            3,
            "internal error",
        ))
    })
}

/// Reads (and drops) a small body, so a client still sending sees the answer.
async fn drain(req: Request<Incoming>) {
    let limited = http_body_util::Limited::new(req.into_body(), MAX_IGNORED_BODY);
    let _ = tokio::time::timeout(Duration::from_secs(5), limited.collect()).await;
}

/// The HTTP form of an answer.
pub fn to_response(a: Answer) -> Resp {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (body, ctype) = if a.body.is_empty() && a.exit_code != 0 {
        let problem = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "detail": a.message,
            "exit_code": a.exit_code,
        });
        (
            serde_json::to_vec_pretty(&problem).unwrap_or_default(),
            PROBLEM_TYPE,
        )
    } else {
        (a.body, a.content_type)
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(EXIT_CODE_HEADER, HeaderValue::from(u16::from(a.exit_code)));
    if let Some(m) = &a.message
        && let Ok(v) = HeaderValue::from_str(&utf8_percent_encode(m, MESSAGE_ESCAPE).to_string())
    {
        h.insert(MESSAGE_HEADER, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_only_for_loopback_and_only_when_opted_in() {
        let mut s = ApiSettings {
            max_body_bytes: 1,
            anonymous_loopback: false,
            expose_secrets: false,
        };
        let peer = |a: &str| a.parse::<SocketAddr>().unwrap();
        let none = hyper::HeaderMap::new();
        assert!(!anonymous(&s, peer("127.0.0.1:1"), &none));
        s.anonymous_loopback = true;
        assert!(anonymous(&s, peer("127.0.0.1:1"), &none));
        assert!(anonymous(&s, peer("[::1]:1"), &none));
        assert!(anonymous(&s, peer("[::ffff:127.0.0.1]:1"), &none));
        assert!(!anonymous(&s, peer("10.0.0.1:1"), &none));
        assert!(!anonymous(&s, peer("192.168.1.5:1"), &none));
        assert!(!anonymous(&s, peer("[fd00::1]:1"), &none));
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = hyper::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let local = peer("127.0.0.1:5");
        // curl and the like.
        assert!(anonymous(
            &s,
            local,
            &headers(&[("host", "127.0.0.1:8081")])
        ));
        assert!(anonymous(
            &s,
            local,
            &headers(&[("host", "localhost:8081")])
        ));
        assert!(anonymous(&s, local, &headers(&[("host", "[::1]:8081")])));
        // The page itself.
        assert!(anonymous(
            &s,
            local,
            &headers(&[
                ("host", "127.0.0.1:8081"),
                ("origin", "http://127.0.0.1:8081")
            ])
        ));
        // Another site's page, and a DNS-rebound name.
        assert!(!anonymous(
            &s,
            local,
            &headers(&[
                ("host", "127.0.0.1:8081"),
                ("origin", "https://evil.example")
            ])
        ));
        assert!(!anonymous(
            &s,
            local,
            &headers(&[("host", "evil.example:8081")])
        ));
        assert!(!anonymous(
            &s,
            local,
            &headers(&[("host", "127.0.0.1.evil.example")])
        ));
    }

    #[test]
    fn messages_survive_the_header_encoding() {
        let m = "import of Müller.csv refused: 100%\nline 2";
        let r = to_response(Answer::fail(1, 422, m));
        let v = r.headers().get(MESSAGE_HEADER).unwrap().to_str().unwrap();
        assert!(v.is_ascii() && !v.contains('\n'));
        assert_eq!(percent_decode_str(v).decode_utf8_lossy(), m);
        assert_eq!(r.headers().get(EXIT_CODE_HEADER).unwrap(), "1");
    }
}
