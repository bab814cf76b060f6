//! DHCPv4 responder for phones: tells each phone where to fetch its files.
//!
//! Options-only mode sits beside the site's own DHCP server and answers
//! DHCPINFORM with the provisioning options of the phone's vendor; it never
//! hands out an address. Full mode (pool, leases, reservations) is not
//! built yet. The wire parts are split so each can be tested alone:
//! [`packet`] parses, [`classify`] names the vendor, [`reply`] builds the
//! answer, [`limit`] throttles floods, [`server`] owns the socket.

pub mod classify;
pub mod iface;
pub mod limit;
pub mod packet;
pub mod reply;
pub mod server;
pub mod snippet;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dhcproto::v4::MessageType;

use crate::mac::Mac;
use limit::FloodLimit;
use packet::Malformed;
pub use reply::Provision;

/// Looks up the vendor id of an imported phone (the store's answer wins
/// over anything the packet says).
pub type StoredVendor = Box<dyn Fn(Mac) -> Option<String> + Send + Sync>;

/// What the responder did with one datagram.
#[derive(Debug)]
pub enum Outcome {
    /// Send `bytes` to `to`.
    Reply {
        bytes: Vec<u8>,
        to: SocketAddrV4,
        mac: Mac,
        vendor: &'static str,
    },
    /// Not a packet at all; counted.
    Malformed(Malformed),
    /// Over the client's flood limit.
    Limited(Mac),
    /// Options-only mode never answers address requests.
    NotInform(Mac, MessageType),
    /// Not a phone autoprov knows; left to the site's DHCP server.
    UnknownVendor(Mac),
}

/// Counters, readable while the server runs.
#[derive(Debug, Default)]
pub struct Stats {
    pub malformed: AtomicU64,
    pub limited: AtomicU64,
    pub answered: AtomicU64,
    pub ignored: AtomicU64,
}

impl Stats {
    /// Bumps a counter and returns its new value.
    fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The decision part of the DHCP server: bytes in, an [`Outcome`] out.
pub struct Responder {
    provision: Provision,
    server_id: Ipv4Addr,
    stored: StoredVendor,
    limit: FloodLimit,
    /// Shared, so `/metrics` can read them while the responder runs.
    pub stats: std::sync::Arc<Stats>,
}

impl Responder {
    pub fn new(
        provision: Provision,
        server_id: Ipv4Addr,
        stored: StoredVendor,
        limits: limit::Limits,
    ) -> Responder {
        Responder {
            provision,
            server_id,
            stored,
            limit: FloodLimit::new(limits),
            stats: Default::default(),
        }
    }

    /// Handles one datagram in options-only mode.
    pub fn handle(&mut self, buf: &[u8], now: Instant) -> Outcome {
        let req = match packet::parse(buf) {
            Ok(r) => r,
            Err(e) => {
                let n = Stats::bump(&self.stats.malformed);
                // Powers of two: a flood of junk logs a few lines, not one a packet.
                if n.is_power_of_two() {
                    tracing::warn!(dropped_malformed = n, reason = %e, "DHCP: dropped a malformed packet");
                }
                return Outcome::Malformed(e);
            }
        };
        if !self.limit.allow(req.mac, now) {
            let n = Stats::bump(&self.stats.limited);
            if n.is_power_of_two() {
                tracing::warn!(dropped_flood = n, mac = %req.mac.colon(), "DHCP: client over its flood limit");
            }
            return Outcome::Limited(req.mac);
        }
        if !req.bad_options.is_empty() {
            tracing::debug!(mac = %req.mac.colon(), options = ?req.bad_options, "DHCP: options that do not decode for their type");
        }
        if req.msg_type != MessageType::Inform {
            Stats::bump(&self.stats.ignored);
            return Outcome::NotInform(req.mac, req.msg_type);
        }
        let stored = (self.stored)(req.mac);
        let Some((vendor, source)) =
            classify::classify(stored.as_deref(), req.vendor_class(), req.mac)
        else {
            Stats::bump(&self.stats.ignored);
            return Outcome::UnknownVendor(req.mac);
        };
        let options = reply::vendor_options(vendor, &self.provision);
        match reply::inform_ack(&req, self.server_id, &options) {
            Ok(bytes) => {
                Stats::bump(&self.stats.answered);
                tracing::info!(mac = %req.mac.colon(), vendor = vendor.id, by = ?source, "DHCP: INFORM answered");
                Outcome::Reply {
                    bytes,
                    to: reply::inform_destination(&req),
                    mac: req.mac,
                    vendor: vendor.id,
                }
            }
            Err(e) => {
                tracing::error!(mac = %req.mac.colon(), error = %e, "DHCP: reply not sent");
                Stats::bump(&self.stats.ignored);
                Outcome::UnknownVendor(req.mac)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use packet::tests::request;

    fn responder() -> Responder {
        let stored: StoredVendor =
            Box::new(|mac: Mac| (mac.plain() == "805ec0000001").then(|| "polycom".to_string()));
        Responder::new(
            Provision {
                url: "http://10.99.0.1:8080/".into(),
                tftp: vec![Ipv4Addr::new(10, 99, 0, 1)],
            },
            Ipv4Addr::new(10, 99, 0, 1),
            stored,
            limit::Limits::default(),
        )
    }

    #[test]
    fn informs_are_answered_by_vendor() {
        let mut r = responder();
        let now = Instant::now();
        let yealink = [0x80, 0x5e, 0xc0, 0x12, 0x34, 0x56];
        match r.handle(&request(yealink, 8, &[]), now) {
            Outcome::Reply { vendor, to, .. } => {
                assert_eq!(vendor, "yealink");
                assert_eq!(to, "255.255.255.255:68".parse().unwrap());
            }
            o => panic!("{o:?}"),
        }
        // The imported phone's vendor wins over its OUI.
        let stored = [0x80, 0x5e, 0xc0, 0, 0, 1];
        assert!(matches!(
            r.handle(&request(stored, 8, &[(60, b"yealink")]), now),
            Outcome::Reply {
                vendor: "polycom",
                ..
            }
        ));
        let unknown = [0x02, 0, 0, 0, 0, 9];
        assert!(matches!(
            r.handle(&request(unknown, 8, &[]), now),
            Outcome::UnknownVendor(_)
        ));
        assert!(matches!(
            r.handle(&request(unknown, 8, &[(60, b"snomD785")]), now),
            Outcome::Reply { vendor: "snom", .. }
        ));
        assert_eq!(r.stats.answered.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn options_only_never_offers() {
        let mut r = responder();
        let yealink = [0x80, 0x5e, 0xc0, 0x12, 0x34, 0x56];
        for t in [1u8, 3, 4, 7] {
            assert!(matches!(
                r.handle(&request(yealink, t, &[]), Instant::now()),
                Outcome::NotInform(..)
            ));
        }
    }

    #[test]
    fn malformed_are_counted_and_floods_limited() {
        let mut r = responder();
        let now = Instant::now();
        for junk in [&[][..], &[1, 2, 3], &[0xff; 300]] {
            assert!(matches!(r.handle(junk, now), Outcome::Malformed(_)));
        }
        assert_eq!(r.stats.malformed.load(Ordering::Relaxed), 3);
        let mac = [0x80, 0x5e, 0xc0, 0x12, 0x34, 0x56];
        let limited = (0..50)
            .filter(|_| matches!(r.handle(&request(mac, 8, &[]), now), Outcome::Limited(_)))
            .count();
        assert_eq!(limited, 50 - 8);
    }
}
