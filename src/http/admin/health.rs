//! `/healthz` and `/readyz` for a load balancer: answered before the token
//! check (a load balancer has no token) and carrying nothing but the
//! status and a one-line reason.
//!
//! `/healthz` says the process is up. `/readyz` says this node should get
//! traffic: the store answers within [`PING_TIMEOUT`], the read model's
//! last refresh worked and it is recent (`crate::app::refresh`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Response, StatusCode};

use super::api::Resp;
use crate::app::Serving;
use crate::app::refresh::NotReady;

/// A store that takes longer than this to answer a ping is not ready: a
/// load balancer's own check times out after a few seconds.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The answer for `path`, if it is one of the two health endpoints.
pub async fn answer(path: &str, method: &Method, serving: &Arc<Serving>) -> Option<Resp> {
    if path != "/healthz" && path != "/readyz" {
        return None;
    }
    if method != Method::GET && method != Method::HEAD {
        return Some(plain(StatusCode::METHOD_NOT_ALLOWED, "GET only"));
    }
    if path == "/healthz" {
        return Some(plain(StatusCode::OK, "ok"));
    }
    Some(match ready(serving).await {
        Ok(()) => plain(StatusCode::OK, "ready"),
        Err(why) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("not ready: {why}"),
        ),
    })
}

/// The readiness check on the blocking pool, bounded by [`PING_TIMEOUT`].
async fn ready(serving: &Arc<Serving>) -> Result<(), NotReady> {
    let s = serving.clone();
    let check = tokio::task::spawn_blocking(move || s.health.check(s.store.as_ref()));
    match tokio::time::timeout(PING_TIMEOUT, check).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) | Err(_) => Err(NotReady::Unreachable),
    }
}

fn plain(status: StatusCode, line: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(format!("{line}\n"))));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
