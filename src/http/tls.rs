//! The rustls side of HTTPS: the server certificates [`crate::pki`]
//! provides, chosen per ClientHello and swapped in when renewed, the server
//! config built on them, and the verifier for client certificates.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::pki::{self, Pair};
pub use crate::pki::{CertSource, TlsError};

/// After a failed renewal, how long before the next try (the current
/// certificates keep being served meanwhile).
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// The one crypto provider autoprov uses (ring). Installed as the process
/// default too, so nothing else can pick a different one implicitly.
pub fn provider() -> Arc<CryptoProvider> {
    let p = rustls::crypto::ring::default_provider();
    // Err only means a default is already installed (e.g. a second server in
    // the same process); ours is passed explicitly below either way.
    let _ = p.clone().install_default();
    Arc::new(p)
}

/// Mutual TLS: the CAs client certificates must chain to, and whether a
/// client without one may still connect.
#[derive(Debug, Clone)]
pub struct ClientCa {
    pub bundle: PathBuf,
    pub required: bool,
}

/// The server certificates, preferred first (the local CA's ECDSA P-256,
/// then its RSA-2048; configured files alone). Each handshake gets the
/// first whose key can sign with a scheme the client offers: ECDSA for
/// any client that offers ECDSA P-256, RSA for one that offers only RSA
/// (older phone firmware). Renewal swaps the whole set; handshakes and
/// connections already under way keep the certificate they were given.
#[derive(Debug)]
pub struct LeafResolver {
    leaves: RwLock<Arc<[Arc<CertifiedKey>]>>,
}

impl LeafResolver {
    /// Reads `pairs` (as [`pki::cert_files`] names them).
    pub fn new(pairs: &[Pair]) -> Result<LeafResolver, TlsError> {
        Ok(LeafResolver {
            leaves: RwLock::new(load(pairs)?),
        })
    }

    /// Serves `pairs` from the next handshake on.
    pub fn replace(&self, pairs: &[Pair]) -> Result<(), TlsError> {
        let new = load(pairs)?;
        *self.leaves.write().unwrap_or_else(|p| p.into_inner()) = new;
        Ok(())
    }

    fn current(&self) -> Arc<[Arc<CertifiedKey>]> {
        self.leaves
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The end-entity certificate of each chain served now.
    pub fn served(&self) -> Vec<CertificateDer<'static>> {
        self.current()
            .iter()
            .filter_map(|k| k.cert.first().cloned())
            .collect()
    }
}

impl ResolvesServerCert for LeafResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let leaves = self.current();
        // rustls has already narrowed the offered schemes to the client's
        // TLS 1.2 cipher suites. Nothing usable: the last one, and rustls
        // refuses the handshake as it would have anyway.
        let offered = hello.signature_schemes();
        leaves
            .iter()
            .find(|k| k.key.choose_scheme(offered).is_some())
            .or(leaves.last())
            .cloned()
    }
}

/// Each pair as a certified key, its key checked against its certificate.
fn load(pairs: &[Pair]) -> Result<Arc<[Arc<CertifiedKey>]>, TlsError> {
    let provider = provider();
    let mut out = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let certs = CertificateDer::pem_file_iter(&pair.chain)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| pki::read_error(&pair.chain, e))?;
        if certs.is_empty() {
            return Err(TlsError::NoCert {
                path: pair.chain.display().to_string(),
            });
        }
        let key =
            PrivateKeyDer::from_pem_file(&pair.key).map_err(|e| pki::read_error(&pair.key, e))?;
        out.push(Arc::new(CertifiedKey::from_der(certs, key, &provider)?));
    }
    if out.is_empty() {
        return Err(TlsError::NoCert {
            path: "(no certificate configured)".into(),
        });
    }
    Ok(out.into())
}

/// How returning clients skip the full handshake. A resumed session keeps
/// the client certificate chain it was established with (rustls stores it
/// in the session and reports it as the peer's on resumption), so the MAC
/// binding of mutual TLS holds for resumed connections too; ticket keys
/// are random per process, so a restart (or a new `client_ca`) makes every
/// client verify again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumption {
    /// Tickets (TLS 1.3 and 1.2) and the session cache; off means every
    /// connection pays a full handshake.
    pub enabled: bool,
    /// Server-side cache entries (TLS 1.2 session IDs, and TLS 1.3
    /// clients when tickets are off); 0 keeps none.
    pub cache_entries: usize,
}

/// A site's phones: 20,000 sessions, a few tens of MB at most.
pub const DEFAULT_SESSION_CACHE: usize = 20_000;

impl Default for Resumption {
    fn default() -> Self {
        Resumption {
            enabled: true,
            cache_entries: DEFAULT_SESSION_CACHE,
        }
    }
}

/// Loads or generates the certificates and builds the rustls config
/// (TLS 1.2 and 1.3, ALPN h2 and http/1.1).
pub fn server_config(source: &CertSource, names: &[IpAddr]) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_with(source, names, None)
}

/// As [`server_config`], asking for client certificates when `client` is
/// given. With `required: false` a client may send none (rustls then
/// reports no peer certificate); one it sends must verify.
pub fn server_config_with(
    source: &CertSource,
    names: &[IpAddr],
    client: Option<&ClientCa>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let resolver = LeafResolver::new(&pki::cert_files(source, names)?)?;
    config_for(Arc::new(resolver), client, Resumption::default())
}

