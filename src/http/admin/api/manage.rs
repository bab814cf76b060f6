//! The admin page's endpoints beyond the first API: single-user
//! operations, paged lists, a phone's masked preview, downloads, and the
//! confirmation a deleting import needs. Each is a thin adapter over
//! `app` (`users`, `listing`, `masked`, `preview`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::app::listing::{self, DEFAULT_PER_PAGE, PageRequest};
use crate::app::users::{FROM_ADMIN, FROM_CLI, UserOp, UserRequest};

/// Largest JSON body of a single-user operation.
const MAX_JSON_BODY: usize = 256 * 1024;

/// The problem `code` of a 401: the page tells an expired or revoked
/// token from a missing one by it (docs/admin-api.md).
pub const TOKEN_INVALID: &str = "token_invalid";
pub const TOKEN_MISSING: &str = "token_missing";
/// The problem `code` of a 409 that asks to confirm deletions.
pub const CONFIRM_DELETIONS: &str = "confirm_deletions";

/// Which single-user operation a request is.
pub(super) enum OpKind {
    Create,
    Edit(String),
    AddPhone(String),
    RemovePhone(String, String),
    RotateSipPassword(String),
}

impl OpKind {
    /// The operation's name, as the history's mode and the metric's `op`.
    fn name(&self) -> &'static str {
        match self {
            OpKind::Create => "create-user",
            OpKind::Edit(_) => "edit",
            OpKind::AddPhone(_) => "add-phone",
            OpKind::RemovePhone(..) => "remove-phone",
            OpKind::RotateSipPassword(_) => "rotate-sip-password",
        }
    }
}

/// What became of a single-user operation, for
/// `autoprov_user_changes_total{result}`: a 409 of a removal asked without
/// `yes` is `unconfirmed`; the rest follow the exit code.
fn change_result(
    answer: &Result<Answer, Problem>,
    dry_run: bool,
    confirming: bool,
) -> &'static str {
    match answer {
        Ok(a) if a.exit_code == 0 && dry_run => "dry_run",
        Ok(a) if a.exit_code == 0 => "applied",
        Ok(a) if a.status == 404 => "not_found",
        Ok(a) if a.status == 409 && confirming => "unconfirmed",
        Ok(a) if a.exit_code == 1 => "refused",
        Ok(a) if a.exit_code == 2 => "usage",
        Err(p) if p.exit_code == 2 => "usage",
        _ => "failed",
    }
}

/// The history's file for a change: the Unix socket is the CLI's way in
/// while the server runs; TCP is the page's (or another API client's).
fn origin(caller: Caller) -> &'static str {
    match caller {
        Caller::Socket => FROM_CLI,
        Caller::Tcp(_) => FROM_ADMIN,
    }
}

/// `?page=&per_page=&q=&sort=` as a [`PageRequest`], when the caller asked
/// for a page (`page` or `per_page` given); `None` keeps the old shape.
pub(super) fn page_request(q: &Query) -> Result<Option<PageRequest>, Problem> {
    if q.get("page").is_none() && q.get("per_page").is_none() {
        return Ok(None);
    }
    let number = |k: &str, default: usize| -> Result<usize, Problem> {
        match q.get(k).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Problem::usage(format!("{k} must be a number from 1"))),
        }
    };
    let sort = q.get("sort").unwrap_or("name").to_string();
    if !["name", "-name", "extension", "-extension", "mac", "-mac"].contains(&sort.as_str()) {
        return Err(Problem::usage(format!(
            "sort {sort:?} is not supported; use name, extension or mac (a leading - sorts descending)"
        )));
    }
    Ok(Some(PageRequest {
        q: q.get("q").unwrap_or("").trim().to_string(),
        page: number("page", 1)?,
        per_page: number("per_page", DEFAULT_PER_PAGE)?,
        sort,
    }))
}

/// A 401 as a problem document with a `code` the page acts on.
pub(super) fn unauthorized(code: &'static str, detail: &str) -> Answer {
    let problem = json!({
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "code": code,
        "detail": detail,
        "exit_code": 3,
    });
    Answer {
        body: serde_json::to_vec_pretty(&problem).unwrap_or_default(),
        content_type: PROBLEM_TYPE,
        exit_code: 3,
        message: Some(detail.to_string()),
        status: 401,
    }
}

/// `/favicon.ico` (when the page ships no icon): no content, no token
/// needed, so a browser's automatic request is not a 401 in its console.
pub(super) fn favicon() -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("max-age=86400"));
    r
}

