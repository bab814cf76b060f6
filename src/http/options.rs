//! What the phone listener is told by its caller: the listeners' addresses
//! and certificate (the transport's), the access rules and delivery choices
//! (the pipeline's).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::guard::GuardSettings;
use super::policy::AccessPolicy;
use super::tls::{CertSource, ClientCa, Resumption};

/// What `serve` needs besides the provisioner.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub cert: CertSource,
    pub policy: AccessPolicy,
    pub allow_secrets_over_http: bool,
    /// Fixed HTTPS base URL for the plain-HTTP bootstrap.
    pub https_url: Option<String>,
    /// Where phones' uploads (Polycom logs) go, as `<dir>/<mac>/<file>`;
    /// `None` refuses every upload.
    pub uploads: Option<PathBuf>,
    /// How long shutdown waits for requests in flight.
    pub drain: Duration,
    /// Mutual TLS, when configured.
    pub client_ca: Option<ClientCa>,
    /// Miss throttling and bans.
    pub misses: GuardSettings,
    /// Fetch and ban counters for `/metrics`.
    pub metrics: Arc<crate::app::metrics::Metrics>,
    /// TLS session resumption (tickets and cache).
    pub resumption: Resumption,
    /// Handshakes under way at once after their ClientHello.
    pub handshakes: usize,
    /// The fetch-record writer the admin reads flush; `None`: the pipeline
    /// starts its own over the provisioner's store.
    pub fetch_log: Option<Arc<crate::app::fetch_log::FetchLog>>,
    /// The render cache's budget in bytes (`[http] render_cache_mb`); 0
    /// renders every request.
    pub render_cache_bytes: usize,
}
