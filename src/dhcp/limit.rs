//! Per-MAC flood limit: a token bucket per client, so one looping phone (or
//! a spoofing tool) cannot take the responder away from the others.

use std::time::{Duration, Instant};

use super::FastMap;
use crate::domain::mac::Mac;

/// Bucket size and refill rate.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Packets a client may send in a burst.
    pub burst: f64,
    /// Packets per second it may sustain.
    pub per_second: f64,
    /// Clients tracked at most; beyond that, idle buckets are dropped and,
    /// if all are busy, new clients wait (memory stays bounded under a
    /// random-MAC flood).
    pub max_clients: usize,
}

impl Default for Limits {
    /// A phone sends a handful of packets a boot; 8 in a burst and 2 a
    /// second is far above that and far below a flood.
    fn default() -> Limits {
        Limits {
            burst: 8.0,
            per_second: 2.0,
            max_clients: 65_536,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets; time comes in from outside so tests need no sleeping.
#[derive(Debug)]
pub struct FloodLimit {
    limits: Limits,
    buckets: FastMap<Mac, Bucket>,
}

impl FloodLimit {
    pub fn new(limits: Limits) -> FloodLimit {
        FloodLimit {
            limits,
            buckets: FastMap::default(),
        }
    }

    /// Takes one token for `mac`; `false` means drop the packet.
    pub fn allow(&mut self, mac: Mac, now: Instant) -> bool {
        if !self.buckets.contains_key(&mac) && self.buckets.len() >= self.limits.max_clients {
            self.forget_idle(now);
            if self.buckets.len() >= self.limits.max_clients {
                return false;
            }
        }
        let l = self.limits;
        let b = self.buckets.entry(mac).or_insert(Bucket {
            tokens: l.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
        b.tokens = (b.tokens + elapsed * l.per_second).min(l.burst);
        b.updated = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drops buckets that have refilled completely: forgetting them changes
    /// nothing for their clients.
    fn forget_idle(&mut self, now: Instant) {
        let l = self.limits;
        let full_after = Duration::from_secs_f64(l.burst / l.per_second);
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.updated) < full_after);
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u32) -> Mac {
        let b = n.to_be_bytes();
        Mac::from_bytes([0x02, 0, b[0], b[1], b[2], b[3]]).unwrap()
    }

    #[test]
    fn burst_then_refill() {
        let mut f = FloodLimit::new(Limits {
            burst: 3.0,
            per_second: 1.0,
            max_clients: 10,
        });
        let t = Instant::now();
        assert!((0..3).all(|_| f.allow(mac(1), t)));
        assert!(!f.allow(mac(1), t));
        // Another client is not affected.
        assert!(f.allow(mac(2), t));
        assert!(!f.allow(mac(1), t + Duration::from_millis(500)));
        assert!(f.allow(mac(1), t + Duration::from_millis(1600)));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut f = FloodLimit::new(Limits {
            burst: 2.0,
            per_second: 1.0,
            max_clients: 100,
        });
        let t = Instant::now();
        for n in 0..1000 {
            f.allow(mac(n), t);
        }
        assert_eq!(f.tracked(), 100);
        // Once the old buckets are full again they make room.
        assert!(f.allow(mac(5000), t + Duration::from_secs(3)));
        assert_eq!(f.tracked(), 1);
    }
}