/// The file name a download is saved under, by path (and `report=csv`).
pub(super) fn attachment(path: &str, q: Option<&str>) -> Option<&'static str> {
    match path {
        "/api/v1/template.csv" => Some("attachment; filename=\"autoprov-template.csv\""),
        "/api/v1/export" => Some("attachment; filename=\"autoprov-users.csv\""),
        "/api/v1/import/preview" if q.is_some_and(|q| q.contains("report=csv")) => {
            Some("attachment; filename=\"autoprov-import-errors.csv\"")
        }
        _ => None,
    }
}

/// A request's JSON object body (an empty body is `{}`).
async fn json_body(req: Request<Incoming>) -> Result<Value, Problem> {
    let limited = http_body_util::Limited::new(req.into_body(), MAX_JSON_BODY);
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                2,
                format!("the body is larger than {MAX_JSON_BODY} bytes"),
            ));
        }
        Err(_) => {
            return Err(Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                2,
                "the body did not arrive in time",
            ));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Problem::usage(format!("the body is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(Problem::usage("the body must be a JSON object"));
    }
    Ok(v)
}

/// `{"fields": {...}}` as column → cell; a number or yes/no becomes its
/// text, `null` an empty cell (which clears, as in a CSV).
fn fields_of(body: &Value) -> Result<BTreeMap<String, String>, Problem> {
    let Some(map) = body.get("fields").and_then(Value::as_object) else {
        return Err(Problem::usage(
            "the body needs \"fields\": an object of column → value",
        ));
    };
    map.iter()
        .map(|(k, v)| {
            let cell = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(Problem::usage(format!(
                        "field {k:?} must be a string, number, true/false or null"
                    )));
                }
            };
            Ok((k.clone(), cell))
        })
        .collect()
}

impl Api {
    /// `POST /api/v1/users`, `PATCH /api/v1/users/{name}`,
    /// `POST /api/v1/users/{name}/phones`, `DELETE
    /// /api/v1/users/{name}/phones/{mac}`, `POST
    /// /api/v1/users/{name}/rotate-sip-password`: one-row imports
    /// ([`crate::app::users`]), `dry_run=true` to preview.
    pub(super) async fn user_op(
        self: Arc<Self>,
        caller: Caller,
        q: &Query,
        req: Request<Incoming>,
        kind: OpKind,
    ) -> Result<Answer, Problem> {
        let op = kind.name();
        let confirming = matches!(kind, OpKind::RemovePhone(..)) && !q.flag("yes").unwrap_or(false);
        let dry_run = q.flag("dry_run").unwrap_or(false);
        let answer = self.clone().run_user_op(caller, q, req, kind).await;
        let result = change_result(&answer, dry_run, confirming && !dry_run);
        self.serving.metrics.user_change(op, result);
        answer
    }

