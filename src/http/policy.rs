//! Who may fetch provisioning files: allowed source ranges, then
//! credentials when configured (see `auth`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::auth::{Authenticator, Credential};

use ipnet::IpNet;

/// Source-address allow-list. Refused requesters get the same 404 as an
/// unknown MAC (see `provision::NOT_FOUND_BODY`).
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    allow: Vec<IpNet>,
    /// HTTP authentication, when credentials are configured.
    auth: Option<Arc<Authenticator>>,
    /// Per-device credentials required for per-MAC files over HTTPS
    /// (`require_device_auth`); its own credential list is unused.
    device_auth: Option<Arc<Authenticator>>,
    /// Sites whose phones use credentials of their own instead of the
    /// global ones, and every credential of any site or global.
    sites: Arc<SiteCredentials>,
}

#[derive(Debug, Default)]
struct SiteCredentials {
    by_site: HashMap<String, Vec<Credential>>,
    all: Vec<Credential>,
}

impl AccessPolicy {
    pub fn new(allow: Vec<IpNet>) -> AccessPolicy {
        AccessPolicy {
            allow,
            auth: None,
            device_auth: None,
            sites: Arc::default(),
        }
    }

    /// Requires Digest/Basic credentials (or a verified client
    /// certificate): `global` for phones of sites without their own, and
    /// each site's own for its phones (`[sites.NAME] credentials`).
    pub fn with_credentials(
        self,
        auth: Authenticator,
        global: &[Credential],
        by_site: HashMap<String, Vec<Credential>>,
    ) -> AccessPolicy {
        let mut all = global.to_vec();
        all.extend(by_site.values().flatten().cloned());
        AccessPolicy {
            sites: Arc::new(SiteCredentials { by_site, all }),
            ..self.with_auth(auth)
        }
    }

    /// Whether any site has credentials of its own.
    pub fn has_site_credentials(&self) -> bool {
        !self.sites.by_site.is_empty()
    }

    /// The credentials a phone of `site` must present: the site's own, if
    /// it has any, else `None` (the global ones).
    pub fn site_credentials(&self, site: &str) -> Option<&[Credential]> {
        self.sites.by_site.get(site).map(Vec::as_slice)
    }

    /// Every credential valid for some phone: global and all sites'.
    pub fn all_credentials(&self) -> &[Credential] {
        &self.sites.all
    }

    /// Requires Digest/Basic credentials (or a verified client
    /// certificate) on top of the allow-list.
    pub fn with_auth(mut self, auth: Authenticator) -> AccessPolicy {
        self.auth = Some(Arc::new(auth));
        self
    }

    pub fn auth(&self) -> Option<&Authenticator> {
        self.auth.as_deref()
    }

    /// Requires each phone's own derived credentials (see
    /// `ServerKey::device_credential`) for its per-MAC files over HTTPS.
    pub fn with_device_auth(mut self, auth: Authenticator) -> AccessPolicy {
        self.device_auth = Some(Arc::new(auth));
        self
    }

    pub fn device_auth(&self) -> Option<&Authenticator> {
        self.device_auth.as_deref()
    }

    /// IPv4-mapped IPv6 sources (dual-stack sockets) are checked as IPv4.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PolicyConfig;

    #[test]
    fn default_ranges() {
        let p = AccessPolicy::new(PolicyConfig::default().allow);
        for ok in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.0.1",
            "192.168.1.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(p.allows(ok.parse().unwrap()), "{ok}");
        }
        for no in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!p.allows(no.parse().unwrap()), "{no}");
        }
        assert!(!AccessPolicy::new(vec![]).allows("127.0.0.1".parse().unwrap()));
    }
}
