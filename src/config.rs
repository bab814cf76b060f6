//! The optional TOML config file. Everything has a working default, so
//! autoprov runs with no file at all.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use serde::Deserialize;

use crate::domain::{DEFAULT_SITE, Site, Transport};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Invalid { path: String, message: String },
}

/// Rules the import enforces that an admin may tune.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportPolicy {
    /// Minimum web password length (plus one letter and one digit).
    pub web_password_min_length: usize,
}

impl Default for ImportPolicy {
    fn default() -> Self {
        ImportPolicy {
            web_password_min_length: 8,
        }
    }
}

/// `[listen]`: where `serve` binds unless a flag says otherwise.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    pub http: SocketAddr,
    pub https: SocketAddr,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            https: SocketAddr::from(([127, 0, 0, 1], 8443)),
        }
    }
}

/// `[tls]`: PEM files to serve HTTPS with. Without them `serve` generates a
/// self-signed certificate into `<data>/certs/` once and reuses it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// `[policy]`: who may fetch provisioning files at all. Everyone else gets
/// the same 404 as an unknown MAC.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Source ranges allowed; loopback and private ranges by default, so zero
    /// touch works on a private phone network and nothing is open beyond it.
    pub allow: Vec<IpNet>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let allow = [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
        ]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
        PolicyConfig { allow }
    }
}

/// `[provision]`: how configs are delivered.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisionConfig {
    /// Serve SIP passwords over plain HTTP too (legacy fleets without TLS).
    pub allow_secrets_over_http: bool,
    /// The HTTPS base URL the plain-HTTP bootstrap sends phones to; by default
    /// built from the address the phone used and the HTTPS listener's port.
    pub https_url: Option<String>,
    /// How often phones re-check their config (minutes).
    pub repeat_minutes: u32,
    /// Re-check interval in the plain-HTTP bootstrap file, short so that the
    /// phone comes back soon over HTTPS for its passwords.
    pub bootstrap_repeat_minutes: u32,
}

impl Default for ProvisionConfig {
    fn default() -> Self {
        ProvisionConfig {
            allow_secrets_over_http: false,
            https_url: None,
            repeat_minutes: 1440,
            bootstrap_repeat_minutes: 5,
        }
    }
}

impl ProvisionConfig {
    fn validate(&self) -> Result<(), String> {
        if let Some(u) = &self.https_url {
            let ok = u.starts_with("https://")
                && u.len() > "https://".len()
                && !u.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(format!(
                    "provision.https_url {u:?} must be an https:// URL without spaces"
                ));
            }
        }
        if self.repeat_minutes == 0 || self.bootstrap_repeat_minutes == 0 {
            return Err(
                "provision.repeat_minutes and bootstrap_repeat_minutes must be at least 1".into(),
            );
        }
        Ok(())
    }
}

/// A site as written in the config (`[sites.NAME]`); missing keys take the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SiteConfig {
    sip_server: Option<String>,
    sip_port: Option<u16>,
    transport: Option<Transport>,
    outbound_proxy: Option<String>,
    ntp_server: Option<String>,
    language: Option<String>,
    timezone: Option<String>,
    /// `"1000-1999"`.
    extension_range: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    import: ImportPolicy,
    sites: BTreeMap<String, SiteConfig>,
    listen: ListenConfig,
    tls: TlsConfig,
    policy: PolicyConfig,
    provision: ProvisionConfig,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub import: ImportPolicy,
    /// Always contains the `default` site.
    pub sites: Vec<Site>,
    pub listen: ListenConfig,
    pub tls: TlsConfig,
    pub policy: PolicyConfig,
    pub provision: ProvisionConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            import: ImportPolicy::default(),
            sites: vec![Site::default()],
            listen: ListenConfig::default(),
            tls: TlsConfig::default(),
            policy: PolicyConfig::default(),
            provision: ProvisionConfig::default(),
        }
    }
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: shown,
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut sites = Vec::new();
        if !file.sites.contains_key(DEFAULT_SITE) {
            sites.push(Site::default());
        }
        for (name, sc) in file.sites {
            sites.push(build_site(name, sc)?);
        }
        if file.tls.cert.is_some() != file.tls.key.is_some() {
            return Err("tls.cert and tls.key must be given together".into());
        }
        file.provision.validate()?;
        Ok(Config {
            import: file.import,
            sites,
            listen: file.listen,
            tls: file.tls,
            policy: file.policy,
            provision: file.provision,
        })
    }
}

fn build_site(name: String, sc: SiteConfig) -> Result<Site, String> {
    let d = Site::default();
    let language = match sc.language {
        Some(l) => crate::language::normalise(&l)
            .ok_or_else(|| format!("site {name}: unsupported language {l:?}"))?
            .to_string(),
        None => d.language,
    };
    let timezone = match sc.timezone {
        Some(t) => crate::domain::canonical_timezone(&t)
            .ok_or_else(|| format!("site {name}: unknown timezone {t:?}"))?,
        None => d.timezone,
    };
    let extension_range = match sc.extension_range {
        None => None,
        Some(r) => {
            let parsed = r
                .split_once('-')
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?))
                })
                .filter(|(a, b)| a <= b);
            Some(parsed.ok_or_else(|| {
                format!("site {name}: extension_range {r:?} must look like \"1000-1999\"")
            })?)
        }
    };
    Ok(Site {
        name,
        sip_server: sc.sip_server.unwrap_or(d.sip_server),
        sip_port: sc.sip_port,
        transport: sc.transport.unwrap_or(d.transport),
        outbound_proxy: sc.outbound_proxy,
        ntp_server: sc.ntp_server.unwrap_or(d.ntp_server),
        language,
        timezone,
        extension_range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_site_always_exists() {
        let c = Config::parse(
            "[sites.berlin]\nextension_range = \"2000-2999\"\ntimezone = \"europe/berlin\"\n",
        )
        .unwrap();
        assert!(c.sites.iter().any(|s| s.name == "default"));
        let b = c.sites.iter().find(|s| s.name == "berlin").unwrap();
        assert_eq!(b.extension_range, Some((2000, 2999)));
        assert_eq!(b.timezone, "Europe/Berlin");
        assert!(Config::parse("[sites.x]\nextension_range = \"9-1\"\n").is_err());
        assert!(Config::parse("bogus = 1\n").is_err());
    }

    #[test]
    fn server_sections() {
        let d = Config::default();
        assert!(d.policy.allow.len() == 6 && !d.provision.allow_secrets_over_http);
        assert_eq!(d.listen.https.port(), 8443);
        let c = Config::parse(
            "[policy]\nallow = [\"10.0.0.0/8\"]\n[provision]\nallow_secrets_over_http = true\n[listen]\nhttp = \"0.0.0.0:80\"\n",
        )
        .unwrap();
        assert_eq!(c.policy.allow.len(), 1);
        assert!(c.provision.allow_secrets_over_http);
        assert_eq!(c.listen.http.port(), 80);
        assert_eq!(c.listen.https.port(), 8443);
        assert!(Config::parse("[policy]\nallow = [\"10.0.0.0/33\"]\n").is_err());
        assert!(Config::parse("[tls]\ncert = \"a.pem\"\n").is_err());
        assert!(Config::parse("[provision]\nhttps_url = \"http://x/\"\n").is_err());
    }
}
