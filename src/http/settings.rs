//! The config (and `serve`'s flags) turned into what the listeners run
//! with: addresses, certificate, who may fetch, miss throttling, mutual
//! TLS, and the admin API's limits. The binary only says which flags
//! override which keys; how a section becomes a setting is decided here,
//! next to the types it produces.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::admin::api::ApiSettings;
use super::auth::{Authenticator, Credential};
use super::tls::{DEFAULT_SESSION_CACHE, Resumption};
use super::{AccessPolicy, ClientCa, GuardSettings, ServeOptions};
use crate::app::metrics::Metrics;
use crate::app::settings::{cert_source, server_key};
use crate::config::{AdminConfig, ClientAuth, Config, MissConfig, TlsConfig};
use crate::keys::KeyError;

/// How long shutdown waits for requests in flight before closing them.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// `serve`'s flags that override `[listen]` and `[provision]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServeFlags {
    /// `--http ADDR`.
    pub http: Option<SocketAddr>,
    /// `--https ADDR`.
    pub https: Option<SocketAddr>,
    /// `--allow-secrets-over-http` (on if either it or the config says so).
    pub allow_secrets_over_http: bool,
}

impl ServeFlags {
    /// The plain-HTTP listener's address.
    pub fn http(&self, config: &Config) -> SocketAddr {
        self.http.unwrap_or(config.listen.http)
    }

    /// The HTTPS listener's address.
    pub fn https(&self, config: &Config) -> SocketAddr {
        self.https.unwrap_or(config.listen.https)
    }
}

/// Everything the provisioning listeners need besides the provisioner.
/// Fails only when the server key cannot be read or made.
pub fn serve_options(
    data: &Path,
    config: &Config,
    flags: &ServeFlags,
    metrics: Arc<Metrics>,
) -> Result<ServeOptions, KeyError> {
    Ok(ServeOptions {
        http: flags.http(config),
        https: flags.https(config),
        cert: cert_source(data, config),
        policy: access_policy(data, config)?,
        allow_secrets_over_http: flags.allow_secrets_over_http
            || config.provision.allow_secrets_over_http,
        https_url: config.provision.https_url.as_ref().map(|u| u.to_string()),
        uploads: Some(data.join("uploads")),
        drain: DRAIN_LIMIT,
        client_ca: client_ca(&config.tls),
        misses: GuardSettings::from(&config.policy.misses),
        metrics,
        resumption: resumption(&config.tls),
        handshakes: config
            .tls
            .handshake_concurrency
            .unwrap_or(DEFAULT_HANDSHAKES),
        fetch_log: None,
        render_cache_bytes: render_cache_bytes(config),
    })
}

/// Enough handshakes in flight to keep both cores busy across network
/// round trips, few enough that a burst is served in arrival order.
pub const DEFAULT_HANDSHAKES: usize = 64;

/// `[tls] session_resumption` and `session_cache`, defaults on.
pub fn resumption(tls: &TlsConfig) -> Resumption {
    Resumption {
        enabled: tls.session_resumption.unwrap_or(true),
        cache_entries: tls.session_cache.unwrap_or(DEFAULT_SESSION_CACHE),
    }
}

/// `[http] render_cache_mb` in bytes.
pub fn render_cache_bytes(config: &Config) -> usize {
    usize::try_from(config.http.render_cache_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
}

/// The allow-list, plus Digest/Basic when credentials are configured (the
/// nonce key is made once in the data directory, and only then).
pub fn access_policy(data: &Path, config: &Config) -> Result<AccessPolicy, KeyError> {
    let p = &config.policy;
    let policy = AccessPolicy::new(p.allow.clone());
    let device = config.provision.require_device_auth;
    let sites = &config.site_credentials;
    if p.credentials.is_empty() && sites.is_empty() && !device {
        return Ok(policy);
    }
    let key = server_key(data)?;
    let authenticator = |credentials: Vec<Credential>| {
        Authenticator::new(
            p.auth,
            p.realm.clone(),
            credentials,
            key.clone(),
            Duration::from_secs(p.nonce_seconds),
        )
    };
    let mut policy = if !sites.is_empty() {
        let by_site: HashMap<_, _> = sites.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        policy.with_credentials(
            authenticator(p.credentials.clone()),
            &p.credentials,
            by_site,
        )
    } else if !p.credentials.is_empty() {
        policy.with_auth(authenticator(p.credentials.clone()))
    } else {
        policy
    };
    if device {
        policy = policy.with_device_auth(authenticator(Vec::new()));
    }
    Ok(policy)
}

/// Mutual TLS, when `[tls] client_ca` names a bundle.
pub fn client_ca(tls: &TlsConfig) -> Option<ClientCa> {
    tls.client_ca.as_ref().map(|bundle| ClientCa {
        bundle: bundle.clone(),
        required: tls.client_auth == Some(ClientAuth::Required),
    })
}

/// `[policy.misses]` in the guard's units.
impl From<&MissConfig> for GuardSettings {
    fn from(m: &MissConfig) -> GuardSettings {
        GuardSettings {
            window: Duration::from_secs(m.window_seconds),
            throttle_after: m.throttle_after,
            delay: Duration::from_millis(m.throttle_delay_ms),
            ban_after: m.ban_after,
            ban: Duration::from_secs(m.ban_seconds),
            max_sources: m.max_sources,
        }
    }
}

/// `[admin]` as the admin API takes it.
impl From<&AdminConfig> for ApiSettings {
    fn from(a: &AdminConfig) -> ApiSettings {
        ApiSettings {
            max_body_bytes: a.max_body_bytes,
            anonymous_loopback: a.anonymous_loopback,
            expose_secrets: a.expose_secrets,
        }
    }
}
