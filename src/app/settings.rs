//! The config turned into what rendering runs with: where the HTTPS
//! certificate comes from, the server key, and the provisioner's settings.
//!
//! They live here, not beside the listeners in `http`, because a local
//! `autoprov render` needs them too (the CA phones are told to trust is
//! part of the bytes it prints) and the app layer may not reach up into
//! the faces. The listeners' own settings build on these.

use std::path::Path;

use crate::config::{Config, is_cert_name};
use crate::keys::{KeyError, ServerKey};
use crate::pki::{self, CertSource, LeafLifetime, TlsError};
use crate::provision;

/// Why the settings could not be made. The two differ for the exit code:
/// a certificate the config names is the user's to fix (2), a server key
/// that cannot be read or written is a runtime failure (3).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A `[firmware]` entry names a file the directory lacks.
    #[error(transparent)]
    Firmware(#[from] provision::firmware::FirmwareError),
}

/// The HTTPS certificate: `[tls] cert/key`, else the local CA's in
/// `<data>/certs/`.
pub fn cert_source(data: &Path, config: &Config) -> CertSource {
    match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => CertSource::Local {
            dir: data.join("certs"),
            names: cert_names(config),
            lifetime: config
                .tls
                .leaf_lifetime_seconds
                .map(LeafLifetime::from_secs)
                .unwrap_or_default(),
        },
    }
}

/// Names the generated server certificate carries besides the machine's
/// own: `[tls] names` and the host of `[provision] https_url` (phones are
/// sent there, so it must verify).
fn cert_names(config: &Config) -> Vec<String> {
    let mut names = config.tls.names.clone();
    let host = config.provision.https_url.as_ref().and_then(|u| u.host());
    names.extend(host.filter(|h| is_cert_name(h)));
    names
}

/// `<data>/auth.key`, made on first use: the nonce key of Digest and the
/// root of the per-device credentials.
pub fn server_key(data: &Path) -> Result<ServerKey, KeyError> {
    ServerKey::load_or_create(&data.join("auth.key"))
}

/// `[provision]` and `[tls] phone_ca` as the provisioner takes them. The
/// server key is only read (or made) when device credentials are on.
pub fn provision(data: &Path, config: &Config) -> Result<provision::Settings, SettingsError> {
    let p = &config.provision;
    let phone_ca = pki::phone_ca(&cert_source(data, config), config.tls.phone_ca.as_deref())?;
    let device_key = if p.issue_device_credentials || p.require_device_auth {
        Some(server_key(data)?)
    } else {
        None
    };
    Ok(provision::Settings {
        repeat_minutes: p.repeat_minutes,
        bootstrap_repeat_minutes: p.bootstrap_repeat_minutes,
        device_key,
        phone_ca,
        site_phone_passwords: config.site_phone_passwords.clone(),
        firmware: provision::firmware::Catalog::load(data, &config.firmware)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(toml: &str) -> Vec<String> {
        cert_names(&Config::parse(toml).expect("config"))
    }

    #[test]
    fn https_url_host_joins_the_configured_names() {
        assert_eq!(
            names(
                "[tls]\nnames = [\"a.example\"]\n[provision]\nhttps_url = \"https://prov.example.com:8443/x\"\n"
            ),
            ["a.example", "prov.example.com"]
        );
        assert_eq!(
            names("[provision]\nhttps_url = \"https://u:p@[fd00::5]:8443/\"\n"),
            ["fd00::5"]
        );
        assert_eq!(
            names("[provision]\nhttps_url = \"https://10.1.2.3/\"\n"),
            ["10.1.2.3"]
        );
        assert!(names("").is_empty());
    }
}
