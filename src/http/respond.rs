//! Response builders. Every refusal shares one 404 ([`not_found`]) so a
//! prober cannot tell an unknown MAC from a refused source or credential;
//! every file is sent uncached, as phones must see changes.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body as _;
use hyper::header::{
    ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderValue, LAST_MODIFIED,
};
use hyper::{Response, StatusCode};

use super::cache::Entry;
use crate::net::Resp;
use crate::provision::NOT_FOUND_BODY;

/// A short text answer with this status.
pub(super) fn plain(status: StatusCode, body: &'static [u8]) -> Resp {
    let mut r = typed("text/plain; charset=utf-8", Bytes::from_static(body));
    *r.status_mut() = status;
    r
}

/// A 200 with this body and type, never cached (phones must see changes).
pub(super) fn typed(content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A bodiless answer (a stored upload's 204).
pub(super) fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// The single "no" every refusal shares.
pub(super) fn not_found() -> Resp {
    plain(StatusCode::NOT_FOUND, NOT_FOUND_BODY)
}

/// A failure on our side; the details go to the log only.
pub(super) fn internal_error() -> Resp {
    plain(StatusCode::INTERNAL_SERVER_ERROR, b"internal error\n")
}

/// Anything but GET and HEAD (and an accepted upload).
pub(super) fn method_not_allowed() -> Resp {
    let mut r = plain(
        StatusCode::METHOD_NOT_ALLOWED,
        b"only GET and HEAD are served\n",
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

/// An upload over the size or time limit.
pub(super) fn too_large() -> Resp {
    plain(StatusCode::PAYLOAD_TOO_LARGE, b"upload too large\n")
}

/// A certificate for phones to load.
pub(super) fn pem(body: String) -> Resp {
    typed("application/x-pem-file", Bytes::from(body))
}

/// A rendered phone file, with its validators.
pub(super) fn rendered(entry: &Entry) -> Resp {
    let mut r = typed(entry.content_type, entry.body.clone());
    validators(&mut r, entry);
    r
}

/// A 304: the client's copy is current (no body; the validators again,
/// as RFC 9110 §15.4.5 asks).
pub(super) fn not_modified(entry: &Entry) -> Resp {
    let mut r = empty(StatusCode::NOT_MODIFIED);
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    validators(&mut r, entry);
    r
}

fn validators(r: &mut Resp, entry: &Entry) {
    r.headers_mut().insert(ETAG, entry.etag.clone());
    if let Some((_, lm)) = &entry.last_modified {
        r.headers_mut().insert(LAST_MODIFIED, lm.clone());
    }
}

/// A HEAD answer: the GET headers with the length stated, no body (h2
/// rejects a HEAD response that carries data).
pub(super) fn head_only(resp: &mut Resp) {
    let len = resp.body().size_hint().exact().unwrap_or(0);
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    *resp.body_mut() = Full::new(Bytes::new());
}
