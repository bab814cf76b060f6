//! The optional TOML config file. Everything has a working default, so
//! autoprov runs with no file at all.

use std::collections::BTreeMap;
use std::path::Path;

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
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub import: ImportPolicy,
    /// Always contains the `default` site.
    pub sites: Vec<Site>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            import: ImportPolicy::default(),
            sites: vec![Site::default()],
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
        Ok(Config {
            import: file.import,
            sites,
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
}
