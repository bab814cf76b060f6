//! Who holds which address: the in-memory lease table of full mode.
//!
//! Bound, released and declined addresses mirror the `leases` tree of the
//! store (loaded once at start; every change comes back as a [`Lease`] to
//! write before the ACK goes out). Offers stay in memory: a client that
//! never REQUESTs costs nothing durable, and an offer lost in a restart is
//! simply offered again. Time comes in from outside (Unix seconds), so the
//! tests need no sleeping.

use std::net::Ipv4Addr;

use super::FastMap;
use super::subnet::Subnet;
use crate::domain::mac::Mac;
use crate::domain::{Lease, LeaseState};

/// How long an offered address is held for the client's REQUEST.
pub const OFFER_HOLD_SECONDS: u64 = 30;
/// How long a declined address stays out of the pool (another host on the
/// network answered for it; give the admin time to notice).
pub const DECLINE_HOLD_SECONDS: u64 = 3600;
/// How long an address another node won (its claim came first) stays out
/// of this node's offers: longer than the lease sync that then says who
/// really holds it and until when.
pub const LOST_HOLD_SECONDS: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    Offered,
    Leased(LeaseState),
    /// Another node sharing the lease database holds it; whose and until
    /// when is learnt at the next lease sync.
    Elsewhere,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    mac: Mac,
    hold: Hold,
    until: u64,
}

impl Slot {
    /// Whether this stored slot keeps `mac` off the address at `now`.
    fn holds_against(&self, mac: Mac, now: u64) -> bool {
        !self.open_to(mac, now)
    }

    /// Whether `mac` may be given this address at `now`.
    fn open_to(&self, mac: Mac, now: u64) -> bool {
        match self.hold {
            Hold::Leased(LeaseState::Declined) | Hold::Elsewhere => self.until <= now,
            _ if self.mac == mac => true,
            Hold::Leased(LeaseState::Released) => true,
            Hold::Offered | Hold::Leased(LeaseState::Bound) => self.until <= now,
        }
    }
}

/// Why a REQUEST gets a DHCPNAK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("address is not on the client's network")]
    WrongNetwork,
    #[error("address is outside the pool and not reserved for this phone")]
    NotOffered,
    #[error("address is reserved for another phone")]
    ReservedForAnother,
    #[error("address is held by another client")]
    Taken,
}

/// The reservation facts one decision needs.
pub struct Reservations<'a> {
    /// The address the imported phone with this MAC must get, if any.
    pub mine: Option<Ipv4Addr>,
    /// Whether an address is reserved for some other MAC.
    pub other: &'a dyn Fn(Ipv4Addr) -> bool,
}

/// The lease table.
#[derive(Debug, Default)]
pub struct Pool {
    slots: FastMap<Ipv4Addr, Slot>,
    /// The address each client holds, or last held.
    by_mac: FastMap<Mac, Ipv4Addr>,
    /// Next never-used candidate per subnet, so allocation is O(1) until
    /// the pool has been used through once.
    cursors: FastMap<Ipv4Addr, u32>,
}

impl Pool {
    /// Rebuilds the table from stored leases. A client's newest lease wins
    /// when it has several (it moved between subnets).
    pub fn load(leases: Vec<Lease>) -> Pool {
        let mut pool = Pool::default();
        for l in leases {
            let slot = Slot {
                mac: l.mac,
                hold: Hold::Leased(l.state),
                until: l.expires,
            };
            pool.slots.insert(l.ip, slot);
            if l.state == LeaseState::Declined {
                continue;
            }
            let newer = match pool.by_mac.get(&l.mac).and_then(|ip| pool.slots.get(ip)) {
                Some(current) if current.mac == l.mac => l.expires >= current.until,
                _ => true,
            };
            if newer {
                pool.by_mac.insert(l.mac, l.ip);
            }
        }
        pool
    }

