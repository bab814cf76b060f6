//! Miss throttling and bans: no enumeration oracle by brute force.
//!
//! Every refusal already looks the same (one 404), so a prober learns
//! nothing per request; this makes probing slow too. Per source, misses
//! (unknown MAC, User-Agent/MAC mismatch, source refused, bad credentials)
//! are counted in a fixed window; past `throttle_after` each answer is
//! delayed, past `ban_after` the source is banned for `ban`.
//!
//! A banned source gets the same 404 immediately, for every path, without a
//! store lookup. Not a dropped connection: a phone behind the same NAT then
//! sees an ordinary "not found" its retry logic handles, a scanner can't
//! tell a ban from a miss (so it can't tune its rate to stay just below the
//! threshold), and answering costs less than a reconnecting client.
//!
//! IPv6 sources are counted per /64: a single host usually owns a whole
//! /64 and could otherwise rotate addresses to dodge the count.
//!
//! Memory is bounded: at `max_sources` entries the least recently seen one
//! is evicted (expired ones first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Thresholds; see `config::MissConfig` for the defaults and why.
#[derive(Debug, Clone)]
pub struct GuardSettings {
    pub window: Duration,
    pub throttle_after: u32,
    pub delay: Duration,
    pub ban_after: u32,
    pub ban: Duration,
    pub max_sources: usize,
}

/// Answers a throttled source may have in flight at once. Without a cap,
/// parallel connections would multiply the throttled rate; with it a
/// throttled source gets about this many answers per delay (2/s by
/// default), and further parallel requests the 404 at once, unlooked-up.
const THROTTLED_IN_FLIGHT: u32 = 2;

/// What to do with a request from a source, before answering it.
#[derive(Debug)]
pub enum Gate<'a> {
    Pass,
    /// Answer after this delay; the slot is held until the answer is done.
    Throttle(Duration, Slot<'a>),
    /// Throttled and already at its parallel limit: the 404 at once.
    Busy,
    /// Answer the 404 at once, whatever was asked.
    Banned,
}

/// One of a throttled source's in-flight answers; released on drop.
#[derive(Debug)]
pub struct Slot<'a> {
    guard: &'a MissGuard,
    key: IpAddr,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(e) = self.guard.lock().get_mut(&self.key) {
            e.in_flight = e.in_flight.saturating_sub(1);
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    misses: u32,
    banned_until: Option<Instant>,
    last_seen: Instant,
    /// Throttled answers in flight.
    in_flight: u32,
}

/// Per-source miss counters.
#[derive(Debug)]
pub struct MissGuard {
    settings: GuardSettings,
    table: Mutex<HashMap<IpAddr, Entry>>,
}

impl MissGuard {
    pub fn new(settings: GuardSettings) -> MissGuard {
        MissGuard {
            settings,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Whether (and how) to answer `ip` now.
    pub fn gate(&self, ip: IpAddr) -> Gate<'_> {
        self.gate_at(ip, Instant::now())
    }

    /// Counts one miss for `ip`; returns true when it starts a ban.
    pub fn miss(&self, ip: IpAddr) -> bool {
        self.miss_at(ip, Instant::now())
    }

    fn gate_at(&self, ip: IpAddr, now: Instant) -> Gate<'_> {
        let key = source_key(ip);
        let mut table = self.lock();
        let Some(e) = table.get_mut(&key) else {
            return Gate::Pass;
        };
        match e.banned_until {
            Some(until) if now < until => return Gate::Banned,
            Some(_) => {
                table.remove(&key);
                return Gate::Pass;
            }
            None => {}
        }
        if now.duration_since(e.window_start) >= self.settings.window {
            table.remove(&key);
            return Gate::Pass;
        }
        if e.misses < self.settings.throttle_after {
            return Gate::Pass;
        }
        if e.in_flight >= THROTTLED_IN_FLIGHT {
            return Gate::Busy;
        }
        e.in_flight += 1;
        Gate::Throttle(self.settings.delay, Slot { guard: self, key })
    }

