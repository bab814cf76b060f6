//! The CLI's side of the Unix socket: when the running server holds the
//! store, commands send their request to `<data>/admin.sock` and get back
//! the same [`Answer`] they would have computed themselves.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;

use super::ops::Answer;

/// Socket file name inside the data directory.
pub const SOCKET: &str = "admin.sock";
/// Header carrying the CLI exit code of the answer.
pub const EXIT_CODE_HEADER: &str = "autoprov-exit-code";
/// Header carrying the CLI's stderr sentence, percent-encoded.
pub const MESSAGE_HEADER: &str = "autoprov-message";
/// Content type of an answer that has no output, only a problem.
pub const PROBLEM_TYPE: &str = "application/problem+json";

/// A request takes at most this long (a 100,000-user import hashes web
/// passwords for ~20 s).
const TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the running server at {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("the running server did not answer properly: {0}")]
    Protocol(String),
}

/// The running server's socket for a data directory.
#[derive(Debug, Clone)]
pub struct Client {
    path: PathBuf,
}

impl Client {
    /// The socket of `data`, if a server is listening on it. A socket file
    /// left by a server that was killed refuses connections: `None`, so the
    /// caller reports the lock (held by someone else) instead.
    pub fn find(data: &Path) -> Option<Client> {
        let path = data.join(SOCKET);
        std::os::unix::net::UnixStream::connect(&path)
            .is_ok()
            .then_some(Client { path })
    }

    /// Sends one request (`path_and_query` as built by [`query`]) and turns
    /// the response back into an [`Answer`].
    pub fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| self.connect_error(e))?;
        rt.block_on(async {
            tokio::time::timeout(TIMEOUT, self.exchange(method, path_and_query, body))
                .await
                .unwrap_or_else(|_| Err(ClientError::Protocol("no answer in time".into())))
        })
    }

    fn connect_error(&self, source: std::io::Error) -> ClientError {
        ClientError::Connect {
            path: self.path.display().to_string(),
            source,
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let proto = |e: &dyn std::fmt::Display| ClientError::Protocol(e.to_string());
        let stream = tokio::net::UnixStream::connect(&self.path)
            .await
            .map_err(|e| self.connect_error(e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| proto(&e))?;
        tokio::spawn(conn);
        let req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(HOST, "localhost")
            .header(CONTENT_TYPE, "text/csv")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| proto(&e))?;
        let resp = sender.send_request(req).await.map_err(|e| proto(&e))?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let exit_code = header(EXIT_CODE_HEADER)
            .and_then(|c| c.parse::<u8>().ok())
            .ok_or_else(|| ClientError::Protocol(format!("HTTP {status} without an exit code")))?;
        let message =
            header(MESSAGE_HEADER).map(|m| percent_decode_str(&m).decode_utf8_lossy().into_owned());
        let problem = header(CONTENT_TYPE.as_str()).is_some_and(|c| c == PROBLEM_TYPE);
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| proto(&e))?
            .to_bytes()
            .to_vec();
        Ok(Answer {
            // A problem document stands in for output the command did not have.
            body: if problem { Vec::new() } else { body },
            content_type: "application/octet-stream",
            exit_code,
            message,
            status,
        })
    }
}

/// `path?k=v&...`, form-encoded; `None` values are left out.
pub fn query(path: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    let q = s.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

/// A path segment (a username, a MAC) percent-encoded.
pub fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
