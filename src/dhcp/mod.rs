//! DHCPv4 responder for phones: tells each phone where to fetch its files.
//!
//! Options-only mode sits beside the site's own DHCP server and answers
//! DHCPINFORM with the provisioning options of the phone's vendor; it never
//! hands out an address. Full mode runs a provisioning VLAN: address pools,
//! leases kept in the store, reservations from the imported `phoneip`. The
//! wire parts are split so each can be tested alone: [`packet`] parses,
//! [`classify`] names the vendor, [`full`] decides, [`pool`] holds the
//! leases, [`reply`] builds the answer, [`limit`] throttles floods,
//! [`server`] owns the socket.

pub mod classify;
pub mod full;
pub mod limit;
pub mod packet;
pub mod phones;
pub mod pool;
pub mod reply;
pub mod server;
pub mod settings;
pub mod snippet;
pub mod subnet;

use std::net::{Ipv4Addr, SocketAddrV4};
#[cfg(test)]
use std::sync::atomic::Ordering;
use std::time::Instant;

use dhcproto::v4::MessageType;

use crate::domain::Lease;
use crate::domain::mac::Mac;
use full::{Decision, Full};
use limit::FloodLimit;
use packet::{Malformed, Request};
use phones::KnownPhones;
pub use reply::{Provision, RawOption};

/// The hash maps of the packet path (flood buckets, leases, phones): keys
/// come from clients, so the hasher is seeded per process like std's, but
/// foldhash costs a fraction of SipHash per lookup.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// What the responder did with one datagram.
#[derive(Debug)]
pub enum Outcome {
    /// Send `bytes` to `to`, once `writes` are durable.
    Reply {
        bytes: Vec<u8>,
        to: SocketAddrV4,
        mac: Mac,
        kind: MessageType,
        /// The phone vendor whose options went in, if any.
        vendor: Option<&'static str>,
        writes: Vec<Lease>,
    },
    /// A RELEASE or DECLINE to write; nothing is sent.
    Recorded { mac: Mac, writes: Vec<Lease> },
    /// Not a packet at all; counted.
    Malformed(Malformed),
    /// Over the client's flood limit.
    Limited(Mac),
    /// Options-only mode never answers address requests.
    NotInform(Mac, MessageType),
    /// Not a phone autoprov knows; left to the site's DHCP server.
    UnknownVendor(Mac),
    /// Full mode chose not to answer, for this reason.
    Ignored(Mac, &'static str),
}

pub use crate::app::metrics::DhcpStats as Stats;

/// Counts one reply of `kind`.
fn count_reply(stats: &Stats, kind: MessageType) {
    Stats::bump(&stats.answered);
    match kind {
        MessageType::Offer => Stats::bump(&stats.offers),
        MessageType::Ack => Stats::bump(&stats.acks),
        MessageType::Nak => Stats::bump(&stats.naks),
        _ => 0,
    };
}

/// The decision part of the DHCP server: bytes in, an [`Outcome`] out.
pub struct Responder {
    server_id: Ipv4Addr,
    /// Each vendor's provisioning options, built once.
    vendor_opts: Vec<(&'static str, Vec<RawOption>)>,
    phones: KnownPhones,
    limit: FloodLimit,
    /// `None`: options-only mode.
    full: Option<Full>,
    /// Shared, so a metrics endpoint can read them while the DHCP thread runs.
    pub stats: std::sync::Arc<Stats>,
}

impl Responder {
    /// An options-only responder; see [`Responder::with_full`].
    pub fn new(
        provision: Provision,
        server_id: Ipv4Addr,
        phones: KnownPhones,
        limits: limit::Limits,
    ) -> Responder {
        let vendor_opts = crate::vendors::VENDORS
            .iter()
            .map(|v| (v.id, reply::vendor_options(v, &provision)))
            .collect();
        Responder {
            server_id,
            vendor_opts,
            phones,
            limit: FloodLimit::new(limits),
            full: None,
            stats: std::sync::Arc::new(Stats::default()),
        }
    }

    /// Switches to full mode with these subnets and leases.
    pub fn with_full(mut self, full: Full) -> Responder {
        self.full = Some(full);
        self
    }