    fn miss_at(&self, ip: IpAddr, now: Instant) -> bool {
        let key = source_key(ip);
        let s = &self.settings;
        let mut table = self.lock();
        if !table.contains_key(&key) && table.len() >= s.max_sources {
            evict(&mut table, now, s.window);
        }
        let e = table.entry(key).or_insert(Entry {
            window_start: now,
            misses: 0,
            banned_until: None,
            last_seen: now,
            in_flight: 0,
        });
        e.last_seen = now;
        if e.banned_until.is_some_and(|u| now < u) {
            return false;
        }
        if e.banned_until.is_some() || now.duration_since(e.window_start) >= s.window {
            *e = Entry {
                window_start: now,
                misses: 0,
                banned_until: None,
                last_seen: now,
                in_flight: e.in_flight,
            };
        }
        e.misses = e.misses.saturating_add(1);
        if e.misses >= s.ban_after {
            e.banned_until = Some(now + s.ban);
            return true;
        }
        false
    }

    /// A poisoned lock only means another request panicked mid-update; the
    /// counters are still usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Drops expired entries; if none were, the least recently seen one.
fn evict(table: &mut HashMap<IpAddr, Entry>, now: Instant, window: Duration) {
    let before = table.len();
    table.retain(|_, e| match e.banned_until {
        Some(u) => now < u,
        None => now.duration_since(e.window_start) < window,
    });
    if table.len() < before {
        return;
    }
    if let Some(oldest) = table
        .iter()
        .min_by_key(|(_, e)| e.last_seen)
        .map(|(k, _)| *k)
    {
        table.remove(&oldest);
    }
}

/// IPv4 (and IPv4-mapped) as is, IPv6 by its /64.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(max: usize) -> MissGuard {
        MissGuard::new(GuardSettings {
            window: Duration::from_secs(60),
            throttle_after: 3,
            delay: Duration::from_millis(500),
            ban_after: 5,
            ban: Duration::from_secs(30),
            max_sources: max,
        })
    }

    #[test]
    fn throttle_then_ban_then_recover() {
        let g = guard(100);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        for _ in 0..3 {
            assert!(matches!(g.gate_at(ip, t), Gate::Pass));
            assert!(!g.miss_at(ip, t));
        }
        {
            // Two throttled answers at once, the third is turned away.
            let a = g.gate_at(ip, t);
            assert!(matches!(a, Gate::Throttle(d, _) if d == Duration::from_millis(500)));
            let b = g.gate_at(ip, t);
            assert!(matches!(b, Gate::Throttle(..)));
            assert!(matches!(g.gate_at(ip, t), Gate::Busy));
            drop(a);
            assert!(matches!(g.gate_at(ip, t), Gate::Throttle(..)));
        }
        assert!(!g.miss_at(ip, t));
        assert!(g.miss_at(ip, t));
        let later = t + Duration::from_secs(29);
        assert!(matches!(g.gate_at(ip, later), Gate::Banned));
        // Other sources are unaffected; a ban ends.
        let other_ip = "10.0.0.2".parse().unwrap();
        assert!(matches!(g.gate_at(other_ip, t), Gate::Pass));
        let after = t + Duration::from_secs(31);
        assert!(matches!(g.gate_at(ip, after), Gate::Pass));
        // A window without a ban resets by itself.
        let other: IpAddr = "10.0.0.3".parse().unwrap();
        for _ in 0..4 {
            g.miss_at(other, t);
        }
        let next_window = t + Duration::from_secs(61);
        assert!(matches!(g.gate_at(other, next_window), Gate::Pass));
    }

    #[test]
    fn ipv6_per_64_and_bounded() {
        let g = guard(2);
        let t = Instant::now();
        for i in 0..5u32 {
            g.miss_at(format!("2001:db8::{i:x}").parse().unwrap(), t);
        }
        let same_64 = "2001:db8::ffff".parse().unwrap();
        assert!(matches!(g.gate_at(same_64, t), Gate::Banned));
        for i in 0..10u8 {
            g.miss_at(
                IpAddr::from([192, 0, 2, i]),
                t + Duration::from_secs(i.into()),
            );
        }
        assert_eq!(g.len(), 2);
    }
}
