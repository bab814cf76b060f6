//! Who may fetch provisioning files: allowed source ranges.

use std::net::IpAddr;

use ipnet::IpNet;

/// Source-address allow-list. Refused requesters get the same 404 as an
/// unknown MAC (see `provision::NOT_FOUND_BODY`).
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    allow: Vec<IpNet>,
}

impl AccessPolicy {
    pub fn new(allow: Vec<IpNet>) -> AccessPolicy {
        AccessPolicy { allow }
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
