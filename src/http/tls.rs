//! The HTTPS certificate: configured PEM files, or a local CA and a server
//! certificate it signs, generated into `<data>/certs/` (see
//! [`super::local_ca`]); the CA stays stable for phones that trust it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::local_ca::{self, Note};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} holds no certificate")]
    NoCert { path: String },
    #[error("found {present} but not {missing}; give both or remove the one left")]
    HalfPair { present: String, missing: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot generate the local CA or server certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error(
        "{path} is not usable: {message} (move it away to start a new local CA; phones must then trust the new one)"
    )]
    BadLocal { path: String, message: String },
    #[error("the client CA bundle is not usable: {0}")]
    ClientCa(String),
    #[error("the certificate and key are not usable together: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// `[tls] cert/key` from the config.
    Files { cert: PathBuf, key: PathBuf },
    /// A local CA and server certificate in this directory (`<data>/certs`),
    /// the server certificate also naming `names` (`[tls] names`).
    Local { dir: PathBuf, names: Vec<String> },
}

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
    let (cert_path, key_path) = match source {
        CertSource::Files { cert, key } => (cert.clone(), key.clone()),
        CertSource::Local { dir, names: extra } => {
            let files = local_ca::ensure(dir, extra, names)?;
            (files.chain, files.key)
        }
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| read_error(&cert_path, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: cert_path.display().to_string(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| read_error(&key_path, e))?;
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
        .map_err(|e| read_error(&ca.bundle, e))?;
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

fn read_error(path: &Path, e: rustls_pki_types::pem::Error) -> TlsError {
    TlsError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Makes sure the local CA and server certificate exist and are current
/// before anything reads them (the provisioner hands the CA to phones
/// before the listener binds), and logs what changed. A no-op for
/// configured files.
pub fn prepare(source: &CertSource, names: &[IpAddr]) -> Result<(), TlsError> {
    let CertSource::Local { dir, names: extra } = source else {
        return Ok(());
    };
    let files = local_ca::ensure(dir, extra, names)?;
    match files.note {
        Some(Note::Legacy) => tracing::warn!(
            cert = %files.chain.display(),
            "serving the self-signed certificate an earlier autoprov made, which deployed phones \
             trust. It cannot be re-issued for new names or addresses. To switch to a local CA \
             (stable trust, server certificate re-issued automatically): stop autoprov, delete \
             cert.pem and key.pem in that directory and start again; phones already on HTTPS \
             must then fetch the new /ca.pem (re-bootstrap them over plain HTTP)"
        ),
        Some(Note::CaCreated) => tracing::info!(
            ca = %files.anchor.display(),
            "created a local CA for HTTPS; phones are handed it at /ca.pem"
        ),
        Some(Note::LeafIssued(why)) => tracing::info!(
            cert = %files.chain.display(),
            reason = %why,
            "issued a new server certificate from the local CA"
        ),
        None => {}
    }
    Ok(())
}

/// The certificate phones are told to trust so they can verify our HTTPS:
/// one DER certificate, handed out as PEM (`/ca.pem`, Polycom), base64
/// (Snom) or by URL (Yealink, Cisco). Certificates are public; this holds
/// no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneCa {
    der: Vec<u8>,
    /// The forms templates use, made once (every bootstrap renders them).
    pem: String,
    base64: String,
}

impl PhoneCa {
    fn new(der: Vec<u8>) -> PhoneCa {
        use base64::Engine as _;
        let base64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in base64.as_bytes().chunks(64) {
            // base64 output is ASCII, so every chunk is valid UTF-8.
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        PhoneCa { der, pem, base64 }
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER as one line of standard base64.
    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// Canonical PEM: 64-column base64 between the BEGIN/END lines, LF
    /// line ends, nothing else (no "Bag Attributes" or comments a
    /// configured file may carry), so templates may embed it verbatim.
    pub fn pem(&self) -> &str {
        &self.pem
    }
}

/// The certificate to hand phones: `explicit` (`[tls] phone_ca`, its first
/// certificate) if given, else for configured files the last certificate
/// of the served chain (the top of the chain, which is where a private CA
/// goes), else the local CA (or an earlier autoprov's self-signed
/// certificate while that is still in use). `None` when the local CA was
/// not generated yet (`render` before the first `serve`).
pub fn phone_ca(source: &CertSource, explicit: Option<&Path>) -> Result<Option<PhoneCa>, TlsError> {
    let (path, last) = match (explicit, source) {
        (Some(p), _) => (p.to_path_buf(), false),
        (None, CertSource::Files { cert, .. }) => (cert.clone(), true),
        (None, CertSource::Local { dir, .. }) => match local_ca::anchor(dir) {
            Some(cert) => (cert, false),
            None => return Ok(None),
        },
    };
    let certs = CertificateDer::pem_file_iter(&path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| read_error(&path, e))?;
    let chosen = if last { certs.last() } else { certs.first() };
    let der = chosen.ok_or_else(|| TlsError::NoCert {
        path: path.display().to_string(),
    })?;
    Ok(Some(PhoneCa::new(der.as_ref().to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(dir: &Path) -> CertSource {
        CertSource::Local {
            dir: dir.join("certs"),
            names: vec!["prov.example.com".into()],
        }
    }

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
    fn phone_ca_is_the_local_ca_in_canonical_pem() {
        let dir = tempfile::tempdir().unwrap();
        let src = local(dir.path());
        assert_eq!(phone_ca(&src, None).unwrap(), None);
        prepare(&src, &[]).unwrap();
        let ca = phone_ca(&src, None).unwrap().unwrap();
        let ca_file = std::fs::read(dir.path().join("certs/ca.pem")).unwrap();
        let ca_file = CertificateDer::from_pem_slice(&ca_file).unwrap();
        assert_eq!(ca.der(), ca_file.as_ref());
        // The served chain ends with it.
        let chain = std::fs::read(dir.path().join("certs/server.pem")).unwrap();
        let last = CertificateDer::pem_slice_iter(&chain)
            .last()
            .unwrap()
            .unwrap();
        assert_eq!(ca.der(), last.as_ref());
        let pem = ca.pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let again = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert_eq!(again.as_ref(), ca.der());
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