    /// Starts each subnet's search for never-used addresses at a point of
    /// the pool chosen by `seed` (the server's address) instead of its
    /// start, so two nodes sharing one lease database mostly pick
    /// different addresses and seldom race for the same one.
    pub fn spread(&mut self, subnets: &[Subnet], seed: u32) {
        // MurmurHash3's 64-bit finaliser: servers' addresses often differ
        // in a few high bits only, and every bit must move the point.
        let mut x = u64::from(seed);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^= x >> 33;
        for s in subnets {
            let size = s.size().max(1);
            let point = ((x >> 32) * u64::from(size)) >> 32;
            self.cursors
                .insert(s.start, u32::try_from(point).unwrap_or(0) % size);
        }
    }

    /// Merges the leases another node may have written (the lease sync of
    /// a shared database): each stored lease replaces what this node holds
    /// for its address, except this node's own offer still in flight to a
    /// client nobody else has bound the address to. Offers are never
    /// stored, so only what the store knows is replaced.
    pub fn learn(&mut self, leases: Vec<Lease>, now: u64) {
        for l in leases {
            let slot = Slot {
                mac: l.mac,
                hold: Hold::Leased(l.state),
                until: l.expires,
            };
            match self.slots.get(&l.ip) {
                Some(s) if s.hold == slot.hold && s.mac == slot.mac && s.until == slot.until => {
                    continue;
                }
                Some(s)
                    if s.hold == Hold::Offered
                        && s.until > now
                        && !slot.holds_against(s.mac, now) =>
                {
                    continue;
                }
                _ => {}
            }
            self.take_over(l.ip, l.mac);
            self.slots.insert(l.ip, slot);
            if l.state == LeaseState::Declined {
                continue;
            }
            let newer = match self.by_mac.get(&l.mac).and_then(|ip| self.slots.get(ip)) {
                Some(current) if current.mac == l.mac => l.expires >= current.until,
                _ => true,
            };
            if newer {
                self.by_mac.insert(l.mac, l.ip);
            }
        }
    }

    /// Another node's claim on `ip` came first: `mac`'s ACK becomes a NAK,
    /// and the address stays out of this node's offers until the lease
    /// sync says who holds it (or [`LOST_HOLD_SECONDS`] pass).
    pub fn lost(&mut self, mac: Mac, ip: Ipv4Addr, now: u64) {
        self.slots.insert(
            ip,
            Slot {
                mac,
                hold: Hold::Elsewhere,
                until: now + LOST_HOLD_SECONDS,
            },
        );
        if self.by_mac.get(&mac) == Some(&ip) {
            self.by_mac.remove(&mac);
        }
    }

