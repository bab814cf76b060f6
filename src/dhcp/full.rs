//! Full mode: the server side of RFC 2131 for a provisioning VLAN. Turns
//! one parsed request into a [`Decision`]; building the bytes and making
//! leases durable before an ACK leaves are the caller's part.

use std::net::Ipv4Addr;

use dhcproto::v4::MessageType;

use super::packet::Request;
use super::phones::KnownPhones;
use super::pool::{Pool, Refusal, Reservations};
use super::reply::RawOption;
use super::subnet::{self, Subnet};
use crate::domain::Lease;

/// What to do with one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// DHCPOFFER of `ip` on `subnets[subnet]`.
    Offer { ip: Ipv4Addr, subnet: usize },
    /// DHCPACK of `ip`, sent only once `writes` are durable.
    Ack {
        ip: Ipv4Addr,
        subnet: usize,
        writes: Vec<Lease>,
    },
    /// DHCPNAK: the client must start over.
    Nak(Refusal),
    /// DHCPACK to an INFORM: options only.
    Inform { subnet: Option<usize> },
    /// RELEASE or DECLINE taken note of; no answer goes out.
    Record(Lease),
    /// No answer, on purpose.
    Ignore(&'static str),
}

/// The subnets served and who holds what.
#[derive(Debug)]
pub struct Full {
    pub subnets: Vec<Subnet>,
    pub pool: Pool,
    /// Per subnet, its options with and without lease times, encoded once
    /// (they are the same for every client of the subnet).
    options: Vec<[Vec<RawOption>; 2]>,
}

impl Full {
    pub fn new(subnets: Vec<Subnet>, pool: Pool) -> Full {
        let options = subnets
            .iter()
            .map(|s| {
                let plain = s.options();
                let mut leased = plain.clone();
                leased.extend(super::reply::lease_times(s.lease_seconds));
                [leased, plain]
            })
            .collect();
        Full {
            subnets,
            pool,
            options,
        }
    }

    /// The options of subnet `i`: with lease times for OFFER/ACK, without
    /// for an INFORM's answer.
    pub fn subnet_options(&self, i: usize, lease: bool) -> &[RawOption] {
        self.options
            .get(i)
            .map_or(&[], |o| o[usize::from(!lease)].as_slice())
    }

    /// Decides the answer to `req` at Unix time `now`.
    pub fn decide(
        &mut self,
        req: &Request,
        server_id: Ipv4Addr,
        phones: &KnownPhones,
        now: u64,
    ) -> Decision {
        let mac = req.mac;
        let other = |ip: Ipv4Addr| phones.reserved_for_other(ip, mac);
        let res = Reservations {
            mine: phones.reserved(mac),
            other: &other,
        };
        let subnet = subnet::select(&self.subnets, req);
        match req.msg_type {
            MessageType::Discover => {
                let Some(i) = subnet else {
                    return Decision::Ignore("no pool for the client's network");
                };
                match self
                    .pool
                    .offer(mac, &self.subnets[i], req.ipv4_option(50), &res, now)
                {
                    Some(ip) => Decision::Offer { ip, subnet: i },
                    None => Decision::Ignore("pool exhausted"),
                }
            }
            MessageType::Request => self.request(req, subnet, server_id, &res, now),
            MessageType::Release => match self.pool.release(mac, req.ciaddr, now) {
                Some(l) => Decision::Record(l),
                None => Decision::Ignore("RELEASE of an address the client does not hold"),
            },
            MessageType::Decline => {
                let Some(ip) = req.ipv4_option(50) else {
                    return Decision::Ignore("DECLINE without an address");
                };
                match self.pool.decline(mac, ip, now) {
                    Some(l) => Decision::Record(l),
                    None => Decision::Ignore("DECLINE of an address not given to the client"),
                }
            }
            MessageType::Inform => Decision::Inform { subnet },
            _ => Decision::Ignore("not a client message"),
        }
    }

