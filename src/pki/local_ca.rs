//! The certificates autoprov makes for itself when none are configured: a
//! local CA, made once and kept (phones are told to trust it), and a server
//! certificate it signs, re-issued whenever it nears expiry or no longer
//! names the machine. Phones never need to re-trust anything when the
//! server certificate changes, and some phones only import a `CA:TRUE`
//! certificate as a trust anchor.
//!
//! Files in `<data>/certs/`: `ca.pem`, `ca.key` (0600), `server.pem` (the
//! server certificate followed by the CA: the chain HTTPS serves) and
//! `server.key` (0600). A data dir from an earlier autoprov holds a lone
//! self-signed `cert.pem`/`key.pem` that deployed phones trust; it stays in
//! use (see [`Note::Legacy`]).

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;

use super::TlsError;

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server.key";
/// The lone self-signed certificate earlier versions generated.
pub const LEGACY_CERT: &str = "cert.pem";
pub const LEGACY_KEY: &str = "key.pem";

/// The CA outlives any fleet; phones would have to re-trust a new one.
const CA_LIFETIME: Duration = Duration::days(20 * 365 + 5);
/// The server certificate is cheap to replace (same CA), so it is kept
/// short enough for clients that cap private-CA leaves (825 days).
const LEAF_LIFETIME: Duration = Duration::days(820);
/// Re-issued at start when fewer days than this remain.
const RENEW_BEFORE: Duration = Duration::days(30);

/// What `<data>/certs` provides after [`ensure`].
#[derive(Debug, Clone)]
pub struct LocalFiles {
    /// PEM chain the HTTPS listener serves.
    pub chain: PathBuf,
    pub key: PathBuf,
    /// The certificate phones trust (`/ca.pem`).
    pub anchor: PathBuf,
    /// What [`ensure`] did or found, for the caller to log once.
    pub note: Option<Note>,
}

/// Something worth telling the admin about the certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// An earlier autoprov's self-signed `cert.pem` is kept: phones trust it.
    Legacy,
    /// A new local CA was made (first start).
    CaCreated,
    /// The server certificate was (re-)issued, and why.
    LeafIssued(String),
}

/// The trust anchor of `dir` if it exists yet: the legacy certificate when
/// it is still in use, else the local CA. Generates nothing.
pub fn anchor(dir: &Path) -> Option<PathBuf> {
    let legacy = dir.join(LEGACY_CERT);
    if legacy.exists() {
        return Some(legacy);
    }
    let ca = dir.join(CA_CERT);
    ca.exists().then_some(ca)
}

/// Makes sure `dir` holds a CA and a current server certificate for
/// `extra` names (configured) and `listeners` (the HTTPS bind address) on
/// top of the machine's own names; or finds the legacy pair and keeps it.
pub fn ensure(dir: &Path, extra: &[String], listeners: &[IpAddr]) -> Result<LocalFiles, TlsError> {
    ensure_at(
        dir,
        &wanted_names(extra, listeners),
        OffsetDateTime::now_utc(),
    )
}