    /// The store generation the phone table was read at.
    pub fn phones_generation(&self) -> u64 {
        self.phones.generation
    }

    /// Full mode on a lease database other nodes share: spreads where this
    /// node looks for free addresses (see [`pool::Pool::spread`]).
    pub fn share_pool(&mut self) {
        let seed = u32::from(self.server_id);
        if let Some(full) = self.full.as_mut() {
            full.pool.spread(&full.subnets, seed);
        }
    }

    /// Merges the stored leases other nodes wrote into the pool.
    pub fn learn_leases(&mut self, leases: Vec<Lease>, unix: u64) {
        if let Some(full) = self.full.as_mut() {
            full.pool.learn(leases, unix);
        }
    }

    /// The store refused the lease behind an ACK not yet sent (another node
    /// bound `ip` first): the pool keeps `ip` out of its offers and the
    /// client, whose request was `packet`, gets a NAK instead, so its next
    /// DISCOVER gets another address. `None` if the packet no longer parses.
    pub fn lost_claim(&mut self, packet: &[u8], ip: Ipv4Addr, unix: u64) -> Option<Outcome> {
        let req = packet::parse(packet).ok()?;
        self.full.as_mut()?.pool.lost(req.mac, ip, unix);
        // The ACK was counted when it was built; it never leaves.
        self.stats
            .acks
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.stats
            .answered
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(mac = %req.mac.colon(), %ip, "DHCP: another node bound the address first");
        Some(self.full_answer(&req, Decision::Nak(pool::Refusal::Taken)))
    }

    /// Replaces the phone table after an import.
    pub fn set_phones(&mut self, phones: KnownPhones) {
        self.phones = phones;
    }

    /// Handles one datagram; `now` drives the flood limit, `unix` (seconds)
    /// the lease times.
    pub fn handle(&mut self, buf: &[u8], now: Instant, unix: u64) -> Outcome {
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
        match self.full.as_mut() {
            None => self.options_only(&req),
            Some(full) => {
                let decision = full.decide(&req, self.server_id, &self.phones, unix);
                self.full_answer(&req, decision)
            }
        }
    }

    fn options_only(&self, req: &Request) -> Outcome {
        if req.msg_type != MessageType::Inform {
            Stats::bump(&self.stats.ignored);
            return Outcome::NotInform(req.mac, req.msg_type);
        }
        let Some(vendor) = self.vendor_options(req) else {
            Stats::bump(&self.stats.ignored);
            return Outcome::UnknownVendor(req.mac);
        };
        let answer = Answer {
            kind: MessageType::Ack,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            subnet: &[],
            vendor: Some(vendor),
            extra: None,
        };
        self.reply(req, answer, Vec::new())
    }

    /// The phone's vendor and its options (built once per vendor): the
    /// imported phone's vendor first, then option 60, then the OUI.
    fn vendor_options(&self, req: &Request) -> Option<(&'static str, &[RawOption])> {
        let stored = self.phones.vendor(req.mac).map(|v| v.id);
        let (vendor, source) = classify::classify(stored, req.vendor_class(), req.mac)?;
        tracing::debug!(mac = %req.mac.colon(), vendor = vendor.id, by = ?source, "DHCP: phone vendor");
        self.vendor_opts
            .iter()
            .find(|(id, _)| *id == vendor.id)
            .map(|(id, o)| (*id, o.as_slice()))
    }

