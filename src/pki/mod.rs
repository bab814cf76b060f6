//! Certificates: where the HTTPS certificate comes from (configured files or
//! the local CA in `<data>/certs/`, see [`local_ca`]), and the CA phones are
//! told to trust. No TLS sessions here: the listeners build those from the
//! files this module names.

pub mod local_ca;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use local_ca::{LeafFacts, Note};
pub use local_ca::{LeafLifetime, Pair};

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
    #[error("cannot generate the RSA server key: {0}")]
    RsaKey(String),
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
    /// A local CA and server certificates in this directory (`<data>/certs`),
    /// the server certificates also naming `names` (`[tls] names`) and
    /// living `lifetime` (`[tls] leaf_lifetime_seconds`).
    Local {
        dir: PathBuf,
        names: Vec<String>,
        lifetime: LeafLifetime,
    },
}

/// The certificate chain and key files to serve, preferred first (for the
/// local CA: ECDSA, then RSA), generating or renewing the local ones
/// first.
pub fn cert_files(source: &CertSource, names: &[IpAddr]) -> Result<Vec<Pair>, TlsError> {
    match source {
        CertSource::Files { cert, key } => Ok(vec![Pair {
            chain: cert.clone(),
            key: key.clone(),
        }]),
        CertSource::Local {
            dir,
            names: extra,
            lifetime,
        } => Ok(local_ca::ensure(dir, extra, names, *lifetime)?.served),
    }
}

/// Why the local server certificates must be re-issued now, judged on the
/// leaves being `served` (first certificate of each chain), the clock and
/// the machine's current names and addresses; `None` for configured files
/// and the legacy pair, which are served as they are. Reads no file and
/// makes no key, so the listener can ask every few seconds.
pub fn renewal_due(
    source: &CertSource,
    listeners: &[IpAddr],
    served: &[CertificateDer<'_>],
) -> Option<String> {
    let CertSource::Local {
        dir,
        names: extra,
        lifetime,
    } = source
    else {
        return None;
    };
    if served.len() < local_ca::LeafKind::ALL.len() {
        // The legacy pair (or a start that served less than both).
        return (!dir.join(local_ca::LEGACY_CERT).exists())
            .then(|| "a server certificate is missing".to_string());
    }
    let wanted = local_ca::wanted_names(extra, listeners);
    let now = time::OffsetDateTime::now_utc();
    served.iter().find_map(|der| match LeafFacts::of(der) {
        Some(facts) => local_ca::renewal_reason(&facts, &wanted, now, *lifetime),
        None => Some("a served certificate does not parse".into()),
    })
}

pub fn read_error(path: &Path, e: rustls_pki_types::pem::Error) -> TlsError {
    TlsError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}
/// Makes sure the local CA and server certificates exist and are current
/// before anything reads them (the provisioner hands the CA to phones
/// before the listener binds; the listener renews through it), logs what
/// changed, and returns what to serve, as [`cert_files`] does.
pub fn prepare(source: &CertSource, names: &[IpAddr]) -> Result<Vec<Pair>, TlsError> {
    let CertSource::Local {
        dir,
        names: extra,
        lifetime,
    } = source
    else {
        return cert_files(source, names);
    };
    let files = local_ca::ensure(dir, extra, names, *lifetime)?;
    for note in &files.notes {
        log_note(note, &files);
    }
    Ok(files.served)
}

fn log_note(note: &Note, files: &local_ca::LocalFiles) {
    match note {
        Note::Legacy => tracing::warn!(
            cert = %files.anchor.display(),
            "serving the self-signed certificate an earlier autoprov made, which deployed phones \
             trust. It cannot be re-issued for new names or addresses. To switch to a local CA \
             (stable trust, server certificate re-issued automatically): stop autoprov, delete \
             cert.pem and key.pem in that directory and start again; phones already on HTTPS \
             must then fetch the new /ca.pem (re-bootstrap them over plain HTTP)"
        ),
        Note::CaCreated => tracing::info!(
            ca = %files.anchor.display(),
            "created a local CA for HTTPS; phones are handed it at /ca.pem"
        ),
        Note::LeafIssued(i) => tracing::info!(
            kind = %i.kind,
            reason = %i.reason,
            serial = %i.serial,
            not_after = %i.not_after,
            "issued a new server certificate from the local CA"
        ),
    }
}

/// The certificate phones are told to trust so they can verify our HTTPS:
/// one DER certificate, which templates hand out as PEM, base64 or the
/// `/ca.pem` URL, as each vendor's row (`ca_setting`) and template say.
/// Certificates are public; this holds no key.
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
pub(crate) mod tests {
    use super::*;

    /// A local CA under `dir/certs` naming `prov.example.com` (shared with
    /// the listener's TLS tests).
    pub(crate) fn local(dir: &Path) -> CertSource {
        CertSource::Local {
            dir: dir.join("certs"),
            names: vec!["prov.example.com".into()],
            lifetime: LeafLifetime::default(),
        }
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
}