    /// Number of addresses held (offered, bound, released or declined).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn open_to(&self, ip: Ipv4Addr, mac: Mac, now: u64) -> bool {
        self.slots.get(&ip).is_none_or(|s| s.open_to(mac, now))
    }

    /// Whether the server has any record of this client (RFC 2131 §4.3.2:
    /// an INIT-REBOOT from a stranger gets no answer).
    pub fn knows(&self, mac: Mac) -> bool {
        self.by_mac.contains_key(&mac)
    }

    /// Picks the address to offer and holds it for the REQUEST: the
    /// phone's reservation, else its last address, else the one it asks
    /// for, else a never-used one, else the longest-expired one.
    pub fn offer(
        &mut self,
        mac: Mac,
        subnet: &Subnet,
        requested: Option<Ipv4Addr>,
        res: &Reservations,
        now: u64,
    ) -> Option<Ipv4Addr> {
        let dynamic_ok = |pool: &Pool, ip: Ipv4Addr| {
            subnet.in_pool(ip) && !(res.other)(ip) && pool.open_to(ip, mac, now)
        };
        let reserved = res
            .mine
            .filter(|r| subnet.contains(*r) && self.open_to(*r, mac, now));
        let ip = reserved
            .or_else(|| {
                self.by_mac
                    .get(&mac)
                    .copied()
                    .filter(|ip| dynamic_ok(self, *ip))
            })
            .or_else(|| requested.filter(|ip| dynamic_ok(self, *ip)))
            .or_else(|| self.never_used(subnet, res))
            .or_else(|| self.longest_expired(mac, subnet, res, now))?;
        let keeps_bound = self.slots.get(&ip).is_some_and(|s| {
            s.mac == mac && s.hold == Hold::Leased(LeaseState::Bound) && s.until > now
        });
        if !keeps_bound {
            self.take_over(ip, mac);
            self.slots.insert(
                ip,
                Slot {
                    mac,
                    hold: Hold::Offered,
                    until: now + OFFER_HOLD_SECONDS,
                },
            );
        }
        self.by_mac.insert(mac, ip);
        Some(ip)
    }

    fn never_used(&mut self, subnet: &Subnet, res: &Reservations) -> Option<Ipv4Addr> {
        let start = u32::from(subnet.start);
        let size = subnet.size();
        let cursor = self.cursors.entry(subnet.start).or_insert(0);
        for step in 0..size {
            let offset = (*cursor + step) % size;
            let ip = Ipv4Addr::from(start + offset);
            if !self.slots.contains_key(&ip) && !(res.other)(ip) {
                *cursor = (offset + 1) % size;
                return Some(ip);
            }
        }
        None
    }

    fn longest_expired(
        &self,
        mac: Mac,
        subnet: &Subnet,
        res: &Reservations,
        now: u64,
    ) -> Option<Ipv4Addr> {
        self.slots
            .iter()
            .filter(|(ip, s)| subnet.in_pool(**ip) && s.open_to(mac, now) && !(res.other)(**ip))
            .min_by_key(|(ip, s)| (s.until, **ip))
            .map(|(ip, _)| *ip)
    }

    /// Binds `ip` to `mac` for the subnet's lease time: the ACK of a
    /// REQUEST or renewal. Returns the leases to write before the ACK goes
    /// out (the new one, and the client's previous address, now released).
    pub fn bind(
        &mut self,
        mac: Mac,
        ip: Ipv4Addr,
        subnet: &Subnet,
        res: &Reservations,
        now: u64,
    ) -> Result<Vec<Lease>, Refusal> {
        if !subnet.contains(ip) {
            return Err(Refusal::WrongNetwork);
        }
        if res.mine != Some(ip) {
            if (res.other)(ip) {
                return Err(Refusal::ReservedForAnother);
            }
            if !subnet.in_pool(ip) {
                return Err(Refusal::NotOffered);
            }
        }
        if !self.open_to(ip, mac, now) {
            return Err(Refusal::Taken);
        }
        let mut writes = Vec::with_capacity(2);
        if let Some(old) = self.by_mac.insert(mac, ip).filter(|old| *old != ip)
            && let Some(slot) = self.slots.get_mut(&old).filter(|s| s.mac == mac)
        {
            match slot.hold {
                Hold::Offered => {
                    self.slots.remove(&old);
                }
                Hold::Leased(_) => {
                    slot.hold = Hold::Leased(LeaseState::Released);
                    slot.until = now;
                    writes.push(lease(old, slot));
                }
                // Another node's now.
                Hold::Elsewhere => {}
            }
        }
        let slot = Slot {
            mac,
            hold: Hold::Leased(LeaseState::Bound),
            until: now + u64::from(subnet.lease_seconds),
        };
        self.take_over(ip, mac);
        self.slots.insert(ip, slot);
        writes.push(lease(ip, &slot));
        Ok(writes)
    }

    /// `ip` passes to `mac`: its previous holder no longer remembers it,
    /// so the MAC index stays as large as the pool, not as the number of
    /// MACs ever seen (a random-MAC flood would grow it without end).
    fn take_over(&mut self, ip: Ipv4Addr, mac: Mac) {
        if let Some(prev) = self.slots.get(&ip).map(|s| s.mac).filter(|m| *m != mac)
            && self.by_mac.get(&prev) == Some(&ip)
        {
            self.by_mac.remove(&prev);
        }
    }

    /// Number of clients remembered.
    pub fn clients(&self) -> usize {
        self.by_mac.len()
    }

    /// The client chose another server's offer: free ours at once.
    pub fn withdraw_offer(&mut self, mac: Mac) {
        if let Some(ip) = self.by_mac.get(&mac).copied()
            && self
                .slots
                .get(&ip)
                .is_some_and(|s| s.mac == mac && s.hold == Hold::Offered)
        {
            self.slots.remove(&ip);
            self.by_mac.remove(&mac);
        }
    }

    /// DHCPRELEASE: the client gives `ip` back. Kept as released so the
    /// same client gets it again. `None` if it was not the client's.
    pub fn release(&mut self, mac: Mac, ip: Ipv4Addr, now: u64) -> Option<Lease> {
        let slot = self.slots.get_mut(&ip).filter(|s| {
            s.mac == mac && s.hold == Hold::Leased(LeaseState::Bound) && s.until > now
        })?;
        slot.hold = Hold::Leased(LeaseState::Released);
        slot.until = now;
        Some(lease(ip, slot))
    }

    /// DHCPDECLINE: another host answers for `ip`; hold it back.
    pub fn decline(&mut self, mac: Mac, ip: Ipv4Addr, now: u64) -> Option<Lease> {
        let slot = self.slots.get_mut(&ip).filter(|s| s.mac == mac)?;
        slot.hold = Hold::Leased(LeaseState::Declined);
        slot.until = now + DECLINE_HOLD_SECONDS;
        let out = lease(ip, slot);
        if self.by_mac.get(&mac) == Some(&ip) {
            self.by_mac.remove(&mac);
        }
        Some(out)
    }
}

