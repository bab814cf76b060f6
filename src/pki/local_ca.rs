//! The certificates autoprov makes for itself when none are configured: a
//! local CA, made once and kept (phones are told to trust it), and two
//! server certificates it signs, an ECDSA P-256 one and an RSA-2048 one
//! (older phone firmware handles only RSA), each re-issued whenever it nears
//! expiry or no longer names the machine. Phones never need to re-trust
//! anything when a server certificate changes, and some phones only import
//! a `CA:TRUE` certificate as a trust anchor.
//!
//! Files in `<data>/certs/`: `ca.pem`, `ca.key` (0600), `server.pem` (the
//! ECDSA server certificate followed by the CA: the chain HTTPS serves),
//! `server.key` (0600), and `server-rsa.pem`/`server-rsa.key` the same for
//! RSA. A data dir from an earlier autoprov holds a lone self-signed
//! `cert.pem`/`key.pem` that deployed phones trust; it stays in use (see
//! [`Note::Legacy`]).

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, PublicKeyData, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;

use super::TlsError;

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server.key";
pub const RSA_CERT: &str = "server-rsa.pem";
pub const RSA_KEY: &str = "server-rsa.key";
/// The lone self-signed certificate earlier versions generated.
pub const LEGACY_CERT: &str = "cert.pem";
pub const LEGACY_KEY: &str = "key.pem";

/// The CA outlives any fleet; phones would have to re-trust a new one.
const CA_LIFETIME: Duration = Duration::days(20 * 365 + 5);
/// Clients cap private-CA server certificates at 825 days; a longer
/// `[tls] leaf_lifetime_seconds` is refused.
pub use crate::config::MAX_LEAF_LIFETIME_SECONDS as MAX_LEAF_SECONDS;

/// How long a server certificate lives (`[tls] leaf_lifetime_seconds`) and
/// so when it is re-issued: two thirds into its life, so that a server that
/// was down for a while still renews well before expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafLifetime {
    seconds: u64,
}

impl LeafLifetime {
    /// Half a year: short enough that a leaked key soon stops mattering,
    /// long enough that a server off for weeks wakes up to a valid one.
    pub const DEFAULT_SECONDS: u64 = 180 * 86_400;

    /// `seconds`, at least 1 and at most [`MAX_LEAF_SECONDS`] (the config
    /// refuses others; here they are clamped).
    pub fn from_secs(seconds: u64) -> LeafLifetime {
        LeafLifetime {
            seconds: seconds.clamp(1, MAX_LEAF_SECONDS),
        }
    }

    fn lifetime(self) -> Duration {
        Duration::seconds(self.seconds as i64)
    }

    /// Re-issued when less than this is left (a third of the lifetime).
    fn renew_before(self) -> Duration {
        Duration::seconds((self.seconds / 3) as i64)
    }

    /// How often the running server compares the served certificates
    /// with the clock and the machine's addresses: a twelfth of the
    /// lifetime, between 1 and 10 seconds (the check reads no file and
    /// makes no key, so an address change is picked up quickly).
    pub fn check_every(self) -> std::time::Duration {
        std::time::Duration::from_secs((self.seconds / 12).clamp(1, 10))
    }
}

impl Default for LeafLifetime {
    fn default() -> Self {
        LeafLifetime::from_secs(Self::DEFAULT_SECONDS)
    }
}

/// The two server certificates, in the order the listener prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafKind {
    /// ECDSA P-256: every current client, smaller and quicker.
    Ecdsa,
    /// RSA-2048: for clients that offer only RSA signature schemes.
    Rsa,
}

impl LeafKind {
    pub const ALL: [LeafKind; 2] = [LeafKind::Ecdsa, LeafKind::Rsa];

    /// Chain and key file names in `<data>/certs`.
    fn files(self) -> (&'static str, &'static str) {
        match self {
            LeafKind::Ecdsa => (SERVER_CERT, SERVER_KEY),
            LeafKind::Rsa => (RSA_CERT, RSA_KEY),
        }
    }

