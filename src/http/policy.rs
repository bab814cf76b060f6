//! Who may fetch provisioning files: allowed source ranges, then
//! credentials when configured (see `auth`).

use std::net::IpAddr;
use std::sync::Arc;

use super::auth::Authenticator;

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
}

impl AccessPolicy {
    pub fn new(allow: Vec<IpNet>) -> AccessPolicy {
        AccessPolicy {
            allow,
            auth: None,
            device_auth: None,
        }
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
