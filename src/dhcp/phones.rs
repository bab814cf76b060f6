//! What the DHCP server needs from the imported phones: each one's vendor
//! and reserved address (`phoneip`), held in memory so a packet costs no
//! store read, and reloaded when an import changes the store.

use std::net::Ipv4Addr;

use super::FastMap;
use crate::domain::mac::Mac;
use crate::store::{Store, StoreError};
use crate::vendors::{self, Vendor};

#[derive(Debug, Clone, Copy)]
struct Known {
    vendor: Option<&'static Vendor>,
    ip: Option<Ipv4Addr>,
}

/// The imported phones, by MAC, and the reserved addresses, by address.
#[derive(Debug, Default)]
pub struct KnownPhones {
    by_mac: FastMap<Mac, Known>,
    reserved: FastMap<Ipv4Addr, Mac>,
    /// The store generation this was read at.
    pub generation: u64,
}

impl KnownPhones {
    /// Reads every phone of every user, one user at a time.
    pub fn load(store: &dyn Store) -> Result<KnownPhones, StoreError> {
        let generation = store.generation()?;
        let mut out = KnownPhones {
            generation,
            ..KnownPhones::default()
        };
        store.for_each_user(&mut |user| {
            for p in user.phones {
                out.insert(p.mac, vendors::by_id(&p.vendor), p.ip);
            }
        })?;
        Ok(out)
    }

    /// Adds one phone (tests and `load`). An address given to two phones
    /// stays with the first: imports refuse duplicates, so this only
    /// guards against a hand-edited store.
    pub fn insert(&mut self, mac: Mac, vendor: Option<&'static Vendor>, ip: Option<Ipv4Addr>) {
        let ip = ip.filter(|ip| *self.reserved.entry(*ip).or_insert(mac) == mac);
        self.by_mac.insert(mac, Known { vendor, ip });
    }

    /// The vendor the admin imported this phone as.
    pub fn vendor(&self, mac: Mac) -> Option<&'static Vendor> {
        self.by_mac.get(&mac)?.vendor
    }

    /// The address reserved for this phone.
    pub fn reserved(&self, mac: Mac) -> Option<Ipv4Addr> {
        self.by_mac.get(&mac)?.ip
    }

    /// Whether `ip` is reserved for a phone other than `mac`.
    pub fn reserved_for_other(&self, ip: Ipv4Addr, mac: Mac) -> bool {
        self.reserved.get(&ip).is_some_and(|m| *m != mac)
    }

    pub fn len(&self) -> usize {
        self.by_mac.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_mac.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reservation_of_an_address_wins() {
        let a = Mac::from_bytes([0x80, 0x5e, 0xc0, 0, 0, 1]).unwrap();
        let b = Mac::from_bytes([0x80, 0x5e, 0xc0, 0, 0, 2]).unwrap();
        let ip = Ipv4Addr::new(10, 99, 0, 200);
        let mut k = KnownPhones::default();
        k.insert(a, vendors::by_id("yealink"), Some(ip));
        k.insert(b, None, Some(ip));
        assert_eq!(k.reserved(a), Some(ip));
        assert_eq!(k.reserved(b), None);
        assert!(k.reserved_for_other(ip, b));
        assert!(!k.reserved_for_other(ip, a));
        assert_eq!(k.vendor(a).map(|v| v.id), Some("yealink"));
        assert_eq!(k.len(), 2);
    }
}