fn lease(ip: Ipv4Addr, s: &Slot) -> Lease {
    let state = match s.hold {
        Hold::Leased(state) => state,
        // Offers and other nodes' holds are never written; callers only
        // pass leased slots.
        Hold::Offered | Hold::Elsewhere => LeaseState::Released,
    };
    Lease {
        ip,
        mac: s.mac,
        state,
        expires: s.until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::subnet::parse_range;

    fn subnet(range: &str) -> Subnet {
        Subnet::new(
            "10.99.0.0/24".parse().unwrap(),
            parse_range(range).unwrap(),
            3600,
        )
        .unwrap()
    }

    fn mac(n: u8) -> Mac {
        Mac::from_bytes([0x80, 0x5e, 0xc0, 0, 0, n]).unwrap()
    }

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 99, 0, last)
    }

    const NONE: &dyn Fn(Ipv4Addr) -> bool = &|_| false;
    const FREE: Reservations = Reservations {
        mine: None,
        other: NONE,
    };

    #[test]
    fn offer_bind_and_the_same_address_again() {
        let s = subnet("10.99.0.10-10.99.0.12");
        let mut p = Pool::default();
        let a = p.offer(mac(1), &s, None, &FREE, 100).unwrap();
        assert_eq!(a, ip(10));
        // Another client does not get the held offer.
        assert_eq!(p.offer(mac(2), &s, Some(a), &FREE, 101), Some(ip(11)));
        let w = p.bind(mac(1), a, &s, &FREE, 102).unwrap();
        assert_eq!(
            w,
            vec![Lease {
                ip: a,
                mac: mac(1),
                state: LeaseState::Bound,
                expires: 3702
            }]
        );
        assert_eq!(p.bind(mac(2), a, &s, &FREE, 103), Err(Refusal::Taken));
        // Rediscovering while bound keeps the lease and the address.
        assert_eq!(p.offer(mac(1), &s, None, &FREE, 200), Some(a));
        // A restart rebuilds the same picture from the written leases.
        let mut q = Pool::load(w);
        assert_eq!(q.offer(mac(1), &s, None, &FREE, 300), Some(a));
        assert_eq!(q.offer(mac(3), &s, Some(a), &FREE, 300), Some(ip(11)));
    }

    #[test]
    fn requested_address_honoured_when_free() {
        let s = subnet("10.99.0.10-10.99.0.20");
        let mut p = Pool::default();
        assert_eq!(p.offer(mac(1), &s, Some(ip(15)), &FREE, 0), Some(ip(15)));
        // Outside the pool: ignored, a pool address instead.
        assert_eq!(p.offer(mac(2), &s, Some(ip(99)), &FREE, 0), Some(ip(10)));
        assert_eq!(
            p.bind(mac(2), ip(99), &s, &FREE, 0),
            Err(Refusal::NotOffered)
        );
        assert_eq!(
            p.bind(mac(2), Ipv4Addr::new(10, 1, 1, 1), &s, &FREE, 0),
            Err(Refusal::WrongNetwork)
        );
    }

    #[test]
    fn reservations_win_and_stay_out_of_the_pool() {
        let s = subnet("10.99.0.10-10.99.0.11");
        let other = |ip: Ipv4Addr| ip == Ipv4Addr::new(10, 99, 0, 10);
        let phone = Reservations {
            mine: Some(ip(200)),
            other: &|_| false,
        };
        let stranger = Reservations {
            mine: None,
            other: &other,
        };
        let mut p = Pool::default();
        // The reserved phone gets its address even outside the pool.
        assert_eq!(p.offer(mac(1), &s, None, &phone, 0), Some(ip(200)));
        assert!(p.bind(mac(1), ip(200), &s, &phone, 0).is_ok());
        // Nobody else gets an address reserved for another phone.
        assert_eq!(
            p.offer(mac(2), &s, Some(ip(10)), &stranger, 0),
            Some(ip(11))
        );
        assert_eq!(p.offer(mac(3), &s, None, &stranger, 0), None);
        assert_eq!(
            p.bind(mac(3), ip(10), &s, &stranger, 0),
            Err(Refusal::ReservedForAnother)
        );
    }

    #[test]
    fn expiry_release_and_decline() {
        let s = subnet("10.99.0.10-10.99.0.10");
        let mut p = Pool::default();
        p.offer(mac(1), &s, None, &FREE, 0);
        // An offer not taken up lapses.
        assert_eq!(p.offer(mac(2), &s, None, &FREE, 10), None);
        assert_eq!(p.offer(mac(2), &s, None, &FREE, 31), Some(ip(10)));
        p.bind(mac(2), ip(10), &s, &FREE, 31).unwrap();
        assert_eq!(p.offer(mac(3), &s, None, &FREE, 100), None);
        let r = p.release(mac(2), ip(10), 200).unwrap();
        assert_eq!(r.state, LeaseState::Released);
        assert_eq!(p.release(mac(2), ip(10), 201), None);
        // Released: another client may have it (the pool is that small).
        assert_eq!(p.offer(mac(3), &s, None, &FREE, 201), Some(ip(10)));
        let d = p.decline(mac(3), ip(10), 202).unwrap();
        assert_eq!(d.state, LeaseState::Declined);
        assert_eq!(p.offer(mac(4), &s, None, &FREE, 203), None);
        assert_eq!(
            p.offer(mac(4), &s, None, &FREE, 202 + DECLINE_HOLD_SECONDS),
            Some(ip(10))
        );
    }

    #[test]
    fn many_macs_on_a_small_pool_keep_the_index_small() {
        let s = subnet("10.99.0.10-10.99.0.13");
        let mut p = Pool::default();
        for n in 0..=250u8 {
            // Each offer lapses before the next client comes.
            p.offer(mac(n), &s, None, &FREE, u64::from(n) * 31);
        }
        assert!(p.clients() <= 4, "{} clients remembered", p.clients());
        assert!(p.len() <= 4);
    }

    #[test]
    fn moving_address_releases_the_old_one() {
        let s = subnet("10.99.0.10-10.99.0.20");
        let mut p = Pool::default();
        p.offer(mac(1), &s, None, &FREE, 0);
        p.bind(mac(1), ip(10), &s, &FREE, 0).unwrap();
        let w = p.bind(mac(1), ip(12), &s, &FREE, 5).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].ip, w[0].state), (ip(10), LeaseState::Released));
        assert_eq!((w[1].ip, w[1].state), (ip(12), LeaseState::Bound));
        p.withdraw_offer(mac(1));
        assert!(p.knows(mac(1)), "a bound client is not withdrawn");
        p.offer(mac(2), &s, None, &FREE, 5);
        p.withdraw_offer(mac(2));
        assert!(!p.knows(mac(2)));
    }
}