    /// The rcgen algorithm a key of this kind loads as.
    fn algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            LeafKind::Ecdsa => &PKCS_ECDSA_P256_SHA256,
            LeafKind::Rsa => &PKCS_RSA_SHA256,
        }
    }

    /// A new key. rcgen cannot make RSA keys with ring (its
    /// `KeyGenerationUnavailable`; only aws-lc-rs can), so the RSA one comes
    /// from the `rsa` crate as PKCS#8 and rcgen (ring) signs with it.
    fn new_key(self) -> Result<KeyPair, TlsError> {
        match self {
            LeafKind::Ecdsa => Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?),
            LeafKind::Rsa => {
                use rsa::pkcs8::EncodePrivateKey as _;
                let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)
                    .map_err(|e| TlsError::RsaKey(e.to_string()))?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| TlsError::RsaKey(e.to_string()))?;
                let der = PrivatePkcs8KeyDer::from(der.as_bytes());
                Ok(KeyPair::from_pkcs8_der_and_sign_algo(
                    &der,
                    &PKCS_RSA_SHA256,
                )?)
            }
        }
    }

    /// What the server certificate's key may do. RSA also gets
    /// keyEncipherment, as public CAs issue RSA server certificates: some
    /// older TLS stacks look for it on an RSA certificate.
    fn key_usages(self) -> Vec<KeyUsagePurpose> {
        match self {
            LeafKind::Ecdsa => vec![KeyUsagePurpose::DigitalSignature],
            LeafKind::Rsa => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
        }
    }
}

impl fmt::Display for LeafKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LeafKind::Ecdsa => "ECDSA P-256",
            LeafKind::Rsa => "RSA-2048",
        })
    }
}

/// One chain and its key, as the listener serves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub chain: PathBuf,
    pub key: PathBuf,
}

/// What `<data>/certs` provides after [`ensure`].
#[derive(Debug, Clone)]
pub struct LocalFiles {
    /// What the HTTPS listener serves, preferred first: the ECDSA then the
    /// RSA server certificate, or the legacy pair alone.
    pub served: Vec<Pair>,
    /// The certificate phones trust (`/ca.pem`).
    pub anchor: PathBuf,
    /// What [`ensure`] did or found, for the caller to log once.
    pub notes: Vec<Note>,
}

/// Something worth telling the admin about the certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// An earlier autoprov's self-signed `cert.pem` is kept: phones trust it.
    Legacy,
    /// A new local CA was made (first start).
    CaCreated,
    /// A server certificate was (re-)issued, and why.
    LeafIssued(Issued),
}

/// A server certificate just issued: which, why, and what tells it apart
/// (public facts only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub kind: LeafKind,
    pub reason: String,
    /// The serial number in hex.
    pub serial: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
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

/// Makes sure `dir` holds a CA and current server certificates for `extra`
/// names (configured) and `listeners` (the HTTPS bind address) on top of
/// the machine's own names; or finds the legacy pair and keeps it.
pub fn ensure(
    dir: &Path,
    extra: &[String],
    listeners: &[IpAddr],
    lifetime: LeafLifetime,
) -> Result<LocalFiles, TlsError> {
    ensure_at(
        dir,
        &wanted_names(extra, listeners),
        OffsetDateTime::now_utc(),
        lifetime,
    )
}

