//! `[dhcp]` and `serve`'s DHCP flags turned into what the responder and
//! `dhcp-snippet` run with: the mode and pool, the URL phones are sent to
//! and option 150's addresses, the subnets of full mode, the flood limit.
//!
//! Everything here is checked before `serve` opens the store, so a
//! contradictory flag costs nothing; what needs the machine (the
//! interface) or the store (leases, reservations) is passed in.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::Ipv4Net;

use super::Provision;
use super::limit::Limits;
use super::snippet::Reservation;
use super::subnet::{self, Subnet, SubnetError};
use crate::config::{DhcpConfig, DhcpModeConfig, ProvisionUrl, UrlError};
use crate::store::{Store, StoreError};

/// Why the DHCP settings were refused; each is the user's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DhcpSettingsError {
    #[error("--dhcp-mode and --dhcp-pool need --dhcp IFACE|ADDR (or [dhcp] listen in the config)")]
    FlagsWithoutListen,
    #[error("--dhcp-mode full needs an address pool: --dhcp-pool START-END (or [dhcp] pool)")]
    FullWithoutPool,
    #[error("--dhcp-pool hands out addresses, which only --dhcp-mode full does")]
    PoolWithoutFull,
    #[error(transparent)]
    Subnet(#[from] SubnetError),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("[dhcp] flood_burst and flood_per_second must be positive numbers")]
    Flood,
    #[error(
        "the HTTP listener {0} has no single address to put in option 66; pass --provision-url URL"
    )]
    NoSingleAddress(SocketAddr),
    #[error(
        "the HTTP listener {0} is IPv6, which DHCPv4 phones may not reach; pass --provision-url URL"
    )]
    Ipv6Listener(SocketAddr),
    #[error(
        "the TFTP listener {0} has no single IPv4 address to put in options 66 and 150; listen on the address phones reach"
    )]
    TftpAddress(SocketAddr),
}

/// `serve`'s DHCP flags; each one given overrides its `[dhcp]` key.
#[derive(Debug, Clone, Copy, Default)]
pub struct DhcpFlags<'a> {
    /// `--dhcp IFACE|ADDR`.
    pub listen: Option<&'a str>,
    /// `--dhcp-mode`.
    pub mode: Option<DhcpModeConfig>,
    /// `--dhcp-pool START-END`.
    pub pool: Option<&'a str>,
    /// `--provision-url URL`.
    pub provision_url: Option<&'a str>,
}

/// The responder's settings: flags over `[dhcp]`, checked.
#[derive(Debug, Clone)]
pub struct DhcpSettings<'a> {
    /// The interface or address to answer on; `None`: DHCP is off.
    pub listen: Option<&'a str>,
    pub mode: DhcpModeConfig,
    /// The pool on the interface's own network.
    pub pool: Option<(Ipv4Addr, Ipv4Addr)>,
    /// The URL phones get, when one is given rather than derived.
    pub url: Option<ProvisionUrl>,
    config: &'a DhcpConfig,
}

