//! The rustls side of HTTPS: the server config built from the certificate
//! [`crate::pki`] provides, and the verifier for client certificates.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::pki;
pub use crate::pki::{CertSource, TlsError};

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

/// Loads or generates the certificate and builds the rustls config
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
    let (cert_path, key_path) = pki::cert_files(source, names)?;
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pki::read_error(&cert_path, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: cert_path.display().to_string(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| pki::read_error(&key_path, e))?;
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca)?),
    };
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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
