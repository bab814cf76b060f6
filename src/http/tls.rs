//! The HTTPS certificate: configured PEM files, or a self-signed one
//! generated on first start into `<data>/certs/` and reused afterwards so
//! its fingerprint stays stable for phones that pin or trust on first use.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

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
    #[error("cannot generate the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
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
    /// Generated once into this directory (`<data>/certs`).
    SelfSigned { dir: PathBuf },
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
        CertSource::SelfSigned { dir } => ensure_self_signed(dir, names)?,
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

/// Makes sure a self-signed certificate exists before anything reads it
/// (the provisioner hands it to phones before the listener binds). A no-op
/// for configured files.
pub fn prepare(source: &CertSource, names: &[IpAddr]) -> Result<(), TlsError> {
    if let CertSource::SelfSigned { dir } = source {
        ensure_self_signed(dir, names)?;
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
/// certificate) if given, else the last certificate of the served chain
/// (the self-signed certificate itself, or the top of a configured chain,
/// which is where a private CA goes). `None` when the self-signed
/// certificate was not generated yet (`render` before the first `serve`).
pub fn phone_ca(source: &CertSource, explicit: Option<&Path>) -> Result<Option<PhoneCa>, TlsError> {
    let (path, last) = match (explicit, source) {
        (Some(p), _) => (p.to_path_buf(), false),
        (None, CertSource::Files { cert, .. }) => (cert.clone(), true),
        (None, CertSource::SelfSigned { dir }) => {
            let cert = dir.join("cert.pem");
            if !cert.exists() {
                return Ok(None);
            }
            (cert, true)
        }
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

/// `<dir>/cert.pem` and `<dir>/key.pem`, generated if neither exists.
fn ensure_self_signed(dir: &Path, names: &[IpAddr]) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    match (cert.exists(), key.exists()) {
        (true, true) => return Ok((cert, key)),
        (true, false) => return Err(half(&cert, &key)),
        (false, true) => return Err(half(&key, &cert)),
        (false, false) => {}
    }
    let (cert_pem, key_pem) = generate(names)?;
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    write_private(&key, key_pem.as_bytes())?;
    std::fs::write(&cert, cert_pem).map_err(|source| TlsError::Write {
        path: cert.display().to_string(),
        source,
    })?;
    Ok((cert, key))
}

fn half(present: &Path, missing: &Path) -> TlsError {
    TlsError::HalfPair {
        present: present.display().to_string(),
        missing: missing.display().to_string(),
    }
}

/// ECDSA P-256 (what rcgen makes with ring), valid from 2000 so phones that
/// boot with an unset clock still accept it, for localhost, loopback and the
/// listener's own addresses.
fn generate(names: &[IpAddr]) -> Result<(String, String), TlsError> {
    let mut sans = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    for ip in names {
        let s = ip.to_string();
        if !ip.is_unspecified() && !sans.contains(&s) {
            sans.push(s);
        }
    }
    let mut params = rcgen::CertificateParams::new(sans)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "autoprov provisioning server");
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes the key readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|source| TlsError::Write {
            path: path.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let src = CertSource::SelfSigned {
            dir: dir.path().join("certs"),
        };
        server_config(&src, &["10.9.8.7".parse().unwrap()]).unwrap();
        let first = std::fs::read(dir.path().join("certs/cert.pem")).unwrap();
        server_config(&src, &[]).unwrap();
        let second = std::fs::read(dir.path().join("certs/cert.pem")).unwrap();
        assert_eq!(first, second);
        std::fs::remove_file(dir.path().join("certs/key.pem")).unwrap();
        assert!(matches!(
            server_config(&src, &[]),
            Err(TlsError::HalfPair { .. })
        ));
    }

    #[test]
    fn phone_ca_is_the_served_certificate_in_canonical_pem() {
        let dir = tempfile::tempdir().unwrap();
        let src = CertSource::SelfSigned {
            dir: dir.path().join("certs"),
        };
        assert_eq!(phone_ca(&src, None).unwrap(), None);
        prepare(&src, &[]).unwrap();
        let ca = phone_ca(&src, None).unwrap().unwrap();
        let served = std::fs::read(dir.path().join("certs/cert.pem")).unwrap();
        let served = CertificateDer::pem_slice_iter(&served)
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(ca.der(), served.as_ref());
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
