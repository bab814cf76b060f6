//! One bounded HTTP(S) GET of a source's CSV, on hyper's client half and
//! tokio-rustls (already in the tree for the server), trusting the system
//! CA bundle plus an optional private CA.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use url::Url;

/// Where the system CA bundle lives (Debian/Ubuntu, then Fedora/RHEL);
/// `SSL_CERT_FILE` overrides.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("bad URL {0:?}")]
    Url(String),
    #[error("cannot connect to {host}: {message}")]
    Connect { host: String, message: String },
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the file is larger than {0} bytes")]
    TooLarge(usize),
    #[error("no complete answer within {0} s")]
    Timeout(u64),
    #[error("cannot read the CA bundle {path}: {message}")]
    Ca { path: String, message: String },
}

/// A fetched body and its declared content type.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

/// What a fetch needs besides the URL.
#[derive(Debug, Clone)]
pub struct FetchOptions<'a> {
    pub timeout: Duration,
    pub max_bytes: usize,
    pub ca: Option<&'a Path>,
    pub bearer_token: Option<&'a str>,
}

/// GETs `url` (no redirects: a login redirect is a failed fetch). The URL
/// comes parsed: a source's at config load ([`crate::config::SourceUrl`]),
/// `autoprov import URL`'s by the command.
pub async fn get(url: &Url, opts: &FetchOptions<'_>) -> Result<Fetched, FetchError> {
    let secs = opts.timeout.as_secs();
    tokio::time::timeout(opts.timeout, get_inner(url, opts))
        .await
        .unwrap_or(Err(FetchError::Timeout(secs)))
}

async fn get_inner(parsed: &Url, opts: &FetchOptions<'_>) -> Result<Fetched, FetchError> {
    let url = parsed.as_str();
    let host = parsed
        .host_str()
        .ok_or_else(|| FetchError::Url(url.to_string()))?
        .to_string();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| FetchError::Url(url.to_string()))?;
    let secure = match parsed.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(FetchError::Url(url.to_string())),
    };
    let connect = |e: &dyn std::fmt::Display| FetchError::Connect {
        host: host.clone(),
        message: e.to_string(),
    };
    // An IPv6 literal is bracketed in the URL and the Host header, bare
    // for connecting and for the TLS server name.
    let dial = match parsed.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => host.clone(),
    };
    let tcp = tokio::net::TcpStream::connect((dial.as_str(), port))
        .await
        .map_err(|e| connect(&e))?;
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let host_header = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let mut req = hyper::Request::get(target)
        .header(HOST, host_header)
        .header(USER_AGENT, concat!("autoprov/", env!("CARGO_PKG_VERSION")))
        .header(ACCEPT, "text/csv, text/plain;q=0.9, */*;q=0.1");
    if let Some(t) = opts.bearer_token {
        req = req.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(Empty::<Bytes>::new()).map_err(|e| connect(&e))?;
    let resp = if secure {
        let config = client_config(opts.ca)?;
        let name = ServerName::try_from(dial).map_err(|e| connect(&e))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| connect(&e))?;
        send(TokioIo::new(tls), req).await
    } else {
        send(TokioIo::new(tcp), req).await
    }
    .map_err(|e| connect(&e))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let limited = http_body_util::Limited::new(resp.into_body(), opts.max_bytes);
    let body = limited
        .collect()
        .await
        .map_err(|_| FetchError::TooLarge(opts.max_bytes))?
        .to_bytes()
        .to_vec();
    Ok(Fetched { body, content_type })
}

async fn send<IO>(
    io: TokioIo<IO>,
    req: hyper::Request<Empty<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, hyper::Error>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "source connection ended with an error");
        }
    });
    sender.send_request(req).await
}

/// TLS client settings: the system bundle, plus `ca` when given.
pub(crate) fn client_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, FetchError> {
    let mut roots = rustls::RootCertStore::empty();
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from))
        .find(|p| p.exists());
    for path in system.iter().map(|p| p.as_path()).chain(ca) {
        let ca_err = |m: &dyn std::fmt::Display| FetchError::Ca {
            path: path.display().to_string(),
            message: m.to_string(),
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_err(&e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ca_err(&e))?;
        // A bundle may hold a certificate rustls cannot use; skip those.
        roots.add_parsable_certificates(certs);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::Ca {
            path: "(built-in)".into(),
            message: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
