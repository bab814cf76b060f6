//! The networks full mode hands addresses on: the DHCP interface's own, and
//! any behind relays. Which one a request is for follows RFC 3527/3011
//! (link selection), then giaddr (RFC 2131 §4.3.1), then the interface.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::packet::Request;

/// Why a subnet definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    #[error("pool {0:?} is not START-END with two IPv4 addresses (e.g. 10.99.0.100-10.99.0.250)")]
    Syntax(String),
    #[error("pool {start}-{end} runs backwards")]
    Backwards { start: Ipv4Addr, end: Ipv4Addr },
    #[error(
        "pool {start}-{end} is not inside {network} (without its network and broadcast addresses)"
    )]
    Outside {
        start: Ipv4Addr,
        end: Ipv4Addr,
        network: Ipv4Net,
    },
    #[error("lease time must be at least 60 seconds, not {0}")]
    LeaseTooShort(u32),
}

/// One network, its pool and what its clients are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Net,
    /// First and last pool address, inclusive.
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub ntp: Vec<Ipv4Addr>,
    pub lease_seconds: u32,
}

impl Subnet {
    /// Checks the pool lies in the network, between its network and
    /// broadcast addresses.
    pub fn new(
        network: Ipv4Net,
        (start, end): (Ipv4Addr, Ipv4Addr),
        lease_seconds: u32,
    ) -> Result<Subnet, SubnetError> {
        if start > end {
            return Err(SubnetError::Backwards { start, end });
        }
        let usable = |ip: Ipv4Addr| {
            network.contains(&ip)
                && (network.prefix_len() >= 31
                    || (ip != network.network() && ip != network.broadcast()))
        };
        if !usable(start) || !usable(end) {
            return Err(SubnetError::Outside {
                start,
                end,
                network,
            });
        }
        if lease_seconds < 60 {
            return Err(SubnetError::LeaseTooShort(lease_seconds));
        }
        Ok(Subnet {
            network: network.trunc(),
            start,
            end,
            router: None,
            dns: Vec::new(),
            ntp: Vec::new(),
            lease_seconds,
        })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.network.contains(&ip)
    }

    pub fn in_pool(&self, ip: Ipv4Addr) -> bool {
        (self.start..=self.end).contains(&ip)
    }

    /// Pool size.
    pub fn size(&self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }

    /// The options every OFFER/ACK on this subnet carries: mask (1),
    /// router (3), DNS (6), NTP (42).
    pub fn options(&self) -> Vec<(u8, Vec<u8>)> {
        let list = |ips: &[Ipv4Addr]| ips.iter().flat_map(|a| a.octets()).collect::<Vec<u8>>();
        let mut out = vec![(1, self.network.netmask().octets().to_vec())];
        if let Some(r) = self.router {
            out.push((3, r.octets().to_vec()));
        }
        for (code, ips) in [(6, &self.dns), (42, &self.ntp)] {
            if !ips.is_empty() {
                out.push((code, list(ips)));
            }
        }
        out
    }
}

/// Parses `START-END`.
pub fn parse_range(s: &str) -> Result<(Ipv4Addr, Ipv4Addr), SubnetError> {
    let syntax = || SubnetError::Syntax(s.to_string());
    let (a, b) = s.split_once('-').ok_or_else(syntax)?;
    let a = a.trim().parse().map_err(|_| syntax())?;
    let b = b.trim().parse().map_err(|_| syntax())?;
    Ok((a, b))
}

/// The subnet a request belongs to; index 0 is the interface's own.
/// `None`: a relay or client names a link autoprov serves no pool on.
pub fn select(subnets: &[Subnet], req: &Request) -> Option<usize> {
    let giaddr = (!req.giaddr.is_unspecified()).then_some(req.giaddr);
    match req.link_selection().or(giaddr) {
        Some(link) => subnets.iter().position(|s| s.contains(link)),
        // A renewing client unicasts from its address; otherwise the
        // packet came in on the interface itself.
        None if !req.ciaddr.is_unspecified() => subnets
            .iter()
            .position(|s| s.contains(req.ciaddr))
            .or((!subnets.is_empty()).then_some(0)),
        None => (!subnets.is_empty()).then_some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::packet::{parse, tests::request};

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn pools_must_fit_their_network() {
        let r = parse_range("10.99.0.10-10.99.0.20").unwrap();
        let s = Subnet::new(net("10.99.0.1/24"), r, 3600).unwrap();
        assert_eq!(s.network, net("10.99.0.0/24"));
        assert_eq!(s.size(), 11);
        assert!(s.in_pool(ip("10.99.0.20")) && !s.in_pool(ip("10.99.0.21")));
        assert!(matches!(
            Subnet::new(
                net("10.99.0.0/24"),
                parse_range("10.99.0.0-10.99.0.9").unwrap(),
                3600
            ),
            Err(SubnetError::Outside { .. })
        ));
        assert!(matches!(
            Subnet::new(
                net("10.99.0.0/24"),
                parse_range("10.99.0.9-10.99.0.1").unwrap(),
                3600
            ),
            Err(SubnetError::Backwards { .. })
        ));
        assert!(matches!(
            Subnet::new(net("10.99.0.0/24"), r, 5),
            Err(SubnetError::LeaseTooShort(5))
        ));
        for bad in ["10.99.0.1", "10.99.0.1-x", "-"] {
            assert!(matches!(parse_range(bad), Err(SubnetError::Syntax(_))));
        }
    }

    #[test]
    fn options_in_order() {
        let mut s = Subnet::new(
            net("10.99.0.0/24"),
            parse_range("10.99.0.10-10.99.0.20").unwrap(),
            3600,
        )
        .unwrap();
        s.router = Some(ip("10.99.0.1"));
        s.dns = vec![ip("10.99.0.1"), ip("10.99.0.2")];
        assert_eq!(
            s.options(),
            vec![
                (1, vec![255, 255, 255, 0]),
                (3, vec![10, 99, 0, 1]),
                (6, vec![10, 99, 0, 1, 10, 99, 0, 2])
            ]
        );
    }

    #[test]
    fn selection_by_link_giaddr_then_interface() {
        let local = Subnet::new(
            net("10.99.0.0/24"),
            parse_range("10.99.0.10-10.99.0.20").unwrap(),
            3600,
        )
        .unwrap();
        let remote = Subnet::new(
            net("10.98.0.0/24"),
            parse_range("10.98.0.10-10.98.0.20").unwrap(),
            3600,
        )
        .unwrap();
        let subnets = [local, remote];
        let mac = [0x80, 0x5e, 0xc0, 1, 2, 3];
        let mut b = request(mac, 1, &[]);
        assert_eq!(select(&subnets, &parse(&b).unwrap()), Some(0));
        b[24..28].copy_from_slice(&[10, 98, 0, 1]);
        assert_eq!(select(&subnets, &parse(&b).unwrap()), Some(1));
        b[24..28].copy_from_slice(&[10, 97, 0, 1]);
        assert_eq!(select(&subnets, &parse(&b).unwrap()), None);
        // Link selection beats giaddr (the relay's own address).
        let agent = [5, 4, 10, 99, 0, 0];
        let mut b = request(mac, 1, &[(82, &agent)]);
        b[24..28].copy_from_slice(&[10, 98, 0, 1]);
        assert_eq!(select(&subnets, &parse(&b).unwrap()), Some(0));
        // A renewal unicast from an address on the remote subnet.
        let mut b = request(mac, 3, &[]);
        b[12..16].copy_from_slice(&[10, 98, 0, 15]);
        assert_eq!(select(&subnets, &parse(&b).unwrap()), Some(1));
    }
}