fn ensure_at(
    dir: &Path,
    wanted: &[String],
    now: OffsetDateTime,
    lifetime: LeafLifetime,
) -> Result<LocalFiles, TlsError> {
    if let Some((cert, key)) = pair(dir, LEGACY_CERT, LEGACY_KEY)? {
        return Ok(LocalFiles {
            served: vec![Pair {
                chain: cert.clone(),
                key,
            }],
            anchor: cert,
            notes: vec![Note::Legacy],
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let mut notes = Vec::new();
    let (ca_cert, ca_key) = match pair(dir, CA_CERT, CA_KEY)? {
        Some(paths) => paths,
        None => {
            let (cert_pem, key_pem) = generate_ca(now)?;
            let (cert, key) = (dir.join(CA_CERT), dir.join(CA_KEY));
            // Never overwrite a CA: phones trust it.
            write_new(&key, key_pem.as_bytes(), true)?;
            write_new(&cert, cert_pem.as_bytes(), false)?;
            notes.push(Note::CaCreated);
            (cert, key)
        }
    };
    let ca_der = first_cert(&ca_cert)?;
    let mut served = Vec::new();
    for kind in LeafKind::ALL {
        let (chain, key) = kind.files();
        let (chain, key) = (dir.join(chain), dir.join(key));
        let wants = LeafWants {
            kind,
            names: wanted,
            now,
            lifetime,
        };
        if let Some(reason) = leaf_problem(&chain, &key, &ca_der, &wants)? {
            let issuer = load_issuer(&ca_cert, &ca_key, &ca_der)?;
            let (leaf, leaf_key_pem) = generate_leaf(&issuer, &wants)?;
            let ca_pem = read_text(&ca_cert)?;
            replace(&key, leaf_key_pem.as_bytes(), true)?;
            replace(&chain, format!("{}{ca_pem}", leaf.pem()).as_bytes(), false)?;
            // The CA's creation says more; the first leaves go with it.
            if !notes.contains(&Note::CaCreated) {
                notes.push(Note::LeafIssued(issued(kind, reason, leaf.der())));
            }
        }
        served.push(Pair { chain, key });
    }
    Ok(LocalFiles {
        served,
        anchor: ca_cert,
        notes,
    })
}

fn load_issuer(
    ca_cert: &Path,
    ca_key: &Path,
    ca_der: &CertificateDer<'_>,
) -> Result<Issuer<'static, KeyPair>, TlsError> {
    let signer = KeyPair::from_pem(&read_text(ca_key)?).map_err(|e| TlsError::BadLocal {
        path: ca_key.display().to_string(),
        message: e.to_string(),
    })?;
    Issuer::from_ca_cert_der(ca_der, signer).map_err(|e| TlsError::BadLocal {
        path: ca_cert.display().to_string(),
        message: e.to_string(),
    })
}

/// The public facts of a new leaf, for the log.
fn issued(kind: LeafKind, reason: String, der: &CertificateDer<'_>) -> Issued {
    let (serial, not_after) = match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, c)) => (
            c.raw_serial_as_string().replace(':', ""),
            c.validity()
                .not_after
                .to_datetime()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        ),
        Err(_) => (String::new(), String::new()),
    };
    Issued {
        kind,
        reason,
        serial,
        not_after,
    }
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

/// What a server certificate of one kind must be like at `now`.
struct LeafWants<'a> {
    kind: LeafKind,
    names: &'a [String],
    now: OffsetDateTime,
    lifetime: LeafLifetime,
}

/// Why the server certificate must be (re-)issued, or `None` if it is fine.
/// A server certificate that is missing or unreadable is just replaced: no
/// one trusts it directly.
fn leaf_problem(
    chain: &Path,
    key: &Path,
    ca_der: &CertificateDer<'_>,
    wants: &LeafWants<'_>,
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
    if leaf_key.algorithm() != wants.kind.algorithm() {
        return Ok(Some(format!(
            "{} does not hold a {} key",
            key.display(),
            wants.kind
        )));
    }
    if leaf.public_key().raw != leaf_key.subject_public_key_info().as_slice() {
        return Ok(Some("the key does not match the certificate".into()));
    }
    if leaf.verify_signature(Some(ca.public_key())).is_err() {
        return Ok(Some("it was not signed by this CA".into()));
    }
    let facts = LeafFacts::of_parsed(&leaf);
    Ok(renewal_reason(
        &facts,
        wants.names,
        wants.now,
        wants.lifetime,
    ))
}

/// What renewal looks at in a served server certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafFacts {
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Its SANs, normalized like [`normalize`].
    pub names: BTreeSet<String>,
}

impl LeafFacts {
    /// `None` when `der` does not parse as a certificate.
    pub fn of(der: &CertificateDer<'_>) -> Option<LeafFacts> {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        Some(LeafFacts::of_parsed(&cert))
    }

    fn of_parsed(cert: &x509_parser::certificate::X509Certificate<'_>) -> LeafFacts {
        LeafFacts {
            not_after: cert.validity().not_after.timestamp(),
            names: leaf_names(cert),
        }
    }
}

