//! Firmware images on the phone listeners (`/firmware/<file>`, the files
//! `[firmware]` names): streamed from the file in [`CHUNK`]-sized reads,
//! never held whole, with a single `Range`, `ETag`/`Last-Modified`,
//! conditional requests and HEAD. A hundred phones fetching a 60 MB image
//! at once hold a few chunks each, not the image (tests/it/serve/firmware.rs).
//!
//! The access checks, fetch record and metrics around it are the
//! pipeline's ([`super::pipeline::Pipeline::serve_phone`]).

use std::io::SeekFrom;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderMap,
    HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE,
};
use hyper::{Response, StatusCode};
use tokio::io::{AsyncRead, AsyncSeekExt, ReadBuf};

/// Bytes read from the file per frame.
const CHUNK: usize = 64 * 1024;

/// What the phone listener sends: a rendered answer, or a file streamed.
pub type PhoneBody = Either<Full<Bytes>, FileBody>;

/// A byte range of an open file, read as the connection takes it.
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: BytesMut,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.remaining).map_or(CHUNK, |r| r.min(CHUNK));
        this.buf.resize(want, 0);
        let mut rb = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    // The file shrank under us: end the response short
                    // rather than pad it; the client sees the broken length.
                    return Poll::Ready(Some(Err(std::io::ErrorKind::UnexpectedEof.into())));
                }
                this.remaining -= n as u64;
                let chunk = this.buf.split_to(n).freeze();
                this.buf.clear();
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// What a file is answered with, before the body is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    Whole,
    Part { start: u64, end: u64 },
    NotModified,
    Unsatisfiable,
}

/// The file's validators: a strong ETag from its length and modification
/// time (a replaced image gets a new one), and that time for Last-Modified.
struct Meta {
    len: u64,
    modified: SystemTime,
    etag: String,
}

impl Meta {
    fn of(md: &std::fs::Metadata) -> Meta {
        let modified = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let nanos = modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Meta {
            len: md.len(),
            modified,
            etag: format!("\"{:x}-{:x}\"", md.len(), nanos),
        }
    }
}

/// Answers a GET or HEAD for the firmware file at `path`; the status is
/// for the fetch record. An unreadable file is a 404 (and logged).
pub(super) async fn answer(path: &Path, headers: &HeaderMap, head: bool) -> Response<PhoneBody> {
    match open(path, headers, head).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "cannot read the firmware file");
            super::respond::not_found().map(Either::Left)
        }
    }
}

async fn open(
    path: &Path,
    headers: &HeaderMap,
    head: bool,
) -> std::io::Result<Response<PhoneBody>> {
    let mut file = tokio::fs::File::open(path).await?;
    let md = file.metadata().await?;
    if !md.is_file() {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    let meta = Meta::of(&md);
    let plan = plan(headers, &meta);
    let mut resp = Response::new(Either::Left(Full::new(Bytes::new())));
    let h = resp.headers_mut();
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&meta.etag) {
        h.insert(ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(meta.modified)) {
        h.insert(LAST_MODIFIED, v);
    }
    let (status, start, len) = match plan {
        Plan::NotModified => {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            return Ok(resp);
        }
        Plan::Unsatisfiable => {
            *resp.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            let range = format!("bytes */{}", meta.len);
            if let Ok(v) = HeaderValue::from_str(&range) {
                resp.headers_mut().insert(CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
        Plan::Whole => (StatusCode::OK, 0, meta.len),
        Plan::Part { start, end } => {
            let range = format!("bytes {start}-{end}/{}", meta.len);
            if let Ok(v) = HeaderValue::from_str(&range) {
                resp.headers_mut().insert(CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
    };
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if !head {
        file.seek(SeekFrom::Start(start)).await?;
        *resp.body_mut() = Either::Right(FileBody {
            file,
            remaining: len,
            buf: BytesMut::new(),
        });
    }
    Ok(resp)
}

/// RFC 9110 §13.2.2's order: If-None-Match (else If-Modified-Since) first,
/// then Range, honoured only when If-Range (if any) still matches.
fn plan(headers: &HeaderMap, meta: &Meta) -> Plan {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(inm) = text(IF_NONE_MATCH) {
        if etag_listed(inm, &meta.etag) {
            return Plan::NotModified;
        }
    } else if let Some(since) =
        text(IF_MODIFIED_SINCE).and_then(|d| httpdate::parse_http_date(d).ok())
        && !modified_after(meta.modified, since)
    {
        return Plan::NotModified;
    }
    let Some(range) = text(RANGE) else {
        return Plan::Whole;
    };
    if let Some(ir) = text(IF_RANGE) {
        let same = if ir.trim_start().starts_with('"') {
            ir.trim() == meta.etag
        } else {
            httpdate::parse_http_date(ir).is_ok_and(|d| !modified_after(meta.modified, d))
        };
        if !same {
            return Plan::Whole;
        }
    }
    match parse_range(range, meta.len) {
        RangeAsk::Ignore => Plan::Whole,
        RangeAsk::Bad => Plan::Unsatisfiable,
        RangeAsk::Span(start, end) => Plan::Part { start, end },
    }
}

/// Whether `modified` is later than `since` at HTTP's one-second grain.
fn modified_after(modified: SystemTime, since: SystemTime) -> bool {
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    secs(modified) > secs(since)
}

/// `*`, or a comma-separated list holding the tag (weak comparison, as
/// If-None-Match asks).
fn etag_listed(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// Not a single byte range we serve: send the whole file (allowed).
    Ignore,
    /// A byte range wholly outside the file: 416.
    Bad,
    /// First and last byte, inclusive.
    Span(u64, u64),
}

/// One `bytes=` range: `a-b`, `a-` or `-n`. Several ranges are answered
/// with the whole file, which RFC 9110 §14.2 permits.
fn parse_range(value: &str, len: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::Ignore;
    };
    if spec.contains(',') {
        return RangeAsk::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAsk::Ignore;
    };
    let num = |s: &str| s.trim().parse::<u64>().ok();
    match (a.trim().is_empty(), num(a), num(b)) {
        // -n: the last n bytes.
        (true, _, Some(n)) if n > 0 && len > 0 => RangeAsk::Span(len.saturating_sub(n), len - 1),
        (true, _, Some(_)) => RangeAsk::Bad,
        (false, Some(start), _) if start >= len => RangeAsk::Bad,
        (false, Some(start), None) if b.trim().is_empty() => RangeAsk::Span(start, len - 1),
        (false, Some(start), Some(end)) if end >= start => RangeAsk::Span(start, end.min(len - 1)),
        _ => RangeAsk::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAsk::Span(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeAsk::Span(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAsk::Span(90, 99));
        assert_eq!(parse_range("bytes=-200", 100), RangeAsk::Span(0, 99));
        assert_eq!(parse_range("bytes=50-500", 100), RangeAsk::Span(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAsk::Bad);
        assert_eq!(parse_range("bytes=-0", 100), RangeAsk::Bad);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAsk::Ignore);
        assert_eq!(parse_range("bytes=9-3", 100), RangeAsk::Ignore);
        assert_eq!(parse_range("items=0-1", 100), RangeAsk::Ignore);
        assert_eq!(parse_range("bytes=x-1", 100), RangeAsk::Ignore);
        assert_eq!(parse_range("bytes=0-0", 0), RangeAsk::Bad);
    }

    #[test]
    fn etags() {
        assert!(etag_listed("\"a\", W/\"b\"", "\"b\""));
        assert!(etag_listed("*", "\"b\""));
        assert!(!etag_listed("\"a\"", "\"b\""));
    }
}