impl<'a> DhcpSettings<'a> {
    /// Refuses contradictory settings, in the order `serve` has always
    /// reported them: flags without an interface, mode against pool, the
    /// pool, the URL, the flood limit.
    pub fn new(
        flags: &DhcpFlags<'a>,
        config: &'a DhcpConfig,
    ) -> Result<DhcpSettings<'a>, DhcpSettingsError> {
        let listen = flags.listen.or(config.listen.as_deref());
        let mode = flags.mode.unwrap_or(config.mode);
        let pool = flags.pool.or(config.pool.as_deref());
        if listen.is_none() && (flags.mode.is_some() || flags.pool.is_some()) {
            return Err(DhcpSettingsError::FlagsWithoutListen);
        }
        match (mode, pool) {
            (DhcpModeConfig::Full, None) if listen.is_some() => {
                return Err(DhcpSettingsError::FullWithoutPool);
            }
            (DhcpModeConfig::OptionsOnly, Some(_)) if flags.pool.is_some() => {
                return Err(DhcpSettingsError::PoolWithoutFull);
            }
            _ => {}
        }
        let pool = pool.map(subnet::parse_range).transpose()?;
        let url = flags
            .provision_url
            .or(config.provision_url.as_deref())
            .map(ProvisionUrl::parse)
            .transpose()?;
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(config.flood_burst) || !positive(config.flood_per_second) {
            return Err(DhcpSettingsError::Flood);
        }
        Ok(DhcpSettings {
            listen,
            mode,
            pool,
            url,
            config,
        })
    }

    /// The per-MAC flood limit of `[dhcp]`.
    pub fn limits(&self) -> Limits {
        Limits {
            burst: self.config.flood_burst,
            per_second: self.config.flood_per_second,
            ..Limits::default()
        }
    }

    /// Full mode's networks, the interface's own (`network`) first, then
    /// each `[[dhcp.relay]]`; `None` in options-only mode.
    pub fn subnets(&self, network: Ipv4Net) -> Result<Option<Vec<Subnet>>, SubnetError> {
        let (DhcpModeConfig::Full, Some(pool)) = (self.mode, self.pool) else {
            return Ok(None);
        };
        let c = self.config;
        let mut own = Subnet::new(network, pool, c.lease_seconds)?;
        own.router = c.router;
        own.dns = c.dns.clone();
        own.ntp = c.ntp.clone();
        let mut out = vec![own];
        for r in &c.relay {
            let lease = r.lease_seconds.unwrap_or(c.lease_seconds);
            let mut s = Subnet::new(r.network, subnet::parse_range(&r.pool)?, lease)?;
            s.router = r.router;
            s.dns = r.dns.clone();
            s.ntp = r.ntp.clone();
            out.push(s);
        }
        Ok(Some(out))
    }
}

/// What options 66/160/43 and 150 carry, and whether to warn about it.
#[derive(Debug, Clone)]
pub struct Derived {
    pub provision: Provision,
    /// Set when the URL was derived from a loopback listener.
    pub warning: Option<LoopbackWarning>,
}

/// The derived URL names a loopback address, which phones cannot reach;
/// worth saying, not worth refusing (a lab may route it).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "warning: option 66 points at {0}, a loopback address phones cannot reach; listen with --http 0.0.0.0:{port} or pass --provision-url",
    port = .0.port()
)]
pub struct LoopbackWarning(pub SocketAddr);

/// The URL and the TFTP addresses. Without a given URL, the plain-HTTP
/// listener, because the HTTP file is the staged bootstrap that moves
/// phones to HTTPS; a wildcard listener is named by the DHCP interface's
/// address (`server_ip`). The TFTP addresses (option 150, a bare 66) are
/// the TFTP listener's, the interface's for a wildcard one; none while
/// TFTP is off, so every vendor gets the URL form.
pub fn provision(
    url: Option<&ProvisionUrl>,
    http: SocketAddr,
    server_ip: Option<Ipv4Addr>,
    tftp: Option<SocketAddr>,
) -> Result<Derived, DhcpSettingsError> {
    let (url, warning) = match url {
        Some(u) => (u.to_string(), None),
        None => {
            let host = listener_host(http, server_ip)?;
            let warning = host.is_loopback().then_some(LoopbackWarning(http));
            (format!("http://{host}:{}/", http.port()), warning)
        }
    };
    let tftp = match tftp {
        Some(addr) => {
            vec![listener_host(addr, server_ip).map_err(|_| DhcpSettingsError::TftpAddress(addr))?]
        }
        None => Vec::new(),
    };
    Ok(Derived {
        provision: Provision { url, tftp },
        warning,
    })
}

/// The address a URL for the HTTP listener names.
fn listener_host(
    http: SocketAddr,
    server_ip: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, DhcpSettingsError> {
    match http.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            server_ip.ok_or(DhcpSettingsError::NoSingleAddress(http))
        }
        IpAddr::V4(ip) => Ok(ip),
        IpAddr::V6(_) => Err(DhcpSettingsError::Ipv6Listener(http)),
    }
}