/// Why a server certificate with these facts must be re-issued at `now`,
/// or `None`: less than a third of `lifetime` left, more left than
/// `lifetime` (issued under a longer setting), or a name in `wanted` it
/// lacks (a new address, a new `[tls] names` entry). Reads nothing, makes
/// nothing: the running server calls it every few seconds.
pub fn renewal_reason(
    leaf: &LeafFacts,
    wanted: &[String],
    now: OffsetDateTime,
    lifetime: LeafLifetime,
) -> Option<String> {
    let left = leaf.not_after - now.unix_timestamp();
    if left < lifetime.renew_before().whole_seconds() {
        return Some(format!("it expires in {}", span(left)));
    }
    if left > lifetime.lifetime().whole_seconds() {
        return Some(format!(
            "it is valid for {}, longer than the configured lifetime",
            span(left)
        ));
    }
    if let Some(missing) = wanted.iter().find(|w| !leaf.names.contains(&normalize(w))) {
        return Some(format!("it does not name {missing}"));
    }
    None
}

/// Seconds as days, or seconds under two days.
fn span(seconds: i64) -> String {
    if seconds.abs() >= 2 * 86_400 {
        format!("{} days", seconds / 86_400)
    } else {
        format!("{seconds} seconds")
    }
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
/// listeners' specific addresses and the configured names, deduplicated:
/// what the server certificates must name.
pub fn wanted_names(extra: &[String], listeners: &[IpAddr]) -> Vec<String> {
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
    wants: &LeafWants<'_>,
) -> Result<(rcgen::Certificate, String), TlsError> {
    let cn = "autoprov provisioning server".to_string();
    let mut params = base_params(
        wants.names.to_vec(),
        cn,
        wants.now,
        wants.lifetime.lifetime(),
    )?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = wants.kind.key_usages();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = wants.kind.new_key()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert, key.serialize_pem()))
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

    const LIFE: LeafLifetime = LeafLifetime {
        seconds: LeafLifetime::DEFAULT_SECONDS,
    };

    fn names(extra: &[&str]) -> Vec<String> {
        let mut n: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        n.extend(extra.iter().map(|s| s.to_string()));
        n
    }

    fn parse<'a>(der: &'a CertificateDer<'_>) -> x509_parser::certificate::X509Certificate<'a> {
        x509_parser::parse_x509_certificate(der.as_ref()).unwrap().1
    }

    fn chain_of(path: &Path) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_file_iter(path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The kinds whose leaf `notes` say was issued, with a reason containing `why`.
    fn issued_kinds(notes: &[Note], why: &str) -> Vec<LeafKind> {
        notes
            .iter()
            .filter_map(|n| match n {
                Note::LeafIssued(i) if i.reason.contains(why) => Some(i.kind),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn first_start_makes_a_ca_and_an_ecdsa_and_an_rsa_leaf_it_signs() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let files = ensure_at(dir.path(), &names(&["10.9.8.7"]), now, LIFE).unwrap();
        assert_eq!(files.notes, vec![Note::CaCreated]);
        assert_eq!(files.anchor, dir.path().join(CA_CERT));
        let ca_der = first_cert(&files.anchor).unwrap();
        let ca = parse(&ca_der);
        assert!(ca.is_ca());
        assert_eq!(
            files.served,
            [(SERVER_CERT, SERVER_KEY), (RSA_CERT, RSA_KEY)].map(|(c, k)| Pair {
                chain: dir.path().join(c),
                key: dir.path().join(k),
            })
        );
        for (pair, algorithm) in files
            .served
            .iter()
            .zip(["1.2.840.10045.2.1", "1.2.840.113549.1.1.1"])
        {
            let chain = chain_of(&pair.chain);
            assert_eq!(chain.len(), 2);
            assert_eq!(chain[1], ca_der);
            let leaf = parse(&chain[0]);
            assert!(!leaf.is_ca());
            assert_eq!(
                leaf.public_key().algorithm.algorithm.to_id_string(),
                algorithm
            );
            leaf.verify_signature(Some(ca.public_key())).unwrap();
            let left = leaf.validity().not_after.timestamp() - now.unix_timestamp();
            assert!(
                (LIFE.seconds as i64 - 2..=LIFE.seconds as i64).contains(&left),
                "{left}"
            );
            let sans = leaf_names(&leaf);
            for n in ["localhost", "127.0.0.1", "::1", "10.9.8.7"] {
                assert!(sans.contains(n), "{n} in {sans:?}");
            }
        }
        #[cfg(unix)]
        for k in [CA_KEY, SERVER_KEY, RSA_KEY] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(k)).unwrap().permissions();
            assert_eq!(mode.mode() & 0o777, 0o600, "{k}");
        }
        // Both keys load as what they are.
        let rsa = KeyPair::from_pem(&read_text(&dir.path().join(RSA_KEY)).unwrap()).unwrap();
        assert_eq!(rsa.algorithm(), &PKCS_RSA_SHA256);
        let ec = KeyPair::from_pem(&read_text(&dir.path().join(SERVER_KEY)).unwrap()).unwrap();
        assert_eq!(ec.algorithm(), &PKCS_ECDSA_P256_SHA256);
    }

    #[test]
    fn current_leaves_are_kept_and_stale_ones_reissued_under_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let wanted = names(&[]);
        ensure_at(dir.path(), &wanted, now, LIFE).unwrap();
        let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
        let leaves = || (read(SERVER_CERT), read(RSA_CERT));
        let (ca, first) = (read(CA_CERT), leaves());

        let again = ensure_at(dir.path(), &wanted, now, LIFE).unwrap();
        assert_eq!(again.notes, vec![]);
        assert_eq!((read(CA_CERT), leaves()), (ca.clone(), first.clone()));

        // A new address on the machine: new leaves, same CA.
        let more = names(&["192.0.2.44"]);
        let moved = ensure_at(dir.path(), &more, now, LIFE).unwrap();
        assert_eq!(
            issued_kinds(&moved.notes, "192.0.2.44"),
            LeafKind::ALL,
            "{:?}",
            moved.notes
        );
        assert_eq!(read(CA_CERT), ca);
        let second = leaves();
        assert_ne!(second.0, first.0);
        assert_ne!(second.1, first.1);

        // Two thirds into their life: re-issued again.
        let later = now + LIFE.lifetime() - LIFE.renew_before() + Duration::seconds(5);
        let renewed = ensure_at(dir.path(), &more, later, LIFE).unwrap();
        assert_eq!(
            issued_kinds(&renewed.notes, "expires"),
            LeafKind::ALL,
            "{:?}",
            renewed.notes
        );
        let third = leaves();
        assert_ne!(third.0, second.0);
        assert_ne!(third.1, second.1);
        assert_eq!(read(CA_CERT), ca);

        // A shorter lifetime configured: the longer-lived leaves go.
        let short = LeafLifetime::from_secs(3600);
        let shortened = ensure_at(dir.path(), &more, later, short).unwrap();
        assert_eq!(issued_kinds(&shortened.notes, "longer than"), LeafKind::ALL);

        // A lost leaf key (or an RSA key swapped for another kind) is replaced;
        // a CA whose key was lost is an error.
        std::fs::remove_file(dir.path().join(SERVER_KEY)).unwrap();
        std::fs::copy(dir.path().join(CA_KEY), dir.path().join(RSA_KEY)).unwrap();
        let fixed = ensure_at(dir.path(), &more, later, short).unwrap();
        assert_eq!(
            issued_kinds(&fixed.notes, ""),
            LeafKind::ALL,
            "{:?}",
            fixed.notes
        );
        assert!(
            issued_kinds(&fixed.notes, "does not hold a RSA-2048 key").contains(&LeafKind::Rsa)
        );
        std::fs::remove_file(dir.path().join(CA_KEY)).unwrap();
        assert!(matches!(
            ensure_at(dir.path(), &more, later, short),
            Err(TlsError::HalfPair { .. })
        ));
    }

    #[test]
    fn a_leaf_from_another_ca_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        ensure_at(dir.path(), &names(&[]), now, LIFE).unwrap();
        ensure_at(other.path(), &names(&[]), now, LIFE).unwrap();
        for f in [SERVER_CERT, SERVER_KEY] {
            std::fs::copy(other.path().join(f), dir.path().join(f)).unwrap();
        }
        let files = ensure_at(dir.path(), &names(&[]), now, LIFE).unwrap();
        assert_eq!(
            issued_kinds(&files.notes, "it was not signed by this CA"),
            [LeafKind::Ecdsa]
        );
        assert_eq!(files.notes.len(), 1);
    }

    #[test]
    fn a_legacy_pair_is_kept_and_nothing_is_generated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEGACY_CERT), "old cert").unwrap();
        std::fs::write(dir.path().join(LEGACY_KEY), "old key").unwrap();
        let files = ensure_at(dir.path(), &names(&[]), OffsetDateTime::now_utc(), LIFE).unwrap();
        assert_eq!(files.notes, vec![Note::Legacy]);
        assert_eq!(
            files.served,
            [Pair {
                chain: dir.path().join(LEGACY_CERT),
                key: dir.path().join(LEGACY_KEY),
            }]
        );
        assert_eq!(files.anchor, dir.path().join(LEGACY_CERT));
        assert!(!dir.path().join(CA_CERT).exists());
        assert!(!dir.path().join(RSA_CERT).exists());
        assert_eq!(anchor(dir.path()), Some(dir.path().join(LEGACY_CERT)));
    }

    /// The running server's check: two thirds into the lifetime, a lifetime
    /// shortened since, a name or address the machine gained.
    #[test]
    fn renewal_is_due_near_expiry_past_the_lifetime_or_for_a_new_address() {
        let now = OffsetDateTime::now_utc();
        let life = LeafLifetime::from_secs(90);
        let leaf = |left: i64, sans: &[&str]| LeafFacts {
            not_after: now.unix_timestamp() + left,
            names: sans.iter().map(|s| s.to_string()).collect(),
        };
        let here = names(&["10.1.2.3"]);
        let all = ["localhost", "127.0.0.1", "::1", "10.1.2.3"];
        assert_eq!(renewal_reason(&leaf(90, &all), &here, now, life), None);
        assert_eq!(renewal_reason(&leaf(31, &all), &here, now, life), None);
        let near = renewal_reason(&leaf(29, &all), &here, now, life).unwrap();
        assert_eq!(near, "it expires in 29 seconds");
        let gone = renewal_reason(&leaf(-5, &all), &here, now, life).unwrap();
        assert!(gone.contains("expires"), "{gone}");
        let long = renewal_reason(&leaf(91, &all), &here, now, life).unwrap();
        assert!(
            long.contains("longer than the configured lifetime"),
            "{long}"
        );
        // The machine got another address: the leaf lacks it.
        let moved = names(&["10.1.2.3", "192.0.2.7"]);
        assert_eq!(
            renewal_reason(&leaf(60, &all), &moved, now, life).as_deref(),
            Some("it does not name 192.0.2.7")
        );
        // An address that went away needs nothing new.
        assert_eq!(
            renewal_reason(&leaf(60, &all), &names(&[]), now, life),
            None
        );
        // Names compare as the certificate stores them.
        let v6 = [&all[..], &["2001:db8::1", "prov.example.com"]].concat();
        let wanted = names(&["2001:DB8:0::1", "Prov.Example.COM"]);
        assert_eq!(renewal_reason(&leaf(60, &v6), &wanted, now, life), None);
    }

    #[test]
    fn lifetimes_are_clamped_and_checked_every_few_seconds() {
        assert_eq!(LeafLifetime::from_secs(0), LeafLifetime::from_secs(1));
        assert_eq!(
            LeafLifetime::from_secs(u64::MAX),
            LeafLifetime::from_secs(MAX_LEAF_SECONDS)
        );
        assert_eq!(LeafLifetime::from_secs(6).check_every().as_secs(), 1);
        assert_eq!(LeafLifetime::from_secs(60).check_every().as_secs(), 5);
        assert_eq!(LeafLifetime::default().check_every().as_secs(), 10);
        assert_eq!(
            LeafLifetime::from_secs(6).renew_before(),
            Duration::seconds(2)
        );
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