    fn full_answer(&self, req: &Request, decision: Decision) -> Outcome {
        let subnet = |i: usize, lease: bool| {
            self.full
                .as_ref()
                .map_or(&[][..], |f| f.subnet_options(i, lease))
        };
        let vendor = self.vendor_options(req);
        let (answer, writes) = match decision {
            Decision::Offer { ip, subnet: i } => (
                Answer {
                    kind: MessageType::Offer,
                    yiaddr: ip,
                    subnet: subnet(i, true),
                    vendor,
                    extra: None,
                },
                Vec::new(),
            ),
            Decision::Ack {
                ip,
                subnet: i,
                writes,
            } => (
                Answer {
                    kind: MessageType::Ack,
                    yiaddr: ip,
                    subnet: subnet(i, true),
                    vendor,
                    extra: None,
                },
                writes,
            ),
            Decision::Inform { subnet: i } => (
                Answer {
                    kind: MessageType::Ack,
                    yiaddr: Ipv4Addr::UNSPECIFIED,
                    subnet: i.map_or(&[][..], |i| subnet(i, false)),
                    vendor,
                    extra: None,
                },
                Vec::new(),
            ),
            Decision::Nak(why) => {
                tracing::info!(mac = %req.mac.colon(), reason = %why, "DHCP: NAK");
                let answer = Answer {
                    kind: MessageType::Nak,
                    yiaddr: Ipv4Addr::UNSPECIFIED,
                    subnet: &[],
                    vendor: None,
                    extra: Some((56, why.to_string().into_bytes())),
                };
                (answer, Vec::new())
            }
            Decision::Record(lease) => {
                let counter = match lease.state {
                    crate::domain::LeaseState::Declined => &self.stats.declines,
                    _ => &self.stats.releases,
                };
                Stats::bump(counter);
                tracing::info!(mac = %req.mac.colon(), ip = %lease.ip, state = ?lease.state, "DHCP: lease given back");
                return Outcome::Recorded {
                    mac: req.mac,
                    writes: vec![lease],
                };
            }
            Decision::Ignore(why) => {
                Stats::bump(&self.stats.ignored);
                tracing::debug!(mac = %req.mac.colon(), kind = ?req.msg_type, reason = why, "DHCP: not answered");
                return Outcome::Ignored(req.mac, why);
            }
        };
        self.reply(req, answer, writes)
    }

    fn reply(&self, req: &Request, a: Answer, writes: Vec<Lease>) -> Outcome {
        let vendor_opts = a.vendor.map_or(&[][..], |(_, o)| o);
        let extra = a.extra.as_slice();
        let groups = [a.subnet, vendor_opts, extra];
        match reply::build(req, a.kind, a.yiaddr, self.server_id, &groups) {
            Ok(bytes) => {
                count_reply(&self.stats, a.kind);
                tracing::info!(mac = %req.mac.colon(), kind = ?a.kind, yiaddr = %a.yiaddr, "DHCP: answered");
                Outcome::Reply {
                    bytes,
                    to: reply::destination(req, a.kind),
                    mac: req.mac,
                    kind: a.kind,
                    vendor: a.vendor.map(|(id, _)| id),
                    writes,
                }
            }
            Err(e) => {
                tracing::error!(mac = %req.mac.colon(), error = %e, "DHCP: reply not sent");
                Stats::bump(&self.stats.ignored);
                Outcome::Ignored(req.mac, "reply could not be encoded")
            }
        }
    }
}

/// What a reply says: its kind, the address, and its option groups.
struct Answer<'a> {
    kind: MessageType,
    yiaddr: Ipv4Addr,
    subnet: &'a [RawOption],
    vendor: Option<(&'static str, &'a [RawOption])>,
    extra: Option<RawOption>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use packet::tests::request;

    fn responder() -> Responder {
        let mut phones = KnownPhones::default();
        let stored = Mac::from_bytes([0x80, 0x5e, 0xc0, 0, 0, 1]).unwrap();
        phones.insert(stored, crate::vendors::by_id("polycom"), None);
        Responder::new(
            Provision {
                url: "http://10.99.0.1:8080/".into(),
                tftp: vec![Ipv4Addr::new(10, 99, 0, 1)],
            },
            Ipv4Addr::new(10, 99, 0, 1),
            phones,
            limit::Limits::default(),
        )
    }

