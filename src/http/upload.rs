//! Phone uploads (Polycom logs): a PUT of a vendor's upload name by a known
//! phone of that vendor, stored as `<uploads>/<mac>/<file>`. The pipeline
//! has authorised the request before the body is read; everything else is
//! refused with the 405 any other PUT gets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::USER_AGENT;
use hyper::http::request::Parts;

use super::pipeline::BodyError;
use super::respond;
use crate::net::Resp;
use crate::provision;
use crate::store::Store;
use crate::vendors::{self, FileKind};

/// Largest upload (a Polycom log) stored; larger ones get a 413.
pub(super) const MAX_UPLOAD: usize = 1024 * 1024;
/// An upload must arrive within this time.
pub(super) const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Where one accepted upload goes.
#[derive(Debug)]
pub(super) struct Target {
    dir: PathBuf,
    file: String,
}

/// Where an authorised PUT may be stored: an upload name of the vendor of
/// a known phone, with no contradicting User-Agent MAC. `None` for anything
/// else, which gets the same 405 as any other PUT.
pub(super) fn target(
    root: &Path,
    parts: &Parts,
    store: &(dyn Store + Send + Sync),
) -> Option<Target> {
    let name = provision::path::file_name(parts.uri.path())?;
    let m = provision::path::matches(&name)
        .into_iter()
        .find(|m| m.rule.kind == FileKind::Upload)?;
    let mac = m.mac?;
    let ua = parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    if let Some((_, info)) = ua.and_then(vendors::parse_user_agent)
        && info.mac.is_some_and(|u| u != mac)
    {
        return None;
    }
    let user = store.user_by_mac(mac).ok().flatten()?;
    user.phones
        .iter()
        .any(|p| p.mac == mac && p.vendor == m.vendor.id)
        .then(|| Target {
            dir: root.join(mac.plain()),
            file: name,
        })
}

/// Stores a body the transport read within [`MAX_UPLOAD`] and
/// [`UPLOAD_TIMEOUT`] (replacing an older upload); a body over either
/// limit gets a 413.
pub(super) async fn receive(
    peer: SocketAddr,
    target: Target,
    body: Result<Bytes, BodyError>,
) -> (StatusCode, Resp) {
    let Target { dir, file } = target;
    let Ok(bytes) = body else {
        tracing::info!(peer = %peer, file = %file, "upload too large or too slow");
        return (StatusCode::PAYLOAD_TOO_LARGE, respond::too_large());
    };
    let name = file.clone();
    match tokio::task::spawn_blocking(move || store_upload(&dir, &name, &bytes)).await {
        Ok(Ok(())) => {
            tracing::info!(peer = %peer, file = %file, "upload stored");
            (
                StatusCode::NO_CONTENT,
                respond::empty(StatusCode::NO_CONTENT),
            )
        }
        Ok(Err(e)) => {
            tracing::error!(peer = %peer, file = %file, error = %e, "cannot store upload");
            (StatusCode::INTERNAL_SERVER_ERROR, respond::internal_error())
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, respond::internal_error()),
    }
}

/// Writes `dir/file` through a temporary file and a rename, so a reader
/// never sees half an upload. `file` is a checked vendor file name.
fn store_upload(dir: &Path, file: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{file}.part"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(file))
}