fn ensure_at(dir: &Path, wanted: &[String], now: OffsetDateTime) -> Result<LocalFiles, TlsError> {
    if let Some((cert, key)) = pair(dir, LEGACY_CERT, LEGACY_KEY)? {
        return Ok(LocalFiles {
            chain: cert.clone(),
            key,
            anchor: cert,
            note: Some(Note::Legacy),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let mut note = None;
    let (ca_cert, ca_key) = match pair(dir, CA_CERT, CA_KEY)? {
        Some(paths) => paths,
        None => {
            let (cert_pem, key_pem) = generate_ca(now)?;
            let (cert, key) = (dir.join(CA_CERT), dir.join(CA_KEY));
            // Never overwrite a CA: phones trust it.
            write_new(&key, key_pem.as_bytes(), true)?;
            write_new(&cert, cert_pem.as_bytes(), false)?;
            note = Some(Note::CaCreated);
            (cert, key)
        }
    };
    let ca_der = first_cert(&ca_cert)?;
    let ca_key_pem = read_text(&ca_key)?;
    let (chain, key) = (dir.join(SERVER_CERT), dir.join(SERVER_KEY));
    if let Some(reason) = leaf_problem(&chain, &key, &ca_der, wanted, now)? {
        let signer = KeyPair::from_pem(&ca_key_pem).map_err(|e| TlsError::BadLocal {
            path: ca_key.display().to_string(),
            message: e.to_string(),
        })?;
        let issuer = Issuer::from_ca_cert_der(&ca_der, signer).map_err(|e| TlsError::BadLocal {
            path: ca_cert.display().to_string(),
            message: e.to_string(),
        })?;
        let (leaf_pem, leaf_key_pem) = generate_leaf(&issuer, wanted, now)?;
        let ca_pem = read_text(&ca_cert)?;
        replace(&key, leaf_key_pem.as_bytes(), true)?;
        replace(&chain, format!("{leaf_pem}{ca_pem}").as_bytes(), false)?;
        // The CA's creation says more; the first leaf goes with it.
        note = note.or(Some(Note::LeafIssued(reason)));
    }
    Ok(LocalFiles {
        chain,
        key,
        anchor: ca_cert,
        note,
    })
}

/// `Some((cert, key))` if both exist, `None` if neither, an error if only
/// one does (a lost key cannot be recovered and a lone key is suspicious).
fn pair(dir: &Path, cert: &str, key: &str) -> Result<Option<(PathBuf, PathBuf)>, TlsError> {
    let (cert, key) = (dir.join(cert), dir.join(key));
    match (cert.exists(), key.exists()) {
        (true, true) => Ok(Some((cert, key))),
        (false, false) => Ok(None),
        (true, false) => Err(half(&cert, &key)),
        (false, true) => Err(half(&key, &cert)),
    }
}

fn half(present: &Path, missing: &Path) -> TlsError {
    TlsError::HalfPair {
        present: present.display().to_string(),
        missing: missing.display().to_string(),
    }
}

/// Why the server certificate must be (re-)issued, or `None` if it is fine.
/// A server certificate that is missing or unreadable is just replaced: no
/// one trusts it directly.
fn leaf_problem(
    chain: &Path,
    key: &Path,
    ca_der: &CertificateDer<'_>,
    wanted: &[String],
    now: OffsetDateTime,
) -> Result<Option<String>, TlsError> {
    if !chain.exists() || !key.exists() {
        return Ok(Some("none yet".into()));
    }
    let Ok(leaf_der) = first_cert(chain) else {
        return Ok(Some(format!("{} is unreadable", chain.display())));
    };
    let Ok(leaf_key) = read_text(key).and_then(|pem| {
        KeyPair::from_pem(&pem).map_err(|e| TlsError::BadLocal {
            path: key.display().to_string(),
            message: e.to_string(),
        })
    }) else {
        return Ok(Some(format!("{} is unreadable", key.display())));
    };
    let (Ok((_, leaf)), Ok((_, ca))) = (
        x509_parser::parse_x509_certificate(leaf_der.as_ref()),
        x509_parser::parse_x509_certificate(ca_der.as_ref()),
    ) else {
        return Ok(Some("the server certificate does not parse".into()));
    };
    if leaf.public_key().raw != leaf_key.subject_public_key_info().as_slice() {
        return Ok(Some("the key does not match the certificate".into()));
    }
    if leaf.verify_signature(Some(ca.public_key())).is_err() {
        return Ok(Some("it was not signed by this CA".into()));
    }
    let left = leaf.validity().not_after.timestamp() - now.unix_timestamp();
    if left < RENEW_BEFORE.whole_seconds() {
        return Ok(Some(format!("it expires in {} days", left / 86_400)));
    }
    let has = leaf_names(&leaf);
    if let Some(missing) = wanted.iter().find(|w| !has.contains(&normalize(w))) {
        return Ok(Some(format!("it does not name {missing}")));
    }
    Ok(None)
}

/// The SANs of `cert`, normalized like [`normalize`].
fn leaf_names(cert: &x509_parser::certificate::X509Certificate<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => {
                    out.insert(d.to_ascii_lowercase());
                }
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        out.insert(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// IP addresses in canonical text form, DNS names lower case.
fn normalize(name: &str) -> String {
    match name.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => name.to_ascii_lowercase(),
    }
}

/// localhost, loopback, the host name, every local IPv4 address, the
/// listeners' specific addresses and the configured names, deduplicated.
fn wanted_names(extra: &[String], listeners: &[IpAddr]) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    names.extend(hostname());
    if let Ok(addrs) = crate::net::iface::ipv4_addresses() {
        names.extend(addrs.iter().map(|a| a.addr.to_string()));
    }
    names.extend(
        listeners
            .iter()
            .filter(|ip| !ip.is_unspecified())
            .map(IpAddr::to_string),
    );
    names.extend(extra.iter().cloned());
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .map(|n| normalize(&n))
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

/// The machine's host name if it can go into a DNS SAN.
fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(&buf[..end]).ok()?.to_ascii_lowercase();
    let valid = !name.is_empty()
        && name != "localhost"
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then_some(name)
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    // Positive and without a leading zero byte, as RFC 5280 wants.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&bytes)
}

/// What the CA and the server certificate share: a CN, a random serial,
/// and validity from 2000 (so that phones booting with an unset clock still
/// accept them, as they did the earlier self-signed certificate) until
/// `now + lifetime`.
fn base_params(
    names: Vec<String>,
    common_name: String,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = now + lifetime;
    params.serial_number = Some(random_serial());
    Ok(params)
}

/// ECDSA P-256 (what rcgen makes with ring). Path length 0: it signs server
/// certificates only.
fn generate_ca(now: OffsetDateTime) -> Result<(String, String), TlsError> {
    let host = hostname().unwrap_or_else(|| "localhost".into());
    let cn = format!("autoprov local CA {host}");
    let mut params = base_params(Vec::new(), cn, now, CA_LIFETIME)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
        .distinguished_name
        .push(DnType::OrganizationName, "autoprov");
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn generate_leaf(
    issuer: &Issuer<'_, KeyPair>,
    names: &[String],
    now: OffsetDateTime,
) -> Result<(String, String), TlsError> {
    let cn = "autoprov provisioning server".to_string();
    let mut params = base_params(names.to_vec(), cn, now, LEAF_LIFETIME)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn first_cert(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    CertificateDer::from_pem_file(path).map_err(|e| TlsError::BadLocal {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn read_text(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|e| TlsError::BadLocal {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn open_options(private: bool) -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    opts
}

/// Creates `path` (failing if it exists), readable by the owner only when
/// `private`.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), TlsError> {
    open_options(private)
        .open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(|source| TlsError::Write {
            path: path.display().to_string(),
            source,
        })
}

/// Replaces `path` atomically (a temporary file renamed over it), so a
/// crash leaves the old file or the new one.
fn replace(path: &Path, bytes: &[u8], private: bool) -> Result<(), TlsError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // A leftover from a crash; its mode may be wrong, so start afresh.
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, bytes, private)?;
    std::fs::rename(&tmp, path).map_err(|source| TlsError::Write {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(extra: &[&str]) -> Vec<String> {
        let mut n: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        n.extend(extra.iter().map(|s| s.to_string()));
        n
    }

    fn parse<'a>(der: &'a CertificateDer<'_>) -> x509_parser::certificate::X509Certificate<'a> {
        x509_parser::parse_x509_certificate(der.as_ref()).unwrap().1
    }

    #[test]
    fn first_start_makes_a_ca_and_a_leaf_it_signs() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let files = ensure_at(dir.path(), &names(&["10.9.8.7"]), now).unwrap();
        assert_eq!(files.note, Some(Note::CaCreated));
        assert_eq!(files.anchor, dir.path().join(CA_CERT));
        let ca_der = first_cert(&files.anchor).unwrap();
        let ca = parse(&ca_der);
        assert!(ca.is_ca());
        let chain: Vec<_> = CertificateDer::pem_file_iter(&files.chain)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1], ca_der);
        let leaf = parse(&chain[0]);
        assert!(!leaf.is_ca());
        leaf.verify_signature(Some(ca.public_key())).unwrap();
        let sans = leaf_names(&leaf);
        for n in ["localhost", "127.0.0.1", "::1", "10.9.8.7"] {
            assert!(sans.contains(n), "{n} in {sans:?}");
        }
        #[cfg(unix)]
        for k in [CA_KEY, SERVER_KEY] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(k)).unwrap().permissions();
            assert_eq!(mode.mode() & 0o777, 0o600, "{k}");
        }
    }

    #[test]
    fn a_current_leaf_is_kept_and_a_stale_one_reissued_under_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let wanted = names(&[]);
        ensure_at(dir.path(), &wanted, now).unwrap();
        let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
        let (ca, leaf) = (read(CA_CERT), read(SERVER_CERT));

        let again = ensure_at(dir.path(), &wanted, now).unwrap();
        assert_eq!(again.note, None);
        assert_eq!(
            (read(CA_CERT), read(SERVER_CERT)),
            (ca.clone(), leaf.clone())
        );

        // A new address on the machine: new leaf, same CA.
        let more = names(&["192.0.2.44"]);
        let moved = ensure_at(dir.path(), &more, now).unwrap();
        assert!(
            matches!(&moved.note, Some(Note::LeafIssued(r)) if r.contains("192.0.2.44")),
            "{:?}",
            moved.note
        );
        assert_eq!(read(CA_CERT), ca);
        let leaf2 = read(SERVER_CERT);
        assert_ne!(leaf2, leaf);

        // Close to expiry: re-issued again.
        let later = now + LEAF_LIFETIME - Duration::days(10);
        let renewed = ensure_at(dir.path(), &more, later).unwrap();
        assert!(
            matches!(&renewed.note, Some(Note::LeafIssued(r)) if r.contains("expires")),
            "{:?}",
            renewed.note
        );
        assert_ne!(read(SERVER_CERT), leaf2);
        assert_eq!(read(CA_CERT), ca);

        // A leaf whose key was lost is replaced; a CA whose key was lost is an error.
        std::fs::remove_file(dir.path().join(SERVER_KEY)).unwrap();
        assert!(matches!(
            ensure_at(dir.path(), &more, later).unwrap().note,
            Some(Note::LeafIssued(_))
        ));
        std::fs::remove_file(dir.path().join(CA_KEY)).unwrap();
        assert!(matches!(
            ensure_at(dir.path(), &more, later),
            Err(TlsError::HalfPair { .. })
        ));
    }

    #[test]
    fn a_leaf_from_another_ca_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        ensure_at(dir.path(), &names(&[]), now).unwrap();
        ensure_at(other.path(), &names(&[]), now).unwrap();
        for f in [SERVER_CERT, SERVER_KEY] {
            std::fs::copy(other.path().join(f), dir.path().join(f)).unwrap();
        }
        let files = ensure_at(dir.path(), &names(&[]), now).unwrap();
        assert_eq!(
            files.note,
            Some(Note::LeafIssued("it was not signed by this CA".into()))
        );
    }

    #[test]
    fn a_legacy_pair_is_kept_and_nothing_is_generated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEGACY_CERT), "old cert").unwrap();
        std::fs::write(dir.path().join(LEGACY_KEY), "old key").unwrap();
        let files = ensure_at(dir.path(), &names(&[]), OffsetDateTime::now_utc()).unwrap();
        assert_eq!(files.note, Some(Note::Legacy));
        assert_eq!(files.chain, dir.path().join(LEGACY_CERT));
        assert_eq!(files.anchor, dir.path().join(LEGACY_CERT));
        assert!(!dir.path().join(CA_CERT).exists());
        assert_eq!(anchor(dir.path()), Some(dir.path().join(LEGACY_CERT)));
    }

    #[test]
    fn wanted_names_cover_loopback_and_configured_names_once() {
        let n = wanted_names(
            &["Prov.Example.com".into(), "127.0.0.1".into()],
            &["0.0.0.0".parse().unwrap(), "10.1.2.3".parse().unwrap()],
        );
        for want in [
            "localhost",
            "127.0.0.1",
            "::1",
            "prov.example.com",
            "10.1.2.3",
        ] {
            assert_eq!(
                n.iter().filter(|x| *x == want).count(),
                1,
                "{want} in {n:?}"
            );
        }
        assert!(!n.iter().any(|x| x == "0.0.0.0"));
    }
}