    #[test]
    fn informs_are_answered_by_vendor() {
        let mut r = responder();
        let now = Instant::now();
        let yealink = [0x80, 0x5e, 0xc0, 0x12, 0x34, 0x56];
        match r.handle(&request(yealink, 8, &[]), now, 0) {
            Outcome::Reply { vendor, to, .. } => {
                assert_eq!(vendor, Some("yealink"));
                assert_eq!(to, "255.255.255.255:68".parse().unwrap());
            }
            o => panic!("{o:?}"),
        }
        // The imported phone's vendor wins over its OUI.
        let stored = [0x80, 0x5e, 0xc0, 0, 0, 1];
        assert!(matches!(
            r.handle(&request(stored, 8, &[(60, b"yealink")]), now, 0),
            Outcome::Reply {
                vendor: Some("polycom"),
                ..
            }
        ));
        let unknown = [0x02, 0, 0, 0, 0, 9];
        assert!(matches!(
            r.handle(&request(unknown, 8, &[]), now, 0),
            Outcome::UnknownVendor(_)
        ));
        assert!(matches!(
            r.handle(&request(unknown, 8, &[(60, b"snomD785")]), now, 0),
            Outcome::Reply {
                vendor: Some("snom"),
                ..
            }
        ));
        assert_eq!(r.stats.answered.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn options_only_never_offers() {
        let mut r = responder();
        let yealink = [0x80, 0x5e, 0xc0, 0x12, 0x34, 0x56];
        for t in [1u8, 3, 4, 7] {
            assert!(matches!(
                r.handle(&request(yealink, t, &[]), Instant::now(), 0),
                Outcome::NotInform(..)
            ));
        }
    }

    #[test]
    fn malformed_are_counted_and_floods_limited() {
        let mut r = responder();
        let now = Instant::now();
        for junk in [&[][..], &[1, 2, 3], &[0xff; 300]] {
            assert!(matches!(r.handle(junk, now, 0), Outcome::Malformed(_)));
        }
        assert_eq!(r.stats.malformed.load(Ordering::Relaxed), 3);
        let mac = [0x80, 0x5e, 0xc0, 0x12, 0x34, 0x56];
        let limited = (0..50)
            .filter(|_| matches!(r.handle(&request(mac, 8, &[]), now, 0), Outcome::Limited(_)))
            .count();
        assert_eq!(limited, 50 - 8);
    }

    #[test]
    fn full_mode_offers_with_subnet_lease_and_vendor_options() {
        use dhcproto::v4::borrowed;
        let subnet = subnet::Subnet::new(
            "10.99.0.0/24".parse().unwrap(),
            subnet::parse_range("10.99.0.10-10.99.0.20").unwrap(),
            3600,
        )
        .unwrap();
        let mut r = responder().with_full(Full::new(vec![subnet], pool::Pool::default()));
        let agent: &[u8] = &[1, 3, b'p', b'1', b'0'];
        let mut b = request([0, 4, 0xf2, 1, 2, 3], 1, &[(82, agent)]);
        b[24..28].copy_from_slice(&[10, 99, 0, 2]);
        let Outcome::Reply {
            bytes, to, kind, ..
        } = r.handle(&b, Instant::now(), 0)
        else {
            panic!("no offer");
        };
        assert_eq!(kind, MessageType::Offer);
        assert_eq!(to, "10.99.0.2:67".parse().unwrap());
        let m = borrowed::Message::new(&bytes).unwrap();
        assert_eq!(m.yiaddr(), Ipv4Addr::new(10, 99, 0, 10));
        let get = |c: u8| {
            m.opts()
                .find(|o| u8::from(o.code()) == c)
                .map(|o| o.data().to_vec())
        };
        assert_eq!(get(53), Some(vec![2]));
        assert_eq!(get(1), Some(vec![255, 255, 255, 0]));
        assert_eq!(get(51), Some(3600u32.to_be_bytes().to_vec()));
        assert_eq!(get(58), Some(1800u32.to_be_bytes().to_vec()));
        assert_eq!(get(160).as_deref(), Some(&b"http://10.99.0.1:8080/"[..]));
        assert_eq!(get(82).as_deref(), Some(agent));
        assert_eq!(m.opts().filter(|o| u8::from(o.code()) == 82).count(), 1);
        // A client of no known vendor still gets an address, without
        // provisioning options.
        let Outcome::Reply { bytes, vendor, .. } =
            r.handle(&request([2, 0, 0, 0, 0, 7], 1, &[]), Instant::now(), 0)
        else {
            panic!("no offer");
        };
        assert_eq!(vendor, None);
        let m = borrowed::Message::new(&bytes).unwrap();
        assert!(m.opts().all(|o| u8::from(o.code()) != 66));
        assert_eq!(r.stats.offers.load(Ordering::Relaxed), 2);
    }
}