    /// The three kinds of REQUEST (§4.3.2), told apart by options 54 and
    /// 50 and by ciaddr.
    fn request(
        &mut self,
        req: &Request,
        subnet: Option<usize>,
        server_id: Ipv4Addr,
        res: &Reservations,
        now: u64,
    ) -> Decision {
        let mac = req.mac;
        let (ip, stranger_ok) = match (req.ipv4_option(54), req.ipv4_option(50)) {
            // SELECTING: the answer to an offer, ours or another server's.
            (Some(sid), _) if sid != server_id => {
                self.pool.withdraw_offer(mac);
                return Decision::Ignore("client chose another server");
            }
            (Some(_), Some(ip)) => (ip, true),
            (Some(_), None) => return Decision::Ignore("REQUEST without an address"),
            // INIT-REBOOT: a client checking the address it remembers.
            (None, Some(ip)) => (ip, false),
            // RENEWING/REBINDING: the address is in ciaddr.
            (None, None) if !req.ciaddr.is_unspecified() => (req.ciaddr, false),
            (None, None) => return Decision::Ignore("REQUEST without an address"),
        };
        let Some(i) = subnet else {
            return Decision::Ignore("no pool for the client's network");
        };
        let s = &self.subnets[i];
        if !s.contains(ip) {
            return Decision::Nak(Refusal::WrongNetwork);
        }
        // A client autoprov has no record of, checking an address on a
        // network it serves, may hold it from another server: stay silent.
        if !stranger_ok && !self.pool.knows(mac) && res.mine.is_none() {
            return Decision::Ignore("no record of the client");
        }
        match self.pool.bind(mac, ip, s, res, now) {
            Ok(writes) => Decision::Ack {
                ip,
                subnet: i,
                writes,
            },
            Err(r) => Decision::Nak(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::packet::{parse, tests::request};
    use crate::dhcp::subnet::parse_range;
    use crate::domain::LeaseState;
    use crate::domain::mac::Mac;

    const SID: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    const MAC: [u8; 6] = [0x80, 0x5e, 0xc0, 0x12, 0x34, 0x56];

    fn full() -> Full {
        Full::new(
            vec![
                Subnet::new(
                    "10.99.0.0/24".parse().unwrap(),
                    parse_range("10.99.0.10-10.99.0.20").unwrap(),
                    600,
                )
                .unwrap(),
            ],
            Pool::default(),
        )
    }

    fn req(mac: [u8; 6], t: u8, opts: &[(u8, &[u8])]) -> Request {
        parse(&request(mac, t, opts)).unwrap()
    }

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 99, 0, last)
    }

    #[test]
    fn four_way_exchange_then_renew_and_release() {
        let mut f = full();
        let phones = KnownPhones::default();
        let d = f.decide(&req(MAC, 1, &[]), SID, &phones, 0);
        assert_eq!(
            d,
            Decision::Offer {
                ip: ip(10),
                subnet: 0
            }
        );
        let select = req(MAC, 3, &[(54, &SID.octets()), (50, &ip(10).octets())]);
        let Decision::Ack {
            ip: got, writes, ..
        } = f.decide(&select, SID, &phones, 1)
        else {
            panic!("no ACK");
        };
        assert_eq!(got, ip(10));
        assert_eq!(writes[0].state, LeaseState::Bound);
        assert_eq!(writes[0].expires, 601);
        // Renewal: ciaddr, no 50/54.
        let mut b = request(MAC, 3, &[]);
        b[12..16].copy_from_slice(&ip(10).octets());
        let renew = parse(&b).unwrap();
        assert!(matches!(
            f.decide(&renew, SID, &phones, 300),
            Decision::Ack { writes, .. } if writes[0].expires == 900
        ));
        let mut b = request(MAC, 7, &[]);
        b[12..16].copy_from_slice(&ip(10).octets());
        assert!(matches!(
            f.decide(&parse(&b).unwrap(), SID, &phones, 400),
            Decision::Record(Lease {
                state: LeaseState::Released,
                ..
            })
        ));
    }

    #[test]
    fn init_reboot_rules() {
        let mut f = full();
        let phones = KnownPhones::default();
        // A stranger checking an address on our network: silence.
        let reboot = req(MAC, 3, &[(50, &ip(12).octets())]);
        assert!(matches!(
            f.decide(&reboot, SID, &phones, 0),
            Decision::Ignore(_)
        ));
        // An address from another network: NAK, whoever asks.
        let moved = req(MAC, 3, &[(50, &[192, 168, 1, 5])]);
        assert_eq!(
            f.decide(&moved, SID, &phones, 0),
            Decision::Nak(Refusal::WrongNetwork)
        );
        // Known client: its address is confirmed; another's is refused.
        f.decide(&req(MAC, 1, &[]), SID, &phones, 0);
        assert!(matches!(
            f.decide(&req(MAC, 3, &[(50, &ip(10).octets())]), SID, &phones, 1),
            Decision::Ack { .. }
        ));
        let other = [0x80, 0x5e, 0xc0, 0, 0, 9];
        f.decide(&req(other, 1, &[]), SID, &phones, 2);
        assert_eq!(
            f.decide(&req(other, 3, &[(50, &ip(10).octets())]), SID, &phones, 3),
            Decision::Nak(Refusal::Taken)
        );
    }

    #[test]
    fn another_servers_offer_frees_ours() {
        let mut f = full();
        let phones = KnownPhones::default();
        f.decide(&req(MAC, 1, &[]), SID, &phones, 0);
        let elsewhere = req(MAC, 3, &[(54, &[10, 99, 0, 2]), (50, &[10, 99, 0, 77])]);
        assert!(matches!(
            f.decide(&elsewhere, SID, &phones, 1),
            Decision::Ignore(_)
        ));
        let other = [0x80, 0x5e, 0xc0, 0, 0, 9];
        assert_eq!(
            f.decide(&req(other, 1, &[]), SID, &phones, 2),
            Decision::Offer {
                ip: ip(11),
                subnet: 0
            },
            "the cursor moves on; .10 is free again but not reused first"
        );
    }

    #[test]
    fn reserved_phone_gets_its_address() {
        let mut f = full();
        let mut phones = KnownPhones::default();
        let mac = Mac::from_bytes(MAC).unwrap();
        phones.insert(mac, None, Some(ip(200)));
        assert_eq!(
            f.decide(&req(MAC, 1, &[]), SID, &phones, 0),
            Decision::Offer {
                ip: ip(200),
                subnet: 0
            }
        );
        // Even a stranger-style INIT-REBOOT: the reservation is a record.
        assert!(matches!(
            f.decide(&req(MAC, 3, &[(50, &ip(200).octets())]), SID, &phones, 1),
            Decision::Ack { .. }
        ));
        let decline = req(MAC, 4, &[(50, &ip(200).octets())]);
        assert!(matches!(
            f.decide(&decline, SID, &phones, 2),
            Decision::Record(Lease {
                state: LeaseState::Declined,
                ..
            })
        ));
    }
}