/// The rustls config serving whatever `resolver` holds.
pub fn config_for(
    resolver: Arc<LeafResolver>,
    client: Option<&ClientCa>,
    resumption: Resumption,
) -> Result<Arc<ServerConfig>, TlsError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca)?),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    resume(&mut config, resumption)?;
    Ok(Arc::new(config))
}

/// Session tickets with keys that rotate every 6 hours (rustls' ring
/// `Ticketer`; a ticket stays valid for one more period after its key is
/// retired) and a bounded in-memory cache for clients that resume by ID.
/// rustls' own default is a 256-entry cache and no tickets: too small for
/// a site, so a boot storm paid the full handshake on every connection.
fn resume(config: &mut ServerConfig, r: Resumption) -> Result<(), TlsError> {
    if !r.enabled {
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.ticketer = Arc::new(NoTickets);
        config.send_tls13_tickets = 0;
        return Ok(());
    }
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    config.session_storage = if r.cache_entries == 0 {
        Arc::new(rustls::server::NoServerSessionStorage {})
    } else {
        rustls::server::ServerSessionMemoryCache::new(r.cache_entries)
    };
    Ok(())
}

/// Issues no tickets (rustls keeps its "never" ticketer private).
#[derive(Debug)]
struct NoTickets;

impl rustls::server::ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }
    fn lifetime(&self) -> u32 {
        0
    }
    fn encrypt(&self, _plain: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn decrypt(&self, _cipher: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// Keeps the local CA's server certificates current while serving: every
/// few seconds (see [`pki::LeafLifetime::check_every`]) a check that
/// reads nothing; when a certificate nears expiry or misses one of the
/// machine's names or addresses, both are re-issued (off the async
/// threads: an RSA key takes a moment) and swapped into `resolver`. Runs
/// until dropped; does nothing for configured files or the legacy pair.
pub async fn renew_while_serving(
    source: CertSource,
    listeners: Vec<IpAddr>,
    resolver: Arc<LeafResolver>,
) {
    let CertSource::Local { lifetime, .. } = &source else {
        return;
    };
    let mut tick = tokio::time::interval(lifetime.check_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(reason) = pki::renewal_due(&source, &listeners, &resolver.served()) else {
            continue;
        };
        tracing::debug!(%reason, "renewing the server certificates");
        let before = resolver.served();
        let (src, names, res) = (source.clone(), listeners.clone(), resolver.clone());
        let renewed =
            tokio::task::spawn_blocking(move || res.replace(&pki::prepare(&src, &names)?)).await;
        match renewed {
            Ok(Ok(())) if resolver.served() == before => {
                // Files someone else changed, or a check that disagrees
                // with the files: not worth a busy loop.
                tracing::warn!(%reason, "the server certificates looked due for renewal but nothing was re-issued");
                tokio::time::sleep(RETRY_AFTER).await;
            }
            Ok(Ok(())) => tracing::info!(
                "serving the renewed server certificates to new connections; open ones keep theirs"
            ),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot renew the server certificates; still serving the current ones");
                tokio::time::sleep(RETRY_AFTER).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the certificate renewal task failed");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

fn client_verifier(ca: &ClientCa) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&ca.bundle)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pki::read_error(&ca.bundle, e))?;
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsError::NoCert {
            path: ca.bundle.display().to_string(),
        });
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = if ca.required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder
        .build()
        .map_err(|e| TlsError::ClientCa(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::tests::local;

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let src = local(dir.path());
        server_config(&src, &["10.9.8.7".parse().unwrap()]).unwrap();
        let read = |f: &str| std::fs::read(dir.path().join("certs").join(f)).unwrap();
        let first = (read("ca.pem"), read("server.pem"));
        server_config(&src, &[]).unwrap();
        assert_eq!((read("ca.pem"), read("server.pem")), first);
        std::fs::remove_file(dir.path().join("certs/ca.key")).unwrap();
        assert!(matches!(
            server_config(&src, &[]),
            Err(TlsError::HalfPair { .. })
        ));
    }

    #[test]
    fn the_resolver_serves_ecdsa_then_rsa_and_swaps_whole_sets() {
        let dir = tempfile::tempdir().unwrap();
        let src = local(dir.path());
        let pairs = pki::cert_files(&src, &[]).unwrap();
        let resolver = LeafResolver::new(&pairs).unwrap();
        let served = resolver.served();
        let on_disk =
            |f: &str| CertificateDer::from_pem_file(dir.path().join("certs").join(f)).unwrap();
        assert_eq!(served, [on_disk("server.pem"), on_disk("server-rsa.pem")]);
        // A key that is not the certificate's is refused, and the set
        // served before stays.
        let crossed = [Pair {
            chain: pairs[0].chain.clone(),
            key: pairs[1].key.clone(),
        }];
        assert!(matches!(
            resolver.replace(&crossed),
            Err(TlsError::Rustls(_))
        ));
        assert_eq!(resolver.served(), served);
        resolver.replace(&pairs[1..]).unwrap();
        assert_eq!(resolver.served(), [on_disk("server-rsa.pem")]);
        assert!(matches!(
            resolver.replace(&[]),
            Err(TlsError::NoCert { .. })
        ));
    }

    #[test]
    fn bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        std::fs::write(&cert, "not pem").unwrap();
        let src = CertSource::Files {
            cert: cert.clone(),
            key: cert,
        };
        assert!(server_config(&src, &[]).is_err());
    }
}