/// A reservation for every imported phone with a fixed address, by MAC.
pub fn reservations(store: &dyn Store) -> Result<Vec<Reservation>, StoreError> {
    let mut out: Vec<Reservation> = store
        .users()?
        .into_iter()
        .flat_map(|u| u.phones)
        .filter_map(|p| p.ip.map(|ip| Reservation { mac: p.mac, ip }))
        .collect();
    out.sort_by_key(|r| r.mac);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn derived_urls() {
        let p = provision(
            None,
            addr("0.0.0.0:8080"),
            Some(Ipv4Addr::new(10, 99, 0, 1)),
            None,
        )
        .expect("derived");
        assert_eq!(p.provision.url, "http://10.99.0.1:8080/");
        assert!(p.provision.tftp.is_empty(), "TFTP off: no TFTP addresses");
        assert!(p.warning.is_none());
        assert!(provision(None, addr("0.0.0.0:8080"), None, None).is_err());
        assert!(provision(None, addr("[::1]:8080"), None, None).is_err());
        let p = provision(None, addr("127.0.0.1:8080"), None, None).expect("derived");
        assert!(p.warning.is_some());
        let given = ProvisionUrl::parse("http://prov.example.com/").expect("url");
        let p = provision(Some(&given), addr("0.0.0.0:80"), None, None).expect("given");
        assert!(p.provision.tftp.is_empty());
        assert_eq!(p.provision.url, "http://prov.example.com/");
    }

    #[test]
    fn tftp_addresses_follow_the_tftp_listener() {
        let server = Some(Ipv4Addr::new(10, 99, 0, 1));
        let on = |tftp: &str| provision(None, addr("0.0.0.0:8080"), server, Some(addr(tftp)));
        let p = on("0.0.0.0:69").expect("wildcard TFTP");
        assert_eq!(p.provision.tftp, vec![Ipv4Addr::new(10, 99, 0, 1)]);
        let p = on("10.99.0.7:69").expect("TFTP address");
        assert_eq!(p.provision.tftp, vec![Ipv4Addr::new(10, 99, 0, 7)]);
        assert!(matches!(
            on("[::1]:69"),
            Err(DhcpSettingsError::TftpAddress(_))
        ));
        let snippet = provision(None, addr("10.99.0.1:8080"), None, Some(addr("0.0.0.0:69")));
        assert!(matches!(snippet, Err(DhcpSettingsError::TftpAddress(_))));
    }

    #[test]
    fn flags_override_and_contradictions_are_refused() {
        let config = DhcpConfig::default();
        let flags = |f: DhcpFlags<'static>| DhcpSettings::new(&f, &config).map(|s| s.mode);
        assert!(matches!(
            flags(DhcpFlags {
                pool: Some("10.0.0.10-10.0.0.20"),
                ..DhcpFlags::default()
            }),
            Err(DhcpSettingsError::FlagsWithoutListen)
        ));
        assert!(matches!(
            flags(DhcpFlags {
                listen: Some("eth0"),
                mode: Some(DhcpModeConfig::Full),
                ..DhcpFlags::default()
            }),
            Err(DhcpSettingsError::FullWithoutPool)
        ));
        assert!(matches!(
            flags(DhcpFlags {
                listen: Some("eth0"),
                pool: Some("10.0.0.10-10.0.0.20"),
                ..DhcpFlags::default()
            }),
            Err(DhcpSettingsError::PoolWithoutFull)
        ));
        assert!(matches!(
            flags(DhcpFlags {
                provision_url: Some("ftp://x/"),
                ..DhcpFlags::default()
            }),
            Err(DhcpSettingsError::Url(_))
        ));
        assert!(matches!(
            flags(DhcpFlags::default()),
            Ok(DhcpModeConfig::OptionsOnly)
        ));
    }
}