    async fn run_user_op(
        self: Arc<Self>,
        caller: Caller,
        q: &Query,
        req: Request<Incoming>,
        kind: OpKind,
    ) -> Result<Answer, Problem> {
        let body = match kind {
            OpKind::Create | OpKind::Edit(_) | OpKind::AddPhone(_) => json_body(req).await?,
            _ => {
                drain(req).await;
                json!({})
            }
        };
        let (username, op) = match kind {
            OpKind::Create => {
                let mut fields = fields_of(&body)?;
                let name = fields
                    .remove("username")
                    .filter(|n| !n.trim().is_empty())
                    .ok_or_else(|| Problem::usage("a new user needs fields.username"))?;
                (name.trim().to_string(), UserOp::Create(fields))
            }
            OpKind::Edit(name) => (name, UserOp::Edit(fields_of(&body)?)),
            OpKind::AddPhone(name) => {
                let mac = body
                    .get("mac")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Problem::usage("the body needs \"mac\""))?;
                let model = body
                    .get("model")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty());
                let op = UserOp::AddPhone {
                    mac: mac.to_string(),
                    model: model.map(str::to_string),
                };
                (name, op)
            }
            OpKind::RemovePhone(name, mac) => (name, UserOp::RemovePhone { mac }),
            OpKind::RotateSipPassword(name) => (name, UserOp::RotateSipPassword),
        };
        let request = UserRequest {
            username,
            op,
            dry_run: q.flag("dry_run")?,
            yes: q.flag("yes")?,
            origin: origin(caller).to_string(),
            format: q.format()?,
        };
        let this = self.clone();
        let answer = blocking(move || {
            this.serving
                .user_op(&request)
                .map_err(|e| ops::OpError::from(e).into())
        })
        .await?;
        tracing::info!(status = answer.status, "admin API: single-user operation");
        Ok(answer)
    }

    /// `DELETE /api/v1/users/{name}?yes=true`: without `yes`, a 409 with
    /// what would be deleted.
    pub(super) async fn delete_user(
        self: Arc<Self>,
        caller: Caller,
        q: &Query,
        req: Request<Incoming>,
        name: String,
    ) -> Result<Answer, Problem> {
        let confirming = !q.flag("yes").unwrap_or(false);
        let dry_run = q.flag("dry_run").unwrap_or(false);
        let answer = self.clone().run_delete(caller, q, req, name).await;
        let result = change_result(&answer, dry_run, confirming && !dry_run);
        self.serving.metrics.user_change("delete", result);
        answer
    }

    async fn run_delete(
        self: Arc<Self>,
        caller: Caller,
        q: &Query,
        req: Request<Incoming>,
        name: String,
    ) -> Result<Answer, Problem> {
        drain(req).await;
        let (yes, dry_run, format) = (q.flag("yes")?, q.flag("dry_run")?, q.format()?);
        let origin = origin(caller);
        let this = self.clone();
        blocking(move || {
            let serving = &this.serving;
            Ok(serving.delete_user(&name, (yes, dry_run), origin, format)?)
        })
        .await
    }

    /// `POST /api/v1/import` of a sync or replace that would delete users:
    /// `None` to go on (the request confirmed with `yes=true`, or nothing
    /// would be deleted), else the 409 naming how many and whom.
    pub(super) async fn deletions_unconfirmed(
        self: &Arc<Self>,
        bytes: &[u8],
        request: &mut ImportRequest,
    ) -> Result<Option<Answer>, Problem> {
        let o = &request.options;
        let deleting = matches!(
            o.mode,
            crate::import::Mode::Sync | crate::import::Mode::Replace
        );
        if !deleting || o.dry_run || request.yes {
            return Ok(None);
        }
        if let Err(m) = ops::check_import_plain(&ImportRequest {
            yes: true,
            ..request.clone()
        }) {
            return Ok(Some(Answer::fail(2, 400, m)));
        }
        let mut dry = request.clone();
        dry.options.dry_run = true;
        dry.format = Format::Json;
        let this = self.clone();
        let bytes = bytes.to_vec();
        let answer = blocking(move || {
            this.serving
                .import(bytes, &dry)
                .map_err(|e| ops::OpError::from(e).into())
        })
        .await?;
        let report: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let users: Vec<&str> = report["changes"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter(|c| c["action"] == "delete")
                    .filter_map(|c| c["username"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if answer.exit_code != 0 || users.is_empty() {
            // A refused file answers as the import would; nothing to delete
            // needs no confirmation.
            request.yes = true;
            return Ok(None);
        }
        let detail = format!(
            "this {} import would delete {} user(s); confirm with yes=true",
            o.mode.as_str(),
            users.len()
        );
        let problem = json!({
            "type": "about:blank",
            "title": "Conflict",
            "status": 409,
            "code": CONFIRM_DELETIONS,
            "detail": detail,
            "deletions": users.len(),
            "users": users,
            "exit_code": 1,
        });
        Ok(Some(Answer {
            body: serde_json::to_vec_pretty(&problem).unwrap_or_default(),
            content_type: PROBLEM_TYPE,
            exit_code: 1,
            message: Some(detail),
            status: 409,
        }))
    }

    /// `GET /api/v1/users?page=` and `GET /api/v1/phones?page=|state=`.
    pub(super) fn page(&self, what: &str, q: &Query) -> Result<Option<Answer>, Problem> {
        let store = self.serving.store.as_ref();
        let state = q.get("state").filter(|s| !s.is_empty());
        let req = match (page_request(q)?, what, state) {
            (Some(r), _, _) => r,
            // A state filter alone asks for the new shape too.
            (None, "phones", Some(_)) => PageRequest {
                q: q.get("q").unwrap_or("").to_string(),
                page: 1,
                per_page: DEFAULT_PER_PAGE,
                sort: "mac".into(),
            },
            (None, _, _) => return Ok(None),
        };
        Ok(Some(match what {
            "users" => listing::users_page(store, &req)?,
            _ => {
                let fw = &self.serving.config.firmware;
                listing::phones_page(store, fw, &req, state)?
            }
        }))
    }

    /// `GET /api/v1/phones/{mac}/preview`: the main file, secrets masked.
    pub(super) fn phone_preview(&self, mac: &str) -> Result<Answer, Problem> {
        let config = &self.serving.config;
        Ok(crate::app::masked::phone_preview(
            &self.serving.provisioner,
            config.provision.https_url.as_deref(),
            &config.site_phone_passwords,
            mac,
        )?)
    }
}
